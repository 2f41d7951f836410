#!/usr/bin/env bash
# Generates the Python bindings into target/bindings/python (with the library
# next to them) and runs a smoke test through them.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo build -q -p yiwang-ffi
out=target/bindings/python
mkdir -p "$out"
cargo run -q -p yiwang-ffi --features bindgen-cli --bin uniffi-bindgen -- generate \
  --library target/debug/libyiwang_ffi.so --language python --out-dir "$out" --no-format
cp target/debug/libyiwang_ffi.so "$out/"
python3 - "$out" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import yiwang
info = yiwang.parse_id_number("11010519491231002X")
assert info.masked == "1101**********002X", info
assert yiwang.check_identity("hello").error_code == "YW-1000"
try:
    yiwang.parse_id_number("110105194912310021")
    raise SystemExit("accepted a bad ID number")
except yiwang.YiwangError.InvalidInput as e:
    assert e.code == "YW-1008", e
print("python: 3 passed, 0 failed")
PY
