/**
 * A frozen-forward engine over an ONNX file as it is, rather than one
 * exported on the fly: how `deno task predict --engine onnxruntime-int8`
 * (or `onnxruntime-fp16`) runs a run's `model/model.int8.onnx`
 * (`model.fp16.onnx`) in ONNX Runtime.
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import { ONNXRUNTIME_SPECIFIER } from "../deps/onnx.ts";
import type { FrozenForward } from "./frozen_engine.ts";
import { createOnnxEngine } from "./onnx_runtime.ts";

/**
 * Runs the single-input ONNX model `bytes` (NHWC float32 in, like
 * `model.onnx`) as a {@link FrozenForward}; `outputShapes` are the
 * per-image shapes of its outputs (the Keras model's), `label` names the
 * file in the engine id (e.g. "int8").
 */
export async function onnxBytesForward(
  bytes: Uint8Array,
  outputShapes: number[][],
  label: string,
  opts: { threads?: number } = {},
): Promise<FrozenForward> {
  const engine = await createOnnxEngine(bytes, { threads: opts.threads });
  if (engine.outputNames.length !== outputShapes.length) {
    await engine.dispose();
    throw new Error(
      `ONNX model (${label}) has ${engine.outputNames.length} outputs, expected ${outputShapes.length}`,
    );
  }
  const first = outputShapes[0];
  return {
    engine: "onnxruntime",
    id: `${ONNXRUNTIME_SPECIFIER.replace(/^npm:/, "")}/${label}`,
    outputSize: first[first.length - 1],
    outputShapes,
    async run(xs) {
      const [out] = await engine.run(await xs.data() as Float32Array, xs.shape);
      return tf.tensor2d(out.data, [out.shape[0], out.shape[1]]);
    },
    async runAll(xs) {
      const input = await xs.data() as Float32Array;
      return (await engine.run(input, xs.shape)).map((o) => o.data);
    },
    dispose: () => engine.dispose(),
  };
}
