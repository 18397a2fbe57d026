/**
 * Train stage: the feature plan (`plan.ts`) and the training inputs it leads
 * to (`inputs.ts`: cached features `features.ts`, the cached frozen prefix
 * `_prefix_cache.ts`, batch sources `sources.ts`, augmentation `augment.ts`),
 * the fit loop (`fit.ts`) with Keras 3's optimizers (`keras_optimizers.ts`),
 * early stopping (`early_stopping.ts`) and the best checkpoint
 * (`best_checkpoint.ts`), what differs per head output (`head_output.ts`), and
 * the frozen and fine-tuning stages (`stages.ts`). Training recipes: class
 * weights (`class_weight.ts`) and label smoothing in the training loss
 * (`training_loss.ts`), learning-rate schedules (`lr_schedule.ts`, driven by
 * `schedule_callback.ts` through `optimizer_rate.ts`) and ReduceLROnPlateau
 * (`reduce_lr_on_plateau.ts`), and fastai's LR finder (`lr_find.ts`, its
 * training loop `lr_sweep.ts`); fine-tuning steps on ONNX Runtime's training
 * graph (`ort_fine_tune.ts`, `engine.train`); int8 calibration images
 * (`calibration.ts`).
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
  classCounts,
  type ClassWeightConfig,
  classWeights,
  splitClassWeights,
} from "./class_weight.ts";
export {
  cachedFeatures,
  type CachedFeaturesOptions,
  extractFeatures,
  type ExtractFeaturesOptions,
} from "./features.ts";
export {
  type FeatureShards,
  mergeShards,
  type MergeShardsOptions,
  shardFileName,
  shardIdentity,
  type ShardMergeRecord,
  subsetOf,
} from "./feature_shards.ts";
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
  type LossFn,
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
  combinedCos,
  cosineDecay,
  type CosineDecayOptions,
  exponentialDecay,
  type ExponentialDecayOptions,
  type LrSchedule,
  lrSchedule,
  type LrScheduleConfig,
  oneCycle,
  type OneCycleOptions,
  type ScheduleContext,
} from "./lr_schedule.ts";
export {
  learningRateOf,
  setLearningRate,
  setMomentum,
} from "./optimizer_rate.ts";
export {
  LR_FIND_DEFAULTS,
  LrFinder,
  type LrFindOptions,
  lrFindOptions,
  type LrFindRecord,
  type LrFindStop,
  type LrSuggestion,
  type LrSuggestions,
  minimum,
  SmoothedLoss,
  steep,
  suggestionWindow,
  suggestLrs,
  sweepIterations,
  sweepLr,
  valley,
} from "./lr_find.ts";
export {
  lrSweep,
  type LrSweepOptions,
  type LrSweepResult,
} from "./lr_sweep.ts";
export {
  drawDropoutMask,
  type OrtFineTuner,
  ortFineTuner,
  type OrtFineTunerOptions,
  selectTrainEngine,
  type TrainEngineChoice,
  type TrainEngineRequest,
} from "./ort_fine_tune.ts";
export {
  type FeatureMode,
  type FeaturePlan,
  type FineTuneMode,
  planFeatures,
} from "./plan.ts";
export {
  type ReduceLrDecision,
  ReduceLrOnPlateau,
  type ReduceLrOnPlateauCallback,
  reduceLrOnPlateauCallback,
  type ReduceLrOnPlateauOptions,
} from "./reduce_lr_on_plateau.ts";
export { scheduleCallback } from "./schedule_callback.ts";
export {
  type FeatureSet,
  featureSource,
  imageSource,
  type SourceOptions,
} from "./sources.ts";
export {
  checkTrainingKernels,
  type LearningRateRecord,
  type StageProgress,
  type StageShape,
  type StagesResult,
  trainStages,
  type TrainStagesOptions,
} from "./stages.ts";
export {
  smoothLabels,
  trainingLoss,
  type TrainingLossOptions,
} from "./training_loss.ts";
