# Environment every ws-fleet script sources: `source "$(dirname "$0")/lib/env.sh"`.
# Safe to source more than once; only exports, no side effects on disk.
#
# Exports:
#   WSFLEET_ROOT       absolute path of the repository
#   WSFLEET_STATE      the state dir (.ws-fleet/, gitignored): bin/ logs/ cache/ state/ secrets/ terraform/
#   WSFLEET_BIN        $WSFLEET_STATE/bin (nats-server, k6 built by setup); first on PATH
#   TF_CLI_CONFIG_FILE  CLI config with the filesystem mirror for kreuzwerker/docker (written by setup).
#                       Always overridden: the machine may point it at a file that does not exist.
#   WSFLEET_DOCKER_PROVIDER_VERSION  the kreuzwerker/docker version in the mirror (when setup installed one)
#   CHECKPOINT_DISABLE  no Terraform update checks (offline)
#   TERRAFORM_BINARY_NAME=tofu  only when `terraform` is missing and `tofu` exists (read by cdktf)
#   PATH                + .ws-fleet/bin, node_modules/.bin, the Go toolchain, /usr/sbin (haproxy)

# WSFLEET_ is the one environment prefix. A variable still set under the old WS_FLEET_ prefix is taken
# over once (unless its new name is set too) with a note, and unset so child scripts do not repeat it.
for _wsfleet_old in $(compgen -e | grep '^WS_FLEET_' || true); do
  _wsfleet_new="WSFLEET_${_wsfleet_old#WS_FLEET_}"
  if [ -z "${!_wsfleet_new:-}" ]; then export "$_wsfleet_new=${!_wsfleet_old}"; fi
  printf 'ws-fleet: %s is now called %s\n' "$_wsfleet_old" "$_wsfleet_new" >&2
  unset "$_wsfleet_old"
done
unset _wsfleet_old _wsfleet_new

if [ -z "${WSFLEET_ROOT:-}" ] || [ ! -f "${WSFLEET_ROOT}/package.json" ]; then
  WSFLEET_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
fi
export WSFLEET_ROOT
export WSFLEET_STATE="${WSFLEET_STATE:-$WSFLEET_ROOT/.ws-fleet}"
export WSFLEET_BIN="$WSFLEET_STATE/bin"

# First on PATH, moved there when it is already further down (npm prepends its own entries).
_ws_fleet_path_prepend() {
  local rest=":$PATH:"
  while case "$rest" in *":$1:"*) true ;; *) false ;; esac; do rest="${rest/:$1:/:}"; done
  rest="${rest#:}"
  rest="${rest%:}"
  PATH="$1${rest:+:$rest}"
}
_ws_fleet_path_append() {
  case ":$PATH:" in
    *":$1:"*) ;;
    *) PATH="$PATH:$1" ;;
  esac
}
if [ -d /usr/local/go/bin ]; then _ws_fleet_path_append /usr/local/go/bin; fi
_ws_fleet_path_append /usr/sbin
_ws_fleet_path_append /sbin
_ws_fleet_path_prepend "$WSFLEET_ROOT/node_modules/.bin"
_ws_fleet_path_prepend "$WSFLEET_BIN"
export PATH
unset -f _ws_fleet_path_prepend _ws_fleet_path_append

export TF_CLI_CONFIG_FILE="$WSFLEET_STATE/terraform/terraformrc"
# The kreuzwerker/docker version setup installed into the mirror (3.6.2 from the registry, or the
# source-built label offline: scripts/lib/versions.sh); the stack pins exactly this version.
if [ -f "$WSFLEET_STATE/terraform/provider-docker.stamp" ]; then
  WSFLEET_DOCKER_PROVIDER_VERSION="$(cut -d' ' -f1 "$WSFLEET_STATE/terraform/provider-docker.stamp")"
  export WSFLEET_DOCKER_PROVIDER_VERSION
fi
export CHECKPOINT_DISABLE=1
if ! command -v terraform >/dev/null 2>&1 && command -v tofu >/dev/null 2>&1; then
  export TERRAFORM_BINARY_NAME=tofu
fi
