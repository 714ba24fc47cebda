# shellcheck shell=bash
# The deployment logic lives in the TypeScript deploy command, infra/cli/fleet.ts. This file only keeps the
# one shell function callers source (tests/support/fleet.ts): the plan of the current settings as
# `terraform plan -json` lines, nothing applied.
fleet_plan_json() {
  (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && node --import tsx infra/cli/fleet.ts plan-json)
}
