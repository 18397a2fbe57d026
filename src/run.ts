/**
 * The whole training chain behind `deno task train`, one named step per
 * stage folder:
 *
 * backend (`train/backend.ts`) → data: fetch → unzip → dataset → decode
 * (`data/prepare.ts`) → build (`model/build.ts`) → features
 * (`train/plan.ts`, `train/inputs.ts`) → train (`train/stages.ts`) →
 * evaluate (`train/validate.ts`) → outputs: metrics CSV, charts, confusion,
 * summary (`report/`) and the model (`model/model_io.ts`).
 *
 * @example
 * ```ts ignore
 * import { loadConfig, runTraining } from "../mod.ts";
 * // Downloads the cats-vs-dogs zip (68 MB) and Keras' ImageNet weights once:
 * // this example is not run by `deno test --doc`.
 * const result = await runTraining(await loadConfig("train.config.json"));
 * console.log(result.dir, result.summary.best?.val_accuracy);
 * ```
 *
 * @module
 */

import type * as tf from "./deps/tf.ts";
import type { Config } from "./config/types.ts";
import { type BackendSelection, selectBackend } from "./backend/backend.ts";
import { silenceNodeBanner } from "./backend/set_backend.ts";
import { resolveCacheDir } from "./cache/cache_dir.ts";
import { prepareData, type PreparedData } from "./data/prepare.ts";
import {
  buildModel,
  type BuiltModel,
  checkArchitectureBuilt,
  disposeModel,
} from "./model/build.ts";
import { type FeaturePlan, planFeatures } from "./train/plan.ts";
import { trainingInputs } from "./train/inputs.ts";
import { checkTrainingKernels, trainStages } from "./train/stages.ts";
import { splitClassWeights } from "./train/class_weight.ts";
import { evaluateValidation } from "./evaluate/validate.ts";
import { camGraphOf } from "./evaluate/cam.ts";
import { applyView, ttaViews } from "./evaluate/tta.ts";
import type { FitCallbacks } from "./train/fit.ts";
import { Progbar, type ProgressWriter } from "./report/progbar.ts";
import { createProgressPrinter } from "./report/progress.ts";
import type { MetricsRow } from "./train/fit.ts";
import { RunOutputs } from "./report/run_outputs.ts";
import type { RunSummary, StepSeconds } from "./report/summary.ts";
import { StepTimer } from "./util/timer.ts";
import { baseDisplayName, basePreprocess } from "./model/bases.ts";
import { preprocessFor } from "./data/batches.ts";
import { checkWritableDir } from "./util/fs_errors.ts";

/** Options of {@link runTraining} beyond the config. */
export interface RunOptions {
  /** Status lines; default `console.error`. */
  log?: (line: string) => void;
  /** Where the progress bar goes; default stdout. */
  progress?: ProgressWriter;
  /** Force TTY (redrawing) or plain progress; default: detect. */
  isTty?: boolean;
  /** Stop after the current batch; outputs are still written. */
  signal?: AbortSignal;
  /** Seed of the head's initial weights; default `data.seed`. */
  initSeed?: number;
  /**
   * Extra training hooks, called after the run's own (progress bar, then
   * metrics.csv and charts.svg written) in every stage; epochs are numbered
   * across stages.
   */
  callbacks?: FitCallbacks[];
}

/** What {@link runTraining} resolves to. */
export interface RunResult {
  /** The new run folder. */
  dir: string;
  /**
   * The trained classifier (still in memory; dispose it when done). Its
   * optimizer is disposed with the run: compile it again to train further.
   */
  model: tf.LayersModel;
  /** What was written to `summary.json`. */
  summary: RunSummary;
  /** One row per epoch, as in `metrics.csv`. */
  rows: MetricsRow[];
}

/**
 * Runs the training job described by `config` and writes its outputs into a
 * new folder `<output.dir>/<name>-<UTC stamp>/`: `config.json`,
 * `metrics.csv` (after every epoch), `charts.svg`, `confusion.svg`,
 * `summary.json` and `model/`. The folder is created once data and model are
 * ready, so a run that fails before training leaves none. On a stop request
 * or a non-finite loss the epochs finished so far are kept and the outputs
 * still written; a stop request before training starts (download, decode,
 * features) rejects with the signal's `AbortError`.
 */
