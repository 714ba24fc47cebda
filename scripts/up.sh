#!/usr/bin/env bash
# npm run up: setup (toolchain, Docker, provider, images), then the deploy command (infra/cli/fleet.ts up).
# WSFLEET_SKIP_SETUP=1 skips setup (the test command ran it already).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "${WSFLEET_SKIP_SETUP:-0}" != 1 ]; then bash scripts/setup.sh; fi
exec node --import tsx infra/cli/fleet.ts up "$@"
