# Setup step "browser": Debian's chromium for the real-browser tests (tests/e2e/browser*.test.ts),
# which drive it with playwright-core at CHROMIUM_BIN (default /usr/bin/chromium).
# shellcheck shell=bash

setup_browser() {
  local bin="${CHROMIUM_BIN:-/usr/bin/chromium}" version
  if [ -x "$bin" ]; then
    version="$("$bin" --version 2>/dev/null | head -n 1 || true)"
    step_done "already present" "${version:-$bin}"
    return 0
  fi
  if [ "$bin" != "/usr/bin/chromium" ]; then
    step_fail "CHROMIUM_BIN=$bin is not an executable file: point it at a Chromium or unset it to install Debian's chromium"
  fi
  apt_install chromium
  if [ ! -x "$bin" ]; then
    step_fail "apt-get install chromium finished but $bin is missing" "$WSFLEET_STATE/logs/apt.log"
  fi
  version="$("$bin" --version 2>/dev/null | head -n 1 || true)"
  step_done "installed" "${version:-$bin}"
}
