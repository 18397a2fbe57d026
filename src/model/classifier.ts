/**
 * The transfer-learning classifier: input → base (no top; MobileNetV2 by
 * default, any `architecture` of `bases.ts`) → GlobalAveragePooling2D →
 * Dropout → a Dense head. Options are plain values
 * (the caller maps its config onto them and resolves `"imagenet"`/URLs to a
 * local file with `resolveWeightsSource`).
 *
 * Two heads ({@link HeadOutput}):
 * - `"softmax"` (default): Dense(numClasses, softmax), named `predictions`.
 *   The model trains and is saved as it is.
 * - `"logit"` (the TensorFlow tutorial's head; exactly 2 classes): Dense(1)
 *   without activation, named `logits`, trained on its logit (sigmoid
 *   cross-entropy from logits); the saved and predicting model is the same
 *   graph plus a sigmoid Activation named `predictions`, so it outputs the
 *   probability of class 1, `[n, 1]`. `fitModel` / `fitHead` are the logit
 *   graphs; they end at the very tensor the sigmoid reads, so the Dense is
 *   applied once per graph (image and features) as in the softmax head, and
 *   disposing `model` and `head` frees it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildClassifier } from "./classifier.ts";
 * const { model, base } = await buildClassifier({
 *   imageSize: [96, 96], alpha: 0.35, weights: null, numClasses: 2,
 * });
 * assert.deepEqual(model.outputs[0].shape, [null, 2]);
 * assert.equal(base.layers.length, 154); // as Keras' MobileNetV2
 * model.dispose();
 * ```
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import { setBatchNormInference } from "./batch_norm.ts";
import { loadKerasWeights } from "../weights/keras_weights.ts";
import { baseNetwork } from "./bases.ts";
import type { Architecture } from "../config/architecture.ts";

/** The head's output: softmax probabilities, or one logit for 2 classes. */
export type HeadOutput = "softmax" | "logit";

/** Options of {@link buildClassifier}. */
export interface ClassifierOptions {
  /** Input `[height, width]` (config `data.imageSize`). */
  imageSize: [number, number];
  /** Input channels. Default 3. */
  channels?: number;
  /** The base (config `model.architecture`, a built one). Default `"mobilenet_v2"`. */
  architecture?: Architecture;
  /** Width multiplier (config `model.alpha`). Default 1.0. */
  alpha?: number;
  /** MobileNetV3's minimalistic variant (config `model.minimalistic`). Default false. */
  minimalistic?: boolean;
  /**
   * Keras `.h5` weights of the base without top, as a local path or bytes, or
   * null for random initialisation. Default null.
   */
  weights?: string | Uint8Array | null;
  /**
   * The weights are Keras' ImageNet ones (`model.weights: "imagenet"`): as
   * Keras, EfficientNet V1 then gets its per-channel `Rescaling`. Default false.
   */
  imagenet?: boolean;
  /** Match the `.h5` layers by name instead of by position. Default false. */
  weightsByName?: boolean;
  /**
   * Train the base too (config `model.trainable`). Default false: the base's
   * weights are frozen and its BatchNormalization runs in inference mode.
   */
  trainable?: boolean;
  /**
   * Keep the base's BatchNormalization in inference mode even when it is
   * trainable (Keras' `base(x, training=False)`, as for fine-tuning in the TF
   * tutorial). Default false.
   */
  batchNormInference?: boolean;
  /** Dropout rate before the Dense layer (config `model.head.dropout`). Default 0. */
  dropout?: number;
  /** Number of classes (units of the softmax layer; 2 for `output: "logit"`). */
  numClasses: number;
  /**
   * The head (config `model.head.output`): `"softmax"` (default) or
   * `"logit"` (Dense(1) trained on its logit, saved with a sigmoid; needs
   * `numClasses` 2).
   */
  output?: HeadOutput;
  /**
   * `"functional"` (default) or `"sequential"` (`tf.sequential([base, pool,
   * dropout, dense])`, plus the sigmoid for the logit head).
   */
  api?: "functional" | "sequential";
  /** Seed for the initial head weights (and the base's, when `weights` is null). Default: unseeded. */
  seed?: number;
}

/** What {@link buildClassifier} returns; all parts share the same layers and weights. */
export interface Classifier {
  /**
   * The full classifier: image → class probabilities (`[n, numClasses]`
   * softmax, or `[n, 1]` sigmoid probability of class 1 for the logit head).
   * Save and predict with this one.
   */
  model: tf.LayersModel;
  /** The base without top (MobileNetV2: 154 layers, as Keras). */
  base: tf.LayersModel;
  /** Image → pooled base features `[n, featureSize]` (the base + GlobalAveragePooling2D). */
  features: tf.LayersModel;
  /** Pooled features → class probabilities (Dropout + Dense); trains the same Dense as `model`. */
  head: tf.LayersModel;
  /**
   * What training fits on images: `model` itself for the softmax head; the
   * logit head's image → logit `[n, 1]` (no sigmoid) otherwise. Never
   * dispose it (it owns nothing `model` does not).
   */
  fitModel: tf.LayersModel;
  /** Likewise for `head`: `head` itself, or features → logit. */
  fitHead: tf.LayersModel;
  /** The head's output kind. */
  output: HeadOutput;
  /** Length of a pooled feature vector (MobileNetV2: 1280 for alpha ≤ 1). */
  featureSize: number;
}

