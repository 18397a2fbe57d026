/**
 * Creates the output folder of one run, `<dir>/<name>-<UTC timestamp>/`,
 * never reusing an existing folder: runs never overwrite earlier runs.
 *
 * @module
 */

import { join } from "node:path";

/** Formats a date as a compact, sortable, filename-safe UTC timestamp: `20261128T025130Z`. */
export function utcStamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/**
 * Creates a fresh run folder and returns its path. When a folder of the same
 * name exists (two runs in the same second), `-2`, `-3`, … is appended; the
 * check and the creation are one atomic `mkdir`, so concurrent runs cannot
 * both get the same folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRunDir } from "./run_dir.ts";
 * const out = await Deno.makeTempDir();
 * const dir = await createRunDir(out, "cats_vs_dogs", new Date("2026-11-28T02:51:30Z"));
 * assert.ok(dir.endsWith("cats_vs_dogs-20261128T025130Z"));
 * ```
 */
export async function createRunDir(
  outputDir: string,
  name: string,
  now: Date = new Date(),
): Promise<string> {
  await Deno.mkdir(outputDir, { recursive: true });
  const base = `${name}-${utcStamp(now)}`;
  for (let n = 1; n < 1000; n++) {
    const dir = join(outputDir, n === 1 ? base : `${base}-${n}`);
    try {
      await Deno.mkdir(dir);
      return dir;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
  }
  throw new Error(`cannot create a new run folder for ${base} in ${outputDir}`);
}
