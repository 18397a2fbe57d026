/**
 * Decoded images of one split, and where their pixels live: in one
 * in-memory buffer ({@link imageSetFromPixels}), or in the decode cache,
 * read back one image at a time ({@link imageSetFromCache}), so a run with
 * a cache folder holds only each image's cache entry name, not the decoded
 * set (3,000 images at 160×160 are 230 MB; 25,000 are 1.9 GB).
 *
 * Every consumer goes through {@link ImageSet.pixelsOf}: batches
 * (`batches.ts`), feature and prefix extraction, the top-loss gallery. A
 * cache-backed read costs one synchronous file read of `h*w*3` bytes plus
 * its SHA-256 (about 0.1–0.3 ms at 160×160; the page cache keeps entries
 * read every epoch hot), and checks the entry still holds the pixels that
 * were decoded: an entry removed or changed during the run (the cache
 * cleared under it) fails with the image, the entry and what is wrong.
 *
 * {@link ImageSet.digestOf} is each image's pixel SHA-256 (for a
 * cache-backed set, the one its entry's header recorded), and
 * {@link imageSetDigest} hashes them in order: the pixel part of the
 * feature and prefix cache keys, equal for the same pixels wherever they
 * live, and computed without reading a cache-backed set back.
 *
 * @module
 */

import type { BadImage } from "./decode.ts";
import { decodeCacheFile } from "../util/cache_file.ts";
import { createSha256, sha256Hex } from "../util/hash.ts";

/** Decoded, resized images of one split with their labels. */
export interface ImageSet {
  /** Class names; `labels` index into it. */
  classNames: string[];
  /** Image height. */
  height: number;
  /** Image width. */
  width: number;
  /** Number of images kept. */
  count: number;
  /** Label of each image. */
  labels: Int32Array;
  /** Source file of each image. */
  paths: string[];
  /** Files skipped because they could not be decoded. */
  skipped: BadImage[];
  /**
   * Files decoded now, files answered by the cache (incl. known-bad ones),
   * and cache entries that failed verification and were decoded again.
   */
  stats: { decoded: number; cached: number; rejected?: number };
  /**
   * Where the pixels live: "memory" (one `count*h*w*3` buffer) or "cache"
   * (read from the decode cache per image; nothing held).
   */
  storage: "memory" | "cache";
  /**
   * The `height*width*3` RGB bytes of image `i` (0-based): a view into the
   * set's buffer, or bytes just read from the cache. Treat as read-only.
   * Throws a RangeError for an index outside the set, and an error naming
   * the image and the cache entry when the entry cannot be read back.
   */
  pixelsOf(i: number): Uint8Array;
  /** SHA-256 (hex) of image `i`'s pixels. */
  digestOf(i: number): string;
}

/** An {@link ImageSet} whose pixels are one buffer in memory. */
export interface MemoryImageSet extends ImageSet {
  storage: "memory";
  /** `count*height*width*3` RGB bytes, image after image. */
  pixels: Uint8Array;
}

/** What an {@link ImageSet} has besides its pixels (`count` is `labels.length`). */
export interface ImageSetFields {
  /** Class names; `labels` index into it. */
  classNames: string[];
  /** Image height. */
  height: number;
  /** Image width. */
  width: number;
  /** Label of each image. */
  labels: Int32Array;
  /** Source file of each image (one per label). */
  paths: string[];
  /** Files skipped as undecodable. Default none. */
  skipped?: BadImage[];
  /** Decode statistics. Default: every image decoded now. */
  stats?: ImageSet["stats"];
}

/** Where image `i` of a cache-backed set is: its entry file and key. */
export interface CacheEntryRef {
  /** The entry file (`decodeCachePath`). */
  path: string;
  /** The key its header must name (`decodeCacheKey`). */
  key: string;
}

function checkFields(fields: ImageSetFields, what: string): number {
  const count = fields.labels.length;
  if (fields.paths.length !== count) {
    throw new Error(
      `${what}: ${fields.paths.length} paths for ${count} labels; expected one path per image`,
    );
  }
  return count;
}

function checkIndex(i: number, count: number): void {
  if (!(Number.isInteger(i) && i >= 0 && i < count)) {
    throw new RangeError(`image index ${i} out of range 0..${count - 1}`);
  }
}

