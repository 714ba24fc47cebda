#!/usr/bin/env bash
# ws-fleet test command (`npm test`): setup, lint, typecheck, then the test tiers on Node's test runner.
#   TEST_TIERS=unit,integration npm test     run only these tiers (default: unit,integration,e2e,swarm)
#   TEST_TIERS=swarm npm test                the multi-node run alone: a 3-node Swarm of namespaced dockerds
#                                            (tests/swarm, root; docs/engines.md); the short chaos run is in e2e
# A tier runs only when it has files (tests/<tier>/**/*.test.ts: the unit files mirror the source folders).
# Fails fast with a non-zero exit.
# Integration and e2e run one file at a time (--test-concurrency=1): real processes on a 2-core machine.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh
# shellcheck source=lib/env.sh
source scripts/lib/env.sh

tiers="${TEST_TIERS:-unit,integration,e2e,swarm}"
for t in ${tiers//,/ }; do
  case "$t" in
    unit | integration | e2e | swarm) ;;
    *) echo "test: unknown tier '$t' in TEST_TIERS (tiers: unit, integration, e2e, swarm)" >&2; exit 2 ;;
  esac
done

echo "test: lint"
npm run --silent lint
echo "test: typecheck"
npm run --silent typecheck

passed=0
failed=0
ran=0
summary() {
  # The plain closing line, totalled over the tiers that ran (each tier also prints node's own summary).
  echo "tests: ${passed} passed, ${failed} failed"
}

log_dir="$WSFLEET_STATE/logs"
for t in unit integration e2e swarm; do
  if [[ ",$tiers," != *",$t,"* ]]; then continue; fi
  files=()
  if [ -d "tests/$t" ]; then mapfile -t files < <(find "tests/$t" -name '*.test.ts' -type f | LC_ALL=C sort); fi
  if [ "${#files[@]}" -eq 0 ]; then
    echo "test: $t: no test files, tier not run"
    continue
  fi
  args=(--import tsx --test --test-reporter=spec)
  if [ "$t" != "unit" ]; then args+=(--test-concurrency=1); fi
  echo "test: $t: ${#files[@]} file(s)"
  log="$log_dir/test-$t.log"
  set +e
  node "${args[@]}" "${files[@]}" 2>&1 | tee "$log"
  rc="${PIPESTATUS[0]}"
  set -e
  # node's spec reporter ends with "ℹ pass N" / "ℹ fail N" lines.
  p="$(grep -Eo '^(ℹ|#) pass [0-9]+' "$log" | tail -n1 | grep -Eo '[0-9]+$' || echo 0)"
  f="$(grep -Eo '^(ℹ|#) fail [0-9]+' "$log" | tail -n1 | grep -Eo '[0-9]+$' || echo 0)"
  passed=$((passed + p))
  failed=$((failed + f))
  ran=$((ran + 1))
  if [ "$rc" -ne 0 ]; then
    summary
    echo "test: $t tier failed (exit $rc); later tiers not run" >&2
    exit "$rc"
  fi
done

if [ "$ran" -eq 0 ]; then
  echo "test: no test files in the selected tiers ($tiers)" >&2
  exit 1
fi
summary
