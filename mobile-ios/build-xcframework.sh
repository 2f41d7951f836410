#!/usr/bin/env bash
# Builds yiwangFFI.xcframework (iOS device + simulator) and regenerates the
# Swift bindings. Run on macOS with Xcode and the Rust iOS targets:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
profile="${PROFILE:-release-mobile}"
cd "$root"

for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
  cargo build -p yiwang-ffi --profile "$profile" --target "$target"
done

out="$root/target/xcframework"
rm -rf "$out" "$here/yiwangFFI.xcframework"
mkdir -p "$out/headers" "$out/sim"

# One simulator library for both architectures.
lipo -create \
  "target/aarch64-apple-ios-sim/$profile/libyiwang_ffi.a" \
  "target/x86_64-apple-ios/$profile/libyiwang_ffi.a" \
  -output "$out/sim/libyiwang_ffi.a"

# Bindings from the device library (library mode: the same metadata in every slice).
cargo run -p yiwang-ffi --features bindgen-cli --bin uniffi-bindgen -- generate \
  --library "target/aarch64-apple-ios/$profile/libyiwang_ffi.a" --language swift --out-dir "$out/gen"
cp "$out/gen/yiwang.swift" "$here/Sources/Yiwang/yiwang.swift"
cp "$out/gen/yiwangFFI.h" "$out/headers/"
cp "$out/gen/yiwangFFI.modulemap" "$out/headers/module.modulemap"

xcodebuild -create-xcframework \
  -library "target/aarch64-apple-ios/$profile/libyiwang_ffi.a" -headers "$out/headers" \
  -library "$out/sim/libyiwang_ffi.a" -headers "$out/headers" \
  -output "$here/yiwangFFI.xcframework"

ls -l "target/aarch64-apple-ios/$profile/libyiwang_ffi.a"
echo "built $here/yiwangFFI.xcframework"
