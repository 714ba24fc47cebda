#!/usr/bin/env bash
# npm run scale -- N: set the number of ws replicas (1..64) and redeploy. Scaling up adds
# <prefix>-ws-<n> containers and touches nothing else; scaling down stops the highest-numbered ones
# with SIGTERM (they drain their clients within the drain window) and removes them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ $# -eq 1 ] || { echo "usage: npm run scale -- <replicas 1..64>" >&2; exit 2; }
# shellcheck source=lib/env.sh
source scripts/lib/env.sh
# shellcheck source=lib/fleet.sh
source scripts/lib/fleet.sh
# The command line is what the user asked for: an env override must not silently win over it.
unset WSFLEET_REPLICAS
fleet_tsx infra/cli/settings.ts set replicas "$1"
fleet_check_docker
start="$(date +%s.%N)"
fleet_apply
fleet_log "scaled $WSFLEET_PREFIX to $1 replicas ($(fleet_elapsed "$start") s)"
