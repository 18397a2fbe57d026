/**
 * Early stopping with Keras 3 semantics (`keras.callbacks.EarlyStopping`):
 * a pure state machine ({@link EarlyStopping}) fed one monitored value per
 * epoch, and a {@link FitCallbacks} adapter ({@link earlyStoppingCallback})
 * that asks {@link fitLoop} to stop and keeps and restores the best weights.
 *
 * The rules, as Keras 3.x implements them:
 *
 * - The direction follows the monitor: `val_loss` is minimised,
 *   `val_accuracy` maximised. A value improves on the best when it beats it
 *   by more than `minDelta` (strictly: a tie is no improvement).
 * - Every monitored epoch adds one to `wait`; an improvement records the new
 *   best and resets `wait` to 0, but with a `baseline` only when the value
 *   also improves on the baseline. Training stops when `wait >= patience`
 *   after an epoch that did not improve, never after epoch 0.
 * - Epochs before `startFromEpoch` are not monitored (warm-up).
 * - `restoreBestWeights`: the weights after the best epoch are copied (the
 *   first monitored epoch's when nothing ever improves) and written back
 *   when training ends, whether it stopped early or ran all its epochs (Keras
 *   3 restores in `on_train_end`; Keras 2 restored only on an early stop).
 * - Epoch indices are 0-based and absolute (they continue across stages, as
 *   Keras' `initial_epoch`), so `epoch > 0` and `startFromEpoch` use them.
 *   Reported epochs ({@link EarlyStoppingRecord}) are 1-based, as in
 *   `metrics.csv`.
 *
 * One deliberate difference: a NaN monitored value is never an improvement
 * and never becomes the best (it still counts towards `patience`). Keras
 * takes a NaN first value as the best, after which nothing can improve.
 * A missing value (`undefined`) skips the epoch, as Keras does for a metric
 * that is not in the logs.
 *
 * @module
 */

import type * as tf from "../deps/tf.ts";
import type { FitCallbacks, FitResult } from "./fit.ts";

/** The metrics that can be monitored (validation loss or accuracy). */
export type Monitor = "val_loss" | "val_accuracy";

/** Whether the monitored value should go down or up. */
export type MonitorMode = "min" | "max";

/** The monitors and their directions. */
export const MONITOR_MODES: Readonly<Record<Monitor, MonitorMode>> = {
  val_loss: "min",
  val_accuracy: "max",
};

/** The direction of `monitor` (Keras' `mode="auto"`). */
export function monitorMode(monitor: Monitor): MonitorMode {
  const mode = MONITOR_MODES[monitor];
  if (!mode) {
    throw new RangeError(
      `monitor: expected one of ${
        Object.keys(MONITOR_MODES).join(", ")
      }, found ${JSON.stringify(monitor)}`,
    );
  }
  return mode;
}

/**
 * Whether `value` improves on `reference` by more than `minDelta` in the
 * given direction (Keras' `MonitorCallback._is_improvement`). A null
 * reference is beaten by any number; a NaN value never improves.
 */
export function isImprovement(
  value: number,
  reference: number | null,
  mode: MonitorMode,
  minDelta = 0,
): boolean {
  if (Number.isNaN(value)) return false;
  if (reference === null) return true;
  const delta = Math.abs(minDelta);
  return mode === "min" ? value + delta < reference : value - delta > reference;
}

/** Options of {@link EarlyStopping} (Keras' argument names in camelCase). */
export interface EarlyStoppingOptions {
  /** Metric to watch (default `"val_loss"`). */
  monitor?: Monitor;
  /** Epochs without improvement before stopping (integer ≥ 0, default 0). */
  patience?: number;
  /** Smallest change that counts as an improvement (≥ 0, default 0). */
  minDelta?: number;
  /**
   * A value the metric must beat before `wait` is reset; when no epoch beats
   * it, training stops after `patience` epochs. Default null (none).
   */
  baseline?: number | null;
  /** Keep the best epoch's weights and restore them at the end (default false). */
  restoreBestWeights?: boolean;
  /** Epochs (0-based absolute index) not monitored at the start (default 0). */
  startFromEpoch?: number;
}

/** What {@link EarlyStopping.update} decided for one epoch. */
export interface EarlyStoppingDecision {
  /** The epoch was not monitored (warm-up or no value). */
  skipped: boolean;
  /** The value is the new best. */
  improved: boolean;
  /**
   * The weights after this epoch should be kept as the best (an improvement,
   * or the first monitored epoch when none has been kept yet).
   */
  keepWeights: boolean;
  /** Training should stop after this epoch. */
  stop: boolean;
}

