/**
 * The features step of a run: wire the decoded images to the model as the
 * {@link FeaturePlan} says — cached pooled features (computed once, kept on
 * disk), the frozen base run per batch, or plain images — and name the model
 * the frozen stage trains (the head, or the whole classifier). One builder
 * per plan mode (`FROZEN_STAGE`, `FINE_TUNE_STAGE`); the frozen engines they
 * start belong to one `AsyncDisposableStack`.
 *
 * @module
 */

import { join } from "node:path";
import * as tf from "../deps/tf.ts";
import type { Config } from "../config/types.ts";
import { type Preprocess, preprocessFor } from "../data/batches.ts";
import { basePreprocess } from "../model/bases.ts";
import { type ImageSet, imageSetDigest } from "../data/image_set.ts";
import { exportOnnxInt8 } from "../engine/onnx_quantize.ts";
import { tryLoadOnnxRuntime } from "../engine/onnx_runtime.ts";
import { onnxBytesForward } from "../engine/onnx_file_forward.ts";
import { calibrationBatches } from "./calibration.ts";
import type { BuiltModel } from "../model/build.ts";
import {
  flipImages,
  flipOnlyVariants,
  type FlipVariant,
  makeAugmenter,
} from "./augment.ts";
import type { BatchSource } from "./fit.ts";
import { cachedFeatures } from "./features.ts";
import type { FeatureShards, ShardMergeRecord } from "./feature_shards.ts";
import { shardKeyOfFile } from "../data/_shard.ts";
import type { FeatureMode, FeaturePlan, FineTuneMode } from "./plan.ts";
import {
  type FeatureSet,
  featureSource,
  imageSource,
  onTheFlyFeatures,
} from "./sources.ts";
import { labelEncodingOf } from "./head_output.ts";
import {
  cachedPrefix,
  onTheFlyPrefix,
  prefixCut,
  prefixModel,
  prefixSource,
  suffixModel,
} from "./_prefix_cache.ts";
import { weightsSha256 } from "../cache/weights_identity.ts";
import {
  type FrozenForward,
  selectFrozenEngine,
} from "../engine/frozen_engine.ts";

/** What the training stages consume. */
export interface TrainingInputs {
  /** Training batches of the frozen stage. */
  train: BatchSource;
  /** Validation batches of the frozen stage. */
  validation: BatchSource;
  /**
   * The model the frozen stage trains: the head, or the whole classifier
   * (their logit graphs, `fitHead` / `fitModel`, for the logit head).
   */
  trainModel: tf.LayersModel;
  /** Image batches (augmented for training), for fine-tuning. */
  images: { train: BatchSource; validation: BatchSource };
  /**
   * Feature caching, as `summary.json` reports it; `shards`: per set
   * ("train", "validation", …), the shard entries merged (see
   * `feature_shards.ts`), when the features came from shards.
   */
  featureCache: {
    used: boolean;
    reused: boolean;
    reason: string;
    shards?: Record<string, ShardMergeRecord>;
  };
  /** The engine that runs the frozen base, and why (null when the base trains). */
  frozenEngine: { engine: string; id: string; reason: string } | null;
  /**
   * Fine-tuning on the cached frozen prefix: the suffix model (sharing the
   * classifier's layers) and its batch sources; null when fine-tuning runs
   * on images (or is off).
   */
  fineTune: {
    model: tf.LayersModel;
    train: BatchSource;
    validation: BatchSource;
    reason: string;
  } | null;
  /**
   * With cached features (plans `cached`, `cached-flips`): the pooled
   * features of a fixed view of every validation image (test-time
   * augmentation), through the feature cache — `"h"` under the same key
   * scheme as flip augmentation's mirrors, any other view under its name;
   * `transform` maps a preprocessed batch to the view. Absent otherwise.
   * Valid until `dispose()`.
   */
  validationView?: (
    view: string,
    transform: (x: tf.Tensor4D) => tf.Tensor4D,
  ) => Promise<FeatureSet>;
  /** Frees the frozen engine (call when training is done). */
  dispose(): Promise<void>;
}

