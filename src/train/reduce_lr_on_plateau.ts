/**
 * Keras 3's `ReduceLROnPlateau`: a pure state machine
 * ({@link ReduceLrOnPlateau}) fed one monitored value per epoch, and a
 * {@link FitCallbacks} adapter that changes the optimizer's learning rate.
 *
 * The rules, as Keras 3.15 implements them (`reduce_lr_on_plateau.py`):
 *
 * - The direction follows the monitor (Keras' mode `"auto"`): `val_loss` is
 *   minimised, `val_accuracy` maximised; a value improves on the best when
 *   it beats it by more than `minDelta` (the first value always does).
 * - After each epoch, in this order: when in cooldown the cooldown counter
 *   goes down by one and `wait` is reset; an improvement records the best
 *   and resets `wait`; otherwise, when not in cooldown, `wait` goes up, and
 *   when it reaches `patience` and the rate is above `minLr` the rate
 *   becomes `max(rate · factor, minLr)`, the cooldown counter is set to
 *   `cooldown` and `wait` to 0.
 * - The rate is kept in float32, as Keras' optimizer variable holds it.
 * - Keras resets the callback in each `fit`: one instance per stage.
 *
 * As in `early_stopping.ts`, a NaN monitored value is never an improvement
 * (Keras would take a first NaN as the best). An epoch without the value
 * changes nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReduceLrOnPlateau } from "./reduce_lr_on_plateau.ts";
 * const r = new ReduceLrOnPlateau(0.1, { patience: 1, factor: 0.5 });
 * r.update(1.0);
 * assert.equal(r.update(1.0).reduced, true);
 * assert.equal(r.learningRate, Math.fround(0.05));
 * ```
 *
 * @module
 */

import type * as tf from "../deps/tf.ts";
import {
  isImprovement,
  type Monitor,
  type MonitorMode,
  monitorMode,
} from "./early_stopping.ts";
import type { FitCallbacks } from "./fit.ts";
import { learningRateOf, setLearningRate } from "./optimizer_rate.ts";

/** Options of {@link ReduceLrOnPlateau} (Keras' arguments in camelCase, Keras' defaults). */
export interface ReduceLrOnPlateauOptions {
  /** Metric to watch (default `"val_loss"`). */
  monitor?: Monitor;
  /** Factor in (0, 1) the rate is multiplied by (default 0.1). */
  factor?: number;
  /** Epochs without improvement before a reduction (default 10). */
  patience?: number;
  /** Smallest change that counts as an improvement (default 1e-4). */
  minDelta?: number;
  /** Epochs after a reduction that are not counted (default 0). */
  cooldown?: number;
  /** Lower bound of the rate (default 0). */
  minLr?: number;
}

/** What {@link ReduceLrOnPlateau.update} did for one epoch. */
export interface ReduceLrDecision {
  /** The value was the new best. */
  improved: boolean;
  /** The rate was reduced after this epoch. */
  reduced: boolean;
  /** The rate before the epoch's decision (what Keras logs as `learning_rate`). */
  logged: number;
  /** The rate after it. */
  learningRate: number;
}

/** The pure ReduceLROnPlateau state machine; see the module notes. */
export class ReduceLrOnPlateau {
  /** The watched metric. */
  readonly monitor: Monitor;
  /** Its direction. */
  readonly mode: MonitorMode;
  /** Rate multiplier. */
  readonly factor: number;
  /** Epochs without improvement before a reduction. */
  readonly patience: number;
  /** Smallest change that counts as an improvement. */
  readonly minDelta: number;
  /** Epochs not counted after a reduction. */
  readonly cooldown: number;
  /** Lower bound of the rate. */
  readonly minLr: number;
  /** Best monitored value so far, or null. */
  best: number | null = null;
  /** Epochs without improvement (Keras' `wait`). */
  wait = 0;
  /** Epochs of cooldown left. */
  cooldownCounter = 0;
  /** The current rate (float32). */
  learningRate: number;
  /** Epochs (1-based within the stage) after which the rate was reduced. */
  readonly reductions: { epoch: number; learningRate: number }[] = [];
  #epochs = 0;

