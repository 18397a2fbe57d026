/**
 * Reading files into a reused buffer instead of a new one per file: the
 * decode step reads every source image and every decode cache entry, and
 * batches read their images from the cache every epoch. A fresh
 * `Uint8Array` per read (77 KB per 160×160 image) is garbage the garbage
 * collector frees late — during a decode of cached images it piled up to
 * ~200 MB of resident memory — whereas one {@link Scratch} per reader
 * holds a single file at a time.
 *
 * {@link readEntry} / {@link readEntrySync} read and verify a verified
 * cache file (`src/cache/cache_file.ts`) with the same answers and the same
 * reasons as `readCacheFile`, the bytes returned being a view into the
 * scratch buffer (valid until its next use), with their SHA-256.
 *
 * @module
 */

import { cacheReadFailure, verifyCacheFile } from "./cache_file.ts";

/**
 * What {@link readEntry} found: `readCacheFile`'s answers, the bytes being a
 * view into the scratch buffer, with their (verified) SHA-256.
 */
export type EntryRead =
  | { ok: true; data: Uint8Array; sha256: string }
  | { ok: false; missing: true }
  | { ok: false; missing: false; reason: string };

/** A buffer reused from read to read, grown to the largest file read. */
export class Scratch {
  #buf: Uint8Array;

  /** Starts with room for `initialBytes` (grown when a file needs more). */
  constructor(initialBytes = 0) {
    this.#buf = new Uint8Array(initialBytes);
  }

  /** A buffer of at least `n` bytes (its contents are not kept on growth). */
  reserve(n: number): Uint8Array {
    if (this.#buf.length < n) {
      this.#buf = new Uint8Array(
        Math.max(n, Math.ceil(this.#buf.length * 1.5)),
      );
    }
    return this.#buf;
  }
}

/**
 * Reads the whole file at `path` into `scratch`; the bytes are a view into
 * it. Errors are those of `Deno.open` / `read` (NotFound for a missing file).
 */
export async function readFileInto(
  path: string,
  scratch: Scratch,
): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  // One byte more than the size: a file that grew meanwhile is read whole.
  let buf = scratch.reserve(size + 1);
  let n = 0;
  while (true) {
    if (n === buf.length) {
      const grown = scratch.reserve(buf.length * 2);
      grown.set(buf.subarray(0, n)); // `reserve` drops the old contents
      buf = grown;
    }
    const r = await file.read(buf.subarray(n));
    if (r === null) break;
    n += r;
  }
  return buf.subarray(0, n);
}

/** {@link readFileInto}, synchronously. */
export function readFileIntoSync(path: string, scratch: Scratch): Uint8Array {
  using file = Deno.openSync(path, { read: true });
  const size = file.statSync().size;
  let buf = scratch.reserve(size + 1);
  let n = 0;
  while (true) {
    if (n === buf.length) {
      const grown = scratch.reserve(buf.length * 2);
      grown.set(buf.subarray(0, n));
      buf = grown;
    }
    const r = file.readSync(buf.subarray(n));
    if (r === null) break;
    n += r;
  }
  return buf.subarray(0, n);
}

/**
 * The cache entry `path` for `key`, read into `scratch` and verified (key,
 * length, SHA-256): the answers and reasons of `readCacheFile`, with `data`
 * a view into `scratch` and its SHA-256.
 */
export async function readEntry(
  path: string,
  key: string,
  scratch: Scratch,
): Promise<EntryRead> {
  let file: Uint8Array;
  try {
    file = await readFileInto(path, scratch);
  } catch (e) {
    return cacheReadFailure(path, e);
  }
  return verifyCacheFile(path, key, file);
}

/** {@link readEntry}, synchronously. */
export function readEntrySync(
  path: string,
  key: string,
  scratch: Scratch,
): EntryRead {
  let file: Uint8Array;
  try {
    file = readFileIntoSync(path, scratch);
  } catch (e) {
    return cacheReadFailure(path, e);
  }
  return verifyCacheFile(path, key, file);
}