/** Context of {@link trainingInputs} beyond its config slice. */
export interface TrainingInputsOptions {
  /** The TF.js backend the run selected (for `engine.frozen: "auto"`). */
  backend: { backend: string; fallbackAdapter?: boolean };
  /** Cache folder (features go to `<cacheDir>/features`). */
  cacheDir: string;
  /** Seed the random weights came from, when `model.weightsPath` is null. */
  initSeed: number;
  /** Status lines. */
  log: (line: string) => void;
  /** Stops feature extraction between batches. */
  signal?: AbortSignal;
  /**
   * Sharded feature caches: the dataset root that images' shard keys are
   * relative to, and this process' shard (`prepare --shard`: cached
   * features are then shard entries of `data`, which holds that shard's
   * images) or null (a run: the whole sets' entries, merged from shard
   * entries when those are cached). Default: no shards.
   */
  shards?: { root: string; shard: { index: number; count: number } | null };
}

/** Everything a builder reads, and the stack that owns what it makes. */
interface InputsContext {
  config: Pick<Config, "data" | "model" | "augment" | "engine" | "output">;
  model: BuiltModel;
  data: { train: ImageSet; validation: ImageSet };
  /** Image batches (augmented for training). */
  images: TrainingInputs["images"];
  opts: TrainingInputsOptions;
  /** Frees what the builders start (frozen engines) when the run is done, or at once on a failure. */
  stack: AsyncDisposableStack;
}

/** What the frozen stage trains on. */
type FrozenStageInputs =
  & Pick<
    TrainingInputs,
    "train" | "validation" | "trainModel" | "featureCache" | "frozenEngine"
  >
  & Pick<TrainingInputs, "validationView">;

/** The frozen stage's inputs, one builder per {@link FeatureMode}. */
const FROZEN_STAGE: Record<
  FeatureMode,
  (ctx: InputsContext, reason: string) => Promise<FrozenStageInputs>
> = {
  images: (ctx, reason) =>
    Promise.resolve({
      ...ctx.images,
      trainModel: ctx.model.fitModel,
      featureCache: { used: false, reused: false, reason },
      frozenEngine: null,
    }),
  "per-batch": async (ctx, reason) => {
    // The base runs on every batch of every epoch, as Keras does, but outside
    // the gradient tape (only the head trains), so memory stays that of
    // inference.
    const { forward, frozenEngine } = await frozenBase(ctx);
    return {
      train: onTheFlyFeatures(ctx.images.train, forward),
      validation: onTheFlyFeatures(ctx.images.validation, forward),
      trainModel: ctx.model.fitHead,
      featureCache: { used: false, reused: false, reason },
      frozenEngine,
    };
  },
  cached: (ctx, reason) => cachedStage(ctx, reason, false),
  "cached-flips": (ctx, reason) => cachedStage(ctx, reason, true),
};

/** The fine-tuning stage's inputs, one builder per {@link FineTuneMode}. */
const FINE_TUNE_STAGE: Record<
  FineTuneMode,
  (ctx: InputsContext) => Promise<TrainingInputs["fineTune"]>
> = {
  none: () => Promise.resolve(null),
  images: () => Promise.resolve(null),
  prefix: (ctx) => prefixInputs(ctx, true),
  "prefix-per-batch": (ctx) => prefixInputs(ctx, false),
};

/**
 * Builds the batch sources and picks the trained model per `plan`: the
 * builder of `plan.mode` for the frozen stage, then the one of
 * `plan.fineTune.mode`. What they start is owned by one stack: freed by
 * `dispose()`, or at once when a later step fails.
 */
