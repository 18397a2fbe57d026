/**
 * `deno task check`'s import rules (see `tools/import_graph.ts`): prints
 * each problem and exits 1 if there is any.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { checkImports, readSources } from "./import_graph.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const report = checkImports(await readSources(root));
for (const problem of report.problems) console.error(problem);
if (report.problems.length > 0) {
  console.error(`imports: ${report.problems.length} problem(s)`);
  Deno.exit(1);
}
console.log(
  `imports: ${report.files} files, ${report.edges} edges, 0 file cycles, 0 folder cycles, layers respected`,
);
