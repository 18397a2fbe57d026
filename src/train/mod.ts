/**
 * Train stage: the feature plan (`plan.ts`) and the training inputs it leads
 * to (`inputs.ts`: cached features `features.ts`, the cached frozen prefix
 * `_prefix_cache.ts`, batch sources `sources.ts`, augmentation `augment.ts`),
 * the fit loop (`fit.ts`) with Keras 3's optimizers (`keras_optimizers.ts`),
 * early stopping (`early_stopping.ts`) and the best checkpoint
 * (`best_checkpoint.ts`), what differs per head output (`head_output.ts`), and
 * the frozen and fine-tuning stages (`stages.ts`), and int8 calibration
 * images (`calibration.ts`).
 *
 * @module
 */

export {
  augmentBatch,
  type AugmentKey,
  type AugmentOptions,
  DEFAULT_AUGMENT,
  type FlipMode,
  makeAugmenter,
  type Rng,
} from "./augment.ts";
export {
  type BestCheckpointCallback,
  bestCheckpointCallback,
  type BestCheckpointOptions,
  type BestCheckpointRecord,
  BestTracker,
} from "./best_checkpoint.ts";
export {
  EarlyStopping,
  type EarlyStoppingCallback,
  earlyStoppingCallback,
  type EarlyStoppingDecision,
  type EarlyStoppingOptions,
  type EarlyStoppingRecord,
  type EarlyStoppingState,
  type Monitor,
  type MonitorMode,
  type WeightsModel,
} from "./early_stopping.ts";
export { calibrationBatches } from "./calibration.ts";
export {
  cachedFeatures,
  type CachedFeaturesOptions,
  extractFeatures,
  type ExtractFeaturesOptions,
} from "./features.ts";
export {
  type BatchSource,
  type FitCallbacks,
  fitLoop,
  type FitOptions,
  type FitResult,
  type MetricsRow,
  type StopReason,
  type XYBatch,
} from "./fit.ts";
export {
  classProbabilities,
  type LabelEncoding,
  labelEncodingOf,
} from "./head_output.ts";
export {
  type TrainingInputs,
  trainingInputs,
  type TrainingInputsOptions,
} from "./inputs.ts";
export {
  type Grads,
  KerasAdam,
  kerasOptimizer,
  KerasRMSprop,
  type KerasRMSpropOptions,
  type NamedTensor,
  type OptimizerName,
} from "./keras_optimizers.ts";
export {
  type FeatureMode,
  type FeaturePlan,
  type FineTuneMode,
  planFeatures,
} from "./plan.ts";
export {
  type FeatureSet,
  featureSource,
  imageSource,
  type SourceOptions,
} from "./sources.ts";
export {
  checkTrainingKernels,
  type StageProgress,
  type StageShape,
  type StagesResult,
  trainStages,
  type TrainStagesOptions,
} from "./stages.ts";
