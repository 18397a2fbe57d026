/**
 * The train step of a run: the frozen stage (the head, or the whole model
 * when the base is trainable; with `model.head.output: "logit"` their logit
 * graphs, compiled with the loss and accuracy of `head_output.ts`), then, when `fineTune.enabled`, the fine-tuning
 * stage — base layers from `fineTune.fromLayer` on unfrozen, BatchNormalization
 * kept in inference mode, a new optimizer at the fine-tuning learning rate.
 * Epochs are numbered across stages; each finished epoch goes to the run's
 * outputs at once.
 *
 * @module
 */

import { BASE_GRADIENT_KERNELS } from "../backend/wasm_grad_kernels.ts";
import * as tf from "../deps/tf.ts";
import type { Config } from "../config/types.ts";
import type { BuiltModel } from "../model/build.ts";
import { setTrainable } from "../model/classifier.ts";
import { setBatchNormInference } from "../model/batch_norm.ts";
import type { MetricsRow } from "./fit.ts";
import {
  type BatchSource,
  type FitCallbacks,
  fitLoop,
  type FitOptions,
  type FitResult,
} from "./fit.ts";
import type { TrainingInputs } from "./inputs.ts";
import { kerasOptimizer } from "./keras_optimizers.ts";
import { selectTrainEngine } from "./ort_fine_tune.ts";
import { compileArgs } from "./head_output.ts";
import { trainingLoss } from "./training_loss.ts";
import { lrSchedule } from "./lr_schedule.ts";
import { scheduleCallback } from "./schedule_callback.ts";
import { reduceLrOnPlateauCallback } from "./reduce_lr_on_plateau.ts";
import type { HeadOutput } from "../model/classifier.ts";
import {
  earlyStoppingCallback,
  type EarlyStoppingRecord,
} from "./early_stopping.ts";
import {
  bestCheckpointCallback,
  type BestCheckpointRecord,
} from "./best_checkpoint.ts";

/** Context of {@link trainStages} beyond its config slice. */
export interface TrainStagesOptions {
  /** Receives every finished epoch (metrics.csv, charts). */
  onEpoch: (row: MetricsRow) => Promise<void>;
  /** Epochs finished before this call (numbering continues from here). */
  rows: readonly MetricsRow[];
  /** Status lines. */
  log: (line: string) => void;
  /**
   * Makes the progress display of one stage, a fit callback (`run.ts` passes
   * the Keras-like progress bar of `src/report/progbar.ts`); `onTrainEnd` is called
   * when the stage ends. Default: no progress display.
   */
  progressBar?: (shape: StageShape) => StageProgress;
  /** Stop after the current batch. */
  signal?: AbortSignal;
  /** Extra hooks, called after the run's own in every stage. */
  callbacks?: FitCallbacks[];
  /**
   * Saves the model of a new best epoch (`output.saveBest`); null/absent:
   * no best-model checkpoint.
   */
  saveBest?: ((epoch: number, row: MetricsRow) => Promise<void>) | null;
  /**
   * One weight per class from `train.classWeight` (`class_weight.ts`'s
   * `classWeights`), applied to the training loss of both stages as Keras'
   * `fit(class_weight=…)`; null/absent: none.
   */
  classWeights?: readonly number[] | null;
  /**
   * The run's TF.js backend, for `engine.train: "auto"`. Default: the
   * current backend, no hardware-GPU check.
   */
  backend?: { backend: string; fallbackAdapter?: boolean };
}

/** The size of one stage, for its progress display. */
export interface StageShape {
  /** Epochs of the whole run (all stages). */
  epochs: number;
  /** Batches per epoch in this stage. */
  stepsPerEpoch: number;
}

/** A stage's progress display: fit callbacks, and an end. */
export interface StageProgress extends FitCallbacks {
  /** The stage is over. */
  onTrainEnd(): void;
}

/** A stage's learning rate: its schedule and what ReduceLROnPlateau did. */
export interface LearningRateRecord {
  /** `"frozen"` or `"fine_tune"`. */
  stage: string;
  /** The stage's configured rate. */
  learningRate: number;
  /** `"constant"`, `"cosine"`, `"exponential"` or `"one-cycle"`. */
  schedule: string;
  /** The schedule's resolved parameters (defaults filled in from the stage). */
  params: Readonly<Record<string, number | boolean | number[] | null>>;
  /** ReduceLROnPlateau's reductions: after which epoch (1-based, across stages), to what rate. */
  reductions: { epoch: number; learningRate: number }[];
}

/** What {@link trainStages} resolves to. */
export interface StagesResult
  extends Pick<FitResult, "stopReason" | "detail" | "validationProbabilities"> {
  /** Each stage's learning rate, in stage order. */
  learningRate: LearningRateRecord[];
  /** Early stopping in each stage where it was on, in stage order. */
  earlyStopping: (EarlyStoppingRecord & { stage: string })[];
  /** The best-model checkpoint, when `saveBest` was given. */
  bestCheckpoint: BestCheckpointRecord | null;
  /**
   * What ran the fine-tuning steps (`engine.train`) and why; null when no
   * fine-tuning stage ran.
   */
  trainEngine: { engine: string; id: string; reason: string } | null;
}

