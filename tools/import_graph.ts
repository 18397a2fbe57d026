/**
 * The project's own import graph, and the rules it must keep: no file cycles,
 * no folder cycles, imports that only point down the layer order ({@link
 * LAYERS}), and explicit surfaces — each stage's `mod.ts` lists its public
 * names (no `export *`), every public file of a stage has names there while
 * internal files (`_`-prefixed, as in Deno's std) have none, and no other
 * file re-exports the project's own files. Run by
 * `deno task check` through `tools/check_imports.ts`.
 *
 * The graph is read from the sources with a small scanner instead of
 * `deno info --json`: that one resolves npm packages and needs them in the
 * cache, while the rules only concern the project's relative imports, which
 * the scanner finds in `import`/`export … from`, `import("…")` and
 * `new URL("…", import.meta.url)` (workers) after stripping comments. (Code
 * inside a string literal would be read as code; the layered sources have
 * none.)
 *
 * @module
 */

import { dirname, join, normalize, relative } from "node:path";

/**
 * The layers, bottom first. A file may import files of its own layer's
 * folder and of layers below it, never above. `src/*.ts` (the run entry
 * point) sits above every stage, `mod.ts` above that, and `tasks/` on top.
 */
export const LAYERS: readonly string[] = [
  "src/deps",
  "src/util",
  "src/cache",
  "src/config",
  "src/data",
  "src/weights",
  "src/model",
  "src/backend",
  "src/engine",
  "src/train",
  "src/evaluate",
  "src/report",
  "src",
  ".",
  "tasks",
];

/** The stage folders: each has a `mod.ts` listing its public names. */
export const STAGES: readonly string[] = LAYERS.filter((l) =>
  l.startsWith("src/") && l !== "src/deps"
);

/** One relative import of one file. */
export interface ImportEdge {
  /** Importing file, relative to the root, with `/` separators. */
  from: string;
  /** Imported file, relative to the root. */
  to: string;
  /** 1-based line of the specifier. */
  line: number;
  /** `export … from` (a re-export) rather than an import. */
  reexport: boolean;
  /** `export * from`. */
  star: boolean;
}

/** Removes comments (block and line) so examples in docs are not imports. */
export function stripComments(source: string): string {
  let out = "";
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end < 0 ? source.length : end + 2;
      // Keep newlines so line numbers stay right.
      out += source.slice(i, stop).replace(/[^\n]/g, " ");
      i = stop;
    } else if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const stop = end < 0 ? source.length : end;
      out += " ".repeat(stop - i);
      i = stop;
    } else if (c === '"' || c === "'" || c === "`") {
      // Copy a string literal whole (it may hold "//").
      let j = i + 1;
      while (j < source.length && source[j] !== c) {
        if (source[j] === "\\") j++;
        j++;
      }
      out += source.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const STATIC =
  /\b(import|export)\b(\s+type)?([^;"'`]*?)\bfrom\s*["'](\.{1,2}\/[^"']+)["']/g;
const SIDE_EFFECT = /\bimport\s*["'](\.{1,2}\/[^"']+)["']/g;
const DYNAMIC = /\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;
const WORKER_URL =
  /\bnew\s+URL\(\s*["'](\.{1,2}\/[^"']+\.ts)["']\s*,\s*import\.meta\.url/g;

/** The relative imports of one file's source. */
export function scanImports(file: string, source: string): ImportEdge[] {
  const code = stripComments(source);
  const edges: ImportEdge[] = [];
  const lineOf = (index: number) => code.slice(0, index).split("\n").length;
  const target = (spec: string) =>
    normalize(join(dirname(file), spec)).replaceAll("\\", "/");
  for (const m of code.matchAll(STATIC)) {
    const reexport = m[1] === "export";
    edges.push({
      from: file,
      to: target(m[4]),
      line: lineOf(m.index!),
      reexport,
      star: reexport && /^\s*\*(?!\s*as\b)/.test(m[3]),
    });
  }
  for (const rx of [SIDE_EFFECT, DYNAMIC, WORKER_URL]) {
    for (const m of code.matchAll(rx)) {
      edges.push({
        from: file,
        to: target(m[1]),
        line: lineOf(m.index!),
        reexport: false,
        star: false,
      });
    }
  }
  return edges;
}

/** The layer (a folder of {@link LAYERS}) a file belongs to, or null. */
export function layerOf(file: string): string | null {
  const dir = dirname(file).replaceAll("\\", "/");
  return LAYERS.includes(dir) ? dir : null;
}

/** Strongly connected components with more than one node, or a self-loop. */
export function cycles(
  nodes: Iterable<string>,
  next: (node: string) => Iterable<string>,
): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const selfLoop = [...next(v)].includes(v);
      if (component.length > 1 || selfLoop) found.push(component.sort());
    }
  };
  for (const v of nodes) if (!index.has(v)) visit(v);
  return found;
}

