/**
 * The import rules of `deno task check` (tools/import_graph.ts) on small
 * made-up trees, and on the repository itself.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  checkImports,
  cycles,
  readSources,
  scanImports,
  stripComments,
} from "../../tools/import_graph.ts";

const tree = (files: Record<string, string>) => new Map(Object.entries(files));

/** A minimal valid stage: its mod.ts lists the public file. */
const stage = (name: string, body = "export const x = 1;\n") => ({
  [`src/${name}/a.ts`]: body,
  [`src/${name}/mod.ts`]: `export { x } from "./a.ts";\n`,
});

Deno.test("import graph: scans imports, re-exports, dynamic imports and worker URLs, not comments", () => {
  const src = `
import { a } from "./a.ts";
import type {
  B,
} from "../b/b.ts";
export { c } from "./c.ts";
export * from "./d.ts";
export * as e from "./e.ts";
const w = new Worker(new URL("./w.ts", import.meta.url).href);
const m = await import("./m.ts");
/** import { z } from "./doc_only.ts"; */
// import { y } from "./commented.ts";
const s = "// not a comment";
`;
  const edges = scanImports("src/x/f.ts", src);
  assert.deepEqual(
    edges.map((e) => [e.to, e.reexport, e.star]),
    [
      ["src/x/a.ts", false, false],
      ["src/b/b.ts", false, false],
      ["src/x/c.ts", true, false],
      ["src/x/d.ts", true, true],
      ["src/x/e.ts", true, false],
      ["src/x/m.ts", false, false],
      ["src/x/w.ts", false, false],
    ],
  );
  assert.equal(stripComments("a /* b\nc */ d // e\nf").split("\n").length, 3);
});

Deno.test("import graph: cycles finds components and self-loops only", () => {
  const g: Record<string, string[]> = {
    a: ["b"],
    b: ["c"],
    c: ["a"],
    d: ["d"],
    e: ["a"],
  };
  assert.deepEqual(cycles(Object.keys(g), (n) => g[n] ?? []), [
    ["a", "b", "c"],
    ["d"],
  ]);
});

Deno.test("import graph: a clean layered tree passes", () => {
  const r = checkImports(tree({
    ...stage("util"),
    ...stage(
      "data",
      `import { x as u } from "../util/a.ts";\nexport const x = u;\n`,
    ),
    "src/data/_inner.ts": `import { x } from "./a.ts";\nexport const y = x;\n`,
    "tasks/t.ts": `import { x } from "../src/data/mod.ts";\nconsole.log(x);\n`,
  }));
  assert.deepEqual(r.problems, []);
});

Deno.test("import graph: each broken rule is named with the file and line", () => {
  const r = checkImports(tree({
    ...stage(
      "util",
      `import { x as d } from "../data/a.ts";\nexport const x = d;\n`,
    ),
    ...stage(
      "data",
      `import { x as u } from "../util/a.ts";\nexport const x = u;\n`,
    ),
    "src/data/b.ts": `export { x } from "./a.ts";\n`,
    "src/data/c.ts": `import "./d.ts";\n`,
    "src/data/d.ts": `import "./c.ts";\n`,
    "src/train/mod.ts":
      `export * from "./a.ts";\nexport { y } from "./_b.ts";\n`,
    "src/train/a.ts": `export const x = 1;\n`,
    "src/train/_b.ts": `export const y = 1;\n`,
    "src/report/a.ts": `import "./missing.ts";\n`,
    "src/report/b.ts": `export const z = 1;\n`,
  }));
  const text = r.problems.join("\n");
  assert.match(
    text,
    /src\/util\/a\.ts:1: imports upward, src\/util → src\/data/,
  );
  assert.match(
    text,
    /src\/data\/b\.ts:1: re-exports src\/data\/a\.ts; only a mod\.ts re-exports/,
  );
  assert.match(text, /file cycle: src\/data\/c\.ts ↔ src\/data\/d\.ts/);
  assert.match(text, /folder cycle: src\/data ↔ src\/util/);
  assert.match(
    text,
    /src\/train\/mod\.ts:1: `export \*` from src\/train\/a\.ts; list the names/,
  );
  assert.match(
    text,
    /src\/train\/mod\.ts:2: exports from src\/train\/_b\.ts, an internal \(_\) file/,
  );
  assert.match(
    text,
    /src\/data\/c\.ts: exports nothing through src\/data\/mod\.ts/,
  );
  assert.match(text, /src\/report\/: no mod\.ts/);
  assert.doesNotMatch(text, /src\/backend\/: no mod\.ts/); // absent stages are not required
  assert.match(
    text,
    /src\/report\/a\.ts:1: imports src\/report\/missing\.ts, which is missing/,
  );
});

Deno.test("import graph: the repository keeps every rule", async () => {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const report = checkImports(await readSources(root));
  assert.deepEqual(report.problems, []);
  assert.ok(report.files > 100 && report.edges > 300);
});
