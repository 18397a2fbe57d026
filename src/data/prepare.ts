/**
 * The whole input half in one call: fetch → unzip → dataset → decode, from
 * plain options that mirror the `data.*` config keys.
 *
 * @example
 * ```ts ignore
 * import { prepareData } from "./prepare.ts";
 * // Downloads the cats-vs-dogs zip (68 MB) once: not run by `deno test --doc`.
 * const data = await prepareData({
 *   url: "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
 *   imageSize: [160, 160],
 * });
 * console.log(data.train.count, data.validation.count, data.classNames);
 * ```
 *
 Named steps, each its own function: `readyCache` (an unusable
 * `data.cacheDir` fails at once with the path and the cause; leftovers of
 * killed runs — `.part` downloads, partial extractions, unfinished cache
 * writes — are removed, what other live runs are writing is left alone, so
 * several runs can share one cache), `locateSource` (fetch), `extractSource`
 * (unzip), `listSplits` (dataset) and `decodeSplits` (decode).
 *
 * @module
 */

import { basename, isAbsolute, join, resolve } from "node:path";
import { resolveCacheDir } from "../cache/cache_dir.ts";
import { sha256Hex } from "../util/hash.ts";
import { fetchFile, type FetchProgress, fileNameForUrl } from "./fetch.ts";
import { defaultUnzipDest, unzip, UnzipError } from "./unzip.ts";
import {
  type DatasetSplits,
  formatIgnored,
  type ImageItem,
  loadDataset,
  resolveDatasetRoot,
} from "./dataset.ts";
import type { ImageSet } from "./image_set.ts";
import { labelsCsvPath, loadLabelsDataset } from "./_labels_dataset.ts";
import { type Shard, shardKeyOfFile, shardOfKey } from "./_shard.ts";
import {
  type BadImagePolicy,
  decodeImages,
  type DecodeProgress,
} from "./decode.ts";
import { DecodePool, defaultWorkerCount } from "./decode_pool.ts";
import { imageSetFromPixels } from "./image_set.ts";
import { removeLeftovers } from "../cache/prune.ts";
import { checkWritableDir } from "../util/fs_errors.ts";
import { statOrNull } from "../util/fs.ts";
import { StepTimer } from "../util/timer.ts";
import type { Interpolation } from "./resize.ts";

/** Options of {@link prepareData}; each maps onto a `data.*` config key. */
export interface PrepareDataOptions {
  /** `data.url`: a .zip to download (ignored when `path` is set). */
  url?: string | null;
  /** `data.path`: a local folder, or a local .zip, used instead of `url`. */
  path?: string | null;
  /** `data.sha256`: expected SHA-256 of the download. */
  sha256?: string | null;
  /** `data.trainDir`. Default "train". */
  trainDir?: string;
  /** `data.validationDir`. Default "validation"; null for none. */
  validationDir?: string | null;
  /** `data.validationSplit`, used when there is no validation folder. Default 0.2. */
  validationSplit?: number;
  /**
   * `data.labels`: a labels CSV (`file,label[,split]`, absolute or relative
   * to the dataset root) listing the images instead of class folders
   * (`trainDir` / `validationDir` are then not used). Default null.
   */
  labels?: string | null;
  /** `data.imageSize` as `[height, width]`. */
  imageSize: readonly [number, number];
  /** `data.seed`. Default 42. */
  seed?: number;
  /** `data.interpolation`. Default "bilinear". */
  interpolation?: Interpolation;
  /** `data.cacheDir`; null = the default cache folder. */
  cacheDir?: string | null;
  /** `data.onBadImage`. Default "warn". */
  onBadImage?: BadImagePolicy;
  /** `data.maxImagePixels`: refuse larger images from their header. Default 89,478,485 (PIL's); null for none. */
  maxImagePixels?: number | null;
  /** `data.exifOrientation`: "ignore" (default, as TF) or "apply". */
  exifOrientation?: "ignore" | "apply";
  /** `data.bmp`: "tf" (default, TF's reader) or "full" (every variant, palettes applied). */
  bmp?: "tf" | "full";
  /** `data.includeWebp`: list `.webp` files too (Keras does not). Default false. */
  includeWebp?: boolean;
  /** `data.workers`; null = one per core, 0 = decode on the main thread. */
  workers?: number | null;
  /**
   * Keep decoded images in the on-disk cache. Default true: the sets then
   * read their pixels from the cache per batch instead of holding them in
   * memory; false (a local folder only) holds them in memory.
   */
  decodeCache?: boolean;
  /** Status lines (what is happening, counts). Default: `console.error`; pass `() => {}` for silence. */
  log?: (line: string) => void;
  /**
   * Makes the download progress callback for a file name (`run.ts` passes
   * the printer of `src/report/progress.ts`). Default: no progress display.
   */
  downloadProgress?: (label: string) => (p: FetchProgress) => void;
  /** Decode progress (per file). Default: a log line at each quarter of sets of 200+ files. */
  onDecodeProgress?: (split: "train" | "validation", p: DecodeProgress) => void;
  /** Receives the warning listing skipped files. Default: `console.warn`. */
  warn?: (message: string) => void;
  /** Cancels the download, extraction or decoding. */
  signal?: AbortSignal;
  /**
   * `prepare --shard I/N`: list everything, then decode only this shard's
   * files (by a hash of each file's path relative to the dataset root; see
   * `_shard.ts`); the sets then hold only them. Default null: every file.
   */
  shard?: { index: number; count: number } | null;
}

