#!/usr/bin/env bash
# npm run k6:smoke | k6:soak | k6:scale -- [options]: runs a k6 script against the deployed fleet's
# balancer (127.0.0.1 only), with the deployment's JWT secret, and writes the reports under
# results/k6/<script>-<UTC timestamp>/: summary.txt, summary.json, report.html (k6's web dashboard,
# self-contained), k6.log, params.json, and for soak/scale memory.json and events.json.
#
# k6 cannot run commands, so this wrapper runs k6 in the background and, on the run's timeline (k6
# prints it from setup()), calls the infra's own scale command and samples each replica's memory
# (process_resident_memory_bytes from its /metrics, read inside the container with `docker exec`).
#
# usage: scripts/k6.sh <smoke|soak|scale> [options] [-- extra k6 run args]
#   --users N  --users-per-vu N  --rate MSG_PER_S  --duration D  --ramp D  --grace D
#   --room-size N  --room-share F  --payload-bytes N  --p99-ms MS  --label TEXT
#   --scale-plan "60s=5,180s=2"   scale events, times from the start of traffic (scale: this default;
#                                 soak: none). Each waits for the previous one to finish.
#   --initial-replicas N          scale to N before the run when the fleet has another count (scale: 3)
#   --no-restore                  leave the replica count as the plan left it (default: put it back)
#   --no-memory-check             soak: skip the replicas' memory growth check
#   --memory-warmup D             soak: first memory sample this long after traffic starts (default
#                                 min(60s, duration/4)) and 20 s after the last scale event
# Durations: 500ms, 90s, 3m, 1h or seconds. Every option can also be given as its WSFLEET_* variable
# (see k6/lib/config.js), e.g. WSFLEET_DURATION=3m.
#
# Target: the deployment WSFLEET_PREFIX (default wsfleet): balancer URL from its deploy outputs
# (.ws-fleet/outputs/<prefix>.json, else its settings), AUTH_SECRET from .ws-fleet/secrets/<prefix>.env.
# Overrides: WSFLEET_BALANCER_URL, WSFLEET_AUTH_SECRET; WSFLEET_FLEET_FILE=<json> for the dev process fleet
# (k6/dev/process-fleet.mjs). WSFLEET_SCALE_CMD replaces "bash scripts/scale.sh" (it gets the count as $1).
# k6: the `k6` on the caller's PATH (or K6_BIN). This project never builds or downloads k6; without
# one the script stops with exit 3 and says how to install it.
# Exit: k6's exit code (99 = a threshold crossed), else 1 when the memory check failed or a scale event
# failed or did not finish at least 10 s before the end of traffic; 3 when there is no k6.
set -Eeuo pipefail
# The whole script is one block: bash parses it before running, so editing the file during a long run
# cannot change what the running wrapper does.
{

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# k6 is looked up on the caller's PATH before env.sh puts the project's own bin dirs first: the k6 used
# is always one the user installed.
K6_BIN="${K6_BIN:-$(command -v k6 || true)}"
# shellcheck source=lib/env.sh
source scripts/lib/env.sh

log() { printf 'k6: %s\n' "$*" >&2; }
die() { printf 'k6: error: %s\n' "$*" >&2; exit 2; }
now_ms() { date +%s%3N; }

# Duration → milliseconds, read by the project's one duration grammar (load/scenarios.js, as k6/lib/config.js).
duration_ms() {
  (cd "$ROOT" && node --input-type=module -e 'import { parseDurationMs } from "./load/scenarios.js"; process.stdout.write(String(parseDurationMs("duration", process.argv[1] ?? "")));' "$1" 2>/dev/null) ||
    die "not a duration: '$1' (use e.g. 500ms, 90s, 3m, 1h)"
}

script="${1:-}"
case "$script" in
  smoke | soak | scale) shift ;;
  *) die "usage: scripts/k6.sh <smoke|soak|scale> [options] [-- extra k6 args]" ;;
esac

scale_plan="${WSFLEET_SCALE_PLAN:-}"
initial_replicas="${WSFLEET_INITIAL_REPLICAS:-}"
restore=1
memory_check=0
memory_warmup="${WSFLEET_MEMORY_WARMUP:-}"
memory_max_growth="${WSFLEET_MEMORY_MAX_GROWTH:-0.10}"
case "$script" in
  soak) memory_check=1 ;;
  scale)
    scale_plan="${scale_plan:-60s=5,180s=2}"
    initial_replicas="${initial_replicas:-3}"
    ;;
