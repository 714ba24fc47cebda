# Step nats (and haproxy on the host): nats-server built from its Go module source into .ws-fleet/bin.
# k6 is never built here (its Go module is AGPL-licensed): the k6 scripts use a k6 the user installed on PATH.
# shellcheck shell=bash

# go_install_pinned NAME MODULE@VERSION: `go install` into .ws-fleet/bin, niced, logged.
go_install_pinned() {
  local name="$1" target="$2" log="$WSFLEET_STATE/logs/$1-build.log"
  require_go "$name"
  mkdir -p "$WSFLEET_BIN"
  echo "--- $(date -u +%FT%TZ) go install $target" >>"$log"
  if ! GOBIN="$WSFLEET_BIN" GOFLAGS="${GOFLAGS:-} -buildvcs=false" nice -n 10 go install "$target" >>"$log" 2>&1; then
    step_fail "go install $target failed (Go module proxy reachable?)" "$log"
  fi
}

setup_nats_server() {
  local ours="$WSFLEET_BIN/nats-server" want v
  want="$(images_json natsServerVersion)"
  v="$("$ours" --version 2>/dev/null | grep -Eo 'v[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true)"
  if [ -x "$ours" ] && [ "$v" = "$want" ]; then
    step_done "already present" "nats-server $want (${ours#"$WSFLEET_ROOT"/})"
    return
  fi
  go_install_pinned nats-server "github.com/nats-io/nats-server/v2@$want"
  v="$("$ours" --version 2>/dev/null | grep -Eo 'v[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true)"
  if [ "$v" != "$want" ]; then
    step_fail "built nats-server reports '$v', expected $want" "$WSFLEET_STATE/logs/nats-server-build.log"
  fi
  step_done "built" "nats-server $want (${ours#"$WSFLEET_ROOT"/})"
}

setup_haproxy_host() {
  local bin
  bin="$(command -v haproxy || true)"
  if [ -n "$bin" ]; then
    step_done "already present" "$("$bin" -v 2>/dev/null | head -n1 | grep -Eo 'version [^ ]+' || true) ($bin)"
    return
  fi
  apt_install haproxy
  bin="$(command -v haproxy || true)"
  if [ -z "$bin" ]; then
    step_fail "haproxy is still not on PATH after 'apt-get install haproxy'"
  fi
  step_done "installed" "apt haproxy, $("$bin" -v 2>/dev/null | head -n1 | grep -Eo 'version [^ ]+' || true)"
}
