/**
 * Decoded images of one split, and where their pixels live: in one
 * in-memory buffer ({@link imageSetFromPixels}), or in the decode cache,
 * read back one image at a time ({@link imageSetFromCache}), so a run with
 * a cache folder holds only each image's cache entry name, not the decoded
 * set (3,000 images at 160×160 are 230 MB; 25,000 are 1.9 GB).
 *
 * Every consumer goes through {@link ImageSet.readImage} (batches, hence
 * feature and prefix extraction and training: into the batch's own buffer,
 * nothing allocated per image) or {@link ImageSet.pixelsOf} (a copy: the
 * top-loss gallery, tests). A cache-backed read costs one synchronous file
 * read of `h*w*3` bytes into a reused buffer plus its SHA-256 (about
 * 0.1–0.3 ms at 160×160; the page cache keeps entries read every epoch
 * hot), and checks the entry still holds the pixels that were decoded: an
 * entry removed or changed during the run (the cache cleared under it)
 * fails with the image, the entry and what is wrong.
 *
 * {@link ImageSet.digestOf} is each image's pixel SHA-256 (for a
 * cache-backed set, the one its entry's header recorded), and
 * {@link imageSetDigest} hashes them in order: the pixel part of the
 * feature and prefix cache keys, equal for the same pixels wherever they
 * live, and computed without reading a cache-backed set back.
 *
 * @module
 */

import { createSha256, sha256Hex } from "../util/hash.ts";
import { readEntrySync, Scratch } from "../cache/_entry_read.ts";

/** An image file that could not be used, and why. */
export interface BadImage {
  /** The file. */
  path: string;
  /** Why it was skipped. */
  reason: string;
}

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
   * Copies the `height*width*3` RGB bytes of image `i` (0-based) into `out`
   * from `offset` (a Float32Array gets the 0–255 values). Throws a
   * RangeError for an index outside the set, and an error naming the image
   * and the cache entry when the entry cannot be read back.
   */
  readImage(i: number, out: Uint8Array | Float32Array, offset?: number): void;
  /**
   * The `height*width*3` RGB bytes of image `i`: a view into the set's
   * buffer (in memory; treat as read-only) or a new copy (from the cache).
   * Errors as {@link ImageSet.readImage}.
   */
  pixelsOf(i: number): Uint8Array;
  /** SHA-256 (hex) of image `i`'s pixels. */
  digestOf(i: number): string;
}

/** An {@link ImageSet} whose pixels are one buffer in memory. */
export interface MemoryImageSet extends ImageSet {
  /** Where the pixels live: in {@link MemoryImageSet.pixels}. */
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
    readImage: (i, out, offset = 0) => out.set(pixelsOf(i), offset),
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
  // One file in memory at a time; reads are synchronous, so never shared.
  const scratch = new Scratch();
  /** Image i's verified bytes: a view into `scratch`, valid until the next read. */
  const read = (i: number): Uint8Array => {
    checkIndex(i, count);
    const { path, key } = entry(i);
    const fail = (what: string): never => {
      throw new Error(
        `decoded image ${
          paths[i]
        }: its decode cache entry ${path} ${what}; was the cache folder cleared or changed during the run? Run again to decode it again.`,
      );
    };
    const hit = readEntrySync(path, key, scratch);
    if (!hit.ok) return fail(hit.missing ? "is gone" : `fails: ${hit.reason}`);
    if (hit.data.length !== stride) {
      return fail(`holds ${hit.data.length} bytes, expected ${stride}`);
    }
    if (hit.sha256 !== digests[i]) {
      return fail("no longer holds the pixels decoded at the start (checksum)");
    }
    return hit.data;
  };
  return {
    ...baseOf(fields, count),
    storage: "cache",
    pixelsOf: (i) => read(i).slice(),
    readImage: (i, out, offset = 0) => out.set(read(i), offset),
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
