#!/usr/bin/env bash
# Runs the Kotlin tests of the generated bindings on the JVM (no Android, no
# Gradle): kotlinc + JNA against target/debug/libyiwang_ffi.so.
#
#   bash mobile-android/scripts/jvm-test.sh
#
# 1. installs kotlinc (npm kotlin-compiler, cached in $YIWANG_TOOLS, default
#    ~/.cache/yiwang-tools) and JNA (Debian libjna-java) when missing;
# 2. builds yiwang-ffi (debug) and regenerates the Kotlin bindings: if they
#    differ from the committed mobile-android/src/main/kotlin/yiwang/yiwang.kt
#    it fails, unless YIWANG_UPDATE_BINDINGS=1 (then it copies them over);
# 3. compiles bindings + mobile-android/src/test/kotlin into
#    target/kotlin-jvm-test/tests.jar;
# 4. builds and starts `yiwang serve` on a free loopback port with an empty
#    data directory and a random admin token (for ClientTests.kt; its log is
#    printed when a test fails), runs yiwang.tests.MainKt (prints
#    `kotlin: N passed, M failed`; exits 1 on any failure), stops the server;
# 5. runs the micro-benchmark yiwang.bench.BenchKt (printed, not asserted;
#    skipped with YIWANG_SKIP_BENCH=1).
set -euo pipefail

kotlin_version=2.4.20

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(git -C "$script_dir" rev-parse --show-toplevel 2>/dev/null || (cd "$script_dir/../.." && pwd))
cd "$root"

committed=mobile-android/src/main/kotlin/yiwang/yiwang.kt
target_dir=${CARGO_TARGET_DIR:-$root/target}
out="$target_dir/kotlin-jvm-test"
case "$(uname -s)" in
    Darwin) lib="$target_dir/debug/libyiwang_ffi.dylib" ;;
    *) lib="$target_dir/debug/libyiwang_ffi.so" ;;
esac

step() { printf '==> %s\n' "$*"; }

# --- tools ------------------------------------------------------------------
tools=${YIWANG_TOOLS:-$HOME/.cache/yiwang-tools}
kotlin_prefix="$tools/kotlin"
kotlin_home="$kotlin_prefix/node_modules/kotlin-compiler"
installed_version=$(node -p "require('$kotlin_home/package.json').version" 2>/dev/null || true)
if [[ ! -x "$kotlin_home/bin/kotlinc" || "$installed_version" != "$kotlin_version" ]]; then
    step "installing kotlin-compiler@$kotlin_version into $kotlin_prefix"
    mkdir -p "$kotlin_prefix"
    npm install --prefix "$kotlin_prefix" --no-audit --no-fund --loglevel=error \
        "kotlin-compiler@$kotlin_version"
fi
kotlinc="$kotlin_home/bin/kotlinc"
coroutines="$kotlin_home/lib/kotlinx-coroutines-core-jvm.jar"
[[ -f "$coroutines" ]] || { echo "missing $coroutines" >&2; exit 1; }

jna=/usr/share/java/jna.jar
if [[ ! -f "$jna" ]]; then
    step "installing libjna-java"
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq libjna-java
fi

# --- library and bindings ---------------------------------------------------
step "cargo build -p yiwang-ffi"
cargo build -p yiwang-ffi

step "regenerating the Kotlin bindings"
gen_dir=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$gen_dir"
}
trap cleanup EXIT
cargo run -q -p yiwang-ffi --features bindgen-cli --bin uniffi-bindgen -- \
    generate --library "$lib" --language kotlin --out-dir "$gen_dir" --no-format
generated="$gen_dir/yiwang/yiwang.kt"
[[ -f "$generated" ]] || { echo "uniffi-bindgen did not write yiwang/yiwang.kt" >&2; exit 1; }

