# Prints a replica's Prometheus text from inside its container (`docker exec <c> bash -c "$(cat this)"`):
# only the balancer's port is published, so the runner and scripts/k6.sh read /metrics from inside.
# The one place that knows where /metrics is: METRICS_PORT (protocol v2 default 9091), else the public
# PORT (older servers serve it there), else 8080. bash's /dev/tcp costs nothing; images without bash
# are read with node by the callers' fallback.
for port in ${METRICS_PORT:-} 9091 ${PORT:-} 8080; do
  if exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
    printf 'GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
    out="$(cat <&3)"
    exec 3<&-
    case "$out" in
      *process_resident_memory_bytes*) printf '%s\n' "$out"; exit 0 ;;
    esac
  fi
done
exit 1
