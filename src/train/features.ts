/**
 * Feature caching: run a frozen base once over a decoded image set, keep the
 * pooled features (`[n, featureSize]` float32) and store them on disk keyed
 * by everything they depend on, so later runs with other head
 * hyperparameters skip the base entirely.
 *
 * @module
 */

import { join } from "node:path";
import { tf } from "../deps.ts";
import { sha256Hex } from "../util/hash.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { makeBatch, type Preprocess } from "../data/batches.ts";
import type { ImageSet } from "../data/decode.ts";
import type { FeatureSet } from "./sources.ts";

/**
 * The cache key of a set's features: a hash of `identity` (weights, alpha,
 * image size, interpolation… — whatever determines the base's output) and of
 * the images' pixels and labels.
 */
export function featureCacheKey(
  identity: Record<string, unknown>,
  set: ImageSet,
): string {
  const pixels = sha256Hex(set.pixels);
  const labels = sha256Hex(set.labels);
  return sha256Hex(JSON.stringify({ identity, pixels, labels })).slice(0, 32);
}

/** Options of {@link extractFeatures}. */
export interface ExtractFeaturesOptions {
  /** Images per forward pass. */
  batchSize: number;
  /** The model's input preprocessing. */
  preprocess: Preprocess;
  /** Called after each batch with images done so far. */
  onProgress?: (done: number, total: number) => void;
  /** Stops between batches. */
  signal?: AbortSignal;
}

/** Runs `features` (image → pooled vector) over every image of `set`, in order. */
export async function extractFeatures(
  features: tf.LayersModel,
  set: ImageSet,
  opts: ExtractFeaturesOptions,
): Promise<FeatureSet> {
  const featureSize = features.outputs[0].shape[1] as number;
  const out = new Float32Array(set.count * featureSize);
  for (let start = 0; start < set.count; start += opts.batchSize) {
    opts.signal?.throwIfAborted();
    const idx = Array.from(
      { length: Math.min(opts.batchSize, set.count - start) },
      (_, i) => start + i,
    );
    const { xs, ys } = makeBatch(set, idx, opts.preprocess);
    const y = features.predict(xs) as tf.Tensor2D;
    out.set(await y.data() as Float32Array, start * featureSize);
    tf.dispose([xs, ys, y]);
    opts.onProgress?.(start + idx.length, set.count);
  }
  return {
    features: out,
    featureSize,
    labels: set.labels,
    numClasses: set.classNames.length,
  };
}

/** Options of {@link cachedFeatures}. */
export interface CachedFeaturesOptions extends ExtractFeaturesOptions {
  /** Folder of the feature cache (e.g. `<cacheDir>/features`). */
  dir: string;
  /** What the base's output depends on besides the pixels (see {@link featureCacheKey}). */
  identity: Record<string, unknown>;
}

/**
 * {@link extractFeatures}, reusing a cached result when one exists. New
 * results are written to a temporary file and renamed, so an interrupted
 * run never leaves a truncated entry.
 */
export async function cachedFeatures(
  features: tf.LayersModel,
  set: ImageSet,
  opts: CachedFeaturesOptions,
): Promise<{ set: FeatureSet; cached: boolean; path: string }> {
  const featureSize = features.outputs[0].shape[1] as number;
  const key = featureCacheKey({ ...opts.identity, featureSize }, set);
  const path = join(opts.dir, `${key}.f32`);
  try {
    const bytes = await Deno.readFile(path);
    if (bytes.byteLength === set.count * featureSize * 4) {
      return {
        set: {
          features: new Float32Array(
            bytes.buffer,
            bytes.byteOffset,
            bytes.byteLength / 4,
          ),
          featureSize,
          labels: set.labels,
          numClasses: set.classNames.length,
        },
        cached: true,
        path,
      };
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const result = await extractFeatures(features, set, opts);
  await writeFileAtomic(
    path,
    new Uint8Array(
      result.features.buffer,
      result.features.byteOffset,
      result.features.byteLength,
    ),
  );
  return { set: result, cached: false, path };
}
