/**
 * One ONNX Runtime session on the training graph of `_train_graph.ts`: per
 * step it takes the data inputs (the crossing tensors of a cut, NHWC), the
 * labels and every weight's current value, and returns the batch's mean
 * loss, its logits and one gradient per weight. The optimizer update is the
 * caller's (`src/train/ort_fine_tune.ts` applies the run's own TF.js
 * optimizer, so the update rule is exactly the TF.js path's).
 *
 * Session options: every graph optimisation, sequential execution, idle
 * intra-op threads not spinning (as the frozen engine, `onnx_runtime.ts`).
 *
 * @module
 */

import {
  buildTrainGraph,
  type TrainDropout,
  type TrainGraph,
  type TrainMask,
} from "./_train_graph.ts";
import type { FrozenGraph } from "./frozen_graph_ir.ts";
import {
  type OnnxRuntime,
  type OrtSession,
  type OrtTensor,
  tryLoadOnnxRuntime,
} from "./onnx_runtime.ts";

/**
 * The loss on the graph's logits: mean softmax cross-entropy against
 * one-hot labels, or mean sigmoid binary cross-entropy against 0/1 labels.
 */
export type TrainSessionLoss = "softmaxCrossEntropy" | "sigmoidCrossEntropy";

/** A weight of the training graph: its graph input name and shape. */
export interface TrainSessionWeight {
  /** `<node>/<kernel|bias|scale|shift>`; `scale`/`shift` are a frozen BatchNormalization's affine. */
  readonly name: string;
  /** Its shape (TensorFlow layout). */
  readonly shape: readonly number[];
}

export type { TrainDropout, TrainMask };

/** Per-step inputs besides the data, labels and weights. */
export interface TrainStepExtras {
  /** Per-sample loss weights `[n]` (class weights). Default: ones. */
  sampleWeights?: Float32Array;
  /**
   * One mask per {@link TrainSession.masks} entry, row-major in its shape
   * with the batch filled in, each element 0 or 1/(1 − rate).
   */
  masks?: readonly Float32Array[];
}

/** What one {@link TrainSession.step} returns. */
export interface TrainStepOutput {
  /** Mean loss over the batch. */
  loss: number;
  /** Logits `[n, k]`, row-major. */
  logits: Float32Array;
  /** One gradient per weight, in {@link TrainSession.weights} order. */
  grads: Float32Array[];
}

/** A training session; see the module doc. */
export interface TrainSession {
  /** Data input names, in the order {@link step} takes them. */
  readonly inputs: readonly string[];
  /** The weights, in the order {@link step} takes and returns them. */
  readonly weights: readonly TrainSessionWeight[];
  /** The Dropout masks {@link step} takes (empty without trained Dropout). */
  readonly masks: readonly TrainMask[];
  /** Intra-op threads. */
  readonly threads: number;
  /**
   * One forward + backward pass: `inputs[i]` is the row-major batch of data
   * input i (`[n, ...shape]`, `shapes[i]`), `labels` `[n, k]`, `weights[j]`
   * the current value of weight j, `extras` the sample weights and the
   * dropout masks. Nothing passed in is kept or changed.
   */
  step(
    inputs: readonly Float32Array[],
    shapes: readonly (readonly number[])[],
    labels: Float32Array,
    weights: readonly Float32Array[],
    extras?: TrainStepExtras,
  ): Promise<TrainStepOutput>;
  /** Releases the session. */
  dispose(): Promise<void>;
}

/**
 * `a` as a Float32Array (TF.js may hand out another typed array for a
 * float32 tensor, e.g. after a cast from int32).
 */
function f32(a: ArrayLike<number>): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

/** Options of {@link createTrainSession}. */
export interface TrainSessionOptions {
  /** Intra-op threads. Default `navigator.hardwareConcurrency`. */
  threads?: number;
  /** An already loaded runtime; default {@link tryLoadOnnxRuntime}'s (throws with its reason if it failed). */
  ort?: OnnxRuntime;
  /** The Dropout layers that train with masks; default none. */
  dropout?: readonly TrainDropout[];
}

/**
 * Lowers `graph` (single output: the logits, or a Dense softmax / sigmoid
 * output whose activation `loss` includes) to a training graph and opens
 * an ONNX Runtime session on it. Throws when ONNX Runtime cannot load or a
 * node has no training lowering (the message names it).
 */
export async function createTrainSession(
  graph: FrozenGraph,
  loss: TrainSessionLoss,
  opts: TrainSessionOptions = {},
): Promise<TrainSession> {
  const tg: TrainGraph = buildTrainGraph(graph, loss, {
    dropout: opts.dropout,
  });
  let ort = opts.ort;
  if (ort == null) {
    const loaded = await tryLoadOnnxRuntime();
    if (!loaded.ok) throw new Error(loaded.reason);
    ort = loaded.ort;
  }
  const threads = opts.threads ?? navigator.hardwareConcurrency ?? 1;
  const session: OrtSession = await ort.InferenceSession.create(tg.onnx, {
    executionProviders: ["cpu"],
    graphOptimizationLevel: "all",
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    extra: { session: { intra_op: { allow_spinning: "0" } } },
  });
  const Tensor = ort.Tensor;
  const k = graph.outputs[0].shape.at(-1) as number;
  let disposed = false;
  return {
    inputs: tg.inputs,
    weights: tg.weights.map((w) => ({ name: w.name, shape: w.shape })),
    masks: tg.masks,
    threads,
    async step(inputs, shapes, labels, weights, extras = {}) {
      if (disposed) throw new Error("training session used after dispose()");
      if (inputs.length !== tg.inputs.length) {
        throw new RangeError(
          `${inputs.length} data inputs given, the graph has ${tg.inputs.length}`,
        );
      }
      const n = shapes[0][0];
      const sw = extras.sampleWeights ?? new Float32Array(n).fill(1);
      if (sw.length !== n) {
        throw new RangeError(`${sw.length} sample weights for ${n} samples`);
      }
      const feeds: Record<string, OrtTensor> = {
        [tg.labels]: new Tensor("float32", f32(labels), [n, k]),
        [tg.sampleWeights]: new Tensor("float32", sw, [n]),
      };
      const masks = extras.masks ?? [];
      if (masks.length !== tg.masks.length) {
        throw new RangeError(
          `${masks.length} dropout masks given, the graph has ${tg.masks.length}`,
        );
      }
      tg.masks.forEach((m, i) => {
        const dims = m.shape.map((d) => d ?? n);
        feeds[m.input] = new Tensor("float32", masks[i], dims);
      });
      tg.inputs.forEach((name, i) => {
        feeds[name] = new Tensor("float32", f32(inputs[i]), shapes[i]);
      });
      tg.weights.forEach((w, j) => {
        feeds[w.name] = new Tensor("float32", f32(weights[j]), w.shape);
      });
      const out = await session.run(feeds);
      return {
        loss: (out.loss.data as Float32Array)[0],
        logits: out.logits.data as Float32Array,
        grads: tg.weights.map((w) =>
          out[`grad:${w.name}`].data as Float32Array
        ),
      };
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await session.release();
    },
  };
}
