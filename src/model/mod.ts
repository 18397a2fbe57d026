/**
 * Model stage: MobileNetV2 and MobileNetV3 as Keras builds them
 * (`mobilenet_v2.ts`, `mobilenet_v3.ts`, `efficientnet.ts`), picked by `model.architecture`
 * (`bases.ts`), with
 * BatchNormalization that stays frozen (`batch_norm.ts`), the classifier on
 * top (`classifier.ts`), the build step of a run (`build.ts`), and saving and
 * loading a trained classifier (`model_io.ts`), and its quantized copies
 * (`quantized_weights.ts`).
 *
 * @module
 */

export {
  type BatchNormalization,
  type BatchNormalizationArgs,
  setBatchNormInference,
} from "./batch_norm.ts";
export {
  baseDisplayName,
  baseNetwork,
  type BaseNetworkOptions,
  basePreprocess,
  BUILT_ARCHITECTURES,
  type BuiltArchitecture,
  isBuiltArchitecture,
  kerasLayerIndex,
} from "./bases.ts";
export {
  buildModel,
  type BuildModelOptions,
  type BuiltModel,
  checkArchitectureBuilt,
  disposeModel,
  resolveFromLayer,
} from "./build.ts";
export {
  efficientNet,
  EFFICIENTNET_COEFFICIENTS,
  type EfficientNetOptions,
  type EfficientNetVariant,
  IMAGENET_MEAN_RGB,
  IMAGENET_STDDEV_RGB,
  NORMALIZATION_EPSILON,
} from "./efficientnet.ts";
export {
  kerasLayerNames,
  mobileNetV3,
  type MobileNetV3Options,
} from "./mobilenet_v3.ts";
export {
  buildClassifier,
  type Classifier,
  type ClassifierOptions,
  type HeadOutput,
  setTrainable,
} from "./classifier.ts";
export {
  MOBILENET_V2_BASE_LAYERS,
  mobileNetV2,
  type MobileNetV2Options,
} from "./mobilenet_v2.ts";
export {
  loadModel,
  type Preprocessing,
  resolveModelDir,
  type SavedModel,
  saveModel,
} from "./model_io.ts";
export {
  affineQuantize,
  type AffineQuantized,
  type ManifestQuantization,
  type QuantizedModelFiles,
  type QuantizedWeightData,
  quantizeWeightData,
  roundHalfEven,
  saveQuantizedModel,
  shardWeights,
  WEIGHT_SHARD_BYTES,
  type WeightQuantization,
} from "./quantized_weights.ts";
