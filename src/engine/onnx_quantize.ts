/**
 * Smaller and faster ONNX twins of a classifier (`output.onnxQuantize`):
 *
 * - **fp16** ({@link exportOnnxFloat16}): every weight and every op in
 *   float16, with float32 input and output (a Cast after the input and one
 *   before the output), half the size of `model.onnx`. ONNX Runtime's CPU
 *   build runs the Convs in float16 (Casts inserted around the few ops
 *   without a float16 kernel, ReLU6 not fused); without native float16
 *   arithmetic that is a size win, not a speed win.
 * - **int8** ({@link exportOnnxInt8}): static quantization in QDQ form
 *   (QuantizeLinear → DequantizeLinear pairs, ONNX Runtime's recommended
 *   format for CNNs): Conv weights symmetric per output channel (int8,
 *   zero point 0, [−127, 127]), biases int32, activations asymmetric uint8
 *   per tensor with ranges calibrated over the given (training) images by
 *   **min-max** (default: the range of each tensor over every calibration
 *   image) or **percentile** (its central 99.999 %), widened to include 0. Quantized: the data input and every Conv
 *   output (with its ReLU / ReLU6 folded in) and every residual Add; the
 *   pooling, the Dense head and the softmax stay float32. ONNX Runtime fuses
 *   the groups into QLinearConv / QLinearAdd.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mobileNetV2 } from "../model/mobilenet_v2.ts";
 * import { exportOnnx } from "./onnx_export.ts";
 * import { exportOnnxFloat16 } from "./onnx_quantize.ts";
 * const base = mobileNetV2({ inputShape: [32, 32, 3], alpha: 0.35, includeTop: false, pooling: "avg" });
 * const fp16 = exportOnnxFloat16(base);
 * assert.ok(fp16.length < 0.6 * exportOnnx(base).length);
 * base.dispose();
 * ```
 *
 * @module
 */

import type * as tf from "../deps/tf.ts";
import { extractFrozenGraph } from "./frozen_graph.ts";
import {
  type ExportOnnxOptions,
  frozenGraphToOnnxModel,
} from "./onnx_export.ts";
import { encodeOnnxModel } from "./_onnx_proto.ts";
import { qdqPlan, toFloat16, toQdq, withOutputs } from "./_onnx_quantize.ts";
import { createOnnxEngine, type OnnxRuntime } from "./onnx_runtime.ts";

/** `model` as ONNX with float16 weights and compute, float32 input and output. */
export function exportOnnxFloat16(
  model: tf.LayersModel,
  opts: ExportOnnxOptions = {},
): Uint8Array {
  return encodeOnnxModel(
    toFloat16(frozenGraphToOnnxModel(extractFrozenGraph(model, opts), opts)),
  );
}

/** One calibration batch: preprocessed NHWC float32 images. */
export interface CalibrationBatch {
  /** Row-major values. */
  data: Float32Array;
  /** `[n, height, width, 3]`. */
  shape: [number, number, number, number];
}

/** How the int8 model's activation ranges were calibrated. */
export interface Int8Calibration {
  /**
   * "minmax": each tensor's range over every calibration image;
   * "percentile": the range holding the central {@link PERCENTILE} % of its
   * values over every calibration image (a 2048-bin histogram over the
   * min-max range, edges taken outward), clipping rare outliers.
   */
  method: "minmax" | "percentile";
  /** The percentile, with "percentile". */
  percentile?: number;
  /** Calibration images. */
  images: number;
  /** Activation tensors quantized. */
  tensors: number;
}

/** What {@link exportOnnxInt8} returns. */
export interface OnnxInt8Export {
  /** The int8 QDQ model. */
  bytes: Uint8Array;
  /** How it was calibrated. */
  calibration: Int8Calibration;
  /** Calibrated range of every quantized tensor. */
  ranges: Map<string, { min: number; max: number }>;
}

/**
 * `model` as a static int8 QDQ ONNX model (see the module doc), its
 * activation ranges calibrated on `batches` with ONNX Runtime (the float
 * model with every planned tensor as an extra output).
 */
