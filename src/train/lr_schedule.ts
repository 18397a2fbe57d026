/**
 * Learning-rate schedules as pure functions of the optimizer step, with the
 * formulas of Keras 3's schedule classes and fastai's one-cycle policy:
 *
 * - `"constant"`: the configured rate at every step (Keras' default).
 * - `"cosine"`: Keras' `CosineDecay(initial_learning_rate, decay_steps,
 *   alpha, warmup_target, warmup_steps)`. Without warmup the rate decays from
 *   the configured rate to `alpha` times it over `decaySteps` steps and stays
 *   there; with `warmupSteps > 0` it first rises linearly from `warmupFrom`
 *   (Keras' `initial_learning_rate`) to the configured rate (Keras'
 *   `warmup_target`), then decays.
 * - `"exponential"`: Keras' `ExponentialDecay`: `lr · decayRate^(step /
 *   decaySteps)`, the exponent floored with `staircase`.
 * - `"one-cycle"`: fastai's `fit_one_cycle`: over the stage's steps, cosine
 *   from `lr / div` up to `lr` during the first `pctStart` of them, then
 *   cosine down to `lr / divFinal`, with the momentum (Adam's β₁) cycled the
 *   other way, `moms[0] → moms[1] → moms[2]`. The position of step `s` is
 *   `s / totalSteps`, as fastai's scheduler reads it before each batch.
 *
 * `step` is the optimizer's iteration count before the update (0-based), as
 * Keras' optimizers call their schedule; each stage has its own optimizer,
 * so steps restart at 0 in fine-tuning. Values are computed in double
 * precision (Keras computes in float32: they agree to ~1e-7 relative).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { lrSchedule } from "./lr_schedule.ts";
 * const s = lrSchedule("cosine", { learningRate: 1e-3, totalSteps: 100, stepsPerEpoch: 10 });
 * assert.equal(s.lrAt(0), 1e-3);
 * assert.ok(Math.abs(s.lrAt(50) - 5e-4) < 1e-12);
 * assert.equal(s.momentumAt(0), null);
 * ```
 *
 * @module
 */

import type { Config, TrainLrScheduleConfig } from "../config/types.ts";

/** The `lrSchedule` config value (of `train` or `fineTune`). */
export type LrScheduleConfig = Config["train"]["lrSchedule"];

/** What a schedule needs to know about its stage. */
export interface ScheduleContext {
  /** The stage's configured learning rate (`train.learningRate` / `fineTune.learningRate`). */
  learningRate: number;
  /** Optimizer steps the stage plans: epochs × batches per epoch. */
  totalSteps: number;
  /** Batches per epoch. */
  stepsPerEpoch: number;
  /** Config key for messages (default `"train.lrSchedule"`). */
  key?: string;
}

/** A resolved schedule: rate (and momentum) per optimizer step. */
export interface LrSchedule {
  /** `"constant"`, `"cosine"`, `"exponential"` or `"one-cycle"`. */
  readonly type: string;
  /** The learning rate of optimizer step `step` (0-based). */
  lrAt(step: number): number;
  /** The momentum (Adam's β₁) of step `step`, or null when the schedule leaves it alone. */
  momentumAt(step: number): number | null;
  /** Resolved parameters, for logs and `summary.json`. */
  readonly params: Readonly<Record<string, number | boolean | number[] | null>>;
}

/** Options of {@link cosineDecay}, named as Keras' arguments. */
export interface CosineDecayOptions {
  /** Keras' `initial_learning_rate`. */
  initialLearningRate: number;
  /** Keras' `decay_steps` (> 0). */
  decaySteps: number;
  /** Floor as a fraction of the decayed-from rate (default 0). */
  alpha?: number;
  /** Keras' `warmup_target`: null for no warmup (default). */
  warmupTarget?: number | null;
  /** Keras' `warmup_steps` (default 0). */
  warmupSteps?: number;
}

/** Keras' `CosineDecay` as a function of the step. */
export function cosineDecay(o: CosineDecayOptions): (step: number) => number {
  const alpha = o.alpha ?? 0;
  const warmupSteps = o.warmupSteps ?? 0;
  const target = o.warmupTarget ?? null;
  const decay = (step: number, from: number) => {
    const fraction = step / o.decaySteps;
    const cosine = 0.5 * (1 + Math.cos(Math.PI * fraction));
    return from * ((1 - alpha) * cosine + alpha);
  };
  return (step) => {
    if (target === null) {
      return decay(Math.min(step, o.decaySteps), o.initialLearningRate);
    }
    const s = Math.min(step, o.decaySteps + warmupSteps);
    if (s < warmupSteps) {
      return (target - o.initialLearningRate) * (s / warmupSteps) +
        o.initialLearningRate;
    }
    return decay(s - warmupSteps, target);
  };
}

/** Options of {@link exponentialDecay}, named as Keras' arguments. */
export interface ExponentialDecayOptions {
  /** Keras' `initial_learning_rate`. */
  initialLearningRate: number;
  /** Keras' `decay_steps` (> 0). */
  decaySteps: number;
  /** Keras' `decay_rate`. */
  decayRate: number;
  /** Floor the exponent (default false). */
  staircase?: boolean;
}

/** Keras' `ExponentialDecay` as a function of the step. */
export function exponentialDecay(
  o: ExponentialDecayOptions,
): (step: number) => number {
  return (step) => {
    const p = step / o.decaySteps;
    return o.initialLearningRate *
      Math.pow(o.decayRate, o.staircase ? Math.floor(p) : p);
  };
}

