/**
 * Fine-tuning steps run by ONNX Runtime (`engine.train`): the trainable
 * suffix model's forward pass, loss and every weight's gradient come from
 * one ONNX Runtime session on the generated training graph
 * (`engine/train_session.ts`); the update is the run's own TF.js optimizer
 * (`optimizer.applyGradients`, so Keras' Adam / RMSprop of
 * `keras_optimizers.ts`, or TF.js' rules with `train.optimizerRule: "tfjs"`,
 * step for step as in the TF.js path) on the model's own variables. The
 * TF.js model therefore always holds the current weights: validation,
 * early stopping, the best checkpoint, a stop request and the saved model
 * see exactly what they see on the TF.js path.
 *
 * The training loss is the run's: Keras' label smoothing (the graph's
 * labels are the smoothed targets of `training_loss.ts`' `smoothLabels`)
 * and class weights (each sample's loss weighted by its class' weight, the
 * batch loss the mean of `w · l`, Keras' `sum_over_batch_size`). Every
 * Dropout with a rate above 0 (`model.head.dropout`, and any in the
 * unfrozen layers, which TF.js' `fit` also runs in training mode) trains
 * with a mask drawn per step from the run's seeded generator
 * (`util/rng.ts`, seed `data.seed`): an element is kept when a uniform
 * draw u ≥ rate and scaled by 1/(1 − rate), TF.js' rule, so the masks are
 * distributed as TF.js' but are not its (unseeded) draws — and a run is
 * reproducible where the TF.js path is not.
 *
 * What the graph cannot do, it refuses with the reason (the caller falls
 * back to TF.js under `engine.train: "auto"`): BatchNormalization on batch
 * statistics (`fineTune.batchNorm: "batch-stats"`) — the graph runs frozen
 * statistics; any layer without a training lowering (the graph's error
 * names the node and op). MobileNetV3 (Rescaling, hard_silu,
 * squeeze-and-excitation with keepDims pooling) and EfficientNet blocks
 * (swish, sigmoid gates, broadcasting Multiply, Reshape, 5×5 depthwise,
 * "same" stride 2) train on it; a Rescaling or a Normalization
 * (BatchNormalization without gamma/beta) is a constant of the graph, no
 * weight.
 * BatchNormalization in inference mode is the graph's per-channel affine
 * `x·scale + shift` with `scale = γ/√(var + ε)`, `shift = β − mean·scale`;
 * its γ/β gradients are `(dscale − mean·dshift)/√(var + ε)` and `dshift`.
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import type { HeadOutput } from "../model/classifier.ts";
import { extractFrozenGraph } from "../engine/frozen_graph.ts";
import {
  createTrainSession,
  type TrainSession,
} from "../engine/train_session.ts";
import { ONNXRUNTIME_SPECIFIER } from "../deps/onnx.ts";
import { tryLoadOnnxRuntime } from "../engine/onnx_runtime.ts";
import type { TrainDropout } from "../engine/train_session.ts";
import { smoothLabels } from "./training_loss.ts";
import { createRng, deriveSeed } from "../util/rng.ts";

/** What `engine.train` may ask for. */
export type TrainEngineRequest = "auto" | "onnxruntime" | "tfjs";

/** Fine-tuning steps on ONNX Runtime; see the module doc. */
export interface OrtFineTuner {
  /** The engine and its version, e.g. `onnxruntime-node@1.22.0`. */
  readonly id: string;
  /**
   * Trains one batch (as `model.trainOnBatch`): resolves to the batch's
   * mean loss and accuracy. The caller keeps (and disposes) `xs` and `ys`.
   */
  step(xs: tf.Tensor | tf.Tensor[], ys: tf.Tensor): Promise<[number, number]>;
  /** Releases the session. */
  dispose(): Promise<void>;
}

/** How one graph weight maps onto the model's variables. */
type Binding =
  | { kind: "plain"; variable: tf.Variable }
  | {
    kind: "scale" | "shift";
    gamma: tf.Variable;
    beta: tf.Variable;
    mean: Float32Array;
    sigma: Float64Array;
  };

/** Every layer of `model`, nested models flattened, by name. */
function layersOf(model: tf.LayersModel): Map<string, tf.layers.Layer> {
  const out = new Map<string, tf.layers.Layer>();
  const visit = (m: tf.LayersModel) => {
    for (const l of m.layers) {
      if (l instanceof tf.LayersModel) visit(l);
      else out.set(l.name, l);
    }
  };
  visit(model);
  return out;
}

