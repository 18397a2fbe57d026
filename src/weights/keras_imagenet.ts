/**
 * Keras' published ImageNet weights for MobileNetV2 (file names, input-size
 * fallback, download; the other bases' files are in `keras_zoo_imagenet.ts`)
 * and {@link resolveWeightsSource}, which turns a
 * `model.weights` config value into a local file that `loadKerasWeights`
 * reads: a legacy `.h5`, a Keras 3 `.weights.h5` or a `.keras` archive (the
 * format is told from the file's contents, not its name).
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  fetchFile as defaultFetchFile,
  type FetchOptions,
  type FetchResult,
  fileNameForUrl,
} from "../data/fetch.ts";
import { sha256File } from "../util/hash.ts";
import { KerasWeightsError } from "./keras_h5.ts";
import {
  type Architecture,
  MOBILENET_V2_ALPHAS,
} from "../config/architecture.ts";
import { pythonFloatString } from "./_python_float.ts";
import { type ZooImagenetFile, zooImagenetFile } from "./keras_zoo_imagenet.ts";
import { md5File } from "../util/hash.ts";
import { removeQuietly } from "../util/fs.ts";

/** Folder of Keras' published MobileNetV2 weights. */
export const KERAS_MOBILENET_V2_WEIGHTS_BASE =
  "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/";
/** Input sizes Keras publishes ImageNet weights for (alphas 1.3 and 1.4: 224 only). */
export const IMAGENET_ROWS: readonly number[] = [96, 128, 160, 192, 224];

/**
 * The input size whose ImageNet weights Keras loads for a model of
 * `rows`×`cols` (cols defaults to rows): the size itself when weights exist
 * for it, else 224 with Keras' warning (non-square, unknown, or not one of
 * {@link IMAGENET_ROWS}; alphas 1.3/1.4 only exist at 224). Throws for an
 * alpha without ImageNet weights.
 */
export function resolveImagenetRows(
  alpha: number,
  rows: number | null,
  cols: number | null = rows,
): { rows: number; warning: string | null } {
  if (!(MOBILENET_V2_ALPHAS as readonly number[]).includes(alpha)) {
    throw new RangeError(
      `ImageNet weights for MobileNetV2 exist only for alpha in {${
        MOBILENET_V2_ALPHAS.map(pythonFloatString).join(", ")
      }}, got ${alpha}`,
    );
  }
  if (rows == null || rows !== cols || !IMAGENET_ROWS.includes(rows)) {
    return {
      rows: 224,
      warning:
        `input shape is undefined or non-square, or rows (${rows}) is not in [${IMAGENET_ROWS}]: ` +
        `weights for input shape (224, 224) will be loaded as the default (as Keras does).`,
    };
  }
  if (alpha > 1.0 && rows !== 224) {
    return {
      rows: 224,
      warning:
        `Keras publishes MobileNetV2 alpha ${alpha} weights only for 224x224: ` +
        `weights for input shape (224, 224) will be loaded for ${rows}x${cols}.`,
    };
  }
  return { rows, warning: null };
}

/** Options of {@link imagenetWeightsUrl}. */
export interface ImagenetUrlOptions {
  /** Input cols when they differ from rows (non-square falls back to 224). */
  cols?: number | null;
  /** Receives the 224 fallback warning. Default `console.warn`. */
  warn?: (message: string) => void;
}

/**
 * URL of Keras' ImageNet MobileNetV2 weights for (alpha, input size, top):
 * `…/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{rows}[_no_top].h5`,
 * with the size resolved by {@link resolveImagenetRows} (warning on fallback).
 */
export function imagenetWeightsUrl(
  alpha: number,
  rows: number | null,
  includeTop: boolean,
  options: ImagenetUrlOptions = {},
): string {
  const resolved = resolveImagenetRows(alpha, rows, options.cols ?? rows);
  if (resolved.warning) (options.warn ?? console.warn)(resolved.warning);
  return `${KERAS_MOBILENET_V2_WEIGHTS_BASE}mobilenet_v2_weights_tf_dim_ordering_tf_kernels_${
    pythonFloatString(alpha)
  }_${resolved.rows}${includeTop ? "" : "_no_top"}.h5`;
}

