/**
 * BatchNormalization that behaves like Keras' (TF ≥ 2.0) when frozen: a layer
 * whose weights are not trainable runs in inference mode, using and never
 * updating its moving mean and variance, even inside `fit`.
 *
 * TF.js' own BatchNormalization normalizes with the batch statistics and
 * updates the moving averages whenever `fit` runs it with `training: true`,
 * whether or not the layer is trainable, so a "frozen" base would drift. The
 * subclass here only changes `call`; its serialized class name stays
 * `"BatchNormalization"` and it is not registered anywhere, so a saved model
 * loads with plain `tf.loadLayersModel` (in Deno or a browser) as standard
 * BatchNormalization layers.
 *
 * @module
 */

import * as tf from "../deps/tf.ts";

/** TF.js' BatchNormalization layer type (the class itself is not exported). */
export type BatchNormalization = ReturnType<
  typeof tf.layers.batchNormalization
>;
/** Constructor arguments of BatchNormalization. */
export type BatchNormalizationArgs = Parameters<
  typeof tf.layers.batchNormalization
>[0];
type Kwargs = Parameters<BatchNormalization["call"]>[1];
type BatchNormalizationCtor = new (
  args?: BatchNormalizationArgs,
) => BatchNormalization;

const registered = tf.serialization.SerializationMap.getMap()
  .classNameMap["BatchNormalization"];
if (registered == null) {
  throw new Error("TF.js has no registered BatchNormalization layer class");
}
const BatchNormalizationBase =
  registered[0] as unknown as BatchNormalizationCtor;

/**
 * BatchNormalization that runs in inference mode when frozen (its layer's
 * `trainable` is false, or its gamma/beta are not trainable, as after
 * `base.trainable = false`), or always when `forceInference` is set (like
 * calling a Keras base with `training=False`). Serializes as
 * `"BatchNormalization"`.
 */
export class FreezableBatchNormalization extends BatchNormalizationBase {
  /** Kept equal to TF.js' own so that saved models need no custom class. */
  static className = "BatchNormalization";
  /**
   * Run in inference mode even while trainable (gamma and beta still get
   * gradients; the moving statistics are used and never updated).
   */
  declare forceInference?: boolean;

  /** True when this layer currently normalizes with its moving statistics in `fit`. */
  get inferenceMode(): boolean {
    if (this.forceInference === true || !this.trainable) return true;
    // Gamma/beta exist (scale/center) but none is trainable: frozen. A layer
    // without them has no weight that could tell, so it follows `trainable`.
    return this.trainableWeights.length === 0 && this.weights.length > 2;
  }

  /** Normalizes; forces `training: false` while {@link inferenceMode}. */
  override call(
    inputs: tf.Tensor | tf.Tensor[],
    kwargs: Kwargs,
  ): tf.Tensor | tf.Tensor[] {
    if (this.inferenceMode && kwargs?.["training"]) {
      return super.call(inputs, { ...kwargs, training: false });
    }
    return super.call(inputs, kwargs);
  }
}

/** A BatchNormalization layer made with {@link FreezableBatchNormalization}'s behaviour. */
export function freezableBatchNormalization(
  args?: BatchNormalizationArgs,
): FreezableBatchNormalization {
  return new FreezableBatchNormalization(args);
}

/** True for TF.js BatchNormalization layers, plain or freezable. */
export function isBatchNormalization(
  layer: unknown,
): layer is BatchNormalization {
  return layer instanceof BatchNormalizationBase;
}

/** Every BatchNormalization layer in `model`, nested models included, in layer order. */
export function batchNormLayers(model: tf.LayersModel): BatchNormalization[] {
  const out: BatchNormalization[] = [];
  for (const layer of model.layers) {
    if (layer instanceof tf.LayersModel) out.push(...batchNormLayers(layer));
    else if (isBatchNormalization(layer)) out.push(layer);
  }
  return out;
}

/**
 * Sets how every BatchNormalization layer of `model` (nested models included)
 * runs in `fit`: `force: true` keeps them all in inference mode whether or not
 * they are trainable (Keras' `base(x, training=False)`, as the TF fine-tuning
 * tutorial does); `force: false` restores the default (inference mode only
 * while frozen). Plain TF.js BatchNormalization layers, e.g. of a model loaded
 * with `tf.loadLayersModel`, are given the freezable behaviour first (their
 * serialized form does not change). Returns the number of layers set.
 */
export function setBatchNormInference(
  model: tf.LayersModel,
  force: boolean,
): number {
  const layers = batchNormLayers(model);
  for (const layer of layers) {
    if (!(layer instanceof FreezableBatchNormalization)) {
      Object.setPrototypeOf(layer, FreezableBatchNormalization.prototype);
    }
    (layer as FreezableBatchNormalization).forceInference = force;
  }
  return layers.length;
}
