// Parses every Swift file given on the command line with tree-sitter-swift and
// reports syntax errors with their line; exits 1 if any file has one.
// (No Swift toolchain on Linux CI: this is the check that runs there.)
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(process.env.YIWANG_TREE_SITTER_DIR + "/package.json");
const Parser = require("tree-sitter");
const Swift = require("tree-sitter-swift");

const parser = new Parser();
parser.setLanguage(Swift);
let bad = 0;
for (const file of process.argv.slice(2)) {
  // tree-sitter-swift 0.7 lags the language in three places uniffi's output
  // uses; each is rewritten to an equivalent the grammar knows (line numbers
  // kept), everything else is parsed as written:
  //  - an attribute inside conditional compilation:
  //      #if swift(>=5.8) / @_documentation(visibility: private) / #endif
  //  - the Swift 5.10 modifier `nonisolated(unsafe)`;
  //  - a closure whose body is the empty tuple, `{ () }`.
  const source = readFileSync(file, "utf8")
    .replace(
      /^([ \t]*)#if swift\(>=[0-9.]+\)\n[ \t]*@_documentation\(visibility: private\)\n[ \t]*#endif$/gm,
      "\n\n",
    )
    .replace(/\bnonisolated\(unsafe\) /g, "nonisolated ")
    .replace(/\{ \(\) \}/g, "{ return }");
  // The default 32 KiB buffer is too small for the generated bindings.
  const tree = parser.parse(source, undefined, { bufferSize: source.length * 2 + 1024 });
  const errors = [];
  const walk = (node) => {
    if (node.type === "ERROR" || node.isMissing) {
      errors.push(`${file}:${node.startPosition.row + 1}:${node.startPosition.column + 1}: ${node.isMissing ? "missing " + node.type : "syntax error"}`);
      return;
    }
    for (const child of node.children) walk(child);
  };
  if (tree.rootNode.hasError) walk(tree.rootNode);
  if (errors.length) {
    bad++;
    for (const e of errors.slice(0, 20)) console.log(e);
  } else {
    console.log(`ok - ${file}`);
  }
}
console.log(`swift syntax: ${process.argv.length - 2 - bad} passed, ${bad} failed`);
process.exit(bad ? 1 : 0);