/** fastai's `SchedCos(start, end)` at position `pos` in [0, 1]. */
function schedCos(start: number, end: number, pos: number): number {
  return start + (1 + Math.cos(Math.PI * (1 - pos))) * (end - start) / 2;
}

/** fastai's `combined_cos(pct, start, middle, end)` at position `pos`. */
export function combinedCos(
  pct: number,
  start: number,
  middle: number,
  end: number,
  pos: number,
): number {
  if (Math.trunc(pos) === 1) return schedCos(middle, end, 1);
  return pos >= pct
    ? schedCos(middle, end, (pos - pct) / (1 - pct))
    : schedCos(start, middle, pos / pct);
}

/** Options of {@link oneCycle}, named after fastai's `fit_one_cycle` arguments. */
export interface OneCycleOptions {
  /** fastai's `lr_max`. */
  lrMax: number;
  /** Steps of the whole cycle (fastai: epochs × batches). */
  totalSteps: number;
  /** Fraction of the steps spent warming up (fastai default 0.25). */
  pctStart?: number;
  /** The rate starts at `lrMax / div` (default 25). */
  div?: number;
  /** The rate ends at `lrMax / divFinal` (default 1e5). */
  divFinal?: number;
  /** Momentum at start, middle and end, or null for none (default 0.95, 0.85, 0.95). */
  moms?: readonly [number, number, number] | null;
}

/** fastai's one-cycle learning rate and momentum as functions of the step. */
export function oneCycle(o: OneCycleOptions): {
  lrAt: (step: number) => number;
  momentumAt: (step: number) => number | null;
} {
  const pct = o.pctStart ?? 0.25;
  const div = o.div ?? 25;
  const divFinal = o.divFinal ?? 1e5;
  const moms = o.moms === undefined ? [0.95, 0.85, 0.95] as const : o.moms;
  const pos = (step: number) => Math.min(step / o.totalSteps, 1);
  return {
    lrAt: (step) =>
      combinedCos(pct, o.lrMax / div, o.lrMax, o.lrMax / divFinal, pos(step)),
    momentumAt: (step) =>
      moms === null
        ? null
        : combinedCos(pct, moms[0], moms[1], moms[2], pos(step)),
  };
}

/**
 * Resolves a config `lrSchedule` for one stage: fills the defaults that
 * depend on the stage (cosine `decaySteps`: the stage's steps after
 * warmup; exponential `decaySteps`: one epoch) and checks what only the
 * stage can tell.
 *
 * @throws {RangeError} naming the key when the stage has too few steps for the schedule
 */
export function lrSchedule(
  config: LrScheduleConfig,
  ctx: ScheduleContext,
): LrSchedule {
  const key = ctx.key ?? "train.lrSchedule";
  const spec: TrainLrScheduleConfig = typeof config === "string"
    ? { type: config }
    : config;
  const lr = ctx.learningRate;
  const none = () => null;
  switch (spec.type) {
    case "constant":
      return { type: "constant", lrAt: () => lr, momentumAt: none, params: {} };
    case "cosine": {
      const c = spec;
      const warmupSteps = c.warmupSteps ?? 0;
      const decaySteps = c.decaySteps ?? ctx.totalSteps - warmupSteps;
      if (!(decaySteps >= 1)) {
        throw new RangeError(
          `${key}.warmupSteps: ${warmupSteps} warmup steps leave no decay steps in a stage of ${ctx.totalSteps} steps (set ${key}.decaySteps or fewer warmup steps)`,
        );
      }
      const alpha = c.alpha ?? 0;
      const warm = warmupSteps > 0;
      const warmupFrom = c.warmupFrom ?? 0;
      const f = cosineDecay({
        initialLearningRate: warm ? warmupFrom : lr,
        decaySteps,
        alpha,
        warmupTarget: warm ? lr : null,
        warmupSteps,
      });
      return {
        type: "cosine",
        lrAt: f,
        momentumAt: none,
        params: { decaySteps, alpha, warmupSteps, warmupFrom },
      };
    }
    case "exponential": {
      if (spec.decayRate === undefined) {
        throw new RangeError(
          `${key}.decayRate: the exponential schedule needs one`,
        );
      }
      const decaySteps = spec.decaySteps ?? ctx.stepsPerEpoch;
      const f = exponentialDecay({
        initialLearningRate: lr,
        decaySteps,
        decayRate: spec.decayRate,
        staircase: spec.staircase,
      });
      return {
        type: "exponential",
        lrAt: f,
        momentumAt: none,
        params: {
          decaySteps,
          decayRate: spec.decayRate,
          staircase: spec.staircase ?? false,
        },
      };
    }
    case "one-cycle": {
      const c = spec;
      const moms = c.moms === undefined
        ? [0.95, 0.85, 0.95] as [number, number, number]
        : c.moms;
      const params = {
        pctStart: c.pctStart ?? 0.25,
        div: c.div ?? 25,
        divFinal: c.divFinal ?? 1e5,
        moms,
      };
      const f = oneCycle({ lrMax: lr, totalSteps: ctx.totalSteps, ...params });
      return { type: "one-cycle", ...f, params };
    }
    default:
      throw new RangeError(
        `${key}: unknown schedule ${
          JSON.stringify((spec as { type: unknown }).type)
        } (expected constant, cosine, exponential or one-cycle)`,
      );
  }
}
