# Step node: npm dependencies from the lockfile.
# shellcheck shell=bash

setup_node_deps() {
  local root="$WSFLEET_ROOT" log="$WSFLEET_STATE/logs/npm-ci.log"
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    step_fail "Node.js >= 20 with npm not found: install it (https://nodejs.org or your package manager) and run setup again"
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -lt 20 ]; then
    step_fail "Node.js $(node --version) is too old: ws-fleet needs Node.js >= 20"
  fi
  # npm ci writes node_modules/.package-lock.json; it is older than the lockfile when deps changed.
  if [ -f "$root/node_modules/.package-lock.json" ] && [ ! "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
    step_done "already present"
    return
  fi
  if ! (cd "$root" && npm ci --no-audit --no-fund >"$log" 2>&1); then
    step_fail "npm ci failed (is the npm registry reachable?)" "$log"
  fi
  step_done "installed" "npm ci"
}
