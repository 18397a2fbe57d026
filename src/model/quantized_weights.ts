/**
 * Quantized copies of a saved TF.js layers model (`output.quantize`), in
 * the weight-manifest format tfjs-converter writes with `--quantize_float16`,
 * `--quantize_uint8` and `--quantize_uint16`, so that stock
 * `tf.loadLayersModel` dequantizes them while loading:
 *
 * - `"uint8"` / `"uint16"`: per-tensor affine. `scale = (max − min) / qmax`
 *   over the tensor's values (computed in float64); when 0 lies in
 *   `[min, max]` the range is nudged so that 0 is exactly representable
 *   (`zero = round(−min / scale)`, `min = −zero · scale`); values are
 *   clipped to the nudged range and stored as `round((x − min) / scale)`,
 *   rounding half to even (NumPy's `np.round`). A constant tensor is stored
 *   as zeros with `scale` 1 and `min` its value. TF.js reads back
 *   `q · scale + min` (into a Float32Array), so the error of each value is
 *   at most `scale / 2` (plus float32 rounding). The manifest entry says
 *   `quantization: { dtype, min, scale, original_dtype: "float32" }`.
 * - `"float16"`: IEEE half precision, rounded to nearest even
 *   (`Float16Array`, as NumPy's `astype(float16)`); relative error ≤ 2⁻¹¹
 *   for normal values. `quantization: { dtype: "float16", original_dtype }`.
 *
 * Only float32 weights are quantized (the others are copied), every weight
 * of the model is (as tfjs-converter's `'*'`), and the weights of one group
 * are concatenated without padding and split into 4 MiB shards named
 * `group1-shard<i>of<n>.bin`, tfjs-converter's default shard size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { affineQuantize } from "./quantized_weights.ts";
 * const { data, min, scale } = affineQuantize(new Float32Array([-1, 0, 0.5, 2]), "uint8");
 * assert.equal(data[1] * scale + min, 0); // 0 stays exactly 0
 * assert.ok(Math.abs(data[2] * scale + min - 0.5) <= scale / 2);
 * ```
 *
 * @module
 */

import { join } from "node:path";
import type * as tf from "../deps/tf.ts";
import { writeFileAtomic } from "../util/fs.ts";

/** A weight quantization of `output.quantize`. */
export type WeightQuantization = "float16" | "uint8" | "uint16";

/** tfjs-converter's default shard size: 4 MiB. */
export const WEIGHT_SHARD_BYTES = 4 * 1024 * 1024;

/** The result of {@link affineQuantize}. */
export interface AffineQuantized {
  /** The stored integers. */
  data: Uint8Array | Uint16Array;
  /** Value of the integer 0 (the nudged minimum). */
  min: number;
  /** Value of one integer step. */
  scale: number;
}

/** Rounds half to even, as NumPy's `np.round` and ONNX's QuantizeLinear. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // half up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** tfjs-converter's affine quantization of one tensor; see the module doc. */
export function affineQuantize(
  values: Float32Array,
  dtype: "uint8" | "uint16",
): AffineQuantized {
  const qmax = dtype === "uint8" ? 255 : 65535;
  const data = dtype === "uint8"
    ? new Uint8Array(values.length)
    : new Uint16Array(values.length);
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) {
      throw new RangeError(`cannot quantize non-finite weights to ${dtype}`);
    }
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (values.length === 0) return { data, min: 0, scale: 1 };
  if (lo === hi) return { data, min: lo, scale: 1 };
  const scale = (hi - lo) / qmax;
  let min = lo, max = hi;
  if (lo <= 0 && 0 <= hi) {
    const zero = roundHalfEven(-lo / scale);
    min = -zero * scale;
    max = qmax * scale + min;
  }
  for (let i = 0; i < values.length; i++) {
    const x = Math.min(Math.max(values[i], min), max);
    data[i] = roundHalfEven((x - min) / scale);
  }
  return { data, min, scale };
}

/** `quantization` of a weight-manifest entry, as tfjs-converter writes it. */
export type ManifestQuantization =
  | {
    dtype: "uint8" | "uint16";
    min: number;
    scale: number;
    original_dtype: "float32";
  }
  | { dtype: "float16"; original_dtype: "float32" };

/** What {@link quantizeWeightData} returns. */
export interface QuantizedWeightData {
  /** The manifest entries, with `quantization` on each quantized weight. */
  specs: tf.io.WeightsManifestEntry[];
  /** The weights' bytes, concatenated in `specs` order. */
  data: Uint8Array;
}

const BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
};

/**
 * Quantizes the float32 weights of `specs` (read from `data`, TF.js'
 * concatenated weight buffer) to `dtype`; other weights are copied.
 */
