/**
 * fastai's learning-rate finder (`Learner.lr_find`, the `LRFinder` callback
 * and its suggestion functions), as pure functions of the losses: no
 * TensorFlow.js here (the training loop that feeds it is `lr_sweep.ts`).
 *
 * - **Schedule.** Iteration `i` (0-based) trains at
 *   `startLr · (endLr / startLr)^(i / numIt)` (fastai's `SchedExp` at
 *   `train_iter / num_it`), for at most `numIt` iterations; fastai raises a
 *   `numIt` below 6 to 6, and so does this.
 * - **Smoothed loss.** fastai's `AvgSmoothLoss` (β = 0.98): `val` is
 *   `torch.lerp(loss, val, β)` — for β ≥ 0.5 torch computes it as
 *   `val − (val − loss)·(1 − β)` — and the recorded loss is
 *   `val / (1 − β^n)` after `n` batches (bias correction).
 * - **Stop.** After recording an iteration: when the smoothed loss exceeds 4×
 *   the best smoothed loss so far (`stopDiv`, on by default) the sweep stops
 *   (diverged), else after `numIt` iterations (completed). One deviation,
 *   named `"non-finite-loss"`: a NaN raw loss ends the sweep at once, where
 *   fastai trains on to `numIt` recording NaN; fastai's suggestions cut at the
 *   first NaN, and {@link suggestLrs} cuts its window where fastai's would, so
 *   the suggestions are the same (only the wasted iterations are saved).
 * - **Suggestions**, on fastai's window of the records — from index
 *   `⌊numIt / 10⌋` to 5 before the end, cut at the first NaN — computed with
 *   fastai's formulas:
 *   - `valley` (fastai's default since PR #3408): the longest decreasing
 *     subsequence of the losses ("the longest valley"), found with fastai's
 *     O(n²) loop, and the point ⌊s⌋ + ⌊s/2⌋ past its start, `s` a third of
 *     its length — with fastai's start one before the valley's first point,
 *     and a negative index counted from the end, as Python does;
 *   - `minimum`: a tenth of the learning rate at the lowest smoothed loss;
 *   - `steep`: the learning rate at the start of the steepest descent of the
 *     loss against ln(lr).
 *
 * fastai computes the suggestions on float32 tensors; these use float64 (the
 * golden test, `fixtures/fastai/make_lr_find_goldens.py`, checks both give
 * the same indices on its curves).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LrFinder, suggestLrs } from "./lr_find.ts";
 * const finder = new LrFinder({ numIt: 50 });
 * while (!finder.done) {
 *   const lr = finder.lr;
 *   // A loss that falls until lr ≈ 1e-2, then explodes.
 *   finder.record(1 + Math.log10(lr) ** 2 / 100 + (lr > 1e-2 ? 50 * lr : 0));
 * }
 * assert.equal(finder.stopReason, "diverged");
 * const s = suggestLrs(finder.records, finder.options, finder.stopReason);
 * assert.ok(s.valley && s.valley.lr > 1e-7 && s.valley.lr < 10);
 * ```
 *
 * @module
 */

/** The finder's settings (fastai's `lr_find` arguments, and the smoothing). */
export interface LrFindOptions {
  /** First learning rate. fastai: 1e-7. */
  startLr: number;
  /** Learning rate the schedule reaches at iteration `numIt`. fastai: 10. */
  endLr: number;
  /** Iterations of the sweep (at least 6 are run). fastai: 100. */
  numIt: number;
  /** Stop when the smoothed loss exceeds 4× its best. fastai: true. */
  stopDiv: boolean;
  /** Smoothing of the loss (fastai's `AvgSmoothLoss`): 0.98. */
  beta: number;
}

/** fastai's defaults. */
export const LR_FIND_DEFAULTS: Readonly<LrFindOptions> = Object.freeze({
  startLr: 1e-7,
  endLr: 10,
  numIt: 100,
  stopDiv: true,
  beta: 0.98,
});

/**
 * The options with fastai's defaults for what is missing; a RangeError
 * names the option when a value cannot work.
 */
export function lrFindOptions(
  partial: Partial<LrFindOptions> = {},
): LrFindOptions {
  const o = { ...LR_FIND_DEFAULTS };
  for (const [k, v] of Object.entries(partial)) {
    if (v !== undefined) (o as Record<string, unknown>)[k] = v;
  }
  const positive = (name: keyof LrFindOptions, v: number) => {
    if (!(Number.isFinite(v) && v > 0)) {
      throw new RangeError(`${name}: expected a positive number, found ${v}`);
    }
  };
  positive("startLr", o.startLr);
  positive("endLr", o.endLr);
  if (!(o.endLr > o.startLr)) {
    throw new RangeError(
      `endLr (${o.endLr}) must be greater than startLr (${o.startLr})`,
    );
  }
  if (!(Number.isInteger(o.numIt) && o.numIt >= 1)) {
    throw new RangeError(`numIt: expected an integer >= 1, found ${o.numIt}`);
  }
  if (!(o.beta >= 0 && o.beta < 1)) {
    throw new RangeError(`beta: expected a number in [0, 1), found ${o.beta}`);
  }
  if (typeof o.stopDiv !== "boolean") {
    throw new RangeError(`stopDiv: expected a boolean, found ${o.stopDiv}`);
  }
  return o;
}