/** What {@link checkImports} found wrong, one readable line each. */
export interface ImportReport {
  files: number;
  edges: number;
  problems: string[];
}

/**
 * Applies the rules to a set of files (`path → source`, paths relative to
 * the root). Files outside {@link LAYERS} (tests, benchmarks, fixtures,
 * tools) may import anything but are not part of the layered graph.
 */
export function checkImports(sources: Map<string, string>): ImportReport {
  const problems: string[] = [];
  const layered = [...sources.keys()].filter((f) => layerOf(f) !== null);
  const edges = new Map<string, ImportEdge[]>();
  for (const file of [...sources.keys()]) {
    const found = scanImports(file, sources.get(file)!);
    edges.set(file, found);
    if (layerOf(file) === null) continue;
    for (const e of found) {
      if (!sources.has(e.to)) {
        problems.push(`${e.from}:${e.line}: imports ${e.to}, which is missing`);
      }
    }
  }
  const rank = (f: string) => LAYERS.indexOf(layerOf(f)!);
  for (const file of layered) {
    for (const e of edges.get(file)!) {
      if (!sources.has(e.to)) continue;
      const toLayer = layerOf(e.to);
      if (toLayer === null) {
        problems.push(
          `${e.from}:${e.line}: imports ${e.to}, which is outside the layers`,
        );
        continue;
      }
      if (rank(e.to) > rank(file)) {
        problems.push(
          `${e.from}:${e.line}: imports upward, ${
            layerOf(file)
          } → ${toLayer} (${e.to})`,
        );
      }
      const base = e.to.split("/").at(-1)!;
      const isMod = file.endsWith("/mod.ts") || file === "mod.ts";
      if (isMod && base.startsWith("_")) {
        problems.push(
          `${e.from}:${e.line}: exports from ${e.to}, an internal (_) file`,
        );
      }
      if (e.reexport && !isMod) {
        problems.push(
          `${e.from}:${e.line}: re-exports ${e.to}; only a mod.ts re-exports`,
        );
      }
      if (e.star && isMod) {
        problems.push(
          `${e.from}:${e.line}: \`export *\` from ${e.to}; list the names`,
        );
      }
    }
  }
  // Every public (not `_`) file of a stage has names in its stage's mod.ts.
  const stagesPresent = STAGES.filter((st) =>
    layered.some((f) => dirname(f) === st)
  );
  for (const stage of stagesPresent) {
    const mod = `${stage}/mod.ts`;
    if (!sources.has(mod)) {
      problems.push(`${stage}/: no mod.ts`);
      continue;
    }
    const listed = new Set(edges.get(mod)!.map((e) => e.to));
    for (const f of layered) {
      if (dirname(f) !== stage || f === mod) continue;
      const base = f.split("/").at(-1)!;
      if (!base.startsWith("_") && !listed.has(f)) {
        problems.push(
          `${f}: exports nothing through ${mod}; make it internal (_${base}) or list its public names`,
        );
      }
    }
  }
  const within = (f: string) =>
    (edges.get(f) ?? []).map((e) => e.to)
      .filter((t) => sources.has(t) && layerOf(t) !== null);
  for (const c of cycles(layered, within)) {
    problems.push(`file cycle: ${c.join(" ↔ ")}`);
  }
  const folderNext = new Map<string, Set<string>>();
  for (const f of layered) {
    const a = layerOf(f)!;
    for (const t of within(f)) {
      const b = layerOf(t)!;
      if (a !== b) {
        if (!folderNext.has(a)) folderNext.set(a, new Set());
        folderNext.get(a)!.add(b);
      }
    }
  }
  for (const c of cycles(LAYERS, (n) => folderNext.get(n) ?? [])) {
    problems.push(`folder cycle: ${c.join(" ↔ ")}`);
  }
  let count = 0;
  for (const f of layered) count += within(f).length;
  return { files: layered.length, edges: count, problems };
}

/** Reads every `.ts` file under `root` (skipping caches and runs). */
export async function readSources(root: string): Promise<Map<string, string>> {
  const skip = new Set([".git", ".cache", ".scratch", "runs", "node_modules"]);
  const sources = new Map<string, string>();
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      if (skip.has(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile && entry.name.endsWith(".ts")) {
        const rel = relative(root, path).replaceAll("\\", "/");
        sources.set(rel, await Deno.readTextFile(path));
      }
    }
  };
  await walk(root);
  return sources;
}
