/**
 * Step 4 of the data pipeline: decode image files (JPEG, PNG, GIF, TIFF) and
 * resize them to `[height, width]` RGB uint8, in parallel Web Workers
 * (`decode_pool.ts`, codecs in `codecs.ts`, resizing in `resize.ts`), with an
 * on-disk cache of the results.
 *
 * Results are cached as verified cache files (`src/cache/cache_file.ts`: a
 * header with the key, length and SHA-256 of the `h*w*3` RGB bytes) under a
 * key made of {@link DECODE_CACHE_VERSION}, {@link DECODER_VERSION}, the
 * size, the interpolation and the file's SHA-256 — failures too, as `.bad`
 * entries holding the reason. Entries are written atomically, so an
 * interrupted or concurrent run never leaves or reads half an entry; an
 * entry that fails verification on read (bit rot, truncation, another
 * format) is decoded again, and all such entries of a call are reported in
 * one warning.
 *
 * With a cache folder the result holds no pixels: every image is in the
 * cache once decoded, so the set keeps each image's entry and pixel
 * SHA-256 and reads the pixels back per image (`image_set.ts`); the decoded
 * set never sits in RAM, whatever its size. Without one, the pixels are
 * kept in one in-memory buffer.
 *
 * @module
 */

import type { ImageItem } from "./dataset.ts";
import type { Interpolation } from "./resize.ts";
import { DecodePool, defaultWorkerCount } from "./decode_pool.ts";
import {
  DecodeFailure,
  type DecodeOptions,
  DEFAULT_MAX_IMAGE_PIXELS,
  pixelLimitReason,
} from "./codecs.ts";
import { sha256Hex } from "../util/hash.ts";
import { readCacheFile, writeCacheFile } from "../cache/cache_file.ts";
import {
  type BadImage,
  type ImageSet,
  imageSetFromCache,
  imageSetFromPixels,
} from "./image_set.ts";
import { readEntry, readFileInto, Scratch } from "../cache/_entry_read.ts";
import { decodeCacheKey, decodeCachePath } from "../cache/_decoded_layout.ts";

/** What to do with files that cannot be decoded. */
export type BadImagePolicy = "warn" | "error";

/** Raised by {@link decodeImages} with `onBadImage: "error"`; lists every bad file. */
export class BadImageError extends Error {
  /** Every file that failed, with its reason. */
  readonly bad: BadImage[];
  /** Builds the error from the bad files. */
  constructor(bad: BadImage[]) {
    super(
      `${bad.length} image file${
        bad.length === 1 ? "" : "s"
      } could not be decoded ` +
        `(set data.onBadImage to "warn" to skip them):\n${
          formatBadImages(bad)
        }`,
    );
    this.name = "BadImageError";
    this.bad = bad;
  }
}

/** One line per bad file: `  path: reason`. */
export function formatBadImages(bad: readonly BadImage[]): string {
  return bad.map((b) => `  ${b.path}: ${b.reason}`).join("\n");
}

/** A decode runner's reused read buffers: source files, cache entries. */
interface Scratches {
  source: Scratch;
  entry: Scratch;
}

/** Progress of {@link decodeImages}. */
export interface DecodeProgress {
  /** Files handled so far (decoded, cached or skipped). */
  done: number;
  /** Files in total. */
  total: number;
  /** Of `done`: read from the decode cache. */
  cached: number;
  /** Of `done`: decoded now. */
  decoded: number;
  /** Of `done`: skipped as bad. */
  skipped: number;
}

/** Options of {@link decodeImages}. */
export interface DecodeImagesOptions {
  /** `[height, width]` to resize to (`data.imageSize`). */
  imageSize: readonly [number, number];
  /** Class names the items' labels index into. */
  classNames: readonly string[];
  /** Resize interpolation (`data.interpolation`). Default "bilinear". */
  interpolation?: Interpolation;
  /** Worker count (`data.workers`): null/undefined = one per core, 0 = none. Ignored when `pool` is given. */
  workers?: number | null;
  /** A pool to reuse (not closed here). */
  pool?: DecodePool;
  /**
   * Folder of the decoded-image cache; null/undefined disables it. When set,
   * the result reads its pixels from the cache instead of holding them.
   */
  cacheDir?: string | null;
  /**
   * `data.maxImagePixels`: files whose header states more pixels are
   * refused before decoding (never cached as bad, so raising the limit
   * takes effect at once). Default 89,478,485 (PIL's); null for no limit.
   */
  maxImagePixels?: number | null;
  /**
   * `data.exifOrientation`: "ignore" (default, as TF) or "apply" (JPEG EXIF
   * orientation applied; decoded into cache entries of their own).
   */
  exifOrientation?: "ignore" | "apply";
  /**
   * `data.bmp`: "tf" (default, TF's reader) or "full" (every BMP variant,
   * palettes applied; decoded into cache entries of their own).
   */
  bmp?: "tf" | "full";
  /** "warn" (default) skips bad files with one warning; "error" throws a {@link BadImageError}. */
  onBadImage?: BadImagePolicy;
  /** Receives the warning about skipped files. Default: `console.warn`. */
  warn?: (message: string) => void;
  /** Called after each file. */
  onProgress?: (p: DecodeProgress) => void;
  /** Stops the work (rejects with the abort reason). */
  signal?: AbortSignal;
}