/** Iterations the sweep runs at most: `numIt`, raised to 6 as fastai does. */
export function sweepIterations(numIt: number): number {
  return Math.max(6, numIt);
}

/**
 * The learning rate of iteration `i` (0-based):
 * `startLr · (endLr / startLr)^(i / n)`, `n` = {@link sweepIterations}.
 */
export function sweepLr(
  opts: Pick<LrFindOptions, "startLr" | "endLr" | "numIt">,
  i: number,
): number {
  const n = sweepIterations(opts.numIt);
  return opts.startLr * (opts.endLr / opts.startLr) ** (i / n);
}

/**
 * fastai's `AvgSmoothLoss`: an exponential moving average of the losses
 * with bias correction (see the module doc).
 */
export class SmoothedLoss {
  #val = 0;
  #count = 0;
  /** Weight of the past (0.98 in fastai). */
  readonly beta: number;
  /**
   * An empty average.
   *
   * @param beta weight of the past (0.98 in fastai)
   */
  constructor(beta: number = LR_FIND_DEFAULTS.beta) {
    this.beta = beta;
  }
  /** Adds one batch's loss; returns the smoothed value. */
  add(loss: number): number {
    this.#count++;
    // torch.lerp(loss, val, beta) for beta >= 0.5 (its other branch below).
    this.#val = this.beta >= 0.5
      ? this.#val - (this.#val - loss) * (1 - this.beta)
      : loss + this.beta * (this.#val - loss);
    return this.value;
  }
  /** The smoothed loss: the average divided by 1 − β^n. */
  get value(): number {
    return this.#val / (1 - this.beta ** this.#count);
  }
  /** Losses added so far. */
  get count(): number {
    return this.#count;
  }
}

/** One iteration of the sweep. */
export interface LrFindRecord {
  /** 0-based iteration. */
  iteration: number;
  /** Learning rate the batch trained at. */
  lr: number;
  /** The batch's loss. */
  loss: number;
  /** The smoothed loss after it (what fastai records and plots). */
  smoothLoss: number;
}

/**
 * Why a sweep ended: all iterations ran, the smoothed loss exceeded 4× its
 * best, a raw loss was NaN (or infinite without `stopDiv`), or a stop
 * request.
 */
export type LrFindStop =
  | "completed"
  | "diverged"
  | "non-finite-loss"
  | "interrupted";

/**
 * The sweep's state: the learning rate of the next iteration, the records
 * so far and, once it has stopped, why. Feed it each batch's loss with
 * {@link LrFinder.record}.
 */
export class LrFinder {
  /** The resolved options. */
  readonly options: LrFindOptions;
  /** Every iteration so far. */
  readonly records: LrFindRecord[] = [];
  #smooth: SmoothedLoss;
  #best = Infinity;
  #stop: LrFindStop | null = null;

  /**
   * A sweep about to start.
   *
   * @param options fastai's defaults for what is missing ({@link lrFindOptions})
   */
  constructor(options: Partial<LrFindOptions> = {}) {
    this.options = lrFindOptions(options);
    this.#smooth = new SmoothedLoss(this.options.beta);
  }

  /** Iterations at most ({@link sweepIterations}). */
  get iterations(): number {
    return sweepIterations(this.options.numIt);
  }

  /** The learning rate of the next iteration. */
  get lr(): number {
    return sweepLr(this.options, this.records.length);
  }

  /** Whether the sweep has stopped. */
  get done(): boolean {
    return this.#stop !== null;
  }

  /** Why the sweep stopped; null while it runs. */
  get stopReason(): LrFindStop | null {
    return this.#stop;
  }

  /** The best smoothed loss so far. */
  get bestLoss(): number {
    return this.#best;
  }

