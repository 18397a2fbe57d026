/**
 * The files of `deno task predict --explain OUT_DIR`: one heatmap overlay
 * PNG per image (`cam_overlay.ts`), named after the image —
 * `<name>.cam.png`, with `-2`, `-3`… added when several inputs share a name —
 * and never written over an existing file unless asked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { explainOutputPaths } from "./explain_files.ts";
 * const dir = await Deno.makeTempDir();
 * const paths = await explainOutputPaths(["a/cat.jpg", "b/cat.png"], dir);
 * assert.deepEqual(paths.map((p) => p.slice(dir.length + 1)), ["cat.cam.png", "cat-2.cam.png"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { basename, extname, join } from "node:path";
import { statOrNull, writeFileAtomic } from "../util/fs.ts";
import { type CamOverlayOptions, camOverlayPng } from "./cam_overlay.ts";
import type { Explanation } from "../evaluate/predict.ts";

/**
 * The overlay path of each input file in `outDir` (created when missing).
 * Throws, naming the file, when one exists and `overwrite` is not set —
 * before anything is written.
 */
export async function explainOutputPaths(
  files: readonly string[],
  outDir: string,
  opts: { overwrite?: boolean } = {},
): Promise<string[]> {
  const taken = new Set<string>();
  const paths = files.map((f) => {
    const stem = basename(f, extname(f));
    let name = `${stem}.cam.png`;
    for (let n = 2; taken.has(name); n++) name = `${stem}-${n}.cam.png`;
    taken.add(name);
    return join(outDir, name);
  });
  const info = await statOrNull(outDir);
  if (info && !info.isDirectory) {
    throw new Error(`--explain ${outDir}: exists and is not a folder`);
  }
  if (!opts.overwrite) {
    for (const p of paths) {
      if (await statOrNull(p)) {
        throw new Error(
          `--explain: ${p} exists; nothing was written (pass --overwrite to replace it, or choose another folder)`,
        );
      }
    }
  }
  await Deno.mkdir(outDir, { recursive: true });
  return paths;
}

/** Writes one explanation's overlay PNG to `path` (atomically). */
export async function writeExplanationPng(
  path: string,
  e: Explanation,
  opts: CamOverlayOptions = {},
): Promise<void> {
  const png = await camOverlayPng(
    e.pixels,
    e.width,
    e.height,
    e.map,
    e.mapSize[0],
    e.mapSize[1],
    opts,
  );
  await writeFileAtomic(path, png);
}
