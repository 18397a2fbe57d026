/**
 * The layout of the decode cache (`<cacheDir>/decoded/`): one folder per
 * cache version, size, interpolation and decoder version, sharded by the
 * first two hex digits of each file's SHA-256. The decode step
 * (`src/data/decode.ts`) writes it; the inventory and prune read it.
 *
 * @module
 */

import { join } from "node:path";
import { DECODER_VERSION } from "../deps/decoder_version.ts";

/**
 * Bumped whenever our decoding, resizing or the entry format changes, so old
 * cache entries are not reused. 2: verified entries, decoder in the key.
 * 3: TF's decoders (libjpeg-turbo IFAST, TF's BMP reader, GIF transparency
 * black).
 */
export const DECODE_CACHE_VERSION = 3;

/**
 * The decode cache's folder for one size and interpolation:
 * `v<DECODE_CACHE_VERSION>-<h>x<w>-<interpolation>-<DECODER_VERSION>`,
 * e.g. `v2-160x160-bilinear-imagescript@1.3.1+tiff@7.1.3`.
 */
export function decodeCacheFolder(
  height: number,
  width: number,
  interpolation: string,
): string {
  return `v${DECODE_CACHE_VERSION}-${height}x${width}-${interpolation}-${DECODER_VERSION}`;
}

/** What a decode cache folder name says; null when it is not one. */
export function parseDecodeCacheFolder(name: string): {
  version: number;
  height: number;
  width: number;
  interpolation: string;
  decoder: string | null;
} | null {
  // The interpolation may carry a mode: "bilinear+exif" (EXIF orientation
  // applied).
  const m = /^v(\d+)-(\d+)x(\d+)-([a-z]+(?:\+[a-z]+)*)(?:-(.+))?$/.exec(name);
  if (!m) return null;
  return {
    version: Number(m[1]),
    height: Number(m[2]),
    width: Number(m[3]),
    interpolation: m[4],
    decoder: m[5] ?? null,
  };
}

/**
 * Where the decode cache keeps the result for one file content, size and
 * interpolation: `<cacheDir>/<decodeCacheFolder>/<sha[0:2]>/<sha>.rgb` (a
 * failure: the same path + `.bad`).
 */
export function decodeCachePath(
  cacheDir: string,
  sha256: string,
  height: number,
  width: number,
  interpolation: string,
): string {
  return join(
    cacheDir,
    decodeCacheFolder(height, width, interpolation),
    sha256.slice(0, 2),
    `${sha256}.rgb`,
  );
}

/** The key a decode cache entry is stored under (checked on read). */
export function decodeCacheKey(
  sha256: string,
  height: number,
  width: number,
  interpolation: string,
): string {
  return `decoded/${decodeCacheFolder(height, width, interpolation)}/${sha256}`;
}
