/**
 * File helpers every stage shares: atomic writes (temporary file in the same
 * folder, then rename, so a reader never sees half a file and an interrupted
 * write leaves no corrupt entry), writing a whole buffer to an open file,
 * quiet removal and `stat` that answers null for a missing path.
 *
 * @module
 */

import { dirname, join } from "node:path";

/**
 * Writes `data` to `path` atomically: into a uniquely named temporary file
 * beside it, then renamed over it. The parent folder is created. On failure
 * the temporary file is removed and the error rethrown.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
): Promise<void> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    await removeQuietly(tmp);
    throw e;
  }
}

/** Writes all of `bytes` to `file` (a single `write` may write fewer). */
export async function writeAll(
  file: { write(p: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

/** Removes a file or folder (recursively); a missing path is not an error. */
export async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch {
    // already gone
  }
}

/** `Deno.stat`, or null when the path does not exist. */
export async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}