/** The Dropout layers of `layers` with a rate above 0: trained with masks. */
function dropoutsOf(layers: Map<string, tf.layers.Layer>): TrainDropout[] {
  const out: TrainDropout[] = [];
  for (const l of layers.values()) {
    if (l.getClassName() !== "Dropout") continue;
    const config = l.getConfig();
    const rate = config.rate as number;
    if (!(rate > 0)) continue;
    if (rate >= 1) {
      throw new Error(
        `layer "${l.name}" is Dropout at rate ${rate} (< 1 expected)`,
      );
    }
    const noiseShape = (config.noiseShape as (number | null)[] | undefined) ??
      null;
    out.push({ node: l.name, rate, noiseShape });
  }
  return out;
}

/**
 * Draws one dropout mask: `size` elements, each 0 or float32(1/(1 − rate)),
 * kept when a uniform draw u from `rand` is ≥ `rate` (TF.js'
 * `floor(u + 1 − rate)`).
 */
export function drawDropoutMask(
  rand: () => number,
  size: number,
  rate: number,
): Float32Array {
  const keep = Math.fround(1 - rate);
  const scale = Math.fround(1 / keep);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rand() >= rate ? scale : 0;
  return out;
}

/** Options of {@link ortFineTuner}. */
export interface OrtFineTunerOptions {
  /** Intra-op threads. Default: every core. */
  threads?: number;
  /** Keras' class weights, one per class index (`train.classWeight`), or null. */
  classWeights?: readonly number[] | null;
  /** Keras' label smoothing (`train.labelSmoothing`). Default 0. */
  labelSmoothing?: number;
  /** Seed of the dropout masks (the run's `data.seed`). Default 0. */
  seed?: number;
  /**
   * Draws the mask of one Dropout for one step (`size` elements at `rate`);
   * default {@link drawDropoutMask} on the seeded generator. For tests that
   * replay the masks on TF.js.
   */
  drawMask?: (node: string, size: number, rate: number) => Float32Array;
}

/** Why `model` cannot train on the graph, or null. */
function refusal(layers: Map<string, tf.layers.Layer>): string | null {
  for (const l of layers.values()) {
    const cls = l.getClassName();
    if (cls === "BatchNormalization") {
      const inference = (l as unknown as { inferenceMode?: boolean })
        .inferenceMode;
      if (inference !== true) {
        return `layer "${l.name}" normalizes with batch statistics (fineTune.batchNorm "batch-stats"); the ONNX graph runs frozen statistics only`;
      }
    }
  }
  return null;
}

function weightNamed(layer: tf.layers.Layer, suffix: string): tf.Variable {
  const w = layer.weights.find((v) => v.originalName.endsWith(`/${suffix}`));
  if (w == null) {
    throw new Error(`layer "${layer.name}" has no ${suffix} weight`);
  }
  return w.read() as tf.Variable;
}

/**
 * Builds the ONNX Runtime fine-tuner of `model` (the suffix model of
 * `_prefix_cache.ts`, every layer trainable, compiled with `optimizer`).
 * Throws, naming the reason, when the model cannot train on the graph.
 */
