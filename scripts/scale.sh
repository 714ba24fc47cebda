#!/usr/bin/env bash
# npm run scale: the deploy command (infra/cli/fleet.ts scale); kept for scripts and tests that call the file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec node --import tsx infra/cli/fleet.ts scale "$@"
