/**
 * The exact cache of the frozen prefix when fine-tuning. With no
 * augmentation, base layers `0..fromLayer-1` never change (frozen, with
 * BatchNormalization in inference mode), so the tensors that cross from them
 * into the trainable part are a pure function of the image: at `fromLayer`
 * 100 of MobileNetV2 they are `block_10_project_BN` (the residual skip) and
 * `block_11_expand_BN`. They are computed once per image by the frozen
 * engine (ONNX Runtime or TF.js), stored on disk, and read back batch by
 * batch; the fine-tuning stage trains the suffix — layers `fromLayer..`, the
 * pooling and the head, sharing their weights with the classifier — as its
 * own model on them.
 *
 * On disk, per split: `<key>.f32` holds one row per image (every crossing
 * tensor of the image, flattened and concatenated, float32), and
 * `<key>.json` its key, row layout and SHA-256; the JSON is written last, so
 * an entry without it is unfinished. A reader verifies the key, the size and
 * the checksum (streamed) before using an entry.
 *
 * @module
 */

import { join } from "node:path";
import * as tf from "../deps/tf.ts";
import type { Classifier } from "../model/classifier.ts";
import { crossingTensors } from "../engine/frozen_graph_cut.ts";
import { makeBatch, type Preprocess } from "../data/batches.ts";
import { batchCount, epochOrder } from "../data/batches.ts";
import type { ImageSet } from "../data/image_set.ts";
import type { BatchSource, XYBatch } from "./fit.ts";
import type { FrozenForward } from "../engine/frozen_engine.ts";
import { featureCacheKey } from "./features.ts";
import { encodeLabels, type LabelEncoding } from "./head_output.ts";
import { createSha256 } from "../util/hash.ts";
import {
  removeQuietly,
  statOrNull,
  writeAll,
  writeFileAtomic,
} from "../util/fs.ts";

/** Bumped whenever the prefix files' layout or key changes meaning. */
export const PREFIX_CACHE_VERSION = 1;

/** The tensors crossing a cut of the base, and their per-image shapes. */
export interface PrefixCut {
  /** First trainable base layer. */
  from: number;
  /** The crossing tensors' layer names, in order. */
  names: string[];
  /** The crossing tensors in the base's graph. */
  tensors: tf.SymbolicTensor[];
  /** Per-image shape of each (batch dimension left out). */
  shapes: number[][];
  /** Floats per image, all crossing tensors together. */
  rowFloats: number;
}

/** The crossing tensors of `base` before layer `from`. */
export function prefixCut(base: tf.LayersModel, from: number): PrefixCut {
  const cut = crossingTensors(base, from);
  const shapes = cut.tensors.map((t) => t.shape.slice(1) as number[]);
  return {
    from,
    names: cut.names,
    tensors: cut.tensors,
    shapes,
    rowFloats: shapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0),
  };
}

/** The frozen prefix as a TF.js model: image → the crossing tensors. */
export function prefixModel(base: tf.LayersModel, cut: PrefixCut) {
  return tf.model({ inputs: base.inputs, outputs: cut.tensors });
}

/**
 * The trainable suffix as its own model: the crossing tensors → what the
 * head trains on (class probabilities, or the logit head's logit), through
 * base layers `cut.from..`, the pooling and the head (`clf.fitHead`).
 * Every layer is the classifier's own (shared weights): training the suffix
 * trains the classifier.
 */
export function suffixModel(
  clf: Pick<Classifier, "base" | "features" | "fitHead">,
  cut: PrefixCut,
): tf.LayersModel {
  const base = clf.base;
  const inputs = cut.shapes.map((shape, i) =>
    tf.input({ shape, name: `prefix_${cut.names[i]}` })
  );
  const mapped = new Map<number, tf.SymbolicTensor>(
    cut.tensors.map((t, i) => [t.id, inputs[i]]),
  );
  for (const layer of base.layers.slice(cut.from)) {
    // Node 0: the layer's call inside the base's own graph.
    const node = layer.inboundNodes[0];
    const args = node.inputTensors.map((t) => {
      const m = mapped.get(t.id);
      if (!m) {
        throw new Error(
          `suffix of "${base.name}" from layer ${cut.from}: layer "${layer.name}" reads "${t.name}", which is neither a crossing tensor nor computed after the cut`,
        );
      }
      return m;
    });
    const out = layer.apply(args.length === 1 ? args[0] : args);
    const outs = Array.isArray(out) ? out : [out];
    node.outputTensors.forEach((t, i) =>
      mapped.set(t.id, outs[i] as tf.SymbolicTensor)
    );
  }
  const baseOut = mapped.get(base.outputs[0].id)!;
  const pool = clf.features.layers.find((l) =>
    l.getClassName() === "GlobalAveragePooling2D"
  );
  if (!pool) throw new Error("classifier has no GlobalAveragePooling2D layer");
  const pooled = pool.apply(baseOut) as tf.SymbolicTensor;
  const out = clf.fitHead.apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs, outputs: out, name: "fine_tune_suffix" });
}

