/**
 * `deno task check`'s doc lint: `deno doc --lint` over every public entry
 * point (`mod.ts` and the stage modules of `deno.json`'s `exports`), keeping
 * the problems of the project's own symbols. Problems reported inside
 * dependencies (TF.js' undocumented exports) are not ours, nor are
 * references to a dependency's types (`tf.LayersModel`): users name those
 * through the `tf` namespace that `mod.ts` exports, which `deno doc` does not
 * follow. Prints each problem and exits 1 if there is any.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));
const config = JSON.parse(await Deno.readTextFile(join(root, "deno.json")));
const entries = Object.values(config.exports as Record<string, string>);
const out = await new Deno.Command(Deno.execPath(), {
  args: ["doc", "--lint", ...entries],
  cwd: root,
  env: { NO_COLOR: "1" },
  stdout: "piped",
  stderr: "piped",
}).output();
const text = new TextDecoder().decode(out.stdout) +
  new TextDecoder().decode(out.stderr);

/** Names the project declares (to tell its own types from a dependency's). */
async function ownNames(): Promise<Set<string>> {
  const names = new Set<string>();
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = join(dir, e.name);
      if (e.isDirectory) await walk(path);
      else if (e.name.endsWith(".ts")) {
        const src = await Deno.readTextFile(path);
        for (
          const m of src.matchAll(
            /^(?:export\s+)?(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?(?:interface|type|class|function|const|let|enum)\s+([A-Za-z_$][\w$]*)/gm,
          )
        ) names.add(m[1]);
      }
    }
  };
  await walk(join(root, "src"));
  return names;
}

const own = await ownNames();
const problems: string[] = [];
for (const block of text.split(/\n(?=error\[)/)) {
  if (!block.startsWith("error[")) continue;
  const at = /-->\s+(\S+?):(\d+):(\d+)/.exec(block);
  if (!at || !at[1].startsWith(root)) continue;
  const head = block.split("\n")[0];
  const ref = /references private type '([^']+)'/.exec(head);
  if (ref && !own.has(ref[1])) continue;
  problems.push(`${at[1].slice(root.length)}:${at[2]}: ${head}`);
}
for (const p of problems) console.error(p);
if (problems.length > 0) {
  console.error(
    `doc lint: ${problems.length} problem(s) in the project's own symbols`,
  );
  Deno.exit(1);
}
console.log(
  `doc lint: ${entries.length} entry points, clean for the project's own symbols`,
);