/** Where an {@link EarlyStopping} stands (epochs 0-based). */
export interface EarlyStoppingState {
  /** Best monitored value so far, or null before the first finite one. */
  best: number | null;
  /** Epoch of the kept weights / best value (Keras' `best_epoch`), or null. */
  bestEpoch: number | null;
  /** Monitored epochs since the last reset of the counter. */
  wait: number;
  /** Epoch after which a stop was requested, or null. */
  stoppedEpoch: number | null;
}

/** The pure early-stopping state machine; see the module notes for the rules. */
export class EarlyStopping {
  /** The watched metric. */
  readonly monitor: Monitor;
  /** Its direction. */
  readonly mode: MonitorMode;
  /** Epochs without improvement before stopping. */
  readonly patience: number;
  /** Smallest change that counts as an improvement. */
  readonly minDelta: number;
  /** Value to beat before `wait` resets, or null. */
  readonly baseline: number | null;
  /** Whether the best weights are to be restored. */
  readonly restoreBestWeights: boolean;
  /** First monitored epoch (0-based). */
  readonly startFromEpoch: number;
  #state: EarlyStoppingState = emptyState();

  /**
   * Early stopping with Keras' defaults for what `opts` leaves out.
   *
   * @throws {RangeError} naming the option and what was expected
   */
  constructor(opts: EarlyStoppingOptions = {}) {
    this.monitor = opts.monitor ?? "val_loss";
    this.mode = monitorMode(this.monitor);
    this.patience = checkCount("patience", opts.patience ?? 0);
    this.startFromEpoch = checkCount(
      "startFromEpoch",
      opts.startFromEpoch ?? 0,
    );
    const minDelta = opts.minDelta ?? 0;
    if (!Number.isFinite(minDelta) || minDelta < 0) {
      throw new RangeError(
        `minDelta: expected a finite number ≥ 0, found ${minDelta}`,
      );
    }
    this.minDelta = minDelta;
    const baseline = opts.baseline ?? null;
    if (baseline !== null && !Number.isFinite(baseline)) {
      throw new RangeError(
        `baseline: expected a finite number or null, found ${baseline}`,
      );
    }
    this.baseline = baseline;
    this.restoreBestWeights = opts.restoreBestWeights ?? false;
  }

  /** A copy of the current state. */
  get state(): EarlyStoppingState {
    return { ...this.#state };
  }

  /** Forgets everything (Keras' `on_train_begin`): use between stages. */
  reset(): void {
    this.#state = emptyState();
  }

  /**
   * Feeds the monitored value after `epoch` (0-based, absolute) and returns
   * what to do. `undefined` means the value is not available.
   */
  update(epoch: number, value: number | undefined): EarlyStoppingDecision {
    const s = this.#state;
    const decision = {
      skipped: false,
      improved: false,
      keepWeights: false,
      stop: false,
    };
    if (value === undefined || epoch < this.startFromEpoch) {
      return { ...decision, skipped: true };
    }
    if (s.bestEpoch === null) {
      // Nothing kept yet: this epoch's weights are the best so far.
      decision.keepWeights = true;
      s.bestEpoch = epoch;
    }
    s.wait++;
    if (isImprovement(value, s.best, this.mode, this.minDelta)) {
      s.best = value;
      s.bestEpoch = epoch;
      decision.improved = true;
      decision.keepWeights = true;
      if (
        this.baseline === null ||
        isImprovement(value, this.baseline, this.mode, this.minDelta)
      ) {
        s.wait = 0;
      }
      return decision;
    }
    if (s.wait >= this.patience && epoch > 0) {
      s.stoppedEpoch = epoch;
      decision.stop = true;
    }
    return decision;
  }

  /** Why training stops, for logs (after a stop decision). */
  stopMessage(): string {
    const s = this.#state;
    const best = s.best === null
      ? "no finite value"
      : `best ${short(s.best)} after epoch ${s.bestEpoch! + 1}`;
    return `early stopping after epoch ${
      s.stoppedEpoch! + 1
    }: ${this.monitor} ` +
      `did not improve by more than ${this.minDelta} for ${s.wait} epoch${
        s.wait === 1 ? "" : "s"
      } (patience ${this.patience}${
        this.baseline === null ? "" : `, baseline ${this.baseline}`
      }; ${best})`;
  }
}

/** A monitored value for messages: 5 significant digits. */
function short(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(5))) : String(v);
}

function emptyState(): EarlyStoppingState {
  return { best: null, bestEpoch: null, wait: 0, stoppedEpoch: null };
}

function checkCount(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) {
    throw new RangeError(`${name}: expected an integer ≥ 0, found ${v}`);
  }
  return v;
}

