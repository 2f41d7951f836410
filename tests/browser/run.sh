#!/usr/bin/env bash
# The console's browser tests: Debian chromium + playwright-core against a
# real `yiwang serve` (tests/browser/console.test.mjs). Installs what is
# missing, builds the binary, writes screenshots to target/console-screenshots.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Chromium, and a CJK font so the screenshots show Chinese, not boxes.
if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/wqy ]; then
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
fi
/usr/bin/chromium --version

cargo build --locked -p yiwang-server --bin yiwang
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

export SCREENSHOT_DIR="${SCREENSHOT_DIR:-$PWD/target/console-screenshots}"
rm -rf "$SCREENSHOT_DIR"
(cd tests/browser && node --test --test-concurrency=1 --test-reporter=spec console.test.mjs)
echo "screenshots: $(ls "$SCREENSHOT_DIR" | wc -l) in $SCREENSHOT_DIR"
