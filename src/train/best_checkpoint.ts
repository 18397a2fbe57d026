/**
 * "Save the best model" with the semantics of Keras'
 * `ModelCheckpoint(save_best_only=True)`: after each epoch, the monitored
 * value is compared with the best so far (`val_loss` lower, `val_accuracy`
 * higher; a tie is not a new best; the first value always is, unless an
 * `initialValueThreshold` must be beaten first), and the model is saved only
 * on a new best. As in Keras, the best is kept across `fit` calls, so one
 * tracker spans every stage of a run.
 *
 * Differences from Keras, on purpose: a NaN value is never a new best, and
 * a missing value skips the epoch instead of saving unconditionally.
 *
 * @module
 */

import {
  isImprovement,
  type Monitor,
  type MonitorMode,
  monitorMode,
} from "./early_stopping.ts";
import type { FitCallbacks } from "./fit.ts";
import type { MetricsRow } from "./fit.ts";

/** Options of {@link BestTracker} and {@link bestCheckpointCallback}. */
export interface BestCheckpointOptions {
  /** Metric to watch (default `"val_loss"`). */
  monitor?: Monitor;
  /** Smallest change that counts as better (default 0, as Keras). */
  minDelta?: number;
  /** A value the first best must beat (Keras' `initial_value_threshold`). */
  initialValueThreshold?: number | null;
}

/** Decides, epoch by epoch, whether the monitored value is a new best. */
export class BestTracker {
  /** The watched metric. */
  readonly monitor: Monitor;
  /** Its direction. */
  readonly mode: MonitorMode;
  /** Smallest change that counts as better. */
  readonly minDelta: number;
  #best: number | null;
  #bestEpoch: number | null = null;

  /**
   * A tracker of the best monitored value.
   *
   * @throws {RangeError} naming the option and what was expected
   */
  constructor(opts: BestCheckpointOptions = {}) {
    this.monitor = opts.monitor ?? "val_loss";
    this.mode = monitorMode(this.monitor);
    const minDelta = opts.minDelta ?? 0;
    if (!Number.isFinite(minDelta) || minDelta < 0) {
      throw new RangeError(
        `minDelta: expected a finite number ≥ 0, found ${minDelta}`,
      );
    }
    this.minDelta = minDelta;
    const t = opts.initialValueThreshold ?? null;
    if (t !== null && !Number.isFinite(t)) {
      throw new RangeError(
        `initialValueThreshold: expected a finite number or null, found ${t}`,
      );
    }
    this.#best = t;
  }

  /** Best value so far (or the initial threshold), or null. */
  get best(): number | null {
    return this.#best;
  }

  /** 0-based epoch of the best value, or null before the first. */
  get bestEpoch(): number | null {
    return this.#bestEpoch;
  }

  /**
   * Feeds the value after `epoch` (0-based); true when it is a new best
   * (then remembered). `undefined` (not available) is never a new best.
   */
  update(epoch: number, value: number | undefined): boolean {
    if (
      value === undefined ||
      !isImprovement(value, this.#best, this.mode, this.minDelta)
    ) {
      return false;
    }
    this.#best = value;
    this.#bestEpoch = epoch;
    return true;
  }
}

/** What {@link bestCheckpointCallback} did (epochs 1-based), for `summary.json`. */
export interface BestCheckpointRecord {
  /** The watched metric. */
  monitor: Monitor;
  /** Epoch of the saved model, or null when nothing was saved. */
  bestEpoch: number | null;
  /** Its monitored value, or null. */
  bestValue: number | null;
  /** How many times the model was saved. */
  saves: number;
}

/** The adapter returned by {@link bestCheckpointCallback}. */
export interface BestCheckpointCallback extends FitCallbacks {
  /** The tracker it drives. */
  readonly tracker: BestTracker;
  /** What was saved so far. */
  record(): BestCheckpointRecord;
}

/**
 * A {@link FitCallbacks} that calls `save(epoch, row)` (epoch 1-based, as in
 * `metrics.csv`) after every epoch whose `logs[monitor]` is a new best. Use
 * one instance for all stages of a run. A failing `save` fails the epoch (the
 * error propagates out of `fitLoop`).
 */
export function bestCheckpointCallback(
  save: (epoch: number, row: MetricsRow) => void | Promise<void>,
  opts: BestCheckpointOptions = {},
): BestCheckpointCallback {
  const tracker = new BestTracker(opts);
  let saves = 0;
  return {
    tracker,
    async onEpochEnd(epoch, logs, row) {
      const v = logs[tracker.monitor];
      if (tracker.update(epoch, typeof v === "number" ? v : undefined)) {
        await save(epoch + 1, row);
        saves++;
      }
    },
    record() {
      const e = tracker.bestEpoch;
      return {
        monitor: tracker.monitor,
        bestEpoch: e === null ? null : e + 1,
        bestValue: e === null ? null : tracker.best,
        saves,
      };
    },
  };
}