export async function trainingInputs(
  config: Pick<Config, "data" | "model" | "augment" | "engine" | "output">,
  plan: FeaturePlan,
  model: BuiltModel,
  data: { train: ImageSet; validation: ImageSet },
  opts: TrainingInputsOptions,
): Promise<TrainingInputs> {
  await using stack = new AsyncDisposableStack();
  const order = orderOf(config);
  const preprocess = preprocessOf(config);
  const images = {
    train: imageSource(data.train, {
      ...order,
      preprocess,
      augment: makeAugmenter(config.augment, config.data.seed),
    }),
    validation: imageSource(data.validation, {
      ...order,
      shuffle: false,
      preprocess,
    }),
  };
  const ctx: InputsContext = { config, model, data, images, opts, stack };
  const frozen = await FROZEN_STAGE[plan.mode](ctx, plan.reason);
  // The suffix model of fine-tuning shares every weight with the classifier:
  // it is never disposed itself (disposing it would free the classifier's).
  const fineTune = await FINE_TUNE_STAGE[plan.fineTune.mode](ctx);
  const owned = stack.move();
  return { ...frozen, images, fineTune, dispose: () => owned.disposeAsync() };
}

/** Starts the engine of the frozen base (owned by the stack) and says which. */
async function frozenBase(ctx: InputsContext) {
  const { forward, reason } = ctx.config.engine.frozenInt8
    ? await int8FrozenBase(ctx)
    : await selectFrozenEngine(
      ctx.config.engine.frozen,
      ctx.opts.backend,
      ctx.model.features,
      { fused: ctx.config.engine.fused },
    );
  ctx.stack.defer(() => forward.dispose());
  ctx.opts.log(`frozen engine: ${forward.id} (${reason})`);
  return {
    forward,
    frozenEngine: { engine: forward.engine, id: forward.id, reason },
  };
}

/**
 * `engine.frozenInt8`: the frozen base as a static int8 QDQ model in ONNX
 * Runtime, calibrated on training images. Its id names the calibration
 * (count, seed, training images' digest), so cached features of other
 * calibrations are never reused.
 */
async function int8FrozenBase(ctx: InputsContext) {
  const loaded = await tryLoadOnnxRuntime();
  if (!loaded.ok) {
    throw new Error(
      `engine.frozenInt8 runs the frozen base in ONNX Runtime, which cannot load: ${loaded.reason}`,
    );
  }
  const count = ctx.config.output.onnxInt8CalibrationImages;
  const seed = ctx.config.data.seed;
  const int8 = await exportOnnxInt8(
    ctx.model.features,
    calibrationBatches(ctx.data.train, count, seed, preprocessOf(ctx.config)),
    { ort: loaded.ort, calibration: ctx.config.output.onnxInt8Calibration },
  );
  const { images } = int8.calibration;
  const label = `int8-${int8.calibration.method}-${images}-seed${seed}-${
    imageSetDigest(ctx.data.train).slice(0, 12)
  }`;
  const forward = await onnxBytesForward(
    int8.bytes,
    ctx.model.features.outputs.map((o) => o.shape.slice(1) as number[]),
    label,
  );
  return {
    forward,
    reason:
      `engine.frozenInt8: static int8 QDQ model, activations calibrated ${int8.calibration.method} on ${images} training images`,
  };
}

/** The frozen stage on cached pooled features (of each mirror, with `flips`). */
async function cachedStage(
  ctx: InputsContext,
  reason: string,
  flips: boolean,
): Promise<FrozenStageInputs> {
  const { forward, frozenEngine } = await frozenBase(ctx);
  const { reused, shards, ...sources } = await cachedSources(
    ctx.config,
    ctx.model,
    forward,
    ctx.data,
    ctx.opts,
    flips,
  );
  return {
    ...sources,
    trainModel: ctx.model.fitHead,
    featureCache: {
      used: true,
      reused,
      reason,
      ...(Object.keys(shards).length ? { shards } : {}),
    },
    frozenEngine,
  };
}

/**
 * Pooled features of both splits from the feature cache (computed on a
 * miss); with `flips`, the training split's features of every mirror the
 * flip-only augmentation can produce, picked per image and epoch.
 */