export function quantizeWeightData(
  specs: readonly tf.io.WeightsManifestEntry[],
  data: Uint8Array,
  dtype: WeightQuantization,
): QuantizedWeightData {
  const parts: Uint8Array[] = [];
  const out: tf.io.WeightsManifestEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.quantization) {
      throw new Error(`weight ${spec.name} is already quantized`);
    }
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = size * (BYTES[spec.dtype] ?? NaN);
    if (!Number.isFinite(bytes) || offset + bytes > data.length) {
      throw new Error(
        `weight ${spec.name} (${spec.dtype} [${spec.shape}]) does not fit the weight data (${data.length} bytes)`,
      );
    }
    const raw = data.slice(offset, offset + bytes);
    offset += bytes;
    if (spec.dtype !== "float32") {
      parts.push(raw);
      out.push({ ...spec });
      continue;
    }
    const values = new Float32Array(raw.buffer, 0, size);
    if (dtype === "float16") {
      const half = new Float16Array(values);
      parts.push(new Uint8Array(half.buffer));
      out.push({
        ...spec,
        quantization: { dtype: "float16", original_dtype: "float32" },
      } as tf.io.WeightsManifestEntry);
    } else {
      const q = affineQuantize(values, dtype);
      parts.push(new Uint8Array(q.data.buffer));
      out.push({
        ...spec,
        quantization: {
          dtype,
          min: q.min,
          scale: q.scale,
          original_dtype: "float32",
        },
      } as tf.io.WeightsManifestEntry);
    }
  }
  if (offset !== data.length) {
    throw new Error(
      `weight data has ${data.length} bytes, the manifest describes ${offset}`,
    );
  }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  return { specs: out, data: joined };
}

/** Splits `data` into shards of `shardBytes` (the last one shorter), named as tfjs-converter does. */
export function shardWeights(
  data: Uint8Array,
  shardBytes: number = WEIGHT_SHARD_BYTES,
): { name: string; bytes: Uint8Array }[] {
  if (!(Number.isInteger(shardBytes) && shardBytes > 0)) {
    throw new RangeError(
      `shard size must be a positive integer, got ${shardBytes}`,
    );
  }
  const n = Math.max(1, Math.ceil(data.length / shardBytes));
  return Array.from({ length: n }, (_, i) => ({
    name: `group1-shard${i + 1}of${n}.bin`,
    bytes: data.subarray(i * shardBytes, (i + 1) * shardBytes),
  }));
}

/** A quantized model folder written by {@link saveQuantizedModel}. */
export interface QuantizedModelFiles {
  /** The quantization. */
  dtype: WeightQuantization;
  /** The folder (`model.json`, shards, `labels.json`, `preprocessing.json`). */
  dir: string;
  /** Bytes of the weight shards together. */
  weightBytes: number;
  /** Bytes of `model.json`. */
  modelJsonBytes: number;
  /** The shard file names, in order. */
  shards: string[];
}

/**
 * Writes `dtype`'s quantized copy of the model saved in `modelDir`
 * (`model.json` + its weight files, as `saveModel` writes them) into
 * `outDir`: `model.json` with the quantized manifest, the 4 MiB shards,
 * and copies of `labels.json` and `preprocessing.json`, so that the folder
 * is a model folder of its own (`predict --model`, `tf.loadLayersModel`).
 */
export async function saveQuantizedModel(
  modelDir: string,
  dtype: WeightQuantization,
  outDir: string,
  opts: { shardBytes?: number } = {},
): Promise<QuantizedModelFiles> {
  const jsonPath = join(modelDir, "model.json");
  const json = JSON.parse(await Deno.readTextFile(jsonPath));
  const manifest = json.weightsManifest as tf.io.WeightsManifestConfig;
  if (!Array.isArray(manifest)) {
    throw new Error(`${jsonPath}: no weightsManifest`);
  }
  const buffers: Uint8Array[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  for (const group of manifest) {
    for (const p of group.paths) {
      buffers.push(await Deno.readFile(join(modelDir, p)));
    }
    specs.push(...group.weights);
  }
  const all = new Uint8Array(buffers.reduce((a, b) => a + b.length, 0));
  let at = 0;
  for (const b of buffers) {
    all.set(b, at);
    at += b.length;
  }
  const q = quantizeWeightData(specs, all, dtype);
  const shards = shardWeights(q.data, opts.shardBytes);
  await Deno.mkdir(outDir, { recursive: true });
  for (const s of shards) await writeFileAtomic(join(outDir, s.name), s.bytes);
  const text = JSON.stringify({
    ...json,
    weightsManifest: [{ paths: shards.map((s) => s.name), weights: q.specs }],
  });
  await writeFileAtomic(join(outDir, "model.json"), text);
  for (const name of ["labels.json", "preprocessing.json"]) {
    await writeFileAtomic(
      join(outDir, name),
      await Deno.readFile(join(modelDir, name)),
    );
  }
  return {
    dtype,
    dir: outDir,
    weightBytes: q.data.length,
    modelJsonBytes: new TextEncoder().encode(text).length,
    shards: shards.map((s) => s.name),
  };
}
