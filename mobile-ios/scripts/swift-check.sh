#!/usr/bin/env bash
# CI check of the iOS side on Linux: the committed Swift bindings match a fresh
# generation, and every Swift file (generated, YiwangKit, tests) parses.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ios="$(cd "$here/.." && pwd)"
tools="${YIWANG_TOOLS:-$HOME/.cache/yiwang-tools}/tree-sitter"
if [ ! -d "$tools/node_modules/tree-sitter-swift/prebuilds" ]; then
  mkdir -p "$tools"
  # --ignore-scripts: the packages ship prebuilt parsers; their install scripts
  # would try to download the tree-sitter CLI.
  npm install --prefix "$tools" --no-audit --no-fund --ignore-scripts \
    tree-sitter@0.22.4 tree-sitter-swift@0.7.1 >/dev/null
fi

fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
bash "$here/generate-bindings.sh" "$fresh"
drift=0
for f in Sources/Yiwang/yiwang.swift Sources/yiwangFFI/include/yiwangFFI.h Sources/yiwangFFI/include/module.modulemap; do
  if ! cmp -s "$ios/$f" "$fresh/$f"; then
    echo "generated Swift drifted: $f (run mobile-ios/scripts/generate-bindings.sh)"
    drift=1
  fi
done
[ "$drift" = 0 ] || exit 1
echo "ok - generated Swift matches the library"

YIWANG_TREE_SITTER_DIR="$tools" node "$here/check-swift.mjs" \
  "$ios"/Sources/Yiwang/*.swift "$ios"/Sources/YiwangKit/*.swift "$ios"/Tests/YiwangTests/*.swift "$ios/Package.swift"