esac
extra=()
need() { [ $# -ge 2 ] || die "option $1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --users) need "$@"; export WSFLEET_USERS="$2"; shift 2 ;;
    --users-per-vu) need "$@"; export WSFLEET_USERS_PER_VU="$2"; shift 2 ;;
    --rate) need "$@"; export WSFLEET_RATE="$2"; shift 2 ;;
    --duration) need "$@"; export WSFLEET_DURATION="$2"; shift 2 ;;
    --ramp) need "$@"; export WSFLEET_RAMP="$2"; shift 2 ;;
    --grace) need "$@"; export WSFLEET_GRACE="$2"; shift 2 ;;
    --room-size) need "$@"; export WSFLEET_ROOM_SIZE="$2"; shift 2 ;;
    --room-share) need "$@"; export WSFLEET_ROOM_SHARE="$2"; shift 2 ;;
    --payload-bytes) need "$@"; export WSFLEET_PAYLOAD_BYTES="$2"; shift 2 ;;
    --p99-ms) need "$@"; export WSFLEET_P99_MS="$2"; shift 2 ;;
    --label) need "$@"; export WSFLEET_RUN_LABEL="$2"; shift 2 ;;
    --scale-plan) need "$@"; scale_plan="$2"; shift 2 ;;
    --initial-replicas) need "$@"; initial_replicas="$2"; shift 2 ;;
    --no-restore) restore=0; shift ;;
    --no-memory-check) memory_check=0; shift ;;
    --memory-warmup) need "$@"; memory_warmup="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) die "unknown option '$1' (see the header of scripts/k6.sh)" ;;
  esac
done
[ "$script" = smoke ] && [ -n "$scale_plan" ] && die "smoke takes no --scale-plan"
[[ -z "$initial_replicas" || "$initial_replicas" =~ ^[1-9][0-9]*$ ]] || die "--initial-replicas '$initial_replicas' is not a replica count"
[[ "$memory_max_growth" =~ ^0?\.[0-9]+$|^[0-9]+(\.[0-9]+)?$ ]] || die "WSFLEET_MEMORY_MAX_GROWTH '$memory_max_growth' is not a fraction"

# ---- k6 ----------------------------------------------------------------------------------------
k6_missing() {
  cat >&2 <<'MSG'
k6: error: no k6 on PATH. This project does not build or download k6; install k6 v1.x yourself:
  - Debian/Ubuntu: k6's apt repository (https://grafana.com/docs/k6/latest/set-up/install-k6/)
  - macOS: brew install k6      - Windows: winget install k6 --source winget (or choco install k6)
  - or a release binary from https://github.com/grafana/k6/releases, put on PATH
  then run this again (or set K6_BIN=/path/to/k6). Without k6, the project's own runner covers the
  same scenarios: npm run load -- smoke|soak|scale|chaos (docs/load.md).
MSG
  exit 3
}
if [ -z "$K6_BIN" ]; then k6_missing; fi
[ -x "$K6_BIN" ] || die "K6_BIN=$K6_BIN is not an executable file"
k6_version="$("$K6_BIN" version 2>/dev/null | grep -Eo 'v[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true)"
[[ "$k6_version" == v1.* ]] || die "$K6_BIN is k6 '$k6_version'; these scripts need k6 v1.x"

# ---- target ------------------------------------------------------------------------------------
prefix="${WSFLEET_PREFIX:-wsfleet}"
fleet_file="${WSFLEET_FLEET_FILE:-}"
balancer="${WSFLEET_BALANCER_URL:-}"
secret="${WSFLEET_AUTH_SECRET:-}"
scale_cmd="${WSFLEET_SCALE_CMD:-}"
target_desc=""
if [ -n "$fleet_file" ]; then
  [ -f "$fleet_file" ] || die "WSFLEET_FLEET_FILE=$fleet_file does not exist (is k6/dev/process-fleet.mjs running?)"
  balancer="${balancer:-$(jq -r '.balancerUrl' "$fleet_file")}"
  secret="${secret:-$(jq -r '.authSecret' "$fleet_file")}"
  scale_cmd="${scale_cmd:-bash k6/dev/dev-scale.sh}"
  target_desc="dev process fleet ($fleet_file)"