  /**
   * Starts at `learningRate` with Keras' defaults for what `opts` leaves out.
   *
   * @throws {RangeError} naming the option and what was expected
   */
  constructor(learningRate: number, opts: ReduceLrOnPlateauOptions = {}) {
    this.monitor = opts.monitor ?? "val_loss";
    this.mode = monitorMode(this.monitor);
    this.factor = opts.factor ?? 0.1;
    if (!(this.factor > 0 && this.factor < 1)) {
      throw new RangeError(
        `factor: expected a number in (0, 1), found ${this.factor} (Keras refuses factor >= 1)`,
      );
    }
    this.patience = count("patience", opts.patience ?? 10);
    this.cooldown = count("cooldown", opts.cooldown ?? 0);
    this.minDelta = opts.minDelta ?? 1e-4;
    this.minLr = opts.minLr ?? 0;
    if (!(this.minDelta >= 0) || !(this.minLr >= 0)) {
      throw new RangeError(
        `minDelta and minLr: expected numbers ≥ 0, found ${this.minDelta} and ${this.minLr}`,
      );
    }
    this.learningRate = Math.fround(learningRate);
  }

  /** Feeds the monitored value after an epoch (undefined: not available). */
  update(value: number | undefined): ReduceLrDecision {
    this.#epochs++;
    const logged = this.learningRate;
    const decision = { improved: false, reduced: false, logged };
    if (value === undefined) {
      return { ...decision, learningRate: this.learningRate };
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    if (isImprovement(value, this.best, this.mode, this.minDelta)) {
      this.best = value;
      this.wait = 0;
      decision.improved = true;
    } else if (this.cooldownCounter <= 0) {
      this.wait++;
      if (this.wait >= this.patience) {
        const old = this.learningRate;
        if (old > Math.fround(this.minLr)) {
          this.learningRate = Math.fround(
            Math.max(old * this.factor, this.minLr),
          );
          this.cooldownCounter = this.cooldown;
          this.wait = 0;
          decision.reduced = true;
          this.reductions.push({
            epoch: this.#epochs,
            learningRate: this.learningRate,
          });
        }
      }
    }
    return { ...decision, learningRate: this.learningRate };
  }
}

function count(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) {
    throw new RangeError(`${name}: expected an integer ≥ 0, found ${v}`);
  }
  return v;
}

/** The adapter returned by {@link reduceLrOnPlateauCallback}. */
export interface ReduceLrOnPlateauCallback extends FitCallbacks {
  /** The state machine it drives. */
  readonly reducer: ReduceLrOnPlateau;
}

/**
 * A {@link FitCallbacks} for one stage: after each epoch feeds
 * `logs[monitor]` to a {@link ReduceLrOnPlateau} starting at `optimizer`'s
 * rate and writes a reduced rate into `optimizer`, logging it as Keras'
 * `verbose=1` does. Attach it only with validation data.
 */
export function reduceLrOnPlateauCallback(
  optimizer: tf.Optimizer,
  opts: ReduceLrOnPlateauOptions = {},
  log: (line: string) => void = () => {},
): ReduceLrOnPlateauCallback {
  const reducer = new ReduceLrOnPlateau(learningRateOf(optimizer), opts);
  return {
    reducer,
    onEpochEnd(epoch, logs) {
      const value = logs[reducer.monitor];
      const d = reducer.update(typeof value === "number" ? value : undefined);
      if (d.reduced) {
        setLearningRate(optimizer, d.learningRate);
        log(
          `epoch ${
            epoch + 1
          }: ReduceLROnPlateau reducing learning rate to ${d.learningRate}`,
        );
      }
    },
  };
}
