#!/usr/bin/env bash
# Regenerates the committed Kotlin bindings
# (mobile-android/src/main/kotlin/yiwang/yiwang.kt) from a debug build of
# yiwang-ffi. Run after changing anything exported in bindings/.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(git -C "$script_dir" rev-parse --show-toplevel 2>/dev/null || (cd "$script_dir/../.." && pwd))
cd "$root"

target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$(uname -s)" in
    Darwin) lib="$target_dir/debug/libyiwang_ffi.dylib" ;;
    *) lib="$target_dir/debug/libyiwang_ffi.so" ;;
esac

cargo build -p yiwang-ffi
cargo run -q -p yiwang-ffi --features bindgen-cli --bin uniffi-bindgen -- \
    generate --library "$lib" --language kotlin \
    --out-dir mobile-android/src/main/kotlin --no-format

echo "regenerated mobile-android/src/main/kotlin/yiwang/yiwang.kt"
git --no-pager diff --stat -- mobile-android/src/main/kotlin/yiwang/yiwang.kt || true