/** Options of {@link resolveWeightsSource}. */
export interface ResolveWeightsOptions {
  /** The base (for `"imagenet"`). Default `"mobilenet_v2"`. */
  architecture?: Architecture;
  /** Width multiplier (for `"imagenet"`). */
  alpha: number;
  /** MobileNetV3's minimalistic variant (for `"imagenet"`). Default false. */
  minimalistic?: boolean;
  /**
   * Keras' published file of a base other than MobileNetV2 (URL and MD5);
   * default `zooImagenetFile` of `keras_zoo_imagenet.ts` (replaceable in
   * tests, whose servers cannot serve Keras' real files).
   */
  imagenetFile?: (
    architecture: Exclude<Architecture, "mobilenet_v2">,
    options: {
      alpha: number;
      minimalistic: boolean;
      includeTop: boolean;
      rows: number | null;
      cols: number | null;
      warn?: (message: string) => void;
    },
  ) => ZooImagenetFile;
  /** Input rows (for `"imagenet"`). */
  rows: number | null;
  /** Input cols; default rows. */
  cols?: number | null;
  /** Whether the model has Keras' classification top (for `"imagenet"`). Default false. */
  includeTop?: boolean;
  /** Where downloads are cached. */
  cacheDir: string;
  /** Download progress. */
  onProgress?: FetchOptions["onProgress"];
  /** Aborts a download. */
  signal?: AbortSignal;
  /** Receives the 224 fallback warning. Default `console.warn`. */
  warn?: (message: string) => void;
  /** The download step; default `fetchFile` of `src/data/fetch.ts` (replaceable in tests). */
  fetchFile?: (url: string, opts: FetchOptions) => Promise<FetchResult>;
  /** Expected SHA-256 of the weights file (`model.sha256`), downloaded or local. */
  sha256?: string | null;
}

/**
 * Turns a `model.weights` value into a local weights file: `null` → `null`;
 * `"imagenet"` → Keras' `.h5` for (architecture, alpha, minimalistic, size,
 * top) downloaded once into `cacheDir` (other bases than MobileNetV2: checked
 * against Keras' MD5 on every use, see `keras_zoo_imagenet.ts`); an `http(s)://` URL → downloaded once into `cacheDir`; a
 * `file://` URL or a path → that file, which must exist. The file may be a
 * legacy `.h5`, a Keras 3 `.weights.h5` or a `.keras` archive:
 * `loadKerasWeights` tells them apart by their contents.
 */
export async function resolveWeightsSource(
  weights: string | null,
  options: ResolveWeightsOptions,
): Promise<string | null> {
  if (weights == null) return null;
  const fetchFile = options.fetchFile ?? defaultFetchFile;
  // One file per URL (a short hash of the URL in the name), so two URLs
  // ending in the same file name never share a download.
  const download = async (url: string) =>
    (await fetchFile(url, {
      cacheDir: join(options.cacheDir, "weights"),
      fileName: fileNameForUrl(url, { hashed: true }),
      sha256: options.sha256,
      sha256Setting: "model.sha256",
      hint:
        'Check model.weights ("imagenet", a URL or a local path), or download the file and set model.weights to its path.',
      onProgress: options.onProgress,
      signal: options.signal,
    })).path;
  const architecture = options.architecture ?? "mobilenet_v2";
  if (weights === "imagenet" && architecture !== "mobilenet_v2") {
    const file = (options.imagenetFile ?? zooImagenetFile)(architecture, {
      alpha: options.alpha,
      minimalistic: options.minimalistic ?? false,
      includeTop: options.includeTop ?? false,
      rows: options.rows,
      cols: options.cols ?? options.rows,
      warn: options.warn,
    });
    return await downloadVerifiedMd5(file, download);
  }
  if (weights === "imagenet") {
    const url = imagenetWeightsUrl(
      options.alpha,
      options.rows,
      options.includeTop ?? false,
      { cols: options.cols, warn: options.warn },
    );
    return await download(url);
  }
  if (/^https?:\/\//i.test(weights)) return await download(weights);
  const path = /^file:/i.test(weights) ? fileURLToPath(weights) : weights;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new KerasWeightsError(
        `model.weights: no such file: ${path} (expected "imagenet", a URL or a path to a Keras .h5, .weights.h5 or .keras file, or null)`,
      );
    }
    throw e;
  }
  if (!info.isFile) {
    throw new KerasWeightsError(`model.weights: not a file: ${path}`);
  }
  if (options.sha256) {
    const actual = await sha256File(path);
    if (actual !== options.sha256.toLowerCase()) {
      throw new KerasWeightsError(
        `model.sha256: ${path} has SHA-256 ${actual}, expected ${options.sha256.toLowerCase()}; fix model.sha256 (or set it to null) or model.weights`,
      );
    }
  }
  return path;
}

/**
 * Downloads Keras' published `file` once (through `download`, the cache) and
 * checks it against the MD5 Keras' source gives, as Keras' `get_file` does:
 * a cached file that does not match is removed and downloaded again; a
 * fresh download that does not match is removed and fails, naming the URL
 * and both digests.
 */
async function downloadVerifiedMd5(
  file: ZooImagenetFile,
  download: (url: string) => Promise<string>,
): Promise<string> {
  for (let attempt = 0;; attempt++) {
    const path = await download(file.url);
    const md5 = await md5File(path);
    if (md5 === file.md5.toLowerCase()) return path;
    await removeQuietly(path);
    if (attempt > 0) {
      throw new KerasWeightsError(
        `model.weights "imagenet": ${file.url} has MD5 ${md5}, but Keras publishes ${file.fileName} with MD5 ${file.md5} (the file was removed from the cache); download it again, or set model.weights to a local copy`,
      );
    }
  }
}