/** Runs the frozen stage and, if enabled and not stopped, fine-tuning. */
export async function trainStages(
  config: Pick<Config, "train" | "fineTune"> & {
    model: { head: Pick<Config["model"]["head"], "output"> };
    engine?: Pick<Config["engine"], "train">;
    /** `data.seed` seeds the ONNX Runtime engine's dropout masks (default 0). */
    data?: Pick<Config["data"], "seed">;
  },
  model: BuiltModel,
  inputs: TrainingInputs,
  opts: TrainStagesOptions,
): Promise<StagesResult> {
  const fineTuning = config.fineTune.enabled;
  const output = config.model.head.output;
  const totalEpochs = config.train.epochs +
    (fineTuning ? config.fineTune.epochs : 0);
  const es = config.train.earlyStopping;
  const earlyStopping: StagesResult["earlyStopping"] = [];
  const learningRate: LearningRateRecord[] = [];
  // One checkpoint for the whole run: Keras' best value carries across fits.
  const checkpoint = opts.saveBest
    ? bestCheckpointCallback(opts.saveBest, { monitor: es.monitor })
    : null;
  const stage = async (
    trained: tf.LayersModel,
    train: BatchSource,
    val: BatchSource,
    epochs: number,
    name: string,
    optimizer: tf.Optimizer,
    recipe: Pick<
      Config["train"],
      "learningRate" | "lrSchedule" | "reduceLrOnPlateau"
    >,
    key: "train" | "fineTune",
    trainStep?: FitOptions["trainStep"],
  ) => {
    const bar = opts.progressBar?.({
      epochs: totalEpochs,
      stepsPerEpoch: train.numBatches,
    });
    const schedule = lrSchedule(recipe.lrSchedule, {
      learningRate: recipe.learningRate,
      totalSteps: epochs * train.numBatches,
      stepsPerEpoch: train.numBatches,
      key: `${key}.lrSchedule`,
    });
    const scheduler = schedule.type === "constant"
      ? null
      : scheduleCallback(optimizer, schedule);
    if (scheduler) {
      opts.log(
        `learning rate: ${schedule.type} schedule from ${recipe.learningRate} over ${
          epochs * train.numBatches
        } steps ${JSON.stringify(schedule.params)}`,
      );
    }
    const rlrop = recipe.reduceLrOnPlateau;
    const reducer = rlrop.enabled && val.count > 0
      ? reduceLrOnPlateauCallback(optimizer, rlrop, opts.log)
      : null;
    // Early stopping watches validation metrics: only with validation data.
    const stopper = es.enabled && val.count > 0
      ? earlyStoppingCallback(trained, es, opts.log)
      : null;
    const initialEpoch = opts.rows.length;
    const record: LearningRateRecord = {
      stage: name,
      learningRate: recipe.learningRate,
      schedule: schedule.type,
      params: schedule.params,
      reductions: [],
    };
    learningRate.push(record);
    try {
      const result = await fitLoop(trained, train, val, {
        epochs,
        initialEpoch,
        stage: fineTuning ? name : undefined,
        signal: opts.signal,
        output,
        labelSmoothing: config.train.labelSmoothing,
        trainStep,
        callbacks: [
          ...(bar ? [bar] : []),
          { onEpochEnd: (_e, _l, row) => opts.onEpoch(row) },
          ...(scheduler ? [scheduler] : []),
          ...(reducer ? [reducer] : []),
          ...(stopper ? [stopper] : []),
          ...(checkpoint ? [checkpoint] : []),
          ...(opts.callbacks ?? []),
        ],
      });
      bar?.onTrainEnd();
      record.reductions = (reducer?.reducer.reductions ?? []).map((r) => ({
        epoch: initialEpoch + r.epoch,
        learningRate: r.learningRate,
      }));
      if (stopper) {
        const record = stopper.record();
        earlyStopping.push({ ...record, stage: name });
        // Restored weights are not the ones the last validation pass saw.
        if (record.restoredEpoch !== null) {
          delete result.validationProbabilities;
        }
      }
      return result;
    } finally {
      stopper?.dispose();
    }
  };

  // The optimizers belong to the run: disposed when training ends (the
  // returned model is for prediction and saving).
  const loss = trainingLoss(output, {
    classWeights: opts.classWeights ?? null,
    labelSmoothing: config.train.labelSmoothing,
  });
  const optimizers = [
    compile(
      inputs.trainModel,
      output,
      config.train.optimizer,
      config.train.learningRate,
      config.train.optimizerRule,
      loss,
    ),
  ];
  let trainEngine: StagesResult["trainEngine"] = null;
  try {
    let result = await stage(
      inputs.trainModel,
      inputs.train,
      inputs.validation,
      config.train.epochs,
      "frozen",
      optimizers[0],
      config.train,
      "train",
    );
    const next = result.stopReason === "completed" ||
      result.stopReason === "early-stopped";
    if (fineTuning && next) {
      const from = model.fineTuneFrom;
      unfreezeFrom(model.base, from, config.fineTune.batchNorm);
      // On the cached prefix, the suffix model (the classifier's own layers
      // from `from` on) trains; otherwise the whole classifier on images.
      const ft = inputs.fineTune ?? {
        model: model.fitModel,
        train: inputs.images.train,
        validation: inputs.images.validation,
        reason: "on images",
      };
      opts.log(
        `fine-tuning: unfroze base layers ${from}..${
          model.base.layers.length - 1
        } (from ${
          model.base.layers[from].name
        }), learning rate ${config.fineTune.learningRate}, ${ft.reason}`,
      );
      optimizers.push(
        compile(
          ft.model,
          output,
          config.fineTune.optimizer,
          config.fineTune.learningRate,
          config.train.optimizerRule,
          loss,
        ),
      );
      const choice = await selectTrainEngine(config.engine?.train ?? "tfjs", {
        backend: opts.backend ?? { backend: tf.getBackend() },
        model: ft.model,
        onPrefix: inputs.fineTune != null,
        tuner: {
          classWeights: opts.classWeights ?? null,
          labelSmoothing: config.train.labelSmoothing,
          seed: config.data?.seed ?? 0,
        },
        optimizer: optimizers[optimizers.length - 1],
        output,
      });
      const { tuner, ...engine } = choice;
      trainEngine = engine;
      opts.log(`fine-tuning engine: ${engine.id} (${engine.reason})`);
      try {
        result = await stage(
          ft.model,
          ft.train,
          ft.validation,
          config.fineTune.epochs,
          "fine_tune",
          optimizers[1],
          config.fineTune,
          "fineTune",
          tuner ? (xs, ys) => tuner.step(xs, ys) : undefined,
        );
      } finally {
        await tuner?.dispose();
      }
    }
    return {
      ...result,
      earlyStopping,
      learningRate,
      bestCheckpoint: checkpoint?.record() ?? null,
      trainEngine,
    };
  } finally {
    optimizers.forEach((o) => o.dispose());
  }
}

