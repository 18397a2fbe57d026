/**
 * Sharded feature caches (`prepare --shard I/N`): each process extracts the
 * pooled features of its shard's images only and writes them as one cache
 * entry of the shared cache folder; a run that misses the whole set's entry
 * merges the shards it finds into it.
 *
 * A shard entry is named `v<version>-shard-<identity>-<I>of<N>-<key>.f32`:
 * `<identity>` hashes everything the features depend on besides the images
 * (weights, engine, size, preprocessing, view), so a run finds the shards
 * made for it by listing one folder; `<key>` is the ordinary feature key of
 * the shard's images (their pixels and labels, in set order), so a shard
 * made from other images (a changed file, another CSV) never matches. Shard
 * entries are plain verified cache files, written atomically like every
 * entry, so concurrent writers are safe.
 *
 * The merge holds the set's features once (the array training reads) plus
 * one shard entry at a time: each shard's rows are scattered into place, a
 * shard that is missing or fails verification is computed here (one line
 * names them), and the whole set's entry is then written as a single
 * process would have written it, byte for byte.
 *
 * @module
 */

import { join } from "node:path";
import { sha256Hex } from "../util/hash.ts";
import { readCacheFile } from "../cache/cache_file.ts";
import { listDir } from "../cache/_layout.ts";
import type { ImageSet } from "../data/image_set.ts";
import { shardOfKey } from "../data/_shard.ts";

/** Sharding of one feature extraction. */
export interface FeatureShards {
  /** The shard key of an image file (`shardKeyOfFile` against the dataset root). */
  fileKey: (path: string) => string;
  /** This process' shard (`prepare --shard`; 0-based index, count), or null: merge what is found. */
  write: { index: number; count: number } | null;
  /** What the set is, for log lines ("train", "validation (flip h)"). */
  label: string;
}

/** What a merge did, for `summary.json`. */
export interface ShardMergeRecord {
  /** The shard count N of the shards merged. */
  count: number;
  /** Shards read from the cache (0-based; empty shards included). */
  merged: number[];
  /** Shards computed here (missing or rejected). */
  computed: number[];
}

const SHARD_FILE =
  /^v(\d+)-shard-([0-9a-f]{16})-(\d+)of(\d+)-([0-9a-f]+)\.f32$/;

/** The hash of a feature identity that names its shard entries. */
export function shardIdentity(identity: Record<string, unknown>): string {
  return sha256Hex(JSON.stringify(identity)).slice(0, 16);
}

/** The file name of shard `shard` of the features under `identity`, holding key `key`. */
export function shardFileName(
  version: number,
  identity: string,
  shard: { index: number; count: number },
  key: string,
): string {
  return `v${version}-shard-${identity}-${shard.index}of${shard.count}-${key}.f32`;
}

/**
 * The images `indices` of `set`, in that order, as a set of their own
 * (pixels read through `set`; nothing copied).
 */
export function subsetOf(set: ImageSet, indices: readonly number[]): ImageSet {
  const map = (i: number) => {
    if (!(Number.isInteger(i) && i >= 0 && i < indices.length)) {
      throw new RangeError(
        `image index ${i} out of range 0..${indices.length - 1}`,
      );
    }
    return indices[i];
  };
  return {
    classNames: set.classNames,
    height: set.height,
    width: set.width,
    count: indices.length,
    labels: Int32Array.from(indices, (i) => set.labels[i]),
    paths: indices.map((i) => set.paths[i]),
    skipped: [],
    stats: { decoded: 0, cached: indices.length },
    storage: set.storage,
    readImage: (i, out, offset) => set.readImage(map(i), out, offset),
    pixelsOf: (i) => set.pixelsOf(map(i)),
    digestOf: (i) => set.digestOf(map(i)),
  };
}

/** Options of {@link mergeShards}. */
export interface MergeShardsOptions {
  /** The feature cache folder. */
  dir: string;
  /** `FEATURE_CACHE_VERSION`. */
  version: number;
  /** {@link shardIdentity} of the features' identity. */
  identity: string;
  /** Floats per image. */
  featureSize: number;
  /** How images map to shards, and the set's name. */
  shards: FeatureShards;
  /** The feature key of a set of images (`featureCacheKey` under the identity). */
  keyOf: (set: ImageSet) => string;
  /** Extracts the features of a set (for missing shards). */
  extract: (set: ImageSet) => Promise<Float32Array>;
  /** Status lines. */
  log: (line: string) => void;
  /** Told when a shard entry fails verification. */
  warn: (message: string) => void;
}

