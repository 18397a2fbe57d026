/**
 * SHA-256 as lowercase hex: of bytes or text in memory, or of a file streamed
 * from disk. The one hashing helper of the project (cache keys, download
 * checks, decoded-image keys); MD5 of a file only to check Keras' published
 * weights against the MD5 Keras' source gives.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** SHA-256 (hex) of bytes (any typed-array view) or of a string's UTF-8. */
export function sha256Hex(data: string | ArrayBufferView): string {
  const hash = createHash("sha256");
  hash.update(
    typeof data === "string"
      ? data
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  );
  return hash.digest("hex");
}

/** SHA-256 (hex) of a file, streamed in 1 MiB chunks. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(1 << 20);
  while (true) {
    const n = await file.read(buf);
    if (n === null) break;
    hash.update(buf.subarray(0, n));
  }
  return hash.digest("hex");
}

/** An incremental SHA-256 (for hashing a stream as it is written). */
export function createSha256(): {
  update(chunk: Uint8Array): void;
  hex(): string;
} {
  const hash = createHash("sha256");
  return {
    update: (chunk) => void hash.update(chunk),
    hex: () => hash.digest("hex"),
  };
}

/**
 * MD5 (hex) of a file, streamed in 1 MiB chunks: only to check a download
 * against a published MD5 (Keras' `file_hash` of its ImageNet weights), never
 * as a cache key.
 */
export async function md5File(path: string): Promise<string> {
  const hash = createHash("md5");
  using file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(1 << 20);
  while (true) {
    const n = await file.read(buf);
    if (n === null) break;
    hash.update(buf.subarray(0, n));
  }
  return hash.digest("hex");
}
