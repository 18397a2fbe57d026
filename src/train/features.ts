/**
 * Feature caching: run a frozen base once over a decoded image set, keep the
 * pooled features (`[n, featureSize]` float32) and store them on disk keyed
 * by everything they depend on, so later runs with other head
 * hyperparameters skip the base entirely.
 *
 * @module
 */

import { join } from "node:path";
import * as tf from "../deps/tf.ts";
import { sha256Hex } from "../util/hash.ts";
import { readCacheFile, writeCacheFile } from "../cache/cache_file.ts";
import { makeBatch, type Preprocess } from "../data/batches.ts";
import type { ImageSet } from "../data/image_set.ts";
import { imageSetDigest } from "../data/image_set.ts";
import type { FeatureSet } from "./sources.ts";
import type { FrozenForward } from "../engine/frozen_engine.ts";
import {
  type FeatureShards,
  mergeShards,
  shardFileName,
  shardIdentity,
  type ShardMergeRecord,
} from "./feature_shards.ts";

/**
 * The cache key of a set's features: a hash of `identity` (weights, alpha,
 * image size, interpolation… — whatever determines the base's output) and of
 * the images' pixels and labels. The pixels enter as the hash of their
 * per-image SHA-256s ({@link imageSetDigest}), so no pixels are read for a
 * set kept in the decode cache. (Keys made before this digest, from one hash
 * of all pixels, simply no longer match: such entries are recomputed once
 * under the new key, never misread.)
 */
export function featureCacheKey(
  identity: Record<string, unknown>,
  set: ImageSet,
): string {
  const pixels = imageSetDigest(set);
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

/**
 * Runs the frozen `features` engine (image → pooled vector) over every image
 * of `set`, in order.
 */
export async function extractFeatures(
  features: FrozenForward,
  set: ImageSet,
  opts: ExtractFeaturesOptions,
): Promise<FeatureSet> {
  const featureSize = features.outputSize;
  const out = new Float32Array(set.count * featureSize);
  for (let start = 0; start < set.count; start += opts.batchSize) {
    opts.signal?.throwIfAborted();
    const idx = Array.from(
      { length: Math.min(opts.batchSize, set.count - start) },
      (_, i) => start + i,
    );
    const { xs, ys } = makeBatch(set, idx, opts.preprocess);
    try {
      const y = await features.run(xs);
      out.set(await y.data() as Float32Array, start * featureSize);
      y.dispose();
    } finally {
      tf.dispose([xs, ys]);
    }
    opts.onProgress?.(start + idx.length, set.count);
  }
  return {
    features: out,
    featureSize,
    labels: set.labels,
    numClasses: set.classNames.length,
  };
}

/**
 * Bumped whenever the feature files' content or key changes meaning, so old
 * entries are never read as new ones.
 */
export const FEATURE_CACHE_VERSION = 2;

/** Options of {@link cachedFeatures}. */
export interface CachedFeaturesOptions extends ExtractFeaturesOptions {
  /** Folder of the feature cache (e.g. `<cacheDir>/features`). */
  dir: string;
  /**
   * What the base's output depends on besides the pixels and the engine
   * (weights hash, alpha, image size, interpolation…; see {@link featureCacheKey}).
   */
  identity: Record<string, unknown>;
  /** Told when a cached entry exists but fails verification (then recomputed). */
  warn?: (message: string) => void;
  /** Status lines (of merging shards). Default: none. */
  log?: (line: string) => void;
  /**
   * Sharded preparation (see `feature_shards.ts`): with `write`, `set` is
   * that shard's images and its entry is a shard entry; without, a miss of
   * the whole set's entry merges the shard entries found before computing.
   * Default: no shards.
   */
  shards?: FeatureShards;
}

/**
 * {@link extractFeatures}, reusing a cached result when one exists and
 * verifies (key and checksum in the file's header). The key covers the
 * identity, the engine (`features.id`: engine, version, backend), the
 * feature size, {@link FEATURE_CACHE_VERSION} and the images' pixels and
 * labels. New entries are written atomically, so an interrupted or
 * concurrent run never leaves or reads a truncated entry.
 */
export async function cachedFeatures(
  features: FrozenForward,
  set: ImageSet,
  opts: CachedFeaturesOptions,
): Promise<
  {
    set: FeatureSet;
    cached: boolean;
    path: string;
    shards?: ShardMergeRecord;
  }
> {
  const featureSize = features.outputSize;
  const identity = {
    ...opts.identity,
    engine: features.id,
    featureSize,
    version: FEATURE_CACHE_VERSION,
  };
  const key = featureCacheKey(identity, set);
  const write = opts.shards?.write;
  const path = join(
    opts.dir,
    write
      ? shardFileName(
        FEATURE_CACHE_VERSION,
        shardIdentity(identity),
        write,
        key,
      )
      : `v${FEATURE_CACHE_VERSION}-${key}.f32`,
  );
  const toSet = (bytes: Uint8Array): FeatureSet => ({
    features: new Float32Array(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    ),
    featureSize,
    labels: set.labels,
    numClasses: set.classNames.length,
  });
  const hit = await readCacheFile(path, key);
  if (hit.ok && hit.data.byteLength === set.count * featureSize * 4) {
    return { set: toSet(hit.data), cached: true, path };
  }
  if (!hit.ok && !hit.missing) {
    opts.warn?.(`feature cache entry rejected (${hit.reason}); recomputing`);
  }
  if (opts.shards && !write) {
    const merged = await mergeShards(set, {
      dir: opts.dir,
      version: FEATURE_CACHE_VERSION,
      identity: shardIdentity(identity),
      featureSize,
      shards: opts.shards,
      keyOf: (subset) => featureCacheKey(identity, subset),
      extract: async (subset) =>
        (await extractFeatures(features, subset, opts)).features,
      log: opts.log ?? (() => {}),
      warn: opts.warn ?? (() => {}),
    });
    if (merged) {
      const { features: out, record } = merged;
      await writeCacheFile(
        path,
        key,
        new Uint8Array(out.buffer, out.byteOffset, out.byteLength),
      );
      return {
        set: {
          features: out,
          featureSize,
          labels: set.labels,
          numClasses: set.classNames.length,
        },
        cached: record.computed.length === 0,
        path,
        shards: record,
      };
    }
  }
  const result = await extractFeatures(features, set, opts);
  await writeCacheFile(
    path,
    key,
    new Uint8Array(
      result.features.buffer,
      result.features.byteOffset,
      result.features.byteLength,
    ),
  );
  return { set: result, cached: false, path };
}
