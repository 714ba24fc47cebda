#!/usr/bin/env bash
# ws-fleet setup: makes every prerequisite present, idempotently, one line per step:
#   setup: <step>: already present|installed|built (<seconds>s) [detail]
# A failing step stops setup with a message naming what is missing and how to fix it.
#
# Steps, in order: node docker terraform provider nats haproxy browser images
#   scripts/setup.sh                      all steps
#   scripts/setup.sh --only node,docker   just these (also: SETUP_ONLY=node,docker)
#   scripts/setup.sh --skip images        all but these (also: SETUP_SKIP=images)
#   scripts/setup.sh --list               print the step names
# Environment: WSFLEET_PROVIDER_SOURCE=auto|registry|build, WSFLEET_IMAGE_PULL=0 (never pull images),
#   WSFLEET_DEBIAN_MIRROR (stand-in base), WSFLEET_DOCKERD_WAIT_SECONDS (default 60).
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/env.sh
source "$SCRIPT_DIR/lib/env.sh"
# shellcheck source=lib/versions.sh
source "$SCRIPT_DIR/lib/versions.sh"
for lib in common node-deps docker-engine terraform provider-docker go-tools browser images; do
  # shellcheck disable=SC1090
  source "$SCRIPT_DIR/lib/$lib.sh"
done

ALL_STEPS=(node docker terraform provider nats haproxy browser images)
step_function() {
  case "$1" in
    node) echo setup_node_deps ;;
    docker) echo setup_docker_engine ;;
    terraform) echo setup_terraform_cli ;;
    provider) echo setup_provider_docker ;;
    nats) echo setup_nats_server ;;
    haproxy) echo setup_haproxy_host ;;
    browser) echo setup_browser ;;
    images) echo setup_images ;;
    *) return 1 ;;
  esac
}

only="${SETUP_ONLY:-}"
skip="${SETUP_SKIP:-}"
while [ "$#" -gt 0 ]; do
  case "$1" in
    --only) only="${2:?--only needs a comma-separated list of steps}"; shift 2 ;;
    --only=*) only="${1#--only=}"; shift ;;
    --skip) skip="${2:?--skip needs a comma-separated list of steps}"; shift 2 ;;
    --skip=*) skip="${1#--skip=}"; shift ;;
    --list) printf '%s\n' "${ALL_STEPS[@]}"; exit 0 ;;
    -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

selected=()
for s in "${ALL_STEPS[@]}"; do
  if [ -n "$only" ] && [[ ",$only," != *",$s,"* ]]; then continue; fi
  if [[ ",$skip," == *",$s,"* ]]; then continue; fi
  selected+=("$s")
done
for s in ${only//,/ } ${skip//,/ }; do
  if ! step_function "$s" >/dev/null; then
    echo "setup: unknown step '$s' (steps: ${ALL_STEPS[*]})" >&2
    exit 2
  fi
done

mkdir -p "$WSFLEET_STATE"/{bin,logs,cache,state,secrets,terraform}
trap 'echo "setup: ${SETUP_STEP_NAME:-setup}: FAILED: unexpected error in ${BASH_SOURCE[0]##*/} line ${LINENO}: ${BASH_COMMAND}" >&2' ERR

# One setup at a time per checkout (tests and scripts may call it concurrently).
# Anything setup starts in the background must close fd 9 (`9>&-`), or it holds the lock for its whole life.
lock_file="$WSFLEET_STATE/state/setup.lock"
exec 9>"$lock_file"
if ! flock -n 9; then
  echo "setup: waiting for the setup lock, held by: $(exec 9>&-; lock_holders "$lock_file")" >&2
  if ! flock -w 1800 9; then
    echo "setup: the setup lock $lock_file is still held after 30 min by: $(exec 9>&-; lock_holders "$lock_file")" >&2
    exit 1
  fi
fi

total_start="$(setup_now)"
for s in "${selected[@]}"; do
  fn="$(step_function "$s")"
  if [ "$s" = "images" ]; then
    "$fn" # one line per image (image/<name>)
  else
    run_step "$s" "$fn"
  fi
done
echo "setup: done: ${#selected[@]} step(s) in $(setup_elapsed "$total_start")s"