else
  outputs="$WSFLEET_STATE/outputs/$prefix.json"
  if [ -z "$balancer" ] && [ -f "$outputs" ]; then
    # cdktf's outputs file ({"<stack>": {"balancer_url": "..."}}) or terraform's ({"balancer_url": {"value": "..."}}).
    balancer="$(jq -r '[.. | objects | select(has("balancer_url")) | .balancer_url | if type == "object" then .value else . end | strings] | first // empty' "$outputs" 2>/dev/null || true)"
  fi
  if [ -z "$balancer" ] && [ -f "$outputs.tf" ]; then
    balancer="$(jq -r '[.. | objects | select(has("balancer_url")) | .balancer_url | if type == "object" then .value else . end | strings] | first // empty' "$outputs.tf" 2>/dev/null || true)"
  fi
  if [ -z "$balancer" ]; then
    bind="$(cd "$ROOT" && node --import tsx infra/cli/settings.ts get bindAddress 2>/dev/null || true)"
    port="$(cd "$ROOT" && node --import tsx infra/cli/settings.ts get balancerPort 2>/dev/null || true)"
    [ -n "$bind" ] && [ -n "$port" ] && balancer="http://$bind:$port"
  fi
  if [ -z "$secret" ]; then
    # infra/secrets.ts is the one reader of the secrets file; it names what is missing.
    secret="$(cd "$ROOT" && WSFLEET_PREFIX="$prefix" node --import tsx infra/cli/secrets.ts get AUTH_SECRET)" ||
      die "no secrets for deployment $prefix: deploy the fleet first (npm run up), or set WSFLEET_AUTH_SECRET"
  fi
  scale_cmd="${scale_cmd:-bash scripts/scale.sh}"
  target_desc="deployment $prefix"
