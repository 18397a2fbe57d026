/**
 * Verified cache files: each entry is one file holding a small header (the
 * entry's key, its length and the SHA-256 of its bytes) followed by the
 * bytes, written atomically (temporary file, then rename). A reader gets the
 * bytes back only when the header names the key it asked for and the bytes
 * hash to the recorded SHA-256; anything else (truncated, corrupt, another
 * key, an older format) answers why, and the caller recomputes.
 *
 * Layout: `DTCACHE1` (8 bytes), header length (uint32, little-endian),
 * header JSON (UTF-8), then the bytes.
 *
 * @module
 */

import { sha256Hex } from "./hash.ts";
import { writeFileAtomic } from "./fs.ts";

const MAGIC = new TextEncoder().encode("DTCACHE1");

interface Header {
  key: string;
  bytes: number;
  sha256: string;
}

/** What {@link readCacheFile} found. */
export type CacheRead =
  | { ok: true; data: Uint8Array }
  | { ok: false; missing: true }
  | { ok: false; missing: false; reason: string };

/** Writes `data` under `key` to `path`, atomically, with its header. */
export async function writeCacheFile(
  path: string,
  key: string,
  data: Uint8Array,
): Promise<void> {
  const header: Header = {
    key,
    bytes: data.byteLength,
    sha256: sha256Hex(data),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(MAGIC.length + 4 + json.length + data.byteLength);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length, true);
  out.set(json, MAGIC.length + 4);
  out.set(data, MAGIC.length + 4 + json.length);
  await writeFileAtomic(path, out);
}

/** Reads and verifies the entry at `path` for `key`; see {@link CacheRead}. */
export async function readCacheFile(
  path: string,
  key: string,
): Promise<CacheRead> {
  let file: Uint8Array;
  try {
    file = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { ok: false, missing: true };
    throw e;
  }
  const bad = (reason: string): CacheRead => ({
    ok: false,
    missing: false,
    reason: `${path}: ${reason}`,
  });
  if (
    file.length < MAGIC.length + 4 ||
    !MAGIC.every((b, i) => file[i] === b)
  ) return bad("not a cache file of this version");
  const headerLength = new DataView(file.buffer, file.byteOffset)
    .getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4 + headerLength;
  if (start > file.length) return bad("truncated header");
  let header: Header;
  try {
    header = JSON.parse(
      new TextDecoder().decode(file.subarray(MAGIC.length + 4, start)),
    );
  } catch {
    return bad("unreadable header");
  }
  if (header.key !== key) return bad(`holds key ${header.key}, not ${key}`);
  const data = file.subarray(start);
  if (data.byteLength !== header.bytes) {
    return bad(`${data.byteLength} bytes, header says ${header.bytes}`);
  }
  if (sha256Hex(data) !== header.sha256) return bad("checksum mismatch");
  return { ok: true, data };
}
