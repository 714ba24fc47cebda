#!/usr/bin/env bash
# Scales the k6 dev process fleet (k6/dev/process-fleet.mjs) to N replicas and waits (at most 60 s)
# until its state file lists N. Use as WSFLEET_SCALE_CMD="bash k6/dev/dev-scale.sh" for scripts/k6.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ $# -eq 1 ] && [[ "$1" =~ ^[0-9]+$ ]] || { echo "usage: dev-scale.sh <replicas>" >&2; exit 2; }
source "$ROOT/scripts/lib/env.sh"
state="$WSFLEET_STATE/state/k6-dev-fleet.json"
[ -f "$state" ] || { echo "dev-scale: $state missing: is k6/dev/process-fleet.mjs running?" >&2; exit 1; }
echo "$1" >"$WSFLEET_STATE/state/k6-dev-fleet.replicas"
for _ in $(seq 1 600); do
  n="$(jq '.replicas | length' "$state" 2>/dev/null || echo -1)"
  if [ "$n" = "$1" ]; then echo "dev-scale: $1 replicas"; exit 0; fi
  sleep 0.1
done
echo "dev-scale: still not $1 replicas after 60 s" >&2
exit 1