fi
[ -n "$balancer" ] || die "no balancer URL for $target_desc: deploy it (npm run up) or set WSFLEET_BALANCER_URL"
[ "${#secret}" -ge 32 ] || die "no AUTH_SECRET (>= 32 chars) for $target_desc"
[[ "$balancer" =~ ^(https?|wss?)://127\.0\.0\.1(:[0-9]+)?(/.*)?$ ]] || die "balancer URL '$balancer' is not on 127.0.0.1: these scripts only load the local fleet"
curl -fsS -m 5 -o /dev/null "${balancer%/}/healthz" || die "the balancer at $balancer does not answer /healthz: is the fleet up?"

# ---- replicas: count, memory --------------------------------------------------------------------
replica_names() {
  if [ -n "$fleet_file" ]; then
    jq -r '.replicas[].id' "$fleet_file"
  else
    docker ps --format '{{.Names}}' | grep -E "^${prefix}-ws-[0-9]+$" | sort -V || true
  fi
}
replica_count() { replica_names | grep -c . || true; }

# Prints "<replica> <rss bytes>" per replica (a replica that does not answer is left out), all replicas
# read in parallel so a busy box does not stretch the sample over seconds.
metrics_rss() { awk '$1 ~ /^process_resident_memory_bytes(\{.*\})?$/ { printf "%d", $2 }'; }
sample_one_container() {
  local name="$1" rss
  # Inside the container: the replicas' ports are not published (only the balancer is). bash's
  # /dev/tcp costs nothing; images without bash fall back to a node one-liner.
  rss="$(timeout 15 docker exec "$name" bash -c "$(cat "$ROOT/load/metrics-probe.sh")" 2>/dev/null | tr -d '\r' | metrics_rss || true)"
  if [ -z "$rss" ]; then
    rss="$(timeout 20 docker exec "$name" node -e '
      fetch(`http://127.0.0.1:${process.env.METRICS_PORT || 9091}/metrics`).catch(() => fetch(`http://127.0.0.1:${process.env.PORT || 8080}/metrics`)).then((r) => r.text()).then((t) => {
        const m = /^process_resident_memory_bytes(?:\{[^}]*\})? (\S+)$/m.exec(t);
        if (m) console.log(Math.round(Number(m[1])));
      }).catch(() => process.exit(1));' 2>/dev/null || true)"
  fi
  if [ -n "$rss" ]; then echo "$name $rss"; fi
}
sample_memory_once() {
  local name url rss
  if [ -n "$fleet_file" ]; then
    jq -r '.replicas[] | "\(.id) \(.metricsUrl)"' "$fleet_file" | while read -r name url; do
      rss="$(curl -fsS -m 5 "$url" 2>/dev/null | metrics_rss || true)"
      if [ -n "$rss" ]; then echo "$name $rss"; fi
    done
  else
    local pids=()
    for name in $(replica_names); do
      sample_one_container "$name" &
      pids+=($!)
    done
    # Only these jobs: a bare `wait` would also wait for k6 itself.
    if [ "${#pids[@]}" -gt 0 ]; then wait "${pids[@]}" || true; fi
  fi
  return 0
}

# Median of three samples 2 s apart per replica: one GC more or less does not decide the check.
sample_memory() {
  local tmp
  tmp="$(mktemp)"
  for i in 1 2 3; do
    sample_memory_once >>"$tmp"
    [ "$i" -lt 3 ] && sleep 2
  done
  sort -k1,1V -k2,2n "$tmp" | awk '{ v[$1] = v[$1] " " $2; n[$1]++ } END { for (k in v) { split(substr(v[k], 2), a, " "); print k, a[int((n[k] + 1) / 2)] } }' | sort -V
  rm -f "$tmp"
}

# ---- results dir and parameters -----------------------------------------------------------------
results_root="${WSFLEET_RESULTS_ROOT:-$ROOT/results/k6}"
stamp="$(date -u +%Y%m%d-%H%M%S)"
dir="$results_root/$script-$stamp"
n=2
while [ -e "$dir" ]; do dir="$results_root/$script-$stamp-$n"; n=$((n + 1)); done
mkdir -p "$dir"
export WSFLEET_RESULTS_DIR="$dir"

# The run's parameters as given (unset ones take the script's defaults, which summary.json records).
params_env="$(env | grep -E '^WSFLEET_' | grep -vE '^WSFLEET_(AUTH_SECRET|FLEET_FILE)=' | sort || true)"
jq -n \
  --arg script "$script" --arg target "$target_desc" --arg balancer "$balancer" --arg k6 "$k6_version" \
  --arg plan "$scale_plan" --arg initial "$initial_replicas" --arg commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --arg host "$(nproc) cpu, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)" \
  --arg started "$(date -u +%FT%TZ)" --arg env "$params_env" \
  --argjson memcheck "$memory_check" --arg maxgrowth "$memory_max_growth" --arg extra "${extra[*]:-}" \
  '{script: $script, target: $target, balancer: $balancer, k6: $k6, commit: $commit, host: $host, started: $started,
    scalePlan: $plan, initialReplicas: $initial, memoryCheck: ($memcheck == 1), memoryMaxGrowth: ($maxgrowth | tonumber),
    k6Args: $extra, env: ($env | split("\n") | map(select(length > 0)))}' >"$dir/params.json"

if [ -n "$initial_replicas" ]; then
  have="$(replica_count)"
  if [ "$have" != "$initial_replicas" ]; then
    log "fleet has $have replicas; scaling to $initial_replicas before the run ($scale_cmd $initial_replicas)"
    timeout 900 $scale_cmd "$initial_replicas" >"$dir/scale-initial.log" 2>&1 || die "$scale_cmd $initial_replicas failed; see $dir/scale-initial.log"
  fi
fi
replicas_before="$(replica_count)"

# ---- run k6 in the background -------------------------------------------------------------------
k6_args=(run)
[ -t 1 ] || k6_args+=(--quiet)
k6_args+=("$ROOT/k6/$script.js")
[ "${#extra[@]}" -gt 0 ] && k6_args+=("${extra[@]}")
log "$script against $balancer ($target_desc, $replicas_before replicas); results in ${dir#"$ROOT"/}"
: >"$dir/k6.log"
K6_NO_USAGE_REPORT=true K6_WEB_DASHBOARD=true K6_WEB_DASHBOARD_PORT=-1 K6_WEB_DASHBOARD_EXPORT="$dir/report.html" \
  WSFLEET_BALANCER_URL="$balancer" WSFLEET_AUTH_SECRET="$secret" \
  "$K6_BIN" "${k6_args[@]}" >"$dir/k6.log" 2>&1 &