/** A split's prefix rows on disk, ready to be read batch by batch. */
export interface PrefixStore {
  /** The data file. */
  path: string;
  /** Images (rows). */
  count: number;
  /** Floats per row. */
  rowFloats: number;
  /** Per-image shapes of the crossing tensors, in row order. */
  shapes: number[][];
  /** True when the entry came from the cache. */
  cached: boolean;
}

/** Options of {@link cachedPrefix}. */
export interface CachedPrefixOptions {
  /** Folder of the prefix cache (e.g. `<cacheDir>/prefix`). */
  dir: string;
  /** What the prefix depends on besides the pixels (weights hash, alpha, …). */
  identity: Record<string, unknown>;
  /** Images per forward pass. */
  batchSize: number;
  /** The model's input preprocessing. */
  preprocess: Preprocess;
  /** After each batch: images done so far. */
  onProgress?: (done: number, total: number) => void;
  /** Told when an entry exists but fails verification (then recomputed). */
  warn?: (message: string) => void;
  /** Stops between batches. */
  signal?: AbortSignal;
}

interface PrefixMeta {
  key: string;
  count: number;
  rowFloats: number;
  shapes: number[][];
  sha256: string;
}

/**
 * The prefix rows of `set` through the frozen `prefix` engine (outputs: the
 * cut's crossing tensors), from the cache when a verified entry exists,
 * else computed and stored.
 */
export async function cachedPrefix(
  prefix: FrozenForward,
  cut: PrefixCut,
  set: ImageSet,
  opts: CachedPrefixOptions,
): Promise<PrefixStore> {
  const key = featureCacheKey({
    ...opts.identity,
    engine: prefix.id,
    cut: { from: cut.from, names: cut.names, shapes: cut.shapes },
    version: PREFIX_CACHE_VERSION,
  }, set);
  const path = join(opts.dir, `${key}.f32`);
  const metaPath = join(opts.dir, `${key}.json`);
  const store = (cached: boolean): PrefixStore => ({
    path,
    count: set.count,
    rowFloats: cut.rowFloats,
    shapes: cut.shapes,
    cached,
  });
  const problem = await verify(path, metaPath, key, set.count, cut.rowFloats);
  if (problem === null) return store(true);
  if (problem !== "missing") {
    opts.warn?.(`prefix cache entry rejected (${problem}); recomputing`);
  }
  await Deno.mkdir(opts.dir, { recursive: true });
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const hash = createSha256();
  try {
    using file = await Deno.open(tmp, { write: true, createNew: true });
    for (let start = 0; start < set.count; start += opts.batchSize) {
      opts.signal?.throwIfAborted();
      const idx = Array.from(
        { length: Math.min(opts.batchSize, set.count - start) },
        (_, i) => start + i,
      );
      const { xs, ys } = makeBatch(set, idx, opts.preprocess);
      let outs: Float32Array[];
      try {
        outs = await prefix.runAll(xs);
      } finally {
        tf.dispose([xs, ys]);
      }
      const rows = interleave(outs, idx.length, cut);
      const bytes = new Uint8Array(
        rows.buffer,
        rows.byteOffset,
        rows.byteLength,
      );
      hash.update(bytes);
      await writeAll(file, bytes);
      opts.onProgress?.(start + idx.length, set.count);
    }
    await file.syncData();
  } catch (err) {
    await removeQuietly(tmp);
    throw err;
  }
  await Deno.rename(tmp, path);
  const meta: PrefixMeta = {
    key,
    count: set.count,
    rowFloats: cut.rowFloats,
    shapes: cut.shapes,
    sha256: hash.hex(),
  };
  await writeFileAtomic(metaPath, JSON.stringify(meta) + "\n");
  return store(false);
}

