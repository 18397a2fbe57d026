/**
 * The frozen-forward engine: what runs the frozen part of the model (the
 * base + pooling) when features are extracted, when augmented batches pass
 * through the frozen base, and when a saved model predicts.
 *
 * - `"onnxruntime"`: the frozen graph exported to ONNX (`model/onnx_export.ts`)
 *   and run by ONNX Runtime's CPU build (`model/onnx_runtime.ts`), about
 *   13× TF.js' WASM backend on a 2-core machine (see the README's figures).
 *   Needs `--allow-ffi`.
 * - `"tfjs"`: TF.js on the current backend — what WebGPU runs on a real GPU —
 *   as fused ops built from the frozen graph (`model/fused_graph.ts`), or
 *   the plain layers model with `engine.fused: false`.
 * - `"auto"`: TF.js on a hardware WebGPU adapter, ONNX Runtime otherwise;
 *   when ONNX Runtime cannot load (no `--allow-ffi`, no binary for the
 *   platform), or the model has a layer the frozen graph cannot lower, it
 *   falls back to TF.js and says why in one line (`"onnxruntime"` fails
 *   instead, naming the layer).
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import { exportOnnx } from "./onnx_export.ts";
import {
  createOnnxEngine,
  type OnnxEngine,
  ORT_MAX_BATCH,
  tryLoadOnnxRuntime,
} from "./onnx_runtime.ts";
import { ONNXRUNTIME_SPECIFIER } from "../deps/onnx.ts";
import { FUSED_GRAPH_VERSION, fusedModelOf } from "./fused_graph.ts";

/** What `engine.frozen` may ask for. */
export type FrozenEngineRequest = "auto" | "onnxruntime" | "tfjs";

/** A frozen model ready to run batches; see the module doc. */
export interface FrozenForward {
  /** Which engine runs it. */
  readonly engine: "onnxruntime" | "tfjs";
  /**
   * Identifies the engine and its version for cache keys, e.g.
   * `onnxruntime-node@1.30.0` or `tfjs@4.22.0/wasm`.
   */
  readonly id: string;
  /** Length of one output row (the pooled feature size; first output). */
  readonly outputSize: number;
  /** Per-image shape of every output, batch dimension left out. */
  readonly outputShapes: number[][];
  /**
   * Runs a preprocessed NHWC batch; the caller keeps (and disposes) `xs` and
   * owns the returned `[n, outputSize]` tensor (the first output).
   */
  run(xs: tf.Tensor4D): Promise<tf.Tensor2D>;
  /** Runs a batch and returns every output's values, row-major, batch first. */
  runAll(xs: tf.Tensor4D): Promise<Float32Array[]>;
  /** Frees the engine's resources (the ONNX session). */
  dispose(): Promise<void>;
}

/** The chosen engine and why, for the run's log and summary. */
export interface FrozenEngineChoice {
  /** The engine. */
  forward: FrozenForward;
  /** Why this engine, in one line. */
  reason: string;
}

/** `model.predict` on the current TF.js backend. */
export function tfjsForward(model: tf.LayersModel): FrozenForward {
  return {
    engine: "tfjs",
    id: `tfjs@${tf.version_core}/${tf.getBackend()}`,
    outputSize: outputSizeOf(model),
    outputShapes: model.outputs.map((o) => o.shape.slice(1) as number[]),
    run: (xs) => Promise.resolve(first(model.predict(xs)) as tf.Tensor2D),
    async runAll(xs) {
      const out = model.predict(xs);
      const list = Array.isArray(out) ? out : [out];
      try {
        return await Promise.all(
          list.map(async (t) => await t.data() as Float32Array),
        );
      } finally {
        tf.dispose(list);
      }
    },
    dispose: () => Promise.resolve(),
  };
}

/**
 * The frozen graph run as fused TF.js ops (BatchNormalization folded into the
 * convolutions, bias + ReLU6 fused, padding folded) on the current backend:
 * fewer, fused kernels — fewer GPU dispatches on WebGPU, 2–3× the layers
 * model on WASM.
 */
export async function fusedForward(
  model: tf.LayersModel,
): Promise<FrozenForward> {
  const fused = await fusedModelOf(model); // reads weights async: WebGPU-safe
  return {
    engine: "tfjs",
    id: `tfjs-fused.${FUSED_GRAPH_VERSION}@${tf.version_core}/${fused.backend}`,
    outputSize: outputSizeOf(model),
    outputShapes: fused.outputShapes,
    run(xs) {
      const [head, ...rest] = fused.execute(xs);
      tf.dispose(rest);
      return Promise.resolve(head as tf.Tensor2D);
    },
    async runAll(xs) {
      const list = fused.execute(xs);
      try {
        return await Promise.all(
          list.map(async (t) => await t.data() as Float32Array),
        );
      } finally {
        tf.dispose(list);
      }
    },
    dispose() {
      fused.dispose();
      return Promise.resolve();
    },
  };
}

