#!/usr/bin/env bash
# Builds libyiwang_ffi.so for arm64-v8a, armeabi-v7a and x86_64 into
# src/main/jniLibs with cargo-ndk, 16 KB page aligned (required for Android 15+
# devices with 16 KB pages), release-mobile profile. Needs the Android NDK
# (ANDROID_NDK_HOME) and: cargo install cargo-ndk;
# rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-z,max-page-size=16384"
cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 \
  -o mobile-android/src/main/jniLibs \
  build -p yiwang-ffi --profile release-mobile
ls -l mobile-android/src/main/jniLibs/*/libyiwang_ffi.so