/**
 * Builds the classifier. With `weights` the base gets them (Keras layout,
 * checked layer by layer) before it is frozen; with `trainable: false` the
 * base's weights stay fixed during `fit` and its BatchNormalization layers use
 * their moving statistics (never updated), as in Keras.
 */
export async function buildClassifier(
  options: ClassifierOptions,
): Promise<Classifier> {
  const {
    imageSize,
    channels = 3,
    alpha = 1.0,
    weights = null,
    trainable = false,
    dropout = 0,
    numClasses,
    api = "functional",
    seed,
    output = "softmax",
  } = options;
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(
      `numClasses must be a positive integer, got ${numClasses}`,
    );
  }
  if (output !== "softmax" && output !== "logit") {
    throw new RangeError(
      `output must be "softmax" or "logit", got ${JSON.stringify(output)}`,
    );
  }
  if (output === "logit" && numClasses !== 2) {
    throw new RangeError(
      `output "logit" (one logit for class 1 against class 0) needs exactly 2 classes, got ${numClasses}`,
    );
  }
  if (!(dropout >= 0 && dropout < 1)) {
    throw new RangeError(`dropout must be in [0, 1), got ${dropout}`);
  }
  const base = baseNetwork({
    architecture: options.architecture ?? "mobilenet_v2",
    inputShape: [imageSize[0], imageSize[1], channels],
    alpha,
    minimalistic: options.minimalistic,
    imagenet: options.imagenet,
    seed: weights == null ? seed : undefined,
  });
  if (weights != null) {
    await loadKerasWeights(base, weights, { byName: options.weightsByName });
  }
  setTrainable(base, trainable);
  if (options.batchNormInference) setBatchNormInference(base, true);

  const featureSize = base.outputs[0].shape[3] as number;
  const pool = tf.layers.globalAveragePooling2d({
    name: "global_average_pooling2d",
  });
  const drop = tf.layers.dropout({ rate: dropout, name: "dropout" });
  const logit = output === "logit";
  const dense = tf.layers.dense({
    units: logit ? 1 : numClasses,
    activation: logit ? "linear" : "softmax",
    kernelInitializer: seed == null
      ? "glorotUniform"
      : tf.initializers.glorotUniform({ seed: seed + 100_000 }),
    name: logit ? "logits" : "predictions",
  });
  // The logit head's probabilities: one sigmoid layer on both logit graphs.
  const sigmoid = logit
    ? tf.layers.activation({ activation: "sigmoid", name: "predictions" })
    : null;
  const probabilities = (t: tf.SymbolicTensor) =>
    sigmoid ? sigmoid.apply(t) as tf.SymbolicTensor : t;

  let model: tf.LayersModel;
  let fitModel: tf.LayersModel;
  let pooled: tf.SymbolicTensor;
  let imageInput: tf.SymbolicTensor;
  if (api === "sequential") {
    model = tf.sequential({
      layers: [base, pool, drop, dense, ...(sigmoid ? [sigmoid] : [])],
      name: "classifier",
    });
    imageInput = base.inputs[0];
    pooled = pool.getOutputAt(0) as tf.SymbolicTensor;
    fitModel = sigmoid
      ? tf.model({
        inputs: imageInput,
        outputs: dense.getOutputAt(0) as tf.SymbolicTensor,
        name: "classifier_logits",
      })
      : model;
  } else {
    imageInput = tf.input({
      shape: [imageSize[0], imageSize[1], channels],
      name: "image",
    });
    const x = base.apply(imageInput) as tf.SymbolicTensor;
    pooled = pool.apply(x) as tf.SymbolicTensor;
    const out = dense.apply(drop.apply(pooled)) as tf.SymbolicTensor;
    model = tf.model({
      inputs: imageInput,
      outputs: probabilities(out),
      name: "classifier",
    });
    fitModel = sigmoid
      ? tf.model({
        inputs: imageInput,
        outputs: out,
        name: "classifier_logits",
      })
      : model;
  }
  const features = tf.model({
    inputs: imageInput,
    outputs: pooled,
    name: "features",
  });
  const featureInput = tf.input({ shape: [featureSize], name: "features" });
  const headOut = dense.apply(drop.apply(featureInput)) as tf.SymbolicTensor;
  const head = tf.model({
    inputs: featureInput,
    outputs: probabilities(headOut),
    name: "head",
  });
  const fitHead = sigmoid
    ? tf.model({ inputs: featureInput, outputs: headOut, name: "head_logits" })
    : head;
  return {
    model,
    base,
    features,
    head,
    fitModel,
    fitHead,
    output,
    featureSize,
  };
}

/**
 * Sets `trainable` on `model` and on every layer inside it, nested models
 * included, as Keras' `model.trainable = …` does. (TF.js' own setter only
 * flips the weights' flags, so the layers' `trainable` would not be saved and
 * a later `layer.trainable = true` could not unfreeze them.) A frozen layer
 * keeps its weights in `fit`, and its BatchNormalization runs in inference
 * mode. For fine-tuning from layer `k`, as in the TF tutorial:
 * `setTrainable(base, true); base.layers.slice(0, k).forEach((l) => l.trainable = false)`.
 */
export function setTrainable(model: tf.LayersModel, trainable: boolean): void {
  for (const layer of model.layers) {
    if (layer instanceof tf.LayersModel) setTrainable(layer, trainable);
    else layer.trainable = trainable;
  }
  model.trainable = trainable;
}