if ! cmp -s "$generated" "$committed"; then
    if [[ "${YIWANG_UPDATE_BINDINGS:-}" == 1 ]]; then
        cp "$generated" "$committed"
        echo "updated $committed (YIWANG_UPDATE_BINDINGS=1)"
    else
        echo "generated bindings differ from $committed:"
        diff -u "$committed" "$generated" > "$gen_dir/bindings.diff" || true
        added=$(grep -c '^+[^+]' "$gen_dir/bindings.diff" || true)
        removed=$(grep -c '^-[^-]' "$gen_dir/bindings.diff" || true)
        echo "  $added lines added, $removed lines removed; first hunks:"
        head -n 60 "$gen_dir/bindings.diff" | sed 's/^/  /'
        echo "generated bindings drifted: run mobile-android/scripts/generate-bindings.sh" >&2
        exit 1
    fi
else
    echo "bindings up to date"
fi

# --- compile ----------------------------------------------------------------
mkdir -p "$out"
jar="$out/tests.jar"
mapfile -t sources < <(find mobile-android/src/test/kotlin -name '*.kt' | LC_ALL=C sort)
stamp=$( { echo "$kotlin_version"; sha256sum "$committed" "${sources[@]}"; } | sha256sum | cut -d' ' -f1)
if [[ -f "$jar" && -f "$out/tests.stamp" && "$(cat "$out/tests.stamp")" == "$stamp" ]]; then
    step "kotlinc: tests.jar up to date"
else
    step "kotlinc: bindings + ${#sources[@]} test files -> $jar"
    rm -f "$jar" "$out/tests.stamp"
    if ! "$kotlinc" -nowarn -cp "$jna:$coroutines" "$committed" "${sources[@]}" \
        -include-runtime -d "$jar"; then
        echo "kotlinc failed (errors above; an error in $committed is a bindings bug)" >&2
        exit 1
    fi
    echo "$stamp" > "$out/tests.stamp"
fi

# --- a server for the API client tests ---------------------------------------
step "cargo build -p yiwang-server --bin yiwang; yiwang serve on 127.0.0.1"
cargo build -p yiwang-server --bin yiwang
server_log="$gen_dir/server.log"
admin_token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
# Only loopback, only this run's data: no configuration from the caller's environment.
env -u YIWANG_CONFIG -u YIWANG_DATABASE_URL -u YIWANG_BIND -u YIWANG_PUBLIC_URL -u YIWANG_DATA_DIR \
    YIWANG_ADMIN_TOKEN="$admin_token" YIWANG_LOG=info NO_COLOR=1 \
    "$target_dir/debug/yiwang" serve --bind 127.0.0.1:0 --data-dir "$gen_dir/server-data" \
    >/dev/null 2>"$server_log" &
server_pid=$!
server_address=
for _ in $(seq 600); do
    # `... yiwang listening address=127.0.0.1:PORT ...` (as tests/src/lib.rs reads it)
    server_address=$(sed -n 's/.*yiwang listening.*address=\([^ ]*\).*/\1/p' "$server_log" | head -n 1)
    [[ -n "$server_address" ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if [[ -z "$server_address" ]]; then
    echo "yiwang serve did not start; its log:" >&2
    sed 's/^/  /' "$server_log" >&2
    exit 1
fi
echo "yiwang serve at http://$server_address (pid $server_pid)"

# --- run --------------------------------------------------------------------
java_cmd=(java -Djna.library.path="$target_dir/debug" -Dyiwang.repo="$root"
    -cp "$jar:$jna:$coroutines")

step "tests (yiwang.tests.MainKt)"
status=0
"${java_cmd[@]}" -Dyiwang.server.url="http://$server_address" \
    -Dyiwang.server.admin-token="$admin_token" yiwang.tests.MainKt || status=$?
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=
if [[ $status -ne 0 ]]; then
    echo "kotlin tests failed (exit $status); the server's log (last 40 lines):" >&2
    tail -n 40 "$server_log" | sed 's/^/  /' >&2
    exit "$status"
fi

if [[ "${YIWANG_SKIP_BENCH:-}" != 1 ]]; then
    # Against an optimised library, so the numbers compare with the Rust benches.
    step "micro-benchmark (yiwang.bench.BenchKt; release library, not asserted)"
    cargo build -q -p yiwang-ffi --release
    java -Djna.library.path="$target_dir/release" -Dyiwang.repo="$root" \
        -cp "$jar:$jna:$coroutines" yiwang.bench.BenchKt
fi