export async function exportOnnxInt8(
  model: tf.LayersModel,
  batches: AsyncIterable<CalibrationBatch> | Iterable<CalibrationBatch>,
  opts: ExportOnnxOptions & {
    ort?: OnnxRuntime;
    threads?: number;
    /** "minmax" (default) or "percentile" (see {@link Int8Calibration}). */
    calibration?: "minmax" | "percentile";
  } = {},
): Promise<OnnxInt8Export> {
  const method = opts.calibration ?? "minmax";
  const float = frozenGraphToOnnxModel(extractFrozenGraph(model, opts), opts);
  const plan = qdqPlan(float);
  const wanted = new Set(plan.tensors);
  const engine = await createOnnxEngine(
    encodeOnnxModel(withOutputs(float, plan.tensors)),
    { ort: opts.ort, threads: opts.threads },
  );
  const ranges = new Map<string, { min: number; max: number }>();
  const kept: CalibrationBatch[] = [];
  let images = 0;
  try {
    for await (const batch of batches) {
      images += batch.shape[0];
      if (method === "percentile") kept.push(batch);
      for (const out of await engine.run(batch.data, batch.shape)) {
        if (!wanted.has(out.name)) continue;
        let lo = Infinity, hi = -Infinity;
        for (const v of out.data) {
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        const r = ranges.get(out.name);
        ranges.set(out.name, {
          min: Math.min(lo, r?.min ?? Infinity),
          max: Math.max(hi, r?.max ?? -Infinity),
        });
      }
    }
    if (images === 0) {
      throw new Error("int8 calibration needs at least one image");
    }
    for (const t of plan.tensors) {
      const r = ranges.get(t);
      if (!r || !Number.isFinite(r.min) || !Number.isFinite(r.max)) {
        throw new Error(`int8 calibration: tensor "${t}" has no finite range`);
      }
    }
    if (method === "percentile") {
      // Second pass: histograms over each tensor's min-max range.
      const hists = new Map(
        plan.tensors.map((t) => [t, new Histogram(ranges.get(t)!)]),
      );
      for (const batch of kept) {
        for (const out of await engine.run(batch.data, batch.shape)) {
          hists.get(out.name)?.add(out.data);
        }
      }
      for (const [t, h] of hists) {
        ranges.set(t, h.range(PERCENTILE));
      }
    }
  } finally {
    await engine.dispose();
  }
  return {
    bytes: encodeOnnxModel(toQdq(float, plan, ranges)),
    calibration: {
      method,
      ...(method === "percentile" ? { percentile: PERCENTILE } : {}),
      images,
      tensors: plan.tensors.length,
    },
    ranges,
  };
}

/** The percentile of `"percentile"` calibration (ONNX Runtime's default). */
export const PERCENTILE = 99.999;

/** Bins of {@link Histogram}. */
const BINS = 2048;

/**
 * A histogram of a tensor's values over its calibrated min-max range, for
 * percentile calibration: {@link Histogram.range} is the smallest range,
 * at bin resolution, that holds all but `(100 − p) / 2` % of the values on
 * each side (never narrower than needed: bin edges outward).
 */
export class Histogram {
  /** Counts per bin. */
  readonly counts: Float64Array = new Float64Array(BINS);
  /** Values counted. */
  total = 0;
  readonly #min: number;
  readonly #width: number;

  /** A histogram over `[min, max]`. */
  constructor(readonly bounds: { min: number; max: number }) {
    this.#min = bounds.min;
    this.#width = (bounds.max - bounds.min) / BINS;
  }

  /** Counts `values`. */
  add(values: ArrayLike<number>): void {
    const { counts } = this;
    for (let i = 0; i < values.length; i++) {
      const b = this.#width > 0
        ? Math.floor((values[i] - this.#min) / this.#width)
        : 0;
      counts[Math.min(BINS - 1, Math.max(0, b))]++;
    }
    this.total += values.length;
  }

  /** The range holding the central `p` % of the values (bin edges outward). */
  range(p: number): { min: number; max: number } {
    if (this.#width === 0 || this.total === 0) return { ...this.bounds };
    const tail = this.total * (100 - p) / 200;
    let lo = 0, below = 0;
    while (lo < BINS - 1 && below + this.counts[lo] <= tail) {
      below += this.counts[lo++];
    }
    let hi = BINS - 1, above = 0;
    while (hi > lo && above + this.counts[hi] <= tail) {
      above += this.counts[hi--];
    }
    return {
      min: this.#min + lo * this.#width,
      max: Math.min(this.bounds.max, this.#min + (hi + 1) * this.#width),
    };
  }
}