k6_pid=$!
tail -n +1 -f --pid="$k6_pid" "$dir/k6.log" &
tail_pid=$!
cleanup() {
  if kill -0 "$k6_pid" 2>/dev/null; then kill -INT "$k6_pid" 2>/dev/null || true; fi
  kill "$tail_pid" 2>/dev/null || true
  if [ -n "${load_pid:-}" ]; then kill "$load_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# The timeline from setup(): "wsfleet-schedule run=... t0=... trafficStart=... trafficEnd=... graceEnd=..."
schedule=""
for _ in $(seq 1 600); do
  schedule="$(grep -m1 -o 'wsfleet-schedule [^"]*' "$dir/k6.log" 2>/dev/null || true)"
  [ -n "$schedule" ] && break
  kill -0 "$k6_pid" 2>/dev/null || break
  sleep 0.1
done
field() { sed -E "s/.*[ ]$1=([0-9a-z]+).*/\1/" <<<"$schedule"; }

events="[]"
plan_problem=""
memory_start=""
memory_end=""
memory_note=""
if [ -n "$schedule" ]; then
  traffic_start="$(field trafficStart)"
  traffic_end="$(field trafficEnd)"
  # Background: k6's own CPU time and the machine's load over the traffic window (k6 shares the box
  # with the fleet, so its share matters when reading latency figures).
  (
    wait_ms=$((traffic_start - $(now_ms)))
    [ "$wait_ms" -gt 0 ] && sleep "$(awk -v m="$wait_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
    c0="$(ps -o times= -p "$k6_pid" 2>/dev/null | tr -d ' ' || true)"
    s0="$(head -n1 /proc/stat)"
    wait_ms=$((traffic_end - $(now_ms)))
    [ "$wait_ms" -gt 0 ] && sleep "$(awk -v m="$wait_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
    c1="$(ps -o times= -p "$k6_pid" 2>/dev/null | tr -d ' ' || true)"
    s1="$(head -n1 /proc/stat)"
    # Share of the machine's CPU time that was busy (everything: the fleet, k6, anything else).
    busy="$(printf '%s\n%s\n' "$s0" "$s1" | awk '{ idle = $5 + $6; tot = 0; for (i = 2; i <= NF; i++) tot += $i; if (NR == 1) { i0 = idle; t0 = tot } else { printf "%.0f", (1 - (idle - i0) / (tot - t0)) * 100 } }')"
    if [ -n "$c0" ] && [ -n "$c1" ]; then
      jq -n --argjson cpu "$((c1 - c0))" --argjson secs "$(((traffic_end - traffic_start) / 1000))" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --argjson cores "$(nproc)" --argjson busy "${busy:-null}" \
        '{k6CpuSeconds: $cpu, trafficSeconds: $secs, k6CpuShareOfOneCore: (if $secs > 0 then ($cpu / $secs * 100 | round) / 100 else null end), cores: $cores, machineCpuBusyPct: $busy, loadavgAtTrafficEnd: $load}' >"$dir/host-load.json"
    fi
  ) &
  load_pid=$!
  sleep_until() {
    local ms=$(($1 - $(now_ms)))
    [ "$ms" -gt 0 ] && sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
    return 0
  }
  last_scale_end=0
  if [ -n "$scale_plan" ]; then
    IFS=',' read -r -a plan_items <<<"$scale_plan"
    for item in "${plan_items[@]}"; do
      [[ "$item" =~ ^([0-9.]+(ms|s|m|h)?)=([1-9][0-9]*)$ ]] || die "--scale-plan item '$item' is not <time>=<replicas>"
      at=$((traffic_start + $(duration_ms "${BASH_REMATCH[1]}")))
      want="${BASH_REMATCH[3]}"
      sleep_until "$at"
      if ! kill -0 "$k6_pid" 2>/dev/null || [ "$(now_ms)" -ge "$traffic_end" ]; then
        plan_problem="scale to $want could not start before the traffic ended (the previous step ran late)"
        log "error: $plan_problem"
        break
      fi
      t_begin="$(now_ms)"
      log "scale to $want at +$(((t_begin - traffic_start) / 1000))s of traffic: $scale_cmd $want"
      rc=0
      timeout 900 $scale_cmd "$want" >"$dir/scale-$want-$(((t_begin - traffic_start) / 1000))s.log" 2>&1 || rc=$?
      last_scale_end="$(now_ms)"
      log "scale to $want: exit $rc after $(((last_scale_end - t_begin) / 1000))s; fleet has $(replica_count) replicas"
      events="$(jq -c --argjson at "$(((t_begin - traffic_start)))" --argjson took "$((last_scale_end - t_begin))" --argjson want "$want" --argjson rc "$rc" \
        '. + [{action: "scale", replicas: $want, atMsFromTrafficStart: $at, tookMs: $took, exitCode: $rc}]' <<<"$events")"
      if [ "$rc" -ne 0 ]; then
        plan_problem="the scale command failed (exit $rc); see $dir"
        log "error: $plan_problem"
        break
      fi
      # The sockets a scale-down drops must reconnect under traffic, or the run proves nothing about it.
      if [ "$last_scale_end" -gt $((traffic_end - 10000)) ]; then
        plan_problem="scale to $want finished $(((last_scale_end - traffic_start) / 1000)) s into $(((traffic_end - traffic_start) / 1000)) s of traffic: less than 10 s of traffic left after it (lengthen --duration or plan it earlier)"
        log "error: $plan_problem"
      fi
    done
  fi
  if [ "$memory_check" = 1 ]; then
    duration_total=$((traffic_end - traffic_start))
    if [ -n "$memory_warmup" ]; then warm="$(duration_ms "$memory_warmup")"; else warm=$((duration_total / 4 < 60000 ? duration_total / 4 : 60000)); fi
    start_at=$((traffic_start + warm))
    if [ "$last_scale_end" -gt 0 ] && [ $((last_scale_end + 20000)) -gt "$start_at" ]; then start_at=$((last_scale_end + 20000)); fi
    end_at=$((traffic_end - 8000))
    if [ $((end_at - start_at)) -lt 20000 ]; then
      memory_note="window after warm-up too short ($(((end_at - start_at) / 1000)) s < 20 s): lengthen --duration or shorten --memory-warmup"
      log "memory check: $memory_note"
    else
      sleep_until "$start_at"
      if kill -0 "$k6_pid" 2>/dev/null; then
        memory_start="$(sample_memory)"
        memory_start_at=$(( $(now_ms) - traffic_start ))
        log "memory at +$((memory_start_at / 1000))s: $(tr '\n' ' ' <<<"$memory_start")"
        sleep_until "$end_at"
        if kill -0 "$k6_pid" 2>/dev/null; then
          memory_end="$(sample_memory)"
          memory_end_at=$(( $(now_ms) - traffic_start ))
          log "memory at +$((memory_end_at / 1000))s: $(tr '\n' ' ' <<<"$memory_end")"
        fi
      fi
    fi
  fi
