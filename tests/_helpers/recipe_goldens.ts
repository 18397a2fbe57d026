/**
 * The Keras 3.15 goldens of the training recipes
 * (`fixtures/keras/recipes/recipe_goldens.json`, made by
 * `make_recipe_goldens.py` next to it), typed.
 *
 * @module
 */

/** One schedule's per-step rates from a Keras schedule class. */
export interface ScheduleGolden {
  /** `"cosine"` or `"exponential"`. */
  type: string;
  /** The Keras constructor arguments. */
  args: Record<string, number | boolean>;
  /** `schedule(step)` for step 0, 1, … */
  lr: number[];
}

/** fastai's one-cycle rates and momenta per step (formula, computed in Python). */
export interface OneCycleGolden {
  /** The fit_one_cycle arguments. */
  args: {
    total_steps: number;
    lr_max: number;
    pct_start: number;
    div: number;
    div_final: number;
    moms: [number, number, number];
  };
  /** Rate per step. */
  lr: number[];
  /** Momentum per step. */
  mom: number[];
}

/** A loss golden for one label smoothing. */
export interface LossGolden {
  /** Keras' label_smoothing. */
  label_smoothing: number;
  /** Per-sample losses (`reduction=None`). */
  per_sample: number[];
  /** The batch loss. */
  mean: number;
  /** The batch loss with the class weights as sample weights. */
  weighted_mean: number;
}

/** A ReduceLROnPlateau trace. */
export interface ReduceLrGolden {
  /** The monitored metric. */
  monitor: "val_loss" | "val_accuracy";
  /** Keras arguments. */
  args: {
    factor: number;
    patience: number;
    min_delta: number;
    cooldown: number;
    min_lr: number;
  };
  /** The optimizer's starting rate. */
  initial_learning_rate: number;
  /** Monitored value per epoch. */
  values: number[];
  /** `logs["learning_rate"]` per epoch. */
  logged_learning_rate: number[];
  /** The optimizer's rate after each epoch's decision. */
  learning_rate_after: number[];
}

/** A tiny end-to-end Keras fit. */
export interface FitGolden {
  /** `"softmax"` (Dense(3, softmax)) or `"logit"` (Dense(1)). */
  head: "softmax" | "logit";
  /** Training features, `[24][5]`. */
  features: number[][];
  /** Training class indices. */
  labels: number[];
  /** Validation features. */
  val_features: number[][];
  /** Validation class indices. */
  val_labels: number[];
  /** Initial Dense kernel `[5][units]`. */
  kernel: number[][];
  /** Initial Dense bias. */
  bias: number[];
  /** The "balanced" class weights Keras got. */
  class_weight: number[];
  /** Keras' label_smoothing. */
  label_smoothing: number;
  /** Epochs. */
  epochs: number;
  /** Batch size (no shuffling). */
  batch_size: number;
  /** The CosineDecay arguments. */
  schedule: {
    initial_learning_rate: number;
    warmup_target: number;
    warmup_steps: number;
    decay_steps: number;
    alpha: number;
  };
  /** history["loss"]. */
  loss: number[];
  /** history["val_loss"]. */
  val_loss: number[];
  /** `optimizer.learning_rate` read in on_epoch_end. */
  epoch_end_learning_rate: number[];
  /** Dense kernel after the fit. */
  kernel_after: number[][];
  /** Dense bias after the fit. */
  bias_after: number[];
}

/** The whole goldens file. */
export interface RecipeGoldens {
  /** Versions that made it. */
  versions: { keras: string; tensorflow: string };
  /** Keras schedules. */
  schedules: ScheduleGolden[];
  /** fastai one-cycle (formula). */
  one_cycle: OneCycleGolden[];
  /** Keras losses on fixed inputs. */
  losses: {
    probs: number[][];
    labels: number[];
    class_weights: number[];
    categorical: LossGolden[];
    logits: number[];
    binary_labels: number[];
    binary_class_weights: number[];
    binary: LossGolden[];
  };
  /** ReduceLROnPlateau traces. */
  reduce_lr: ReduceLrGolden[];
  /** End-to-end fits. */
  fits: FitGolden[];
}

/** Reads the goldens. */
export async function recipeGoldens(): Promise<RecipeGoldens> {
  return JSON.parse(
    await Deno.readTextFile(
      new URL(
        "../../fixtures/keras/recipes/recipe_goldens.json",
        import.meta.url,
      ),
    ),
  );
}

/** Asserts |a − b| ≤ rtol·|b| + atol element-wise, naming the first miss. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  atol = 0,
  what = "values",
): void {
  if (actual.length !== expected.length) {
    throw new Error(
      `${what}: ${actual.length} values, expected ${expected.length}`,
    );
  }
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const b = expected[i];
    if (!(Math.abs(a - b) <= rtol * Math.abs(b) + atol)) {
      throw new Error(
        `${what}[${i}]: ${a}, expected ${b} (rtol ${rtol}, atol ${atol})`,
      );
    }
  }
}
