# Helpers shared by the setup steps: one output line per step, failures that name the fix.
# shellcheck shell=bash

SETUP_STEP_NAME=""
SETUP_STEP_STATUS=""
SETUP_STEP_DETAIL=""
SETUP_APT_UPDATED=""

setup_now() {
  # EPOCHREALTIME (bash 5) has microseconds; its decimal mark follows LC_NUMERIC.
  local t="${EPOCHREALTIME:-}"
  if [ -z "$t" ]; then t="$(date +%s.%N)"; fi
  printf '%s' "${t/,/.}"
}

setup_elapsed() {
  awk -v a="$1" -v b="$(setup_now)" 'BEGIN { printf "%.1f", b - a }'
}

# step_done STATUS [DETAIL]: record how the current step ended (already present|installed|built).
step_done() {
  SETUP_STEP_STATUS="$1"
  SETUP_STEP_DETAIL="${2:-}"
}

# step_fail MESSAGE [LOGFILE]: stop setup with a message that names what is missing and how to fix it.
step_fail() {
  local msg="$1" log="${2:-}"
  {
    echo "setup: ${SETUP_STEP_NAME}: FAILED: ${msg}"
    if [ -n "$log" ] && [ -f "$log" ]; then
      echo "setup: ${SETUP_STEP_NAME}: last lines of ${log}:"
      tail -n 25 "$log" | sed 's/^/    /'
    fi
  } >&2
  exit 1
}

# run_step NAME FUNCTION [ARGS...]: run one step and print `setup: NAME: STATUS (SECONDSs)`.
run_step() {
  local name="$1" fn="$2" start
  SETUP_STEP_NAME="$name"
  SETUP_STEP_STATUS=""
  SETUP_STEP_DETAIL=""
  start="$(setup_now)"
  "$fn" "${@:3}"
  if [ -z "$SETUP_STEP_STATUS" ]; then
    step_fail "internal error: step function ${fn} did not report a status"
  fi
  local line="setup: ${name}: ${SETUP_STEP_STATUS} ($(setup_elapsed "$start")s)"
  if [ -n "$SETUP_STEP_DETAIL" ]; then line="${line} [${SETUP_STEP_DETAIL}]"; fi
  echo "$line"
}

is_root() { [ "$(id -u)" = "0" ]; }

is_debian() {
  [ -r /etc/os-release ] && grep -Eq '^(ID|ID_LIKE)=.*debian' /etc/os-release
}

# apt_install PKG...: root on Debian only; `apt-get update` runs at most once per setup run.
apt_install() {
  local log="$WSFLEET_STATE/logs/apt.log"
  if ! is_root || ! is_debian; then
    step_fail "need Debian packages '$*' but this is not root on Debian: install them with your package manager and run setup again"
  fi
  if [ -z "$SETUP_APT_UPDATED" ]; then
    if ! DEBIAN_FRONTEND=noninteractive apt-get update >>"$log" 2>&1; then
      step_fail "apt-get update failed (is the Debian mirror reachable?)" "$log"
    fi
    SETUP_APT_UPDATED=1
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$log" 2>&1; then
    step_fail "apt-get install $* failed" "$log"
  fi
}

# version_ge A B: true when version A >= B (dotted numbers, optional leading v).
version_ge() {
  local a="${1#v}" b="${2#v}"
  [ "$(printf '%s\n%s\n' "$b" "$a" | sort -V | head -n1)" = "$b" ]
}

# images_json KEY: a value from images/versions.json.
images_json() {
  node -e '
    const v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]];
    if (typeof v !== "string" || v === "") { console.error("images/versions.json: missing key " + process.argv[2]); process.exit(1); }
    process.stdout.write(v);
  ' "$WSFLEET_ROOT/images/versions.json" "$1"
}

# go_platform: GOOS_GOARCH of this machine, as Terraform names platforms.
host_platform() {
  local arch
  case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) arch="$(uname -m)" ;;
  esac
  printf '%s_%s' "$(uname -s | tr '[:upper:]' '[:lower:]')" "$arch"
}

# require_go: the Go toolchain for source builds, or a message saying how to get it.
require_go() {
  if ! command -v go >/dev/null 2>&1; then
    step_fail "Go toolchain not found (needed to build $1 from its Go module source): install Go >= 1.24 from https://go.dev/dl into /usr/local/go and run setup again"
  fi
}

# The processes other than this shell that have a file open, as "pid (command)" pairs; used to say
# who holds a lock. Call it as `$(exec 9>&-; lock_holders F)` so its own subshell is not listed.
lock_holders() {
  local target link pid found=""
  target="$(readlink -f "$1")"
  while IFS= read -r link; do
    pid="${link#/proc/}"; pid="${pid%%/*}"
    [ "$pid" = "$$" ] && continue
    found+="${found:+, }$pid ($( { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | cut -c1-80 || true))"
  done < <(find /proc/[0-9]*/fd -maxdepth 1 -lname "$target" 2>/dev/null || true)
  echo "${found:-no process found}"
}
