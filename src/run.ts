/**
 * The whole training chain behind `deno task train`: backend → fetch →
 * unzip → dataset → decode → build classifier → train (frozen stage, then
 * optional fine-tuning) → evaluate → write outputs. Each step is its own
 * module; this one only wires them to a {@link Config}.
 *
 * @example
 * ```ts
 * import { loadConfig, runTraining } from "./mod.ts";
 * const result = await runTraining(await loadConfig("train.config.json"));
 * console.log(result.dir, result.summary.best.val_accuracy);
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { tf } from "./deps.ts";
import type { Config } from "./config/schema.ts";
import {
  type BackendSelection,
  selectBackend,
  silenceNodeBanner,
} from "./train/backend.ts";
import { createRunDir } from "./report/run_dir.ts";
import { prepareData } from "./data/prepare.ts";
import { mobileNetV2Preprocess } from "./data/batches.ts";
import { resolveCacheDir } from "./data/cache_dir.ts";
import { resolveWeightsSource } from "./model/keras_weights.ts";
import { buildClassifier, setTrainable } from "./model/classifier.ts";
import { setBatchNormInference } from "./model/batch_norm.ts";
import { isAugmentEnabled, makeAugmenter } from "./train/augment.ts";
import {
  type BatchSource,
  type FitCallbacks,
  fitLoop,
  type StopReason,
} from "./train/fit.ts";
import { featureSource, imageSource, onTheFlyFeatures } from "./train/sources.ts";
import { cachedFeatures } from "./train/features.ts";
import { MetricsCsvWriter, type MetricsRow } from "./report/metrics.ts";
import { renderConfusionMatrix, renderTrainingChart } from "./report/charts.ts";
import { Progbar, type ProgressWriter } from "./report/progbar.ts";
import { type ClassificationReport, evaluateModel } from "./train/evaluate.ts";
import { saveModel } from "./model/model_io.ts";

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

/** `summary.json`. */
export interface RunSummary {
  /** Run name (`name`). */
  name: string;
  /** The run folder. */
  dir: string;
  /** Backend TF.js ran on. */
  backend: string;
  /** WebGPU adapter description, when one was probed. */
  adapter: string | null;
  /** Why this backend was chosen. */
  backendReason: string;
  /** Class names in label order. */
  classNames: string[];
  /** Images used per split, and files skipped as unreadable. */
  images: { train: number; validation: number; skipped: number };
  /** Epochs completed, and why the run ended. */
  epochs: number;
  /** "completed", "interrupted" or "non-finite-loss". */
  stopReason: StopReason;
  /** Details of the stop, when not completed. */
  stopDetail?: string;
  /** Last epoch's metrics. */
  final: MetricsRow | null;
  /** Epoch with the best `val_accuracy` (ties: lower `val_loss`). */
  best: MetricsRow | null;
  /** Feature caching: used at all, and whether features came from the disk cache. */
  featureCache: { used: boolean; reused: boolean; reason: string };
  /** Confusion matrix and per-class precision/recall/F1 on validation data. */
  evaluation: { matrix: number[][]; report: ClassificationReport } | null;
  /** Wall seconds per stage. */
  seconds: Record<
    | "fetch"
    | "unzip"
    | "decode"
    | "build"
    | "features"
    | "train"
    | "evaluate"
    | "save"
    | "total",
    number
  >;
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

function makeOptimizer(name: string, lr: number): tf.Optimizer {
  switch (name) {
    case "sgd":
      return tf.train.sgd(lr);
    case "rmsprop":
      return tf.train.rmsprop(lr);
    default:
      return tf.train.adam(lr);
  }
}

function compile(
  model: tf.LayersModel,
  optimizer: string,
  lr: number,
): tf.Optimizer {
  const instance = makeOptimizer(optimizer, lr);
  model.compile({
    optimizer: instance,
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  return instance;
}

function bestRow(rows: MetricsRow[]): MetricsRow | null {
  let best: MetricsRow | null = null;
  for (const r of rows) {
    if (!Number.isFinite(r.val_accuracy)) continue;
    if (
      !best || r.val_accuracy > best.val_accuracy ||
      (r.val_accuracy === best.val_accuracy && r.val_loss < best.val_loss)
    ) best = r;
  }
  return best ?? rows.at(-1) ?? null;
}

/** Resolves `fineTune.fromLayer` (index or name) to an index into the base's layers. */
export function resolveFromLayer(
  base: tf.LayersModel,
  fromLayer: number | string,
): number {
  if (typeof fromLayer === "number") {
    if (fromLayer >= base.layers.length) {
      throw new RangeError(
        `fineTune.fromLayer: ${fromLayer} is past the base's last layer (it has ${base.layers.length} layers, 0..${
          base.layers.length - 1
        })`,
      );
    }
    return fromLayer;
  }
  const index = base.layers.findIndex((l) => l.name === fromLayer);
  if (index < 0) {
    throw new RangeError(
      `fineTune.fromLayer: no layer named "${fromLayer}" in the base (e.g. block_13_expand, Conv_1)`,
    );
  }
  return index;
}

/**
 * Runs the training job described by `config` and writes its outputs into a
 * new folder `<output.dir>/<name>-<UTC stamp>/`: `config.json`,
 * `metrics.csv` (after every epoch), `charts.svg`, `confusion.svg`,
 * `summary.json` and `model/`. On a stop request or a non-finite loss the
 * epochs finished so far are kept and the outputs still written; a stop
 * request before training starts (download, decode, features) rejects with
 * the signal's `AbortError`.
 */
export async function runTraining(
  config: Config,
  opts: RunOptions = {},
): Promise<RunResult> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const started = performance.now();
  const seconds: RunSummary["seconds"] = {
    fetch: 0,
    unzip: 0,
    decode: 0,
    build: 0,
    features: 0,
    train: 0,
    evaluate: 0,
    save: 0,
    total: 0,
  };
  const since = (t: number) => (performance.now() - t) / 1000;

  silenceNodeBanner();
  const backend: BackendSelection = await selectBackend(config.backend);
  log(
    `backend: ${backend.backend}${
      backend.threads ? ` (${backend.threads} threads)` : ""
    }${backend.adapter ? ` — adapter: ${backend.adapter}` : ""}`,
  );
  log(`  ${backend.reason}`);
  checkTrainingKernels(config, backend.backend);

  const dir = await createRunDir(config.output.dir, config.name);
  log(`run folder: ${dir}`);
  await Deno.writeTextFile(
    join(dir, "config.json"),
    JSON.stringify(config, null, 2) + "\n",
  );

  const cacheDir = resolveCacheDir(config.data.cacheDir);
  const data = await prepareData({
    ...config.data,
    cacheDir,
    log,
    warn: (m: string) => log(`warning: ${m}`),
    signal: opts.signal,
  });
  seconds.fetch = data.seconds.fetch;
  seconds.unzip = data.seconds.unzip;
  seconds.decode = data.seconds.dataset + data.seconds.decode;
  const { classNames } = data;
  log(
    `data: ${classNames.length} classes (${
      classNames.join(", ")
    }), ${data.train.count} training and ${data.validation.count} validation images`,
  );

  let t = performance.now();
  const [rows_, cols] = config.data.imageSize;
  const weightsPath = await resolveWeightsSource(config.model.weights, {
    alpha: config.model.alpha,
    rows: rows_,
    cols,
    includeTop: false,
    cacheDir,
    signal: opts.signal,
    warn: (m: string) => log(`warning: ${m}`),
  });
  const clf = await buildClassifier({
    imageSize: [rows_, cols],
    alpha: config.model.alpha,
    weights: weightsPath,
    trainable: config.model.trainable,
    dropout: config.model.head.dropout,
    numClasses: classNames.length,
    seed: opts.initSeed ?? config.data.seed,
  });
  seconds.build = since(t);
  // A bad fromLayer fails now, not after the frozen stage has trained.
  let fineTuneFrom = 0;
  if (config.fineTune.enabled) {
    try {
      fineTuneFrom = resolveFromLayer(clf.base, config.fineTune.fromLayer);
    } catch (err) {
      clf.head.dispose();
      clf.model.dispose();
      throw err;
    }
  }
  log(
    `model: MobileNetV2 alpha ${config.model.alpha} @ ${rows_}x${cols}, weights ${
      weightsPath ?? "random"
    }, base ${config.model.trainable ? "trainable" : "frozen"}, ${
      clf.model.countParams().toLocaleString("en-US")
    } parameters`,
  );

  const order = {
    batchSize: config.data.batchSize,
    shuffle: config.data.shuffle,
    seed: config.data.seed,
  };
  const augmenting = isAugmentEnabled(config.augment);
  const augment = makeAugmenter(config.augment, config.data.seed);
  const fineTuning = config.fineTune.enabled;

  // Feature caching is exact only when the base cannot change and sees
  // each image as decoded.
  let featureCache: RunSummary["featureCache"];
  if (!config.train.cacheFeatures) {
    featureCache = {
      used: false,
      reused: false,
      reason: "train.cacheFeatures is false",
    };
  } else if (config.model.trainable) {
    featureCache = {
      used: false,
      reused: false,
      reason: "the base is trainable",
    };
  } else if (augmenting) {
    featureCache = { used: false, reused: false, reason: "augmentation is on" };
  } else {
    featureCache = {
      used: true,
      reused: false,
      reason: "frozen base, no augmentation",
    };
  }

  const trainImages = imageSource(data.train, {
    ...order,
    preprocess: mobileNetV2Preprocess,
    augment,
  });
  const valImages = imageSource(data.validation, {
    ...order,
    shuffle: false,
    preprocess: mobileNetV2Preprocess,
  });
  let trainSource: BatchSource;
  let valSource: BatchSource;
  let trainModel: tf.LayersModel;
  t = performance.now();
  if (featureCache.used) {
    const identity = {
      weights: weightsPath === null
        ? `random:${opts.initSeed ?? config.data.seed}`
        : await fileIdentity(weightsPath),
      alpha: config.model.alpha,
      imageSize: config.data.imageSize,
      interpolation: config.data.interpolation,
      preprocess: "mobilenet_v2",
    };
    const featureDir = join(cacheDir, "features");
    const progress = (split: string) => (done: number, total: number) => {
      if (done === total || done % (config.data.batchSize * 10) === 0) {
        log(`features: ${split} ${done}/${total}`);
      }
    };
    const featuresOf = (split: "train" | "validation") =>
      cachedFeatures(clf.features, data[split], {
        dir: featureDir,
        identity,
        batchSize: config.data.batchSize,
        preprocess: mobileNetV2Preprocess,
        onProgress: progress(split),
        signal: opts.signal,
      });
    const train = await featuresOf("train");
    const val = await featuresOf("validation");
    featureCache.reused = train.cached && val.cached;
    log(
      `features: ${train.cached ? "reused" : "computed"} train, ${
        val.cached ? "reused" : "computed"
      } validation (${featureDir})`,
    );
    trainSource = featureSource(train.set, order);
    valSource = featureSource(val.set, { ...order, shuffle: false });
    trainModel = clf.head;
  } else if (!config.model.trainable) {
    // Frozen base without the cache: run the base on every batch of every
    // epoch, as Keras does, but outside the gradient tape (only the head
    // trains), so memory stays that of inference.
    trainSource = onTheFlyFeatures(trainImages, clf.features);
    valSource = onTheFlyFeatures(valImages, clf.features);
    trainModel = clf.head;
  } else {
    trainSource = trainImages;
    valSource = valImages;
    trainModel = clf.model;
  }
  seconds.features = since(t);

  const metrics = await MetricsCsvWriter.create(join(dir, "metrics.csv"), {
    stage: fineTuning,
  });
  const rows: MetricsRow[] = [];
  const writeChart = async () => {
    await Deno.writeTextFile(
      join(dir, "charts.svg"),
      renderTrainingChart(rows, {
        title: `${config.name}: MobileNetV2 transfer learning`,
      }),
    );
  };
  const totalEpochs = config.train.epochs +
    (fineTuning ? config.fineTune.epochs : 0);
  const runStage = async (
    model: tf.LayersModel,
    train: BatchSource,
    val: BatchSource,
    epochs: number,
    stage: string,
  ) => {
    const bar = new Progbar({
      epochs: totalEpochs,
      stepsPerEpoch: train.numBatches,
      writer: opts.progress,
      isTty: opts.isTty,
    });
    const result = await fitLoop(model, train, val, {
      epochs,
      initialEpoch: rows.length,
      stage: fineTuning ? stage : undefined,
      signal: opts.signal,
      callbacks: [bar, {
        onEpochEnd: async (_epoch, _logs, row) => {
          rows.push(row);
          await metrics.append(row);
          await writeChart();
        },
      }, ...(opts.callbacks ?? [])],
    });
    bar.onTrainEnd();
    return result;
  };

  t = performance.now();
  // The optimizers belong to the run: disposed when training ends (the
  // returned model is for prediction and saving).
  const optimizers = [
    compile(trainModel, config.train.optimizer, config.train.learningRate),
  ];
  let { stopReason, detail: stopDetail } = await runStage(
    trainModel,
    trainSource,
    valSource,
    config.train.epochs,
    "frozen",
  );
  if (fineTuning && stopReason === "completed") {
    const from = fineTuneFrom;
    setTrainable(clf.base, true);
    clf.base.layers.slice(0, from).forEach((l) => (l.trainable = false));
    setBatchNormInference(clf.base, true);
    log(
      `fine-tuning: unfroze base layers ${from}..${
        clf.base.layers.length - 1
      } (from ${
        clf.base.layers[from].name
      }), learning rate ${config.fineTune.learningRate}`,
    );
    optimizers.push(
      compile(
        clf.model,
        config.fineTune.optimizer,
        config.fineTune.learningRate,
      ),
    );
    ({ stopReason, detail: stopDetail } = await runStage(
      clf.model,
      trainImages,
      valImages,
      config.fineTune.epochs,
      "fine_tune",
    ));
  }
  optimizers.forEach((o) => o.dispose());
  seconds.train = since(t);
  if (stopReason === "interrupted") {
    log(`stopped on request after ${rows.length} epochs; writing outputs`);
  } else if (stopReason === "non-finite-loss") {
    log(`training stopped: ${stopDetail}; the metrics so far are kept`);
  }
  if (rows.length === 0) await writeChart();

  t = performance.now();
  let evaluation: RunSummary["evaluation"] = null;
  if (data.validation.count > 0 && stopReason !== "non-finite-loss") {
    const onHead = trainModel === clf.head && !fineTuning;
    const evalModel = onHead ? clf.head : clf.model;
    const evalSource = onHead ? valSource : valImages;
    const e = await evaluateModel(evalModel, evalSource.batches(0), classNames);
    evaluation = { matrix: e.matrix, report: e.report };
    await Deno.writeTextFile(
      join(dir, "confusion.svg"),
      renderConfusionMatrix(e.matrix, classNames, {
        title: `${config.name}: validation confusion matrix`,
      }),
    );
  }
  seconds.evaluate = since(t);
  // The head shares its Dense layer with the model; without this, that
  // layer's weights would outlive `model.dispose()`.
  clf.head.dispose();

  t = performance.now();
  if (config.output.saveModel) {
    await saveModel(clf.model, join(dir, "model"), {
      classNames,
      preprocessing: {
        imageSize: [rows_, cols],
        interpolation: config.data.interpolation,
        preprocess: "mobilenet_v2",
      },
    });
  }
  seconds.save = since(t);
  seconds.total = since(started);

  const summary: RunSummary = {
    name: config.name,
    dir,
    backend: backend.backend,
    adapter: backend.adapter,
    backendReason: backend.reason,
    classNames,
    images: {
      train: data.train.count,
      validation: data.validation.count,
      skipped: data.train.skipped.length + data.validation.skipped.length,
    },
    epochs: rows.length,
    stopReason,
    ...(stopDetail ? { stopDetail } : {}),
    final: rows.at(-1) ?? null,
    best: bestRow(rows),
    featureCache,
    evaluation,
    seconds,
  };
  await Deno.writeTextFile(
    join(dir, "summary.json"),
    JSON.stringify(summary, jsonNumbers, 2) + "\n",
  );
  return { dir, model: clf.model, summary, rows };
}

/** Gradient kernels that training convolutions of the base needs. */
const BASE_GRADIENT_KERNELS = [
  "Conv2DBackpropFilter",
  "DepthwiseConv2dNativeBackpropFilter",
  "DepthwiseConv2dNativeBackpropInput",
];

/**
 * Fails before any work when the config trains base layers (`fineTune` or a
 * trainable base) on a backend that lacks their gradient kernels — TF.js'
 * WASM backend has none of them.
 */
export function checkTrainingKernels(config: Config, backend: string): void {
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
    }. Set backend to "webgpu" or "cpu" (slow), or turn ${what} off.`,
  );
}

/** JSON has no NaN/Infinity: write them as null. */
function jsonNumbers(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? null : value;
}

/** Identifies a weights file by size, mtime and path (cheap; changes when the file does). */
async function fileIdentity(path: string): Promise<string> {
  const info = await Deno.stat(path);
  return `${path}:${info.size}:${info.mtime?.getTime() ?? 0}`;
}
