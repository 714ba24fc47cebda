#!/usr/bin/env bash
# npm run lb -- MODE: switch the balancer between roundrobin, leastconn and sticky, and redeploy.
# Only the HAProxy container is replaced (its rendered config changes); replicas and NATS are untouched.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ $# -eq 1 ] || { echo "usage: npm run lb -- <roundrobin|leastconn|sticky>" >&2; exit 2; }
# shellcheck source=lib/env.sh
source scripts/lib/env.sh
# shellcheck source=lib/fleet.sh
source scripts/lib/fleet.sh
unset WSFLEET_LB_MODE
fleet_tsx infra/cli/settings.ts set lbMode "$1"
fleet_check_docker
start="$(date +%s.%N)"
fleet_apply
fleet_log "balancer of $WSFLEET_PREFIX now in $1 mode ($(fleet_elapsed "$start") s)"
