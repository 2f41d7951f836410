#!/usr/bin/env bash
# Regenerates the committed Swift bindings (Sources/Yiwang/yiwang.swift and the
# C header/module map) from the host-built library. Library mode: the
# metadata is the same in every build of yiwang-ffi.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/mobile-ios}"
cd "$root"
cargo build -q -p yiwang-ffi
gen="$(mktemp -d)"
trap 'rm -rf "$gen"' EXIT
cargo run -q -p yiwang-ffi --features bindgen-cli --bin uniffi-bindgen -- generate \
  --library target/debug/libyiwang_ffi.so --language swift --out-dir "$gen" --no-format
mkdir -p "$out/Sources/Yiwang" "$out/Sources/yiwangFFI/include"
cp "$gen/yiwang.swift" "$out/Sources/Yiwang/yiwang.swift"
cp "$gen/yiwangFFI.h" "$out/Sources/yiwangFFI/include/yiwangFFI.h"
cp "$gen/yiwangFFI.modulemap" "$out/Sources/yiwangFFI/include/module.modulemap"