async function cachedSources(
  config: Pick<Config, "data" | "model" | "augment">,
  model: BuiltModel,
  forward: FrozenForward,
  data: { train: ImageSet; validation: ImageSet },
  opts: TrainingInputsOptions,
  flips: boolean,
) {
  const order = orderOf(config);
  const identity = await baseIdentity(config, model, opts);
  const dir = join(opts.cacheDir, "features");
  const merges: Record<string, ShardMergeRecord> = {};
  const sharding = (label: string): FeatureShards | undefined =>
    opts.shards && {
      fileKey: (path) => shardKeyOfFile(opts.shards!.root, path),
      write: opts.shards.shard,
      label,
    };
  const noted = <T extends { shards?: ShardMergeRecord }>(
    label: string,
    r: T,
  ) => {
    if (r.shards) merges[label] = r.shards;
    return r;
  };
  const preprocess = preprocessOf(config);
  const validationView = async (
    view: string,
    transform: (x: tf.Tensor4D) => tf.Tensor4D,
  ) =>
    (await cachedFeatures(forward, data.validation, {
      dir,
      identity: view === "h"
        ? { ...identity, flip: "h" }
        : { ...identity, tta: view },
      batchSize: config.data.batchSize,
      preprocess: (x) => tf.tidy(() => transform(preprocess(x))),
      onProgress: progressLine(config, opts, `features: validation (${view})`),
      signal: opts.signal,
      warn: (m) => opts.log(`warning: ${m}`),
      log: opts.log,
      shards: sharding(`validation (${view})`),
    })).set;
  const featuresOf = async (
    split: "train" | "validation",
    flip: FlipVariant,
  ) => {
    const label = flip === "none" ? split : `${split} (flip ${flip})`;
    return noted(
      label,
      await cachedFeatures(forward, data[split], {
        dir,
        identity: flip === "none" ? identity : { ...identity, flip },
        batchSize: config.data.batchSize,
        preprocess: flip === "none"
          ? preprocess
          : (x) => tf.tidy(() => flipImages(preprocess(x), flip)),
        onProgress: progressLine(config, opts, `features: ${label}`),
        signal: opts.signal,
        warn: (m) => opts.log(`warning: ${m}`),
        log: opts.log,
        shards: sharding(label),
      }),
    );
  };
  const mirrors = flips ? flipOnlyVariants(config.augment) : null;
  const trains = [];
  for (const flip of mirrors?.variants ?? ["none" as const]) {
    trains.push(await featuresOf("train", flip));
  }
  const train = {
    set: trains.map((t) => t.set),
    cached: trains.every((t) => t.cached),
  };
  const val = await featuresOf("validation", "none");
  opts.log(
    `features: ${train.cached ? "reused" : "computed"} train, ${
      val.cached ? "reused" : "computed"
    } validation (${dir})`,
  );
  const seed = config.data.seed;
  return {
    train: featureSource(
      train.set,
      order,
      mirrors
        ? (epoch, batch, size) => mirrors.choose({ seed, epoch, batch }, size)
        : undefined,
    ),
    validation: featureSource(val.set, { ...order, shuffle: false }),
    validationView,
    reused: train.cached && val.cached,
    shards: merges,
  };
}

/** Batch order and label encoding of every source (see `head_output.ts`). */
function orderOf(config: Pick<Config, "data" | "model">) {
  return {
    batchSize: config.data.batchSize,
    shuffle: config.data.shuffle,
    seed: config.data.seed,
    labels: labelEncodingOf(config.model.head.output),
  };
}

/**
 * The frozen prefix of fine-tuning (see `_prefix_cache.ts`): the crossing
 * tensors of both splits — cached (`cached`), or computed per (augmented)
 * batch by an engine the stack owns — and the suffix model that trains on
 * them. Null (fine-tuning on images, with a log line) when nothing before
 * `fineTune.fromLayer` stays frozen.
 */