/**
 * The features of `set` merged from the shard entries in the cache, with
 * missing shards computed here; null when the cache holds no shard of
 * these images (then nothing was computed).
 */
export async function mergeShards(
  set: ImageSet,
  opts: MergeShardsOptions,
): Promise<{ features: Float32Array; record: ShardMergeRecord } | null> {
  const { dir, shards, featureSize: f } = opts;
  // shard count → shard index → keys found
  const found = new Map<number, Map<number, Set<string>>>();
  let files = 0;
  for (const e of await listDir(dir)) {
    const m = SHARD_FILE.exec(e.name);
    if (!e.isFile || !m || Number(m[1]) !== opts.version) continue;
    if (m[2] !== opts.identity) continue;
    files++;
    const n = Number(m[4]), i = Number(m[3]);
    const byIndex = found.get(n) ?? new Map<number, Set<string>>();
    found.set(n, byIndex);
    const keys = byIndex.get(i) ?? new Set<string>();
    byIndex.set(i, keys);
    keys.add(m[5]);
  }
  if (files === 0) return null;
  // The shard count whose entries cover the most of these images.
  let best: {
    n: number;
    groups: number[][];
    keys: string[];
    present: boolean[];
  } | null = null;
  let bestScore = 0;
  for (const n of [...found.keys()].sort((a, b) => b - a)) {
    const groups: number[][] = Array.from({ length: n }, () => []);
    for (let i = 0; i < set.count; i++) {
      groups[shardOfKey(shards.fileKey(set.paths[i]), n)].push(i);
    }
    const keys = groups.map((g) =>
      g.length ? opts.keyOf(subsetOf(set, g)) : ""
    );
    const present = groups.map((g, s) =>
      g.length === 0 || (found.get(n)!.get(s)?.has(keys[s]) ?? false)
    );
    const score = groups.reduce(
      (a, g, s) => a + (present[s] && g.length ? g.length : 0),
      0,
    );
    if (score > bestScore) {
      best = { n, groups, keys, present };
      bestScore = score;
    }
  }
  if (best === null) {
    opts.log(
      `features: ${shards.label}: the ${files} shard entr${
        files === 1 ? "y" : "ies"
      } in ${dir} for this model are of other images; computing all ${set.count} here`,
    );
    return null;
  }
  const { n, groups, keys, present } = best;
  const out = new Float32Array(set.count * f);
  const outBytes = new Uint8Array(out.buffer);
  const row = f * 4;
  const scatter = (group: number[], bytes: Uint8Array) =>
    group.forEach((idx, r) =>
      outBytes.set(bytes.subarray(r * row, (r + 1) * row), idx * row)
    );
  const merged: number[] = [];
  const missing: number[] = [];
  for (let s = 0; s < n; s++) {
    const group = groups[s];
    if (group.length === 0) {
      merged.push(s);
      continue;
    }
    if (present[s]) {
      const path = join(
        dir,
        shardFileName(
          opts.version,
          opts.identity,
          { index: s, count: n },
          keys[s],
        ),
      );
      const hit = await readCacheFile(path, keys[s]);
      if (hit.ok && hit.data.byteLength === group.length * row) {
        scatter(group, hit.data);
        merged.push(s);
        continue;
      }
      opts.warn(
        `feature shard ${s}/${n} rejected (${
          hit.ok
            ? `${hit.data.byteLength} bytes, expected ${group.length * row}`
            : hit.missing
            ? "gone"
            : hit.reason
        }); computing it here`,
      );
    }
    missing.push(s);
  }
  if (missing.length > 0) {
    const images = missing.reduce((a, s) => a + groups[s].length, 0);
    opts.log(
      `features: ${shards.label}: shard${missing.length > 1 ? "s" : ""} ${
        missing.map((s) => `${s}/${n}`).join(", ")
      } not in the cache (not prepared, or prepared from other images); computing ${
        missing.length > 1 ? "their" : "its"
      } ${images} image${images === 1 ? "" : "s"} here`,
    );
    for (const s of missing) {
      const feats = await opts.extract(subsetOf(set, groups[s]));
      scatter(
        groups[s],
        new Uint8Array(feats.buffer, feats.byteOffset, feats.byteLength),
      );
    }
  }
  opts.log(
    `features: ${shards.label}: merged ${merged.length} of ${n} shards from ${dir}`,
  );
  return { features: out, record: { count: n, merged, computed: missing } };
}
