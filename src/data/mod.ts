/**
 * Data stage: fetch → unzip → dataset → decode, each step in its own file
 * (`fetch.ts`, `unzip.ts`, `dataset.ts`, `decode.ts`), and `prepare.ts`
 * chaining them from the `data.*` config keys. Decoding runs in a pool of workers (`decode_pool.ts`) over
 * the codecs (`codecs.ts`) and resizing (`resize.ts`); `image_set.ts` says
 * where a split's pixels live (memory, or read back from the verified decode
 * cache); `batches.ts` turns them into tensors.
 *
 * @module
 */

export {
  type Batch,
  batchCount,
  epochOrder,
  identityPreprocess,
  makeBatch,
  mobileNetV2Preprocess,
  type Preprocess,
  preprocessFor,
  type PreprocessName,
} from "./batches.ts";
export {
  DecodeFailure,
  type DecodeOptions,
  decodePixels,
  DEFAULT_MAX_IMAGE_PIXELS,
  type ImageFormatName,
  pixelLimitReason,
  type Pixels,
  sniffFormat,
} from "./codecs.ts";
export {
  type ClassFolder,
  DatasetError,
  type DatasetOptions,
  type DatasetSplits,
  formatIgnored,
  type IgnoredFiles,
  IMAGE_EXTENSIONS,
  type ImageItem,
  isImageFile,
  junkKind,
  type LabelsSource,
  listClassFolder,
  loadDataset,
  mergeIgnored,
  resolveDatasetRoot,
  splitPerClass,
  WEBP_EXTENSION,
} from "./dataset.ts";
export {
  BadImageError,
  type BadImagePolicy,
  decodeImages,
  type DecodeImagesOptions,
  type DecodeProgress,
  type RejectedEntry,
} from "./decode.ts";
export { DecodePool, defaultWorkerCount } from "./decode_pool.ts";
export {
  FetchError,
  fetchFile,
  type FetchOptions,
  type FetchProgress,
  type FetchResult,
  fileNameForUrl,
  type FileNameOptions,
} from "./fetch.ts";
export {
  type BadImage,
  type CacheEntryRef,
  type ImageSet,
  type ImageSetFields,
  imageSetFromPixels,
  type MemoryImageSet,
} from "./image_set.ts";
export {
  prepareData,
  type PrepareDataOptions,
  type PreparedData,
} from "./prepare.ts";
export { decodeAndResize, type Interpolation, resizeToRgb } from "./resize.ts";
export {
  defaultUnzipDest,
  unzip,
  UnzipError,
  type UnzipOptions,
  type UnzipProgress,
  type UnzipResult,
} from "./unzip.ts";