/**
 * Makes base layers `from..` trainable and the ones before frozen. With
 * `batchNorm: "inference"` (default) every BatchNormalization keeps its
 * moving statistics, as the TensorFlow tutorial intends by calling the base
 * with `training=False` (and as Keras 2 did); `"batch-stats"` lets the
 * unfrozen ones normalise with batch statistics and update them, which is
 * what Keras 3 does.
 */
export function unfreezeFrom(
  base: tf.LayersModel,
  from: number,
  batchNorm: "inference" | "batch-stats" = "inference",
): void {
  setTrainable(base, true);
  base.layers.slice(0, from).forEach((l) => (l.trainable = false));
  setBatchNormInference(base, batchNorm === "inference");
}

/**
 * The optimizer `name` ("adam", "sgd", "rmsprop") at learning rate `lr`,
 * with Keras 3's update rules (`rule: "keras"`, the default) or TF.js' own.
 */
export function makeOptimizer(
  name: string,
  lr: number,
  rule: "keras" | "tfjs" = "keras",
): tf.Optimizer {
  if (rule === "keras") {
    return kerasOptimizer(name as "adam" | "sgd" | "rmsprop", lr);
  }
  switch (name) {
    case "sgd":
      return tf.train.sgd(lr);
    case "rmsprop":
      return tf.train.rmsprop(lr);
    default:
      return tf.train.adam(lr);
  }
}

/**
 * Compiles `model` (the head's training graph: probabilities for the softmax
 * head, the logit for the logit head) with `loss` (the head's, with the
 * run's class weights and label smoothing) and the head's accuracy.
 */
function compile(
  model: tf.LayersModel,
  output: HeadOutput,
  optimizer: string,
  lr: number,
  rule: "keras" | "tfjs",
  loss: ReturnType<typeof trainingLoss>,
): tf.Optimizer {
  const instance = makeOptimizer(optimizer, lr, rule);
  model.compile({ optimizer: instance, ...compileArgs(output), loss });
  return instance;
}

/**
 * Fails before any work when the config trains base layers (`fineTune` or a
 * trainable base) on a backend that lacks their gradient kernels (TF.js'
 * WASM backend gets ours from `wasm_grad_kernels.ts` when it starts).
 */
export function checkTrainingKernels(
  config: Pick<Config, "fineTune" | "model">,
  backend: string,
): void {
  if (!config.fineTune.enabled && !config.model.trainable) return;
  const missing = BASE_GRADIENT_KERNELS.filter((k) =>
    !tf.getKernel(k, backend)
  );
  if (missing.length === 0) return;
  const what = config.fineTune.enabled ? "fineTune.enabled" : "model.trainable";
  throw new Error(
    `${what} trains the base's convolutions, but the ${backend} backend has no ${
      missing.join(", ")
    } kernel${
      missing.length > 1 ? "s" : ""
    }. Set backend to "auto", "wasm", "webgpu" or "cpu", or turn ${what} off.`,
  );
}
