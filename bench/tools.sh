#!/usr/bin/env bash
# The bench's own preparation (not part of the default setup): the peers' servers.
#   redis-server  Debian's package (the Socket.IO and Centrifugo peers' Redis), installed when missing
#   centrifugo    v6, built from its Go module (Apache-2.0) into .ws-fleet/bin, as setup builds
#                 nats-server (scripts/lib/go-tools.sh); rebuilt only when the pinned version changes
# Sourced by bench/run.sh after scripts/lib/env.sh; prints one line per tool to stderr.
# shellcheck shell=bash

BENCH_CENTRIFUGO_VERSION="v6.9.1"

bench_tools_main() {
  local root="$1"
  # shellcheck source=../scripts/lib/common.sh
  source "$root/scripts/lib/common.sh"
  # shellcheck source=../scripts/lib/go-tools.sh
  source "$root/scripts/lib/go-tools.sh"
  SETUP_STEP_NAME="bench-tools"

  if ! command -v redis-server >/dev/null 2>&1; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
      echo "bench: installing redis-server (Debian package) for the Socket.IO and Centrifugo peers" >&2
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >&2
    else
      echo "bench: redis-server is missing: install it (Debian: apt-get install redis-server) or run as root on Debian" >&2
      exit 1
    fi
  fi

  local bin="$WSFLEET_BIN/centrifugo" have=""
  # A `go install`ed binary reports v0.0.0 itself; its build info names the module version.
  if [ -x "$bin" ]; then have="$(go version -m "$bin" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/centrifugal/centrifugo/v6" { print $3 }')"; fi
  if [ "$have" != "$BENCH_CENTRIFUGO_VERSION" ]; then
    echo "bench: building centrifugo $BENCH_CENTRIFUGO_VERSION from its Go module into ${bin#"$WSFLEET_ROOT"/} (a few minutes, once)" >&2
    go_install_pinned centrifugo "github.com/centrifugal/centrifugo/v6@$BENCH_CENTRIFUGO_VERSION"
  fi
}
