/**
 * Verified cache files: each entry is one file holding a small header (the
 * entry's key, its length and the SHA-256 of its bytes) followed by the
 * bytes, written atomically. A reader gets the bytes back only when the
 * header names the key it asked for and the bytes hash to the recorded
 * SHA-256; anything else (truncated, corrupt, another key, an older format,
 * unreadable) answers why, and the caller recomputes.
 *
 * Layout: `DTCACHE1` (8 bytes), header length (uint32, little-endian),
 * header JSON (UTF-8), then the bytes.
 *
 * Writes go to a locked staging file `.<random>.tmp` beside the entry (see
 * `_staging.ts`), which is then renamed over the entry: readers never see
 * half an entry, two processes writing the same entry both succeed (the
 * last rename wins, with equal bytes), and a writer killed mid-way leaves a
 * `.tmp` that the next clean-up recognises as a leftover. Write failures
 * name the entry and the cause (no space left, permission denied, ...).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { sha256Hex } from "../util/hash.ts";
import { removeQuietly, writeAll } from "../util/fs.ts";
import { fsError } from "../util/fs_errors.ts";
import { createStagingFile } from "./_staging.ts";

/** The first bytes of every cache file of this format. */
export const CACHE_FILE_MAGIC: Uint8Array = new TextEncoder().encode(
  "DTCACHE1",
);
const MAGIC = CACHE_FILE_MAGIC;

/** Name pattern of the staging files {@link writeCacheFile} leaves when killed. */
export const CACHE_TMP_PATTERN: RegExp = /^\.[0-9a-f]{8}\.tmp$/;

/** The header of a cache file. */
export interface CacheHeader {
  /** The entry's key. */
  key: string;
  /** Length of the bytes after the header. */
  bytes: number;
  /** SHA-256 (hex) of those bytes. */
  sha256: string;
}

/** What {@link readCacheFile} found. */
export type CacheRead =
  | { ok: true; data: Uint8Array }
  | { ok: false; missing: true }
  | { ok: false; missing: false; reason: string };

/** What precedes `data` in its file under `key`: magic and header. */
function cacheFileHead(key: string, data: Uint8Array): Uint8Array {
  const header: CacheHeader = {
    key,
    bytes: data.byteLength,
    sha256: sha256Hex(data),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const head = new Uint8Array(MAGIC.length + 4 + json.length);
  head.set(MAGIC, 0);
  new DataView(head.buffer).setUint32(MAGIC.length, json.length, true);
  head.set(json, MAGIC.length + 4);
  return head;
}

/** The whole file for `data` under `key`: magic, header, bytes. */
export function encodeCacheFile(key: string, data: Uint8Array): Uint8Array {
  const head = cacheFileHead(key, data);
  const out = new Uint8Array(head.length + data.byteLength);
  out.set(head, 0);
  out.set(data, head.length);
  return out;
}

/**
 * Writes `data` under `key` to `path`, atomically, with its header (the
 * bytes of {@link encodeCacheFile}, written without copying `data`). The
 * folder is created. Errors name `path` and the cause.
 */
export async function writeCacheFile(
  path: string,
  key: string,
  data: Uint8Array,
): Promise<void> {
  const head = cacheFileHead(key, data);
  const dir = dirname(path);
  const tmp = join(dir, `.${crypto.randomUUID().slice(0, 8)}.tmp`);
  let file: Deno.FsFile | null = null;
  try {
    await Deno.mkdir(dir, { recursive: true });
    file = await createStagingFile(tmp);
    await writeAll(file, head);
    await writeAll(file, data);
    await Deno.rename(tmp, path);
  } catch (e) {
    file?.close();
    file = null;
    await removeQuietly(tmp);
    throw fsError("write the cache file", path, e);
  } finally {
    file?.close();
  }
}

/**
 * Splits a cache file into its header and bytes, or says why it is not one
 * (no magic, truncated or unreadable header). Does not check the checksum.
 */
export function decodeCacheFile(
  file: Uint8Array,
): { header: CacheHeader; data: Uint8Array } | { reason: string } {
  if (
    file.length < MAGIC.length + 4 ||
    !MAGIC.every((b, i) => file[i] === b)
  ) return { reason: "not a cache file of this version" };
  const headerLength = new DataView(file.buffer, file.byteOffset)
    .getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4 + headerLength;
  if (start > file.length) return { reason: "truncated header" };
  let header: CacheHeader;
  try {
    header = JSON.parse(
      new TextDecoder().decode(file.subarray(MAGIC.length + 4, start)),
    );
  } catch {
    return { reason: "unreadable header" };
  }
  if (
    typeof header?.key !== "string" || typeof header.bytes !== "number" ||
    typeof header.sha256 !== "string"
  ) return { reason: "unreadable header" };
  return { header, data: file.subarray(start) };
}

/**
 * Reads and verifies the entry at `path` for `key`; see {@link CacheRead}.
 * A missing file is `missing`; an unreadable one (a folder, no permission)
 * is rejected with the cause.
 */
export async function readCacheFile(
  path: string,
  key: string,
): Promise<CacheRead> {
  let file: Uint8Array;
  try {
    file = await Deno.readFile(path);
  } catch (e) {
    return cacheReadFailure(path, e);
  }
  return verifyCacheFile(path, key, file);
}

/**
 * What a failed read of the entry at `path` means: missing, or rejected
 * with the cause. A missing permission is rethrown.
 */
export function cacheReadFailure(
  path: string,
  e: unknown,
): Extract<CacheRead, { ok: false }> {
  if (e instanceof Deno.errors.NotFound) return { ok: false, missing: true };
  if (e instanceof Deno.errors.NotCapable) throw e;
  return {
    ok: false,
    missing: false,
    reason: fsError("read", path, e).message,
  };
}

/**
 * Verifies the bytes `file` read from `path` as the entry for `key`: the
 * header's key, the length and the SHA-256 (returned with the data).
 */
export function verifyCacheFile(
  path: string,
  key: string,
  file: Uint8Array,
):
  | { ok: true; data: Uint8Array; sha256: string }
  | { ok: false; missing: false; reason: string } {
  const bad = (reason: string) => ({
    ok: false as const,
    missing: false as const,
    reason: `${path}: ${reason}`,
  });
  const decoded = decodeCacheFile(file);
  if ("reason" in decoded) return bad(decoded.reason);
  const { header, data } = decoded;
  if (header.key !== key) return bad(`holds key ${header.key}, not ${key}`);
  if (data.byteLength !== header.bytes) {
    return bad(`${data.byteLength} bytes, header says ${header.bytes}`);
  }
  const sha256 = sha256Hex(data);
  if (sha256 !== header.sha256) return bad("checksum mismatch");
  return { ok: true, data, sha256 };
}
