# Step docker: a Docker engine that answers `docker info`.
# Installs docker.io and starts dockerd only as root on Debian; never stops a daemon it did not start
# (and never stops the one it started either: the fleet runs on it).
# shellcheck shell=bash

DOCKERD_WAIT_SECONDS="${WSFLEET_DOCKERD_WAIT_SECONDS:-60}"

docker_answers() {
  timeout 20 docker info >/dev/null 2>&1
}

setup_docker_engine() {
  local log="$WSFLEET_STATE/logs/dockerd.log" pidfile="$WSFLEET_STATE/state/dockerd.pid"
  local status="already present" detail=""
  if command -v docker >/dev/null 2>&1 && docker_answers; then
    step_done "already present" "$(docker version --format 'engine {{.Server.Version}}' 2>/dev/null || true)"
    return
  fi
  if ! is_root || ! is_debian; then
    if ! command -v docker >/dev/null 2>&1; then
      step_fail "Docker is not installed: install Docker Engine (https://docs.docker.com/engine/install/) and run setup again"
    fi
    step_fail "the Docker engine does not answer 'docker info': start it (e.g. 'sudo systemctl start docker') or add your user to the docker group, then run setup again"
  fi
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    apt_install docker.io
    status="installed"
    detail="apt docker.io"
  fi
  # The multi-node swarm test builds its nodes with ip(8) (network namespaces, veth, a bridge).
  if ! command -v ip >/dev/null 2>&1; then
    apt_install iproute2
    detail="${detail:+$detail, }apt iproute2"
  fi
  # A daemon may already be starting (ours from a previous run, or someone else's): give it a moment.
  if [ -S /var/run/docker.sock ] && pgrep -x dockerd >/dev/null 2>&1; then
    local i
    for ((i = 0; i < 10; i++)); do
      if docker_answers; then
        step_done "$status" "${detail:+$detail, }dockerd already running"
        return
      fi
      sleep 1
    done
    step_fail "a dockerd process is running but 'docker info' fails; setup does not stop daemons it did not start: fix or stop it, then run setup again" "$log"
  fi
  mkdir -p "$(dirname "$log")" "$(dirname "$pidfile")"
  echo "--- $(date -u +%FT%TZ) started by ws-fleet setup" >>"$log"
  # setsid: the daemon outlives this shell and is not killed with the caller's process group.
  # 9>&-: the daemon must not inherit the setup lock (it would hold it for its whole life).
  setsid nohup dockerd >>"$log" 2>&1 </dev/null 9>&- &
  echo "$!" >"$pidfile"
  local waited=0
  until docker_answers; do
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      step_fail "dockerd exited right after start" "$log"
    fi
    if [ "$waited" -ge "$DOCKERD_WAIT_SECONDS" ]; then
      step_fail "dockerd (pid $(cat "$pidfile")) did not answer 'docker info' within ${DOCKERD_WAIT_SECONDS}s; it is left running" "$log"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  step_done "installed" "${detail:+$detail, }dockerd started (pid $(cat "$pidfile"), log ${log#"$WSFLEET_ROOT"/})"
}