/** What {@link prepareData} resolves to: decoded train and validation sets. */
export interface PreparedData {
  /** Class names (sorted); labels index into it. */
  classNames: string[];
  /** Decoded training images (in the seeded shuffled order). */
  train: ImageSet;
  /** Decoded validation images (empty when there is no validation). */
  validation: ImageSet;
  /** The file lists the sets were decoded from. */
  dataset: DatasetSplits;
  /** Where the data came from. */
  source: {
    /** "url" (downloaded or cached zip), "zip" (local zip) or "folder". */
    kind: "url" | "zip" | "folder";
    /** The downloaded or local zip, when there is one. */
    zipPath: string | null;
    /** True when the download came from the cache. */
    cached: boolean;
  };
  /** Seconds spent in each stage. */
  seconds: { fetch: number; unzip: number; dataset: number; decode: number };
}

function emptySet(classNames: string[], h: number, w: number): ImageSet {
  return imageSetFromPixels({
    classNames,
    height: h,
    width: w,
    pixels: new Uint8Array(0),
    labels: new Int32Array(0),
    paths: [],
    stats: { decoded: 0, cached: 0 },
  });
}

/**
 * Runs fetch → unzip → dataset → decode and returns ready train and
 * validation image sets. `path` (a folder or a .zip) wins over `url`.
 * Downloads and extractions go to the cache folder; decoded images too
 * (unless `decodeCache` is false), so a second run neither downloads nor
 * decodes. A cached download that turns out to be a corrupt zip is removed
 * so the next run downloads it again.
 */
export async function prepareData(
  opts: PrepareDataOptions,
): Promise<PreparedData> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const cacheDir = resolveCacheDir(opts.cacheDir);
  const timer = new StepTimer();
  await readyCache(opts, cacheDir, log);
  const source = await timer.time(
    "fetch",
    () => locateSource(opts, cacheDir, log),
  );
  const root = await timer.time(
    "unzip",
    () => extractSource(opts, source, cacheDir, log),
  );
  const listed = await timer.time(
    "dataset",
    () => listSplits(opts, root, log),
  );
  const dataset = opts.shard ? shardSplits(listed, opts.shard, log) : listed;
  const { train, validation } = await timer.time(
    "decode",
    () => decodeSplits(opts, dataset, cacheDir, log),
  );
  const { fetch = 0, unzip = 0, dataset: listing = 0, decode = 0 } =
    timer.seconds;
  return {
    classNames: dataset.classNames,
    train,
    validation,
    dataset,
    source: {
      kind: source.kind,
      zipPath: source.zipPath,
      cached: source.cached,
    },
    seconds: { fetch, unzip, dataset: listing, decode },
  };
}

/** Where the images come from, once {@link locateSource} found it. */
interface LocatedSource {
  kind: PreparedData["source"]["kind"];
  /** The zip to extract, or null for a folder. */
  zipPath: string | null;
  /** The dataset folder, for a folder source. */
  folder: string | null;
  cached: boolean;
}