function baseOf(fields: ImageSetFields, count: number) {
  return {
    classNames: fields.classNames,
    height: fields.height,
    width: fields.width,
    count,
    labels: fields.labels,
    paths: fields.paths,
    skipped: fields.skipped ?? [],
    stats: fields.stats ?? { decoded: count, cached: 0 },
  };
}

/**
 * An image set over `pixels` (`labels.length*height*width*3` RGB bytes,
 * image after image), held in memory. Digests are computed on first use.
 */
export function imageSetFromPixels(
  fields: ImageSetFields & { pixels: Uint8Array },
): MemoryImageSet {
  const count = checkFields(fields, "imageSetFromPixels");
  const stride = fields.height * fields.width * 3;
  if (fields.pixels.length !== count * stride) {
    throw new Error(
      `imageSetFromPixels: pixels has ${fields.pixels.length} bytes; expected ${count} images × ${fields.height}×${fields.width}×3 = ${
        count * stride
      }`,
    );
  }
  const { pixels } = fields;
  const digests: (string | undefined)[] = new Array(count);
  const pixelsOf = (i: number) => {
    checkIndex(i, count);
    return pixels.subarray(i * stride, (i + 1) * stride);
  };
  return {
    ...baseOf(fields, count),
    storage: "memory",
    pixels,
    pixelsOf,
    digestOf: (i) => (digests[i] ??= sha256Hex(pixelsOf(i))),
  };
}

/**
 * An image set whose pixels stay in the decode cache: image `i` is the
 * entry `entry(i)`, whose pixels hash to `digests[i]` (checked on every
 * read, with the entry's key and length). Holds no pixels.
 */
export function imageSetFromCache(
  fields: ImageSetFields & {
    entry: (i: number) => CacheEntryRef;
    digests: readonly string[];
  },
): ImageSet {
  const count = checkFields(fields, "imageSetFromCache");
  if (fields.digests.length !== count) {
    throw new Error(
      `imageSetFromCache: ${fields.digests.length} digests for ${count} images; expected one per image`,
    );
  }
  const stride = fields.height * fields.width * 3;
  const { entry, digests, paths } = fields;
  const pixelsOf = (i: number): Uint8Array => {
    checkIndex(i, count);
    const { path, key } = entry(i);
    const fail = (what: string): never => {
      throw new Error(
        `decoded image ${
          paths[i]
        }: its decode cache entry ${path} ${what}; was the cache folder cleared or changed during the run? Run again to decode it again.`,
      );
    };
    let file: Uint8Array;
    try {
      file = Deno.readFileSync(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) throw e;
      return fail(
        e instanceof Deno.errors.NotFound
          ? "is gone"
          : `cannot be read (${(e as Error).message})`,
      );
    }
    const decoded = decodeCacheFile(file);
    if ("reason" in decoded) return fail(`is unusable: ${decoded.reason}`);
    const { header, data } = decoded;
    if (header.key !== key) return fail(`holds key ${header.key}, not ${key}`);
    if (data.length !== stride || header.bytes !== stride) {
      return fail(`holds ${data.length} bytes, expected ${stride}`);
    }
    if (header.sha256 !== digests[i] || sha256Hex(data) !== digests[i]) {
      return fail("no longer holds the pixels decoded at the start (checksum)");
    }
    return data;
  };
  return {
    ...baseOf(fields, count),
    storage: "cache",
    pixelsOf,
    digestOf: (i) => {
      checkIndex(i, count);
      return digests[i];
    },
  };
}

/**
 * One SHA-256 (hex) of every image's pixels in order (of the digests of
 * {@link ImageSet.digestOf}): the same for the same images whether held in
 * memory or in the cache.
 */
export function imageSetDigest(set: ImageSet): string {
  const hash = createSha256();
  const enc = new TextEncoder();
  for (let i = 0; i < set.count; i++) hash.update(enc.encode(set.digestOf(i)));
  return hash.hex();
}

/**
 * Every image's pixels in one new `count*h*w*3` buffer (for tests and
 * small sets: this is the memory a cache-backed set avoids).
 */
export function allPixels(set: ImageSet): Uint8Array {
  const stride = set.height * set.width * 3;
  const out = new Uint8Array(set.count * stride);
  for (let i = 0; i < set.count; i++) out.set(set.pixelsOf(i), i * stride);
  return out;
}
