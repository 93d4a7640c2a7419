#!/usr/bin/env bash
# Test setup: headless Chromium from Debian's packages, for the model-card rendering test
# (tests/it/governance.rs screenshots the card). Skipped when Chromium is already installed.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || {
  $SUDO apt-get update >/dev/null
  $SUDO apt-get install -y --no-install-recommends chromium >/dev/null
}
/usr/bin/chromium --version
