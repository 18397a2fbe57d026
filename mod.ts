/**
 * deno-transfer: transfer learning for image classification on TensorFlow.js
 * in Deno, training on WebGPU (falling back to WASM/CPU).
 *
 * Every step of the `deno task train` chain is exported here so that other
 * scripts can import this module by URL and compose their own chains.
 *
 * @example
 * ```ts
 * import { loadConfig } from "https://example.com/deno-transfer/mod.ts";
 * const config = await loadConfig(null, ["train.epochs=3"]);
 * ```
 *
 * @module
 */

export {
  applyOverrides,
  type Config,
  ConfigError,
  type ConfigInput,
  configJsonSchema,
  ConfigSchema,
  loadConfig,
  MOBILENET_V2_ALPHAS,
  parseConfig,
  parseOverride,
  REFERENCE_DATASET_URL,
} from "./src/config/schema.ts";
export { type ConfigArgs, parseConfigArgs } from "./src/config/cli.ts";
export {
  FetchError,
  fetchFile,
  type FetchOptions,
  type FetchProgress,
  type FetchResult,
  fileNameForUrl,
  sha256File,
} from "./src/data/fetch.ts";
export {
  createProgressPrinter,
  formatBytes,
  formatProgress,
  type ProgressPrinterOptions,
} from "./src/report/progress.ts";
export { defaultCacheDir, resolveCacheDir } from "./src/data/cache_dir.ts";
export {
  defaultUnzipDest,
  unsafeEntryReason,
  unzip,
  UNZIP_MARKER,
  UnzipError,
  type UnzipOptions,
  type UnzipProgress,
  type UnzipResult,
} from "./src/data/unzip.ts";
export {
  type ClassFolder,
  createRng,
  DatasetError,
  type DatasetOptions,
  type DatasetSplits,
  deriveSeed,
  IMAGE_EXTENSIONS,
  type ImageItem,
  isImageFile,
  listClassFolder,
  loadDataset,
  resolveDatasetRoot,
  shuffleInPlace,
  splitPerClass,
} from "./src/data/dataset.ts";
export {
  type BadImage,
  BadImageError,
  type BadImagePolicy,
  decodeAndResize,
  DecodeFailure,
  decodeImages,
  type DecodeImagesOptions,
  decodePixels,
  DecodePool,
  type DecodeProgress,
  defaultWorkerCount,
  type ImageSet,
  type Interpolation,
  type Pixels,
  resizeToRgb,
} from "./src/data/decode.ts";
export {
  type Batch,
  batchCount,
  batchDataset,
  type BatchOptions,
  epochOrder,
  forEachBatch,
  iterateBatches,
  makeBatch,
  mobileNetV2Preprocess,
  type Preprocess,
} from "./src/data/batches.ts";
export {
  prepareData,
  type PrepareDataOptions,
  type PreparedData,
} from "./src/data/prepare.ts";
export {
  correctPad,
  makeDivisible,
  MOBILENET_V2_BASE_LAYERS,
  mobileNetV2,
  type MobileNetV2Options,
  preprocessInput,
} from "./src/model/mobilenet_v2.ts";
export {
  IMAGENET_ALPHAS,
  IMAGENET_ROWS,
  imagenetWeightsUrl,
  KerasWeightsError,
  loadKerasWeights,
  type LoadKerasWeightsOptions,
  readKerasWeights,
  resolveImagenetRows,
  type ResolveWeightsOptions,
  resolveWeightsSource,
  saveKerasWeights,
} from "./src/model/keras_weights.ts";
export {
  buildClassifier,
  type Classifier,
  type ClassifierOptions,
  setTrainable,
} from "./src/model/classifier.ts";
export {
  FreezableBatchNormalization,
  setBatchNormInference,
} from "./src/model/batch_norm.ts";
export {
  BackendError,
  type BackendName,
  type BackendRequest,
  type BackendSelection,
  selectBackend,
  silenceNodeBanner,
} from "./src/train/backend.ts";
export {
  MetricsCsvWriter,
  type MetricsRow,
  parseMetricsCsv,
  readMetricsCsv,
  rowFromLogs,
} from "./src/report/metrics.ts";
export { renderConfusionMatrix, renderTrainingChart } from "./src/report/charts.ts";
export { Progbar } from "./src/report/progbar.ts";
export {
  augmentBatch,
  type AugmentOptions,
  isAugmentEnabled,
  makeAugmenter,
  withAugmentation,
} from "./src/train/augment.ts";
export {
  type ClassificationReport,
  classificationReport,
  confusionMatrix,
  evaluateModel,
  type Evaluation,
  formatClassificationReport,
} from "./src/train/evaluate.ts";
export {
  type BatchSource,
  evaluateLoss,
  type FitCallbacks,
  fitLoop,
  type FitOptions,
  type FitResult,
  type XYBatch,
} from "./src/train/fit.ts";
export { type FeatureSet, featureSource, imageSource } from "./src/train/sources.ts";
export {
  cachedFeatures,
  extractFeatures,
  featureCacheKey,
} from "./src/train/features.ts";
export {
  loadModel,
  type Preprocessing,
  resolveModelDir,
  type SavedModel,
  saveModel,
} from "./src/model/model_io.ts";
export {
  checkTrainingKernels,
  resolveFromLayer,
  type RunOptions,
  type RunResult,
  type RunSummary,
  runTraining,
} from "./src/run.ts";
export { createRunDir, utcStamp } from "./src/report/run_dir.ts";
export {
  collectImageFiles,
  evaluateFolder,
  predictFiles,
  type Prediction,
  type PredictionError,
} from "./src/model/predict.ts";
/** The TensorFlow.js instance every step uses (`@tensorflow/tfjs` 4.22.0); use it for your own tensors and layers. */
export { tf } from "./src/deps.ts";