else
  log "warning: k6 printed no timeline (setup failed?); no scale events or memory samples"
fi

# k6 bounds itself (scenario maxDuration); this is the wrapper's own bound on top.
deadline=$(( $(now_ms) + 24 * 3600 * 1000 ))
if [ -n "$schedule" ]; then deadline=$(( $(field graceEnd) + 120000 )); fi
while kill -0 "$k6_pid" 2>/dev/null; do
  if [ "$(now_ms)" -gt "$deadline" ]; then
    log "k6 still running 120 s after its timeline ended: interrupting it"
    kill -INT "$k6_pid" 2>/dev/null || true
    sleep 30
    kill -KILL "$k6_pid" 2>/dev/null || true
  fi
  sleep 1
done
k6_rc=0
wait "$k6_pid" || k6_rc=$?
wait "$tail_pid" 2>/dev/null || true
if [ -n "${load_pid:-}" ]; then wait "$load_pid" 2>/dev/null || true; fi
trap - EXIT
# What the wrapper found goes on stdout and at the end of summary.txt (k6 wrote the rest).
report_line() { printf '%s\n' "$*" | tee -a "$dir/summary.txt"; }
[ -f "$dir/summary.txt" ] || : >"$dir/summary.txt"
if [ "$events" != "[]" ]; then
  report_line "  scale events (from the start of traffic):"
  while read -r line; do report_line "    $line"; done < <(jq -r '.[] | "+\(.atMsFromTrafficStart / 1000 | floor)s: scale to \(.replicas) took \(.tookMs / 1000 | floor)s, exit \(.exitCode)"' <<<"$events")
