#!/usr/bin/env bash
# npm run lb: the deploy command (infra/cli/fleet.ts lb); kept for scripts and tests that call the file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec node --import tsx infra/cli/fleet.ts lb "$@"