/** One cache entry that failed verification. */
export interface RejectedEntry {
  /** The entry file. */
  path: string;
  /** Why (from `readCacheFile`). */
  reason: string;
}

/** The kind of a verification failure, for counting: the reason without paths, keys and numbers. */
function rejectionKind(reason: string, path: string): string {
  const r = reason.startsWith(`${path}: `)
    ? reason.slice(path.length + 2)
    : reason;
  if (r.startsWith("holds key")) return "another key";
  if (/^\d+ bytes, header says/.test(r)) return "wrong length";
  if (r.startsWith("Cannot read")) return "unreadable";
  return r;
}

/**
 * One warning for every cache entry of a call that failed verification:
 * how many, of which kinds, and the first one in full.
 */
export function formatRejectedEntries(
  rejected: readonly RejectedEntry[],
): string {
  const kinds = new Map<string, number>();
  for (const r of rejected) {
    const k = rejectionKind(r.reason, r.path);
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
  }
  const n = rejected.length;
  const first = rejected[0];
  return `decode cache: ${n} entr${
    n === 1 ? "y" : "ies"
  } failed verification and ${n === 1 ? "was" : "were"} decoded again (${
    [...kinds].map(([k, c]) => `${k}: ${c}`).join(", ")
  }); first: ${first.reason}`;
}

/**
 * Reads, decodes and resizes `items` into one {@link ImageSet} (same order;
 * bad files removed), with a worker pool. With `cacheDir`, decoded images
 * are stored in (or found in) the decode cache and the set reads them from
 * there (`storage: "cache"`, no pixels held); without it, the set holds
 * them in memory (`storage: "memory"`). Bad files are reported once, all together: a warning listing
 * each file and why, or a {@link BadImageError} with `onBadImage: "error"`.
 */