export async function runTraining(
  config: Config,
  opts: RunOptions = {},
): Promise<RunResult> {
  checkArchitectureBuilt(config.model);
  const timer = new StepTimer();
  const ctx = stepContext(config, opts);
  const { log } = ctx;

  await checkWritableDir(config.output.dir, "output.dir");
  const backend = await startBackend(config, log);
  const data = await prepareData({ ...config.data, ...ctx });
  const { classNames } = data;
  // Checked before any building: a wrong class name fails at once.
  const weights = splitClassWeights(
    config.train.classWeight,
    classNames,
    data.train.labels,
  );
  if (weights) {
    log(
      `class weights: ${
        classNames.map((c, i) => `${c} ${Number(weights[i].toPrecision(4))}`)
          .join(", ")
      }`,
    );
  }
  const model = await timer.time(
    "build",
    () => buildModel(config, { ...ctx, classNames }),
  );
  try {
    logModel(config, data, model, log);
    const plan = planFeatures(config);
    const inputs = await timer.time(
      "features",
      () =>
        trainingInputs(config, plan, model, data, {
          ...ctx,
          backend,
          shards: { root: data.dataset.root, shard: null },
        }),
    );
    const out = await RunOutputs.create(config, log, { backend, data });
    const stop = await timer.time(
      "train",
      () =>
        trainStages(config, model, inputs, {
          ...opts,
          log,
          backend,
          progressBar: (shape) =>
            new Progbar({
              ...shape,
              writer: opts.progress,
              isTty: opts.isTty,
            }),
          rows: out.rows,
          onEpoch: (r) => out.appendEpoch(r),
          saveBest: out.bestSaver(model.model),
          classWeights: weights,
        }),
    );
    const evaluation = await timer.time(
      "evaluate",
      () => evaluateValidation(config, model, inputs, stop, data),
    );
    await inputs.dispose();
    await timer.time("save", () => out.saveModel(model.model));
    const tta = evaluation?.tta ?? null;
    const facts = { backend, data, inputs, stop, evaluation, tta };
    const summary = await out.close(facts, stepSeconds(timer, data), {
      cam: evaluation && config.output.heatmaps && config.output.topLosses > 0
        ? await galleryCam(model.model, ctx.warn, config)
        : null,
      model: model.model,
    });
    model.head.dispose(); // its Dense layer stays with `model.model`
    return { dir: out.dir, model: model.model, summary, rows: out.rows };
  } catch (err) {
    disposeModel(model);
    throw err;
  }
}

/** What {@link prepareCaches} did. */
export interface PrepareResult {
  /** The feature plan of the config. */
  plan: FeaturePlan;
  /** Images per split, after skipping bad files. */
  images: { train: number; validation: number };
  /** Whether the features are now cached (only when the plan caches them). */
  featureCache: { used: boolean; reused: boolean; reason: string };
}

/**
 * Runs the chain up to the features without training — backend → fetch →
 * unzip → decode → build → features — so that every cache a run of `config`
 * reads is warm: the download, the extracted archive, the decoded images
 * and, when the plan caches them, the pooled features. Later runs that only
 * change head settings (learning rate, epochs, optimizer, dropout) start
 * straight at training.
 */
