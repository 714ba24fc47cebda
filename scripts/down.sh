#!/usr/bin/env bash
# npm run down [-- --keep-data]: destroy everything the stack created (containers, network, the
# server image, the NATS volumes). With --keep-data the NATS volumes stay (a later `up` reuses them).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
keep_data=0
for arg in "$@"; do
  case "$arg" in
    --keep-data) keep_data=1 ;;
    *) echo "usage: npm run down [-- --keep-data]" >&2; exit 2 ;;
  esac
done
# shellcheck source=lib/env.sh
source scripts/lib/env.sh
# shellcheck source=lib/fleet.sh
source scripts/lib/fleet.sh
fleet_check_docker

state="$WS_FLEET_STATE/state/$WSFLEET_PREFIX.tfstate"
if [ ! -s "$state" ]; then
  fleet_log "no state for $WSFLEET_PREFIX ($state): nothing to destroy"
  exit 0
fi

start="$(date +%s.%N)"
if [ "$keep_data" = 1 ]; then
  export WSFLEET_SYNTH_FOR_DESTROY=1
  fleet_cdktf synth --output "$(fleet_outdir)" >&2
  stack_dir="$(fleet_stack_dir)"
  terraform -chdir="$stack_dir" init -input=false >/dev/null
  volumes="$(terraform -chdir="$stack_dir" state list | grep '^docker_volume\.' || true)"
  if [ -n "$volumes" ]; then
    # Forgetting the volumes (not destroying them) keeps the JetStream data for the next `up`.
    # shellcheck disable=SC2086
    terraform -chdir="$stack_dir" state rm $volumes >&2
  fi
fi
fleet_destroy
rm -f "$(fleet_outputs_file)"
fleet_log "destroyed $WSFLEET_PREFIX ($(fleet_elapsed "$start") s)$([ "$keep_data" = 1 ] && echo '; NATS volumes kept')"