async function prefixInputs(
  ctx: InputsContext,
  cached: boolean,
): Promise<TrainingInputs["fineTune"]> {
  const { config, model, data, images, opts } = ctx;
  const from = model.fineTuneFrom;
  if (from < 2) {
    opts.log(
      `fine-tuning: from layer ${from} nothing stays frozen; training on images`,
    );
    return null;
  }
  const cut = prefixCut(model.base, from);
  const { forward } = await selectFrozenEngine(
    config.engine.frozen,
    opts.backend,
    prefixModel(model.base, cut),
    { fused: config.engine.fused },
  );
  if (!cached) {
    ctx.stack.defer(() => forward.dispose());
    return {
      model: suffixModel(model, cut),
      train: onTheFlyPrefix(images.train, forward, cut),
      validation: onTheFlyPrefix(images.validation, forward, cut),
      reason: `base layers 0..${
        from - 1
      } run per batch on ${forward.id}, off the gradient tape`,
    };
  }
  // The prefix engine is needed only to fill the cache.
  await using _engine = { [Symbol.asyncDispose]: () => forward.dispose() };
  const identity = await baseIdentity(config, model, opts);
  const dir = join(opts.cacheDir, "prefix");
  const prefixOf = (split: "train" | "validation") =>
    cachedPrefix(forward, cut, data[split], {
      dir,
      identity,
      batchSize: config.data.batchSize,
      preprocess: preprocessOf(config),
      onProgress: progressLine(config, opts, `prefix: ${split}`),
      warn: (m) => opts.log(`warning: ${m}`),
      signal: opts.signal,
    });
  const train = await prefixOf("train");
  const val = await prefixOf("validation");
  opts.log(
    `prefix: ${train.cached ? "reused" : "computed"} train, ${
      val.cached ? "reused" : "computed"
    } validation — ${cut.names.join(" + ")} before layer ${from} (${dir})`,
  );
  const order = orderOf(config);
  const k = data.train.classNames.length;
  return {
    model: suffixModel(model, cut),
    train: prefixSource(train, data.train.labels, k, order),
    validation: prefixSource(val, data.validation.labels, k, {
      ...order,
      shuffle: false,
    }),
    reason: `cached outputs of base layers 0..${from - 1}`,
  };
}

/** The batches' preprocessing for the config's base (`model/bases.ts`). */
function preprocessOf(config: Pick<Config, "model">): Preprocess {
  return preprocessFor(basePreprocess(config.model.architecture));
}

/**
 * What the frozen base's outputs depend on besides the images and the engine:
 * the weights' content, the architecture (with minimalistic), alpha, image
 * size, interpolation and preprocessing (part of the feature and prefix
 * cache keys). MobileNetV2's keys leave the architecture out, as before
 * there were others, so that its existing caches stay valid; every other
 * base's key names it, so no two bases ever share a cache entry (random
 * weights of one seed included).
 */
async function baseIdentity(
  config: Pick<Config, "data" | "model">,
  model: BuiltModel,
  opts: TrainingInputsOptions,
) {
  const { architecture, minimalistic } = config.model;
  return {
    weights: await weightsIdentity(model, opts),
    ...(architecture === "mobilenet_v2" ? {} : { architecture, minimalistic }),
    alpha: config.model.alpha,
    imageSize: config.data.imageSize,
    interpolation: config.data.interpolation,
    preprocess: basePreprocess(architecture),
  };
}

/** Logs `<what> done/total` every 10 batches and at the end. */
function progressLine(
  config: Pick<Config, "data">,
  opts: TrainingInputsOptions,
  what: string,
): (done: number, total: number) => void {
  return (done, total) => {
    if (done === total || done % (config.data.batchSize * 10) === 0) {
      opts.log(`${what} ${done}/${total}`);
    }
  };
}

async function weightsIdentity(
  model: BuiltModel,
  opts: TrainingInputsOptions,
): Promise<string> {
  return model.weightsPath === null
    ? `random:${opts.initSeed}`
    : `sha256:${await weightsSha256(model.weightsPath, {
      cacheDir: opts.cacheDir,
    })}`;
}