/**
 * Step 0: an unusable cache folder fails at once with the path and the
 * cause, and leftovers of killed runs are removed (what other live runs are
 * writing is left alone).
 */
async function readyCache(
  opts: PrepareDataOptions,
  cacheDir: string,
  log: (line: string) => void,
): Promise<void> {
  const usesCache = !opts.path || opts.decodeCache !== false ||
    !(await statOrNull(opts.path))?.isDirectory;
  if (!usesCache) return;
  await checkWritableDir(cacheDir, "data.cacheDir");
  const removed = await removeLeftovers(cacheDir);
  if (removed > 0) {
    log(
      `data: removed ${removed} leftover${
        removed === 1 ? "" : "s"
      } of interrupted runs from ${cacheDir}`,
    );
  }
}

/** Step 1: a local folder or zip, or the download of `url` (cached). */
async function locateSource(
  opts: PrepareDataOptions,
  cacheDir: string,
  log: (line: string) => void,
): Promise<LocatedSource> {
  if (opts.path) {
    const info = await statOrNull(opts.path);
    if (!info) throw new Error(`data.path not found: ${opts.path}`);
    return info.isDirectory
      ? { kind: "folder", zipPath: null, folder: opts.path, cached: false }
      : { kind: "zip", zipPath: opts.path, folder: null, cached: false };
  }
  if (!opts.url) {
    throw new Error(
      "Set data.url (a .zip to download) or data.path (a local folder or .zip).",
    );
  }
  const name = fileNameForUrl(opts.url);
  const fetched = await fetchFile(opts.url, {
    cacheDir,
    sha256: opts.sha256,
    fileName: name,
    signal: opts.signal,
    onProgress: opts.downloadProgress?.(name),
  });
  log(
    fetched.cached
      ? `data: using cached ${fetched.path}`
      : `data: downloaded ${opts.url} -> ${fetched.path}`,
  );
  return {
    kind: "url",
    zipPath: fetched.path,
    folder: null,
    cached: fetched.cached,
  };
}

/**
 * Step 2: the dataset root — a folder source as it is, a zip extracted into
 * the cache. A cached download that is a corrupt zip is removed, so the
 * next run downloads it again.
 */
async function extractSource(
  opts: PrepareDataOptions,
  source: LocatedSource,
  cacheDir: string,
  log: (line: string) => void,
): Promise<string> {
  if (source.zipPath === null) {
    // A relative labels CSV found in the folder makes it the root.
    if (
      opts.labels && !isAbsolute(opts.labels) &&
      await statOrNull(labelsCsvPath(source.folder!, opts.labels))
    ) return source.folder!;
    return await resolveDatasetRoot(source.folder!, opts.trainDir ?? "train");
  }
  const zipPath = source.zipPath;
  const dest = source.kind === "url" ? defaultUnzipDest(zipPath) : join(
    cacheDir,
    "extracted",
    `${basename(zipPath).replace(/\.zip$/i, "")}-${
      sha256Hex(resolve(zipPath)).slice(0, 8)
    }`,
  );
  let lastLogged = 0;
  try {
    const result = await unzip(zipPath, {
      dest,
      signal: opts.signal,
      onProgress: (p) => {
        // A line per quarter (at most every 1000 files), and at the end.
        const step = p.total < 200 ? Infinity : Math.min(1000, p.total / 4);
        if (p.entries === p.total || p.entries - lastLogged >= step) {
          lastLogged = p.entries;
          log(`data: extracted ${p.entries}/${p.total} files`);
        }
      },
    });
    if (!result.extracted) log(`data: using extracted ${result.dir}`);
    return result.root;
  } catch (e) {
    if (
      source.kind === "url" && e instanceof UnzipError && e.kind === "corrupt"
    ) {
      await Deno.remove(zipPath).catch(() => {});
      throw new UnzipError(
        `${e.message} The cached download ${zipPath} was removed; run again to download it again.`,
        e.zipPath,
        { kind: e.kind, entry: e.entry, cause: e },
      );
    }
    throw e;
  }
}

/**
 * Step 3: the class folders (or the labels CSV), split into training and
 * validation files.
 */