/**
 * `model` exported to ONNX and run by ONNX Runtime (throws when it cannot
 * load), in runs of at most {@link ORT_MAX_BATCH} images (the same values as
 * one run of the whole batch, faster at 224 px).
 */
export async function onnxForward(
  model: tf.LayersModel,
  opts: { threads?: number } = {},
): Promise<FrozenForward> {
  // On WebGPU, TF.js keeps no CPU copy of an uploaded weight and Deno cannot
  // read it back synchronously: read every weight asynchronously first.
  await Promise.all(model.weights.map((w) => w.read().data()));
  const engine: OnnxEngine = await createOnnxEngine(exportOnnx(model), {
    threads: opts.threads,
    maxBatch: ORT_MAX_BATCH,
  });
  return {
    engine: "onnxruntime",
    id: ONNXRUNTIME_SPECIFIER.replace(/^npm:/, ""),
    outputSize: outputSizeOf(model),
    outputShapes: model.outputs.map((o) => o.shape.slice(1) as number[]),
    async run(xs) {
      const input = await xs.data() as Float32Array;
      const [out] = await engine.run(input, xs.shape);
      return tf.tensor2d(out.data, [out.shape[0], out.shape[1]]);
    },
    async runAll(xs) {
      const input = await xs.data() as Float32Array;
      return (await engine.run(input, xs.shape)).map((o) => o.data);
    },
    dispose: () => engine.dispose(),
  };
}

function first(out: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (!Array.isArray(out)) return out;
  tf.dispose(out.slice(1));
  return out[0];
}

/**
 * Picks the frozen-forward engine for `request` on `backend` (the TF.js
 * backend the run selected, and whether it is a hardware GPU).
 */
export async function selectFrozenEngine(
  request: FrozenEngineRequest,
  backend: { backend: string; fallbackAdapter?: boolean },
  model: tf.LayersModel,
  opts: { fused?: boolean } = {},
): Promise<FrozenEngineChoice> {
  const tfjs = async (reason: string): Promise<FrozenEngineChoice> => {
    if (opts.fused === false) {
      return { forward: tfjsForward(model), reason: `${reason}, layers model` };
    }
    try {
      return { forward: await fusedForward(model), reason: `${reason}, fused` };
    } catch (err) {
      return {
        forward: tfjsForward(model),
        reason: `${reason}, layers model (fusing failed: ${
          (err as Error).message
        })`,
      };
    }
  };
  if (request === "tfjs") return await tfjs("engine.frozen is tfjs");
  const gpu = backend.backend === "webgpu" && !backend.fallbackAdapter;
  if (request === "auto" && gpu) {
    return await tfjs("auto: TF.js on a hardware WebGPU adapter");
  }
  const loaded = await tryLoadOnnxRuntime();
  if (!loaded.ok) {
    if (request === "onnxruntime") {
      throw new Error(
        `engine.frozen is "onnxruntime" but ONNX Runtime cannot load: ${loaded.reason}. ` +
          `Run with --allow-ffi (deno task train has it), or set engine.frozen to "auto" or "tfjs".`,
      );
    }
    return await tfjs(
      `auto: ONNX Runtime unavailable (${loaded.reason}); TF.js ${backend.backend} instead`,
    );
  }
  let forward: FrozenForward;
  try {
    forward = await onnxForward(model);
  } catch (err) {
    // A layer the frozen graph cannot lower: never run it half-lowered.
    const why = (err as Error).message;
    if (request === "onnxruntime") {
      throw new Error(
        `engine.frozen is "onnxruntime" but model "${model.name}" cannot run on it: ${why}. Set engine.frozen to "auto" or "tfjs".`,
      );
    }
    return await tfjs(
      `auto: model "${model.name}" cannot run on ONNX Runtime (${why}); TF.js ${backend.backend} instead`,
    );
  }
  return {
    forward,
    reason: request === "auto"
      ? `auto: no hardware GPU, ONNX Runtime (CPU) is fastest`
      : "engine.frozen is onnxruntime",
  };
}

function outputSizeOf(model: tf.LayersModel): number {
  const shape = model.outputs[0].shape;
  return shape[shape.length - 1] as number;
}