export async function decodeImages(
  items: readonly ImageItem[],
  opts: DecodeImagesOptions,
): Promise<ImageSet> {
  const [height, width] = opts.imageSize;
  if (
    !(Number.isInteger(height) && height > 0 && Number.isInteger(width) &&
      width > 0)
  ) {
    throw new Error(
      `imageSize must be two positive integers, got [${opts.imageSize}]`,
    );
  }
  const interpolation = opts.interpolation ?? "bilinear";
  const maxImagePixels = opts.maxImagePixels === undefined
    ? DEFAULT_MAX_IMAGE_PIXELS
    : opts.maxImagePixels;
  const decodeOptions: DecodeOptions = {
    maxImagePixels,
    exifOrientation: opts.exifOrientation ?? "ignore",
    bmp: opts.bmp ?? "tf",
  };
  // The decode cache's folder is per interpolation and per decoding mode
  // other than TF's: "bilinear+exif" (EXIF orientation applied), "+bmp"
  // (every BMP variant).
  const mode = interpolation +
    (decodeOptions.exifOrientation === "apply" ? "+exif" : "") +
    (decodeOptions.bmp === "full" ? "+bmp" : "");
  const stride = height * width * 3;
  const total = items.length;
  const cacheDir = opts.cacheDir || null;
  // In memory only without a cache; with one, each image's source SHA-256
  // (which names its entry) and pixel SHA-256 (checked on every read).
  const pixels = cacheDir ? null : new Uint8Array(total * stride);
  const sources: string[] = cacheDir ? new Array(total) : [];
  const digests: string[] = cacheDir ? new Array(total) : [];
  const ok = new Uint8Array(total);
  const bad: BadImage[] = [];
  const stats = { decoded: 0, cached: 0, rejected: 0 };
  const rejected: RejectedEntry[] = [];
  const noteRejected = (path: string, reason: string) => {
    rejected.push({ path, reason });
    stats.rejected++;
  };
  const ownPool = opts.pool
    ? null
    : new DecodePool(opts.workers ?? defaultWorkerCount());
  const pool = opts.pool ?? ownPool!;
  let next = 0;
  let done = 0;
  const report = () =>
    opts.onProgress?.({
      done,
      total,
      cached: stats.cached,
      decoded: stats.decoded,
      skipped: bad.length,
    });

  /**
   * Image i. The source file and cache entries are read into the runner's
   * own reused buffers: a cached image allocates nothing, so a decode of a
   * cached set leaves no pile of garbage buffers behind.
   */
  const handle = async (i: number, scratch: Scratches) => {
    const item = items[i];
    let bytes: Uint8Array;
    try {
      bytes = await readFileInto(item.path, scratch.source);
    } catch (e) {
      bad.push({
        path: item.path,
        reason: `cannot read: ${(e as Error).message}`,
      });
      return;
    }
    const tooLarge = pixelLimitReason(bytes, maxImagePixels);
    if (tooLarge) {
      bad.push({ path: item.path, reason: tooLarge });
      return;
    }
    let cachePath: string | null = null;
    let key = "";
    if (cacheDir) {
      const sha = sha256Hex(bytes);
      sources[i] = sha;
      cachePath = decodeCachePath(
        cacheDir,
        sha,
        height,
        width,
        mode,
      );
      key = decodeCacheKey(sha, height, width, mode);
      const hit = await readEntry(cachePath, key, scratch.entry);
      if (hit.ok && hit.data.length === stride) {
        digests[i] = hit.sha256;
        ok[i] = 1;
        stats.cached++;
        return;
      }
      if (hit.ok) {
        noteRejected(
          cachePath,
          `${cachePath}: ${hit.data.length} bytes, expected ${stride}`,
        );
      } else if (!hit.missing) noteRejected(cachePath, hit.reason);
      else {
        const knownBad = await readCacheFile(
          `${cachePath}.bad`,
          `${key}.bad`,
        );
        if (knownBad.ok) {
          bad.push({
            path: item.path,
            reason: new TextDecoder().decode(knownBad.data),
          });
          stats.cached++;
          return;
        }
        if (!knownBad.missing) {
          noteRejected(`${cachePath}.bad`, knownBad.reason);
        }
      }
    }
    let rgb: Uint8Array;
    try {
      // A copy of its own: the pool may transfer it to a worker.
      rgb = await pool.decode(
        bytes.slice(),
        height,
        width,
        interpolation,
        decodeOptions,
      );
    } catch (e) {
      if (e instanceof DecodeFailure) {
        bad.push({ path: item.path, reason: e.message });
        if (cachePath) {
          await writeCacheFile(
            `${cachePath}.bad`,
            `${key}.bad`,
            new TextEncoder().encode(e.message),
          );
        }
        return;
      }
      throw e;
    }
    if (cachePath) {
      await writeCacheFile(cachePath, key, rgb);
      digests[i] = sha256Hex(rgb);
    } else pixels!.set(rgb, i * stride);
    ok[i] = 1;
    stats.decoded++;
  };

  const runner = async () => {
    const scratch = { source: new Scratch(), entry: new Scratch() };
    while (next < total) {
      opts.signal?.throwIfAborted();
      const i = next++;
      await handle(i, scratch);
      done++;
      report();
    }
  };
  try {
    const runners = Array.from({
      length: Math.min(pool.concurrency, Math.max(total, 1)),
    }, runner);
    const results = await Promise.allSettled(runners);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  } finally {
    ownPool?.close();
  }

  if (rejected.length > 0) {
    rejected.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    (opts.warn ?? console.warn)(formatRejectedEntries(rejected));
  }
  bad.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (bad.length > 0) {
    if (opts.onBadImage === "error") throw new BadImageError(bad);
    (opts.warn ?? console.warn)(
      `Skipped ${bad.length} of ${total} image file${
        total === 1 ? "" : "s"
      } that could not be decoded:\n${formatBadImages(bad)}`,
    );
  }

  const count = total - bad.length;
  const labels = new Int32Array(count);
  const paths: string[] = [];
  const keptSources: string[] = [];
  const keptDigests: string[] = [];
  let k = 0;
  for (let i = 0; i < total; i++) {
    if (!ok[i]) continue;
    if (pixels && k !== i) {
      pixels.copyWithin(k * stride, i * stride, (i + 1) * stride);
    }
    if (cacheDir) {
      keptSources.push(sources[i]);
      keptDigests.push(digests[i]);
    }
    labels[k] = items[i].label;
    paths.push(items[i].path);
    k++;
  }
  const fields = {
    classNames: [...opts.classNames],
    height,
    width,
    labels,
    paths,
    skipped: bad,
    stats,
  };
  if (!cacheDir) {
    return imageSetFromPixels({
      ...fields,
      pixels: count === total ? pixels! : pixels!.subarray(0, count * stride),
    });
  }
  return imageSetFromCache({
    ...fields,
    digests: keptDigests,
    entry: (i) => ({
      path: decodeCachePath(
        cacheDir,
        keptSources[i],
        height,
        width,
        mode,
      ),
      key: decodeCacheKey(keptSources[i], height, width, mode),
    }),
  });
}
