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
 *   per tensor with ranges calibrated by **min-max** over the given
 *   (training) images — the range of each tensor over every calibration
 *   image, widened to include 0. Quantized: the data input and every Conv
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
  /** "minmax": each tensor's range over every calibration image. */
  method: "minmax";
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
  opts: ExportOnnxOptions & { ort?: OnnxRuntime; threads?: number } = {},
): Promise<OnnxInt8Export> {
  const float = frozenGraphToOnnxModel(extractFrozenGraph(model, opts), opts);
  const plan = qdqPlan(float);
  const engine = await createOnnxEngine(
    encodeOnnxModel(withOutputs(float, plan.tensors)),
    { ort: opts.ort, threads: opts.threads },
  );
  const ranges = new Map<string, { min: number; max: number }>();
  let images = 0;
  try {
    for await (const batch of batches) {
      images += batch.shape[0];
      for (const out of await engine.run(batch.data, batch.shape)) {
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
  } finally {
    await engine.dispose();
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
  return {
    bytes: encodeOnnxModel(toQdq(float, plan, ranges)),
    calibration: { method: "minmax", images, tensors: plan.tensors.length },
    ranges,
  };
}