  /**
   * Records the loss of the iteration trained at {@link LrFinder.lr} and
   * decides whether to stop (see the module doc). Throws once stopped.
   */
  record(loss: number): LrFindRecord {
    if (this.#stop) throw new Error(`the sweep has stopped (${this.#stop})`);
    const record: LrFindRecord = {
      iteration: this.records.length,
      lr: this.lr,
      loss,
      smoothLoss: this.#smooth.add(loss),
    };
    this.records.push(record);
    const s = record.smoothLoss;
    if (s < this.#best) this.#best = s;
    if (this.options.stopDiv && s > 4 * this.#best) this.#stop = "diverged";
    else if (!Number.isFinite(loss)) this.#stop = "non-finite-loss";
    else if (this.records.length >= this.iterations) this.#stop = "completed";
    return record;
  }

  /** Ends the sweep on a stop request (no effect once stopped). */
  interrupt(): void {
    this.#stop ??= "interrupted";
  }
}

/** One suggested learning rate, and the point fastai marks on the plot. */
export interface LrSuggestion {
  /** The suggested learning rate. */
  lr: number;
  /** The marked point: a learning rate of the sweep and its smoothed loss. */
  point: { lr: number; loss: number };
  /** Index of the marked point in the sweep's records. */
  index: number;
}

/** The three suggestions, each null where fastai's function would fail. */
export interface LrSuggestions {
  /** Records `[start, end)` the suggestions were computed on. */
  window: { start: number; end: number };
  /** fastai's default: from the longest valley. Needs 1 point. */
  valley: LrSuggestion | null;
  /** A tenth of the lr at the lowest loss. Needs 1 point. */
  minimum: LrSuggestion | null;
  /** The lr where the loss falls fastest. Needs 2 points. */
  steep: LrSuggestion | null;
}

/**
 * The records fastai's `lr_find` computes its suggestions on: from
 * `⌊numIt / 10⌋` to 5 before the last record, then cut at the first NaN
 * smoothed loss. After a `"non-finite-loss"` stop, "the last record" is the
 * one fastai would have reached (it trains on to the last iteration), so the
 * window is the same as fastai's.
 */
export function suggestionWindow(
  records: readonly LrFindRecord[],
  numIt: number,
  stop: LrFindStop | null,
): { start: number; end: number } {
  const start = Math.floor(numIt / 10);
  const length = stop === "non-finite-loss"
    ? sweepIterations(numIt)
    : records.length;
  let end = Math.min(records.length, length - 5);
  const nan = records.findIndex((r) => Number.isNaN(r.smoothLoss));
  if (nan >= 0) end = Math.min(end, nan);
  return { start, end: Math.max(start, end) };
}

/**
 * fastai's `valley` on one window: the learning rate a third-and-a-half-third
 * of the way into the longest valley, with its index in `lrs`; null for no
 * point.
 */
export function valley(
  lrs: readonly number[],
  losses: readonly number[],
): { lr: number; index: number } | null {
  const n = losses.length;
  if (n === 0) return null;
  let maxStart = 0;
  let maxEnd = 0;
  const lds = new Array<number>(n).fill(1);
  for (let i = 1; i < n; i++) {
    for (let j = 0; j < i; j++) {
      if (losses[i] < losses[j] && lds[i] < lds[j] + 1) lds[i] = lds[j] + 1;
      if (lds[maxEnd] < lds[i]) {
        maxEnd = i;
        maxStart = maxEnd - lds[maxEnd];
      }
    }
  }
  // fastai's start is one before the valley's first point: -1 for a valley
  // from the window's start, where a short valley's index stays negative
  // and Python's indexing counts it from the end.
  const sections = (maxEnd - maxStart) / 3;
  const at = maxStart + Math.trunc(sections) + Math.trunc(sections / 2);
  const index = at < 0 ? at + n : at;
  return { lr: lrs[index], index };
}

/**
 * Index of the first smallest value (torch's and numpy's `argmin`; the
 * windows hold no NaN).
 */
function argmin(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) {
    if (values[i] < values[best]) best = i;
  }
  return best;
}

/**
 * fastai's `minimum`: a tenth of the learning rate at the lowest loss, and
 * that point's index; null for no point.
 */
export function minimum(
  lrs: readonly number[],
  losses: readonly number[],
): { lr: number; index: number } | null {
  if (losses.length === 0) return null;
  const index = argmin(losses);
  return { lr: lrs[index] / 10, index };
}

/**
 * fastai's `steep`: the learning rate at the left end of the steepest
 * segment of loss against ln(lr), and its index; null for under 2 points.
 */
export function steep(
  lrs: readonly number[],
  losses: readonly number[],
): { lr: number; index: number } | null {
  if (losses.length < 2) return null;
  const grads = losses.slice(1).map((l, i) =>
    (l - losses[i]) / (Math.log(lrs[i + 1]) - Math.log(lrs[i]))
  );
  const index = argmin(grads);
  return { lr: lrs[index], index };
}

/**
 * The three suggestions on fastai's window ({@link suggestionWindow}) of
 * the records, with the points fastai marks (for `minimum` the lowest
 * point, not the suggested tenth of its lr).
 */
export function suggestLrs(
  records: readonly LrFindRecord[],
  options: Pick<LrFindOptions, "numIt">,
  stop: LrFindStop | null,
): LrSuggestions {
  const window = suggestionWindow(records, options.numIt, stop);
  const part = records.slice(window.start, window.end);
  const lrs = part.map((r) => r.lr);
  const losses = part.map((r) => r.smoothLoss);
  const mark = (
    s: { lr: number; index: number } | null,
  ): LrSuggestion | null =>
    s && {
      lr: s.lr,
      point: { lr: lrs[s.index], loss: losses[s.index] },
      index: window.start + s.index,
    };
  return {
    window,
    valley: mark(valley(lrs, losses)),
    minimum: mark(minimum(lrs, losses)),
    steep: mark(steep(lrs, losses)),
  };
}
