/**
 * Learning rate and momentum of a live optimizer, read and set between
 * steps (schedules, ReduceLROnPlateau).
 *
 * The rate an optimizer holds between steps is the one its next step will
 * use, which is what Keras' `optimizer.learning_rate` reads (for a schedule,
 * `schedule(iterations)`); `fitLoop` writes it into each epoch's `lr`
 * (as Keras' `ReduceLROnPlateau` logs `learning_rate` at the epoch's end).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KerasAdam } from "./keras_optimizers.ts";
 * import { learningRateOf, setLearningRate } from "./optimizer_rate.ts";
 * const adam = new KerasAdam(1e-3);
 * setLearningRate(adam, 5e-4);
 * assert.equal(learningRateOf(adam), 5e-4);
 * ```
 *
 * @module
 */

import type * as tf from "../deps/tf.ts";
import { KerasAdam } from "./keras_optimizers.ts";

/** The learning rate `optimizer` will use at its next step (NaN when it has none). */
export function learningRateOf(optimizer: tf.Optimizer | undefined): number {
  const lr = (optimizer as { learningRate?: unknown } | undefined)
    ?.learningRate;
  return typeof lr === "number" ? lr : NaN;
}

/**
 * Sets the learning rate of a Keras-rule optimizer (`keras_optimizers.ts`)
 * or of TF.js' SGD, Adam and RMSprop (which read their `learningRate` at
 * every step; SGD through `setLearningRate`).
 */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as {
    learningRate?: number;
    setLearningRate?: (lr: number) => void;
  };
  if (typeof o.learningRate !== "number") {
    throw new TypeError(
      `${optimizer.getClassName()} has no learning rate to set`,
    );
  }
  if (typeof o.setLearningRate === "function") o.setLearningRate(lr);
  else o.learningRate = lr;
}

/**
 * Sets Adam's β₁ (the momentum a one-cycle schedule cycles); returns false
 * for optimizers without a momentum that can change mid-run (SGD, RMSprop
 * with momentum 0, TF.js' own Adam, whose bias correction accumulates β₁).
 */
export function setMomentum(
  optimizer: tf.Optimizer,
  momentum: number,
): boolean {
  // Not `instanceof`: tf.Optimizer's Symbol.hasInstance accepts any optimizer.
  if (!Object.prototype.isPrototypeOf.call(KerasAdam.prototype, optimizer)) {
    return false;
  }
  (optimizer as KerasAdam).beta1 = momentum;
  return true;
}