/** Null when the entry verifies, "missing", or what is wrong with it. */
async function verify(
  path: string,
  metaPath: string,
  key: string,
  count: number,
  rowFloats: number,
): Promise<string | null> {
  let meta: PrefixMeta;
  try {
    meta = JSON.parse(await Deno.readTextFile(metaPath));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "missing";
    return `${metaPath}: unreadable`;
  }
  if (meta.key !== key) return `${metaPath}: holds key ${meta.key}`;
  const info = await statOrNull(path);
  if (!info) return `${path}: missing`;
  if (info.size !== count * rowFloats * 4 || meta.count !== count) {
    return `${path}: ${info.size} bytes, expected ${count * rowFloats * 4}`;
  }
  const hash = createSha256();
  using file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(1 << 22);
  while (true) {
    const n = await file.read(buf);
    if (n === null) break;
    hash.update(buf.subarray(0, n));
  }
  return hash.hex() === meta.sha256 ? null : `${path}: checksum mismatch`;
}

/** Per-output batch arrays → one row per image (outputs concatenated). */
function interleave(
  outs: Float32Array[],
  n: number,
  cut: PrefixCut,
): Float32Array {
  const sizes = cut.shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const rows = new Float32Array(n * cut.rowFloats);
  for (let i = 0; i < n; i++) {
    let off = i * cut.rowFloats;
    outs.forEach((o, k) => {
      rows.set(o.subarray(i * sizes[k], (i + 1) * sizes[k]), off);
      off += sizes[k];
    });
  }
  return rows;
}

/**
 * Batches of prefix rows read from disk in the same per-epoch order as an
 * image source of the set, as `xs` = one tensor per crossing tensor and
 * `ys` in `opts.labels`' encoding (one-hot by default). Only one batch is in memory at a time.
 */
export function prefixSource(
  store: PrefixStore,
  labels: Int32Array,
  numClasses: number,
  opts: {
    batchSize: number;
    shuffle: boolean;
    seed: number;
    labels?: LabelEncoding;
  },
): BatchSource {
  const sizes = store.shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const rowBytes = store.rowFloats * 4;
  return {
    count: store.count,
    numBatches: batchCount(store.count, opts.batchSize),
    async *batches(epoch: number): AsyncGenerator<XYBatch> {
      const order = epochOrder(store.count, epoch, opts);
      using file = await Deno.open(store.path, { read: true });
      for (let start = 0; start < store.count; start += opts.batchSize) {
        const idx = order.slice(start, start + opts.batchSize);
        const n = idx.length;
        const parts = sizes.map((size) => new Float32Array(n * size));
        const row = new Uint8Array(rowBytes);
        for (let b = 0; b < n; b++) {
          await file.seek(idx[b] * rowBytes, Deno.SeekMode.Start);
          await readFull(file, row);
          const floats = new Float32Array(row.buffer);
          let off = 0;
          sizes.forEach((size, k) => {
            parts[k].set(floats.subarray(off, off + size), b * size);
            off += size;
          });
        }
        yield {
          xs: parts.map((p, k) => tf.tensor(p, [n, ...store.shapes[k]])),
          ys: encodeLabels(
            idx.map((i) => labels[i]),
            numClasses,
            opts.labels,
          ),
        };
      }
    },
  };
}

async function readFull(file: Deno.FsFile, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const n = await file.read(buf.subarray(off));
    if (n === null) throw new Error("prefix cache file ended early");
    off += n;
  }
}

/**
 * The frozen prefix run per batch (when its input changes every epoch, as
 * under augmentation): each batch's images go through the frozen `prefix`
 * engine outside any gradient tape, and the crossing tensors come out as
 * `xs`, so only the suffix is on the tape — training memory stays that of
 * the trainable layers (the whole model on the tape needs ~140 MB per image
 * on WASM at 160 px, past its 4 GB heap at batch 32).
 */
export function onTheFlyPrefix(
  images: BatchSource,
  prefix: FrozenForward,
  cut: PrefixCut,
): BatchSource {
  return {
    count: images.count,
    numBatches: images.numBatches,
    async *batches(epoch: number): AsyncGenerator<XYBatch> {
      for await (const { xs, ys } of images.batches(epoch)) {
        let outs: Float32Array[];
        const n = (xs as tf.Tensor).shape[0];
        try {
          outs = await prefix.runAll(xs as tf.Tensor4D);
        } catch (err) {
          tf.dispose(ys);
          throw err;
        } finally {
          tf.dispose(xs);
        }
        yield {
          xs: outs.map((o, k) => tf.tensor(o, [n, ...cut.shapes[k]])),
          ys,
        };
      }
    },
  };
}