/** What happened, for `summary.json` and the report (epochs 1-based). */
export interface EarlyStoppingRecord {
  /** The watched metric. */
  monitor: Monitor;
  /** Its direction. */
  mode: MonitorMode;
  /** Options in effect. */
  patience: number;
  /** Options in effect. */
  minDelta: number;
  /** Options in effect. */
  baseline: number | null;
  /** Options in effect. */
  restoreBestWeights: boolean;
  /** Whether early stopping ended training. */
  stopped: boolean;
  /** Last epoch trained when it stopped training, else null. */
  stoppedEpoch: number | null;
  /** Epoch with the best monitored value (or of the kept weights), or null. */
  bestEpoch: number | null;
  /** Best monitored value, or null when no epoch had a finite one. */
  bestValue: number | null;
  /** Epoch whose weights were restored at the end, or null. */
  restoredEpoch: number | null;
  /** One line saying what happened. */
  message: string;
}

/** A model whose variables can be read and written (a `tf.LayersModel` fits). */
export interface WeightsModel {
  /** Every weight, trainable or not, as TF.js `LayerVariable`s. */
  readonly weights: readonly {
    read(): tf.Tensor;
    write(value: tf.Tensor): unknown;
  }[];
}

/** The adapter returned by {@link earlyStoppingCallback}. */
export interface EarlyStoppingCallback extends FitCallbacks {
  /** The state machine it drives. */
  readonly stopper: EarlyStopping;
  /** What happened so far (complete once `fitLoop` has returned). */
  record(): EarlyStoppingRecord;
  /** Frees the kept weights (done by `onFitEnd` too). */
  dispose(): void;
}

/**
 * A {@link FitCallbacks} for one `fitLoop` call (one stage: Keras resets the
 * callback in every `fit`): feeds `logs[monitor]` to an {@link EarlyStopping}
 * after each epoch (NaN when the logs lack it), requests the stop through
 * `shouldStop`, and with `restoreBestWeights` keeps a copy of `model`'s
 * weights after the best epoch and writes them back in `onFitEnd`, whatever
 * ended training (all epochs, early stop, interrupt, non-finite loss).
 * Pass the model that `fitLoop` trains (with cached features, the head; it
 * shares its Dense layer with the full classifier).
 *
 * Only attach it when there is validation data: without it, `val_loss` is
 * NaN every epoch, so it would stop after `patience` epochs.
 */
export function earlyStoppingCallback(
  model: WeightsModel,
  opts: EarlyStoppingOptions = {},
  log: (line: string) => void = () => {},
): EarlyStoppingCallback {
  const stopper = new EarlyStopping(opts);
  let kept: tf.Tensor[] | null = null;
  let keptEpoch: number | null = null;
  let stopRequested: string | null = null;
  let restoredEpoch: number | null = null;
  const dispose = () => {
    kept?.forEach((t) => t.dispose());
    kept = null;
  };
  return {
    stopper,
    onEpochEnd(epoch, logs) {
      const value = logs[stopper.monitor];
      const d = stopper.update(epoch, typeof value === "number" ? value : NaN);
      if (d.keepWeights && stopper.restoreBestWeights) {
        dispose();
        kept = model.weights.map((w) => w.read().clone());
        keptEpoch = epoch;
      }
      if (d.stop) stopRequested = stopper.stopMessage();
    },
    shouldStop: () => stopRequested,
    onFitEnd(_result: FitResult) {
      if (stopRequested) log(stopRequested);
      if (kept) {
        if (kept.length !== model.weights.length) {
          throw new Error(
            `early stopping: kept ${kept.length} weights but the model now has ${model.weights.length}`,
          );
        }
        model.weights.forEach((w, i) => w.write(kept![i]));
        restoredEpoch = keptEpoch;
        log(`restored the weights from the end of epoch ${keptEpoch! + 1}`);
        dispose();
      }
    },
    record() {
      const s = stopper.state;
      const oneBased = (e: number | null) => (e === null ? null : e + 1);
      return {
        monitor: stopper.monitor,
        mode: stopper.mode,
        patience: stopper.patience,
        minDelta: stopper.minDelta,
        baseline: stopper.baseline,
        restoreBestWeights: stopper.restoreBestWeights,
        stopped: stopRequested !== null,
        stoppedEpoch: oneBased(s.stoppedEpoch),
        bestEpoch: oneBased(s.bestEpoch),
        bestValue: s.best,
        restoredEpoch: oneBased(restoredEpoch),
        message: stopRequested ??
          (s.bestEpoch === null
            ? `early stopping: ${stopper.monitor} was never monitored`
            : `early stopping did not stop training; best ${stopper.monitor} ${
              s.best === null ? "none" : short(s.best)
            } after epoch ${s.bestEpoch + 1}`),
      };
    },
    dispose,
  };
}