export async function ortFineTuner(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  output: HeadOutput,
  opts: OrtFineTunerOptions = {},
): Promise<OrtFineTuner> {
  const layers = layersOf(model);
  const why = refusal(layers);
  if (why) throw new Error(why);
  const dropout = dropoutsOf(layers);
  const ls = opts.labelSmoothing ?? 0;
  if (!(ls >= 0 && ls <= 1)) {
    throw new RangeError(`labelSmoothing: expected [0, 1], found ${ls}`);
  }
  const classWeights = opts.classWeights ?? null;
  const graph = extractFrozenGraph(model, {
    fold: false,
    hardActivations: true,
  });
  const k = graph.outputs[0].shape.at(-1) as number;
  const classes = output === "logit" ? 2 : k;
  if (classWeights !== null && classWeights.length !== classes) {
    throw new RangeError(
      `class weights: ${classWeights.length} weights for ${classes} classes`,
    );
  }
  const rand = createRng(deriveSeed(opts.seed ?? 0, 0x44524f50)); // "DROP"
  const drawMask = opts.drawMask ??
    ((_node: string, size: number, rate: number) =>
      drawDropoutMask(rand, size, rate));
  const session: TrainSession = await createTrainSession(
    graph,
    output === "logit" ? "sigmoidCrossEntropy" : "softmaxCrossEntropy",
    { threads: opts.threads, dropout },
  );
  try {
    const bindings: Binding[] = [];
    const bound = new Set<string>();
    for (const w of session.weights) {
      const slash = w.name.lastIndexOf("/");
      const node = w.name.slice(0, slash), kind = w.name.slice(slash + 1);
      const layer = layers.get(node);
      if (layer == null) throw new Error(`no layer for graph weight ${w.name}`);
      if (kind === "scale" || kind === "shift") {
        const gamma = weightNamed(layer, "gamma");
        const beta = weightNamed(layer, "beta");
        const mean = weightNamed(layer, "moving_mean")
          .dataSync() as Float32Array;
        const variance = weightNamed(layer, "moving_variance").dataSync();
        const eps = layer.getConfig().epsilon as number;
        const sigma = Float64Array.from(variance, (v) => Math.sqrt(v + eps));
        bindings.push({ kind, gamma, beta, mean, sigma });
        bound.add(gamma.name).add(beta.name);
      } else {
        const variable = kind === "bias"
          ? weightNamed(layer, "bias")
          : (layer.trainableWeights[0] ?? layer.weights[0])
            .read() as tf.Variable;
        bindings.push({ kind: "plain", variable });
        bound.add(variable.name);
      }
    }
    const trainable = model.trainableWeights.map((w) =>
      (w.read() as tf.Variable).name
    );
    const missing = trainable.filter((n) => !bound.has(n));
    const extra = [...bound].filter((n) => !trainable.includes(n));
    if (missing.length > 0 || extra.length > 0) {
      throw new Error(
        `the training graph's weights differ from the model's trainable ones (${
          [
            ...missing.map((n) => `missing ${n}`),
            ...extra.map((n) => `frozen ${n}`),
          ]
            .slice(0, 3).join(", ")
        })`,
      );
    }
    const inputIndex = session.inputs.map((name) => {
      const i = model.inputs.findIndex((t) =>
        t.name === name || t.sourceLayer.name === name
      );
      if (i < 0) throw new Error(`graph input "${name}" is no model input`);
      return i;
    });

    const values = (): Float32Array[] =>
      bindings.map((b) => {
        if (b.kind === "plain") return b.variable.dataSync() as Float32Array;
        const g = b.gamma.dataSync(), be = b.beta.dataSync();
        const out = new Float32Array(g.length);
        for (let c = 0; c < g.length; c++) {
          const sc = g[c] / b.sigma[c];
          out[c] = b.kind === "scale" ? sc : be[c] - b.mean[c] * sc;
        }
        return out;
      });

    return {
      id: ONNXRUNTIME_SPECIFIER.replace(/^npm:/, ""),
      async step(xs, ys) {
        const list = Array.isArray(xs) ? xs : [xs];
        const inputs = inputIndex.map((i) =>
          list[i].dataSync() as Float32Array
        );
        const shapes = inputIndex.map((i) => list[i].shape);
        const labels = ys.dataSync() as Float32Array;
        const n = ys.shape[0];
        const targets = ls > 0
          ? tf.tidy(() => smoothLabels(output, ys, ls))
            .dataSync() as Float32Array
          : labels;
        const masks = session.masks.map((m) =>
          drawMask(
            m.node,
            m.shape.reduce<number>((a, d) => a * (d ?? n), 1),
            m.rate,
          )
        );
        const out = await session.step(inputs, shapes, targets, values(), {
          sampleWeights: classWeights
            ? sampleWeightsOf(output, labels, n, classWeights)
            : undefined,
          masks,
        });
        const grads: tf.NamedTensorMap = {};
        const shiftOf = new Map<tf.Variable, Float32Array>();
        bindings.forEach((b, j) => {
          if (b.kind === "shift") shiftOf.set(b.gamma, out.grads[j]);
        });
        bindings.forEach((b, j) => {
          const g = out.grads[j];
          if (b.kind === "plain") {
            grads[b.variable.name] = tf.tensor(g, b.variable.shape);
          } else if (b.kind === "scale") {
            const dShift = shiftOf.get(b.gamma)!;
            const dGamma = new Float32Array(g.length);
            for (let c = 0; c < g.length; c++) {
              dGamma[c] = (g[c] - b.mean[c] * dShift[c]) / b.sigma[c];
            }
            grads[b.gamma.name] = tf.tensor(dGamma, b.gamma.shape);
          } else grads[b.beta.name] = tf.tensor(g, b.beta.shape);
        });
        try {
          optimizer.applyGradients(grads);
        } finally {
          tf.dispose(Object.values(grads));
        }
        return [out.loss, accuracyOf(output, out.logits, labels, ys.shape)];
      },
      dispose: () => session.dispose(),
    };
  } catch (err) {
    await session.dispose();
    throw err;
  }
}

/**
 * Each sample's class weight: the weight of its label (the logit head's 0/1
 * label, or the one-hot row's class: Σ_c y_c·w_c, as `training_loss.ts`).
 */