async function listSplits(
  opts: PrepareDataOptions,
  root: string,
  log: (line: string) => void,
): Promise<DatasetSplits> {
  const dataset = opts.labels
    ? await loadLabelsDataset({
      root,
      labels: opts.labels,
      validationSplit: opts.validationSplit,
      seed: opts.seed,
    })
    : await loadDataset({
      root,
      trainDir: opts.trainDir,
      validationDir: opts.validationDir,
      validationSplit: opts.validationSplit,
      seed: opts.seed,
      includeWebp: opts.includeWebp,
    });
  for (const line of formatIgnored(dataset.ignored)) log(line);
  if (dataset.labels) {
    log(
      `data: labels from ${dataset.labels.csv} (${dataset.labels.rows} rows, sha256 ${
        dataset.labels.sha256.slice(0, 12)
      }…; split ${
        dataset.labels.split === "column"
          ? "from its split column"
          : `by data.validationSplit`
      })`,
    );
  }
  log(
    `data: ${dataset.classNames.length} classes [${
      dataset.classNames.join(", ")
    }], ` +
      `${dataset.train.length} training and ${dataset.validation.length} validation files` +
      (dataset.validationSource === "split"
        ? ` (validation split ${opts.validationSplit ?? 0.2} of ${
          dataset.labels ? "each class" : dataset.trainDir
        })`
        : ""),
  );
  return dataset;
}

/** Step 3b (`prepare --shard I/N`): only this shard's files of each split. */
function shardSplits(
  dataset: DatasetSplits,
  shard: Shard,
  log: (line: string) => void,
): DatasetSplits {
  const mine = (items: ImageItem[]) =>
    items.filter((item) =>
      shardOfKey(shardKeyOfFile(dataset.root, item.path), shard.count) ===
        shard.index
    );
  const train = mine(dataset.train);
  const validation = mine(dataset.validation);
  log(
    `data: shard ${shard.index}/${shard.count}: ${train.length} of ${dataset.train.length} training and ${validation.length} of ${dataset.validation.length} validation files (by a hash of each file's path)`,
  );
  return { ...dataset, train, validation };
}

/** Step 4: both splits decoded and resized, through one worker pool. */
async function decodeSplits(
  opts: PrepareDataOptions,
  dataset: DatasetSplits,
  cacheDir: string,
  log: (line: string) => void,
): Promise<{ train: ImageSet; validation: ImageSet }> {
  const [height, width] = opts.imageSize;
  using pool = new DecodePool(opts.workers ?? defaultWorkerCount());
  const decodeCacheDir = opts.decodeCache === false
    ? null
    : join(cacheDir, "decoded");
  const decodeSplit = async (split: "train" | "validation") => {
    const items = dataset[split];
    if (items.length === 0) return emptySet(dataset.classNames, height, width);
    const set = await decodeImages(items, {
      imageSize: [height, width],
      classNames: dataset.classNames,
      interpolation: opts.interpolation,
      pool,
      cacheDir: decodeCacheDir,
      onBadImage: opts.onBadImage,
      maxImagePixels: opts.maxImagePixels,
      exifOrientation: opts.exifOrientation,
      bmp: opts.bmp,
      warn: opts.warn,
      signal: opts.signal,
      onProgress: opts.onDecodeProgress
        ? (p) => opts.onDecodeProgress!(split, p)
        : quarterlyDecodeLog(split, log),
    });
    if (set.count === 0 && !opts.shard) {
      throw new Error(
        `No ${split} image could be decoded (see the warning above).`,
      );
    }
    log(
      `data: ${split}: ${set.count} images at ${height}x${width} ` +
        `(${set.stats.decoded} decoded, ${set.stats.cached} from cache` +
        (set.skipped.length ? `, ${set.skipped.length} skipped` : "") + ")",
    );
    return set;
  };
  const train = await decodeSplit("train");
  const validation = await decodeSplit("validation");
  return { train, validation };
}

/** Default decode progress: a line at 25 %, 50 % and 75 % of larger sets. */
function quarterlyDecodeLog(
  split: string,
  log: (line: string) => void,
): (p: DecodeProgress) => void {
  let next = 1;
  return (p) => {
    if (p.total < 200 || next > 3 || p.done < (p.total * next) / 4) return;
    while (next <= 3 && p.done >= (p.total * next) / 4) next++;
    log(`data: ${split}: ${p.done}/${p.total} images`);
  };
}