fi
if [ -f "$dir/host-load.json" ]; then
  report_line "  machine: CPU $(jq -r '.machineCpuBusyPct' "$dir/host-load.json")% busy during traffic ($(nproc) cores; k6 itself $(jq -r '.k6CpuSeconds' "$dir/host-load.json") CPU-s over $(jq -r '.trafficSeconds' "$dir/host-load.json") s), load average at the end $(jq -r '.loadavgAtTrafficEnd' "$dir/host-load.json")"
fi

# ---- memory check ------------------------------------------------------------------------------
memory_rc=0
if [ "$memory_check" = 1 ]; then
  if [ -n "$memory_start" ] && [ -n "$memory_end" ]; then
    report="$(join <(sort <<<"$memory_start") <(sort <<<"$memory_end") | sort -V |
      awk -v max="$memory_max_growth" '{ g = ($3 - $2) / $2; printf "%s %d %d %.4f %s\n", $1, $2, $3, g, (g < max ? "ok" : "FAIL") }')"
    [ -n "$report" ] || memory_note="no replica was sampled at both ends"
    report_line "  replica memory (process_resident_memory_bytes, median of 3 samples; growth must stay under $(awk -v m="$memory_max_growth" 'BEGIN { print m * 100 }')%)"
    while read -r line; do report_line "    $line"; done < <(awk '{ printf "%-22s %8.1f MiB -> %8.1f MiB  %+6.1f%%  %s\n", $1, $2 / 1048576, $3 / 1048576, $4 * 100, $5 }' <<<"$report")
    grep -q ' FAIL$' <<<"$report" && memory_rc=1
    jq -n --arg r "$report" --arg max "$memory_max_growth" --argjson s "${memory_start_at:-0}" --argjson e "${memory_end_at:-0}" \
      '{maxGrowth: ($max | tonumber), startMsFromTrafficStart: $s, endMsFromTrafficStart: $e,
        replicas: ($r | split("\n") | map(select(length > 0) | split(" ") | {replica: .[0], startBytes: (.[1] | tonumber), endBytes: (.[2] | tonumber), growth: (.[3] | tonumber), ok: (.[4] == "ok")}))}' >"$dir/memory.json"
  else
    memory_note="${memory_note:-the run ended before both memory samples were taken}"
  fi
  if [ -n "$memory_note" ]; then
    report_line "  replica memory: FAIL, the check could not run: $memory_note"
    jq -n --arg note "$memory_note" '{ok: false, note: $note}' >"$dir/memory.json"
    memory_rc=1
  fi
fi
[ "$events" = "[]" ] || jq . <<<"$events" >"$dir/events.json"

# ---- restore the replica count ----------------------------------------------------------------
if [ -n "$scale_plan" ] && [ "$restore" = 1 ]; then
  now_count="$(replica_count)"
  if [ "$now_count" != "$replicas_before" ]; then
    log "restoring $replicas_before replicas ($scale_cmd $replicas_before)"
    timeout 900 $scale_cmd "$replicas_before" >"$dir/scale-restore.log" 2>&1 || log "warning: restoring $replicas_before replicas failed; see $dir/scale-restore.log"
  fi
fi

[ -z "$plan_problem" ] || report_line "  scale plan: FAIL, $plan_problem"
[ -s "$dir/report.html" ] || log "warning: no HTML report was written ($dir/report.html)"
log "results: ${dir#"$ROOT"/} (summary.txt, summary.json, report.html, k6.log, params.json)"
if [ "$k6_rc" -ne 0 ]; then
  log "k6 exited with $k6_rc$([ "$k6_rc" -eq 99 ] && echo ' (thresholds crossed)')"
  exit "$k6_rc"
fi
if [ "$memory_rc" -ne 0 ]; then
  log "memory check failed"
  exit 1
fi
if [ -n "$plan_problem" ]; then
  log "scale plan not carried out under traffic: $plan_problem"
  exit 1
fi
exit 0
}
