#!/usr/bin/env bash
# npm run up: setup (toolchain, Docker, provider, images), build the server bundle, deploy the stack,
# print the balancer URL, the stats URL and how to connect.
# Settings: .ws-fleet/settings/<prefix>.json (npm run scale / npm run lb) and WSFLEET_* env overrides.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ "${WSFLEET_SKIP_SETUP:-0}" != 1 ]; then bash scripts/setup.sh; fi
# shellcheck source=lib/env.sh
source scripts/lib/env.sh
# shellcheck source=lib/fleet.sh
source scripts/lib/fleet.sh
fleet_check_docker

start="$(date +%s.%N)"
npm run --silent build:server >&2 || fleet_die "npm run build:server failed"
fleet_log "server bundle built ($(fleet_elapsed "$start") s)"

start="$(date +%s.%N)"
fleet_apply
fleet_log "deployed $WSFLEET_PREFIX ($(fleet_elapsed "$start") s)"
echo
fleet_tsx infra/cli/connect-info.ts