function sampleWeightsOf(
  output: HeadOutput,
  labels: Float32Array,
  n: number,
  weights: readonly number[],
): Float32Array {
  const out = new Float32Array(n);
  const k = labels.length / n;
  for (let i = 0; i < n; i++) {
    if (output === "logit") {
      out[i] = weights[0] + labels[i] * (weights[1] - weights[0]);
      continue;
    }
    let w = 0;
    for (let c = 0; c < k; c++) w += labels[i * k + c] * weights[c];
    out[i] = w;
  }
  return out;
}

/**
 * The batch's accuracy from its logits as the TF.js path's metric counts it:
 * argmax of logits (= of the softmax) against argmax of the one-hot labels
 * (first maximum on ties), or `logit > 0` against the 0/1 label.
 */
function accuracyOf(
  output: HeadOutput,
  logits: Float32Array,
  labels: Float32Array,
  shape: number[],
): number {
  const [n, k] = shape;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    if (output === "logit") {
      if ((logits[i] > 0 ? 1 : 0) === labels[i]) correct++;
      continue;
    }
    let p = 0, t = 0;
    for (let j = 1; j < k; j++) {
      if (logits[i * k + j] > logits[i * k + p]) p = j;
      if (labels[i * k + j] > labels[i * k + t]) t = j;
    }
    if (p === t) correct++;
  }
  return Math.fround(correct / n); // float32, as TF.js reports it
}

/** The fine-tuning engine chosen, and why (for the log and `summary.json`). */
export interface TrainEngineChoice {
  /** Which engine trains. */
  engine: "onnxruntime" | "tfjs";
  /** Engine id (with its version). */
  id: string;
  /** Why, in one line. */
  reason: string;
  /** The ONNX Runtime steps, when `engine` is `onnxruntime`. */
  tuner: OrtFineTuner | null;
}

/**
 * Picks the engine of the fine-tuning stage for `request` (`engine.train`):
 * `"tfjs"`: TF.js; `"auto"`: TF.js on a hardware WebGPU adapter or when
 * fine-tuning trains on images (no frozen prefix), else ONNX Runtime, and
 * TF.js with the reason when ONNX Runtime cannot load or the model cannot
 * train on its graph; `"onnxruntime"`: ONNX Runtime or an error naming the
 * reason.
 */
export async function selectTrainEngine(
  request: TrainEngineRequest,
  ctx: {
    /** The run's TF.js backend. */
    backend: { backend: string; fallbackAdapter?: boolean };
    /** The trained model (the suffix on the prefix), compiled with `optimizer`. */
    model: tf.LayersModel;
    /** Whether `model` is the suffix model on the frozen prefix. */
    onPrefix: boolean;
    /** The stage's optimizer. */
    optimizer: tf.Optimizer;
    /** The head's output. */
    output: HeadOutput;
    /**
     * The run's training loss and dropout seed (`train.classWeight`,
     * `train.labelSmoothing`, `data.seed`); default: the plain loss, seed 0.
     */
    tuner?: Pick<
      OrtFineTunerOptions,
      "classWeights" | "labelSmoothing" | "seed"
    >;
  },
): Promise<TrainEngineChoice> {
  const tfjs = (reason: string): TrainEngineChoice => ({
    engine: "tfjs",
    id: `tfjs@${tf.version_core}/${tf.getBackend()}`,
    reason,
    tuner: null,
  });
  if (request === "tfjs") return tfjs("engine.train is tfjs");
  const fail = (why: string): TrainEngineChoice => {
    if (request === "onnxruntime") {
      throw new Error(
        `engine.train is "onnxruntime" but ${why}. Set engine.train to "auto" or "tfjs".`,
      );
    }
    return tfjs(`auto: ${why}; TF.js ${ctx.backend.backend} instead`);
  };
  if (
    request === "auto" && ctx.backend.backend === "webgpu" &&
    !ctx.backend.fallbackAdapter
  ) {
    return tfjs("auto: TF.js on a hardware WebGPU adapter");
  }
  if (!ctx.onPrefix) {
    return fail(
      "fine-tuning trains the whole model on images (no frozen prefix to cut at)",
    );
  }
  const loaded = await tryLoadOnnxRuntime();
  if (!loaded.ok) return fail(`ONNX Runtime cannot load: ${loaded.reason}`);
  try {
    const tuner = await ortFineTuner(
      ctx.model,
      ctx.optimizer,
      ctx.output,
      ctx.tuner,
    );
    return {
      engine: "onnxruntime",
      id: tuner.id,
      reason: request === "auto"
        ? "auto: no hardware GPU, the ONNX Runtime training graph (CPU)"
        : "engine.train is onnxruntime",
      tuner,
    };
  } catch (err) {
    return fail(
      `the suffix cannot train on the ONNX graph: ${(err as Error).message}`,
    );
  }
}
