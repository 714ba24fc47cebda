#!/usr/bin/env bash
# npm run bench            the full benchmark: every figure of issues 8 and 15, table + results/bench.json + results/latency.svg
# npm run bench:quick      a seconds-long version of the same scripts (CI keeps them working)
# npm run bench:cost-split where a cross-replica direct message's server CPU goes, per class (bench/cost-split.ts)
# npm run bench:append-chain   one busy subject: the conditional append against the stream's RePublish (bench/append-chain.ts)
# Extra arguments go to bench/main.ts: --only=1,2,3,4,5a,5b,6,7,profiles   --set=latency.durationMs=3000
# Everything it starts listens on 127.0.0.1 (figure 5a: a Docker fleet under the prefix wsfbench) and
# is stopped at the end; every load loop is bounded in count and time.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ "${WSFLEET_SKIP_SETUP:-0}" != 1 ]; then bash scripts/setup.sh; fi
# shellcheck source=../scripts/lib/env.sh
source scripts/lib/env.sh
if [ "${1:-}" = cost-split ]; then shift; exec node --import tsx bench/cost-split.ts "$@"; fi
if [ "${1:-}" = append-chain ]; then shift; exec node --import tsx bench/append-chain.ts "$@"; fi

# The peers' servers: Debian's redis-server, and Centrifugo built from its Go module (bench/tools.sh).
# shellcheck source=tools.sh
source bench/tools.sh
bench_tools_main "$ROOT"

# Every socket is a file descriptor: take the whole hard limit (raising the hard limit itself needs
# CAP_SYS_RESOURCE, which this machine's sandbox does not give; figure 2 reports what that costs).
ulimit -n "$(ulimit -Hn)"

npm run --silent build:server >&2
exec node --import tsx bench/main.ts "$@"
