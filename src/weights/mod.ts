/**
 * Keras weights in TF.js: `loadKerasWeights` (`keras_weights.ts`) sets a
 * model's weights from a legacy `.h5`, a Keras 3 `.weights.h5` or a `.keras`
 * archive, read with HDF5 in WebAssembly (`keras_h5.ts`); Keras' published
 * ImageNet files are resolved and downloaded once into the cache
 * (`keras_imagenet.ts`). Internal: matching file weights to variables
 * (`_keras_match.ts`) and `.keras` archives (`_keras_archive.ts`).
 *
 * @module
 */

export {
  type Keras3Vars,
  type Keras3WeightsFile,
  type KerasWeight,
  KerasWeightsError,
  type KerasWeightsFile,
  readKeras3Weights,
  readKerasWeights,
} from "./keras_h5.ts";
export {
  IMAGENET_ROWS,
  type ImagenetUrlOptions,
  imagenetWeightsUrl,
  type ResolveWeightsOptions,
  resolveWeightsSource,
} from "./keras_imagenet.ts";
export {
  type KerasWeightsFormat,
  loadKerasWeights,
  type LoadKerasWeightsOptions,
  type LoadKerasWeightsReport,
} from "./keras_weights.ts";
export {
  KERAS_EFFICIENTNET_V2_WEIGHTS_BASE,
  KERAS_EFFICIENTNET_WEIGHTS_BASE,
  KERAS_MOBILENET_V3_WEIGHTS_BASE,
  MOBILENET_V3_SIZE_WARNING,
  type ZooImagenetFile,
  zooImagenetFile,
  type ZooImagenetOptions,
} from "./keras_zoo_imagenet.ts";
