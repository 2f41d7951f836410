#!/usr/bin/env bash
# Regenerates every binding from the host-built library (uniffi library mode):
# Kotlin and Swift into the committed mobile folders, Python into
# target/bindings/python for scripting (bindings/python-smoke.sh, which also
# runs a smoke test through them).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash mobile-android/scripts/generate-bindings.sh
bash mobile-ios/scripts/generate-bindings.sh
bash bindings/python-smoke.sh