export async function prepareCaches(
  config: Config,
  opts: Pick<RunOptions, "log" | "signal" | "initSeed"> & {
    /**
     * `prepare --shard I/N`: decode and extract the features of this
     * shard's images only, as shard entries that a later run merges
     * (`train/feature_shards.ts`). Default null: everything.
     */
    shard?: { index: number; count: number } | null;
  } = {},
): Promise<PrepareResult> {
  checkArchitectureBuilt(config.model);
  const ctx = stepContext(config, opts);
  const backend = await startBackend(config, ctx.log, { checkKernels: false });
  const shard = opts.shard ?? null;
  const data = await prepareData({ ...config.data, ...ctx, shard });
  const full = planFeatures(config);
  // A shard prepares pooled features only; the fine-tuning prefix is the run's.
  const plan = shard
    ? { ...full, fineTune: { ...full.fineTune, mode: "none" as const } }
    : full;
  const images = { train: data.train.count, validation: data.validation.count };
  if (plan.mode !== "cached" && plan.mode !== "cached-flips") {
    ctx.log(`features: not cached, ${plan.reason}; decoded images are cached`);
    return {
      plan,
      images,
      featureCache: { used: false, reused: false, reason: plan.reason },
    };
  }
  const { classNames } = data;
  const model = await buildModel(config, { ...ctx, classNames });
  try {
    const inputs = await trainingInputs(config, plan, model, data, {
      ...ctx,
      backend,
      shards: { root: data.dataset.root, shard },
    });
    // train.tta: the validation views' features too (see evaluate/tta.ts).
    for (const view of ttaViews(config.train.tta).slice(1)) {
      await inputs.validationView?.(view, (x) => applyView(x, view));
    }
    await inputs.dispose();
    return { plan: full, images, featureCache: inputs.featureCache };
  } finally {
    disposeModel(model);
  }
}

/** The report's heatmaps (`output.heatmaps`); none, with a warning, for a head CAM cannot read. */
async function galleryCam(
  model: tf.LayersModel,
  warn: (m: string) => void,
  config: Config,
) {
  try {
    return {
      graph: await camGraphOf(model),
      preprocess: preprocessFor(basePreprocess(config.model.architecture)),
    };
  } catch (err) {
    warn(`output.heatmaps: no heatmaps (${(err as Error).message})`);
    return null;
  }
}

/** What every step shares: cache folder, seed, logging and the stop signal. */
export function stepContext(config: Config, opts: RunOptions) {
  const log = opts.log ?? ((line: string) => console.error(line));
  return {
    cacheDir: resolveCacheDir(config.data.cacheDir),
    initSeed: opts.initSeed ?? config.data.seed,
    log,
    warn: (m: string) => log(`warning: ${m}`),
    signal: opts.signal,
    downloadProgress: (label: string) => createProgressPrinter({ label }),
  };
}

/** The backend step: select and start TF.js' backend, and refuse up front what it cannot train. */
export async function startBackend(
  config: Config,
  log: (line: string) => void,
  { checkKernels = true } = {},
): Promise<BackendSelection> {
  silenceNodeBanner();
  const backend = await selectBackend(config.backend);
  log(
    `backend: ${backend.backend}${
      backend.threads ? ` (${backend.threads} threads)` : ""
    }${backend.adapter ? ` — adapter: ${backend.adapter}` : ""}`,
  );
  log(`  ${backend.reason}`);
  if (checkKernels) checkTrainingKernels(config, backend.backend);
  return backend;
}

function logModel(
  config: Config,
  data: PreparedData,
  model: BuiltModel,
  log: (line: string) => void,
): void {
  const [rows, cols] = config.data.imageSize;
  log(
    `data: ${data.classNames.length} classes (${
      data.classNames.join(", ")
    }), ${data.train.count} training and ${data.validation.count} validation images`,
  );
  log(
    `model: ${
      baseDisplayName(config.model).replace("α", "alpha")
    } @ ${rows}x${cols}, weights ${model.weightsPath ?? "random"}, base ${
      config.model.trainable ? "trainable" : "frozen"
    }, ${model.model.countParams().toLocaleString("en-US")} parameters`,
  );
}

function stepSeconds(timer: StepTimer, data: PreparedData): StepSeconds {
  const s = timer.seconds;
  return {
    fetch: data.seconds.fetch,
    unzip: data.seconds.unzip,
    decode: data.seconds.dataset + data.seconds.decode,
    build: s.build ?? 0,
    features: s.features ?? 0,
    train: s.train ?? 0,
    evaluate: s.evaluate ?? 0,
    save: s.save ?? 0,
    total: timer.total(),
  };
}
