/**
 * The declarative description of a training run (`train.config.json`).
 *
 * One zod schema, {@link ConfigSchema}, is the single source of truth for the
 * config's defaults, validation (`load.ts`), its types (`types.ts`,
 * generated, and checked against the schema by its annotation), the
 * generated `config.schema.json` (which editors use for autocompletion) and
 * the README's config reference (`docs.ts`).
 *
 * @module
 */

import { z } from "../deps/zod.ts";
import type { Config, ConfigInput } from "./types.ts";
import { architectureIssues, ARCHITECTURES } from "./architecture.ts";

/** The reference dataset: Keras' cats-vs-dogs transfer-learning example. */
export const REFERENCE_DATASET_URL =
  "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip";

const positiveInt = z.number().int().min(1);

const DataSchema = z.strictObject({
  url: z.string().url().nullable().default(REFERENCE_DATASET_URL).describe(
    "URL of a .zip holding the class-folder dataset; downloaded once into data.cacheDir.",
  ),
  path: z.string().min(1).nullable().default(null).describe(
    "Local folder (or .zip) to use instead of data.url; wins over data.url when set.",
  ),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "expected 64 hex digits")
    .nullable().default(null).describe(
      "Expected SHA-256 of the downloaded zip; a mismatch deletes the file and fails.",
    ),
  trainDir: z.string().min(1).default("train").describe(
    "Training folder (one subfolder per class), relative to the dataset root.",
  ),
  validationDir: z.string().min(1).nullable().default("validation").describe(
    "Validation folder relative to the dataset root; when missing or null, data.validationSplit is used.",
  ),
  validationSplit: z.number().gt(0).lt(1).default(0.2).describe(
    "Fraction of each class held out for validation when there is no validation folder.",
  ),
  imageSize: z.tuple([positiveInt, positiveInt]).default([160, 160]).describe(
    "[height, width] every image is resized to.",
  ),
  batchSize: positiveInt.default(32).describe("Images per training batch."),
  shuffle: z.boolean().default(true).describe(
    "Shuffle the training images each epoch (seeded by data.seed).",
  ),
  seed: z.number().int().min(0).default(42).describe(
    "Seed for shuffling, validation splits and weight initialisation.",
  ),
  interpolation: z.enum(["bilinear", "nearest"]).default("bilinear").describe(
    "Resize interpolation.",
  ),
  cacheDir: z.string().min(1).nullable().default(null).describe(
    "Cache folder for downloads, extracted archives and decoded images; null means $XDG_CACHE_HOME/deno-transfer or ~/.cache/deno-transfer.",
  ),
  onBadImage: z.enum(["warn", "error"]).default("warn").describe(
    'What to do with corrupt or unsupported image files: "warn" skips them, "error" fails the run.',
  ),
  workers: positiveInt.nullable().default(null).describe(
    "Parallel decode workers; null means one per CPU core.",
  ),
  maxImagePixels: positiveInt.nullable().default(89_478_485).describe(
    "Largest image, in pixels (width × height, read from the file's header before decoding), that is decoded; larger files are skipped as possible decompression bombs (as data.onBadImage says). The default is PIL's Image.MAX_IMAGE_PIXELS; null for no limit.",
  ),
  exifOrientation: z.enum(["ignore", "apply"]).default("ignore").describe(
    '"ignore": pixels as stored, as TensorFlow and Keras read them. "apply": JPEG EXIF orientation applied (phone photos upright, as PIL\'s ImageOps.exif_transpose does); decoded into cache entries of their own.',
  ),
  bmp: z.enum(["tf", "full"]).default("tf").describe(
    '"tf": BMPs exactly as TensorFlow reads them for Keras (8, 24 and 32-bit; 8-bit files as the grey palette index; 1, 4 and 16-bit, RLE and OS/2 files skipped with the reason). "full": every BMP variant with its palette applied (NetSurf\'s libnsbmp), which Keras would not train on; decoded into cache entries of their own.',
  ),
  includeWebp: z.boolean().default(false).describe(
    "Also read .webp files (libwebp, exactly as TensorFlow decodes opaque ones; with alpha or animated they are skipped, as TensorFlow refuses them). Keras' image_dataset_from_directory leaves .webp out, so by default they are counted in one line and skipped.",
  ),
});

const HeadSchema = z.strictObject({
  dropout: z.number().min(0).lt(1).default(0).describe(
    "Dropout rate between the pooled features and the Dense classifier.",
  ),
  output: z.enum(["softmax", "logit"]).default("softmax").describe(
    '"softmax": Dense(classes, softmax) trained with categorical cross-entropy. "logit" (exactly 2 classes): the TensorFlow tutorial\'s Dense(1) logit trained with BinaryCrossentropy(from_logits=True) and accuracy at logit > 0 (about what "softmax" gives at half the learning rate); the saved model adds a sigmoid and outputs the probability of the second class, [n, 1].',
  ),
});

const ModelSchema = z.strictObject({
  architecture: z.enum(ARCHITECTURES).default("mobilenet_v2").describe(
    'Base network, as keras.applications builds it: "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0" … "efficientnet_b3", "efficientnet_v2_b0" … "efficientnet_v2_b3". Runs build "mobilenet_v2", "mobilenet_v3_small" and "mobilenet_v3_large" (V3 takes raw 0–255 pixels and rescales inside, as Keras does); the EfficientNets are validated by Keras\' rules and then fail before any download, naming this key.',
  ),
  alpha: z.number().positive().default(1.0).describe(
    "Width multiplier (MobileNets only): MobileNetV2 takes 0.35, 0.5, 0.75, 1, 1.3 or 1.4; MobileNetV3 any positive value, but with ImageNet weights 0.75 or 1 (1 when minimalistic); EfficientNets have none (leave it at 1).",
  ),
  minimalistic: z.boolean().default(false).describe(
    "MobileNetV3 only: Keras' minimalistic variant (no squeeze-and-excitation, ReLU instead of hard_silu, 3x3 depthwise kernels).",
  ),
  weights: z.string().min(1).nullable().default("imagenet").describe(
    '"imagenet" (Keras\' published weights), a URL or local path to a Keras weights file (legacy .h5, Keras 3 .weights.h5 or a whole .keras model), or null for random initialisation.',
  ),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "expected 64 hex digits")
    .nullable().default(null).describe(
      "Expected SHA-256 of the weights file (downloaded or local); a mismatching download is deleted and the run fails.",
    ),
  trainable: z.boolean().default(false).describe(
    "Train the base too; false freezes it (weights fixed, BatchNormalization in inference mode).",
  ),
  head: HeadSchema.prefault({}).describe("Classifier head on top of the base."),
});

const optimizer = z.enum(["adam", "sgd", "rmsprop"]);

const EarlyStoppingSchema = z.strictObject({
  enabled: z.boolean().default(false).describe(
    "Stop a stage when the monitored metric stops improving (needs validation data).",
  ),
  monitor: z.enum(["val_loss", "val_accuracy"]).default("val_loss").describe(
    "Metric to watch: val_loss (lower is better) or val_accuracy (higher is better).",
  ),
  patience: z.number().int().min(0).default(0).describe(
    "Epochs without improvement before stopping (Keras' patience).",
  ),
  minDelta: z.number().min(0).default(0).describe(
    "Smallest change that counts as an improvement (Keras' min_delta).",
  ),
  restoreBestWeights: z.boolean().default(false).describe(
    "At the end of a stage, restore the weights of its best epoch (Keras 3: also when no stop happened).",
  ),
});

const TrainSchema = z.strictObject({
  epochs: positiveInt.default(10).describe("Training epochs."),
  optimizer: optimizer.default("adam").describe("Optimizer."),
  learningRate: z.number().positive().default(1e-4).describe(
    "Optimizer learning rate.",
  ),
  loss: z.literal("categoricalCrossentropy").default("categoricalCrossentropy")
    .describe(
      'Loss of the "softmax" head (labels are one-hot); model.head.output "logit" trains with binary cross-entropy from logits instead.',
    ),
  metrics: z.array(z.literal("accuracy")).default(["accuracy"]).describe(
    "Metrics reported each epoch.",
  ),
  cacheFeatures: z.boolean().default(true).describe(
    "With a frozen base and no augmentation, run the base once, cache its pooled features on disk and train the head on them (same results, much faster).",
  ),
  earlyStopping: EarlyStoppingSchema.prefault({}).describe(
    "Keras' EarlyStopping, in the frozen stage and (separately) in fine-tuning.",
  ),
  tta: z.enum(["none", "flip", "flip-crops"]).default("none").describe(
    'Test-time augmentation of the final validation evaluation: the mean of the probabilities of fixed views of each image — "flip": the image and its horizontal mirror; "flip-crops": also the four corner crops of 90% of each side, resized back. summary.json and report.html give accuracy and loss with and without it; with cached features the views\' features are cached too.',
  ),
  optimizerRule: z.enum(["keras", "tfjs"]).default("keras").describe(
    'Update rule of adam and rmsprop in both stages: "keras" (Keras 3\'s, epsilon added to sqrt(v) with the bias-corrected step) or "tfjs" (TF.js\' own).',
  ),
});

const FineTuneSchema = z.strictObject({
  enabled: z.boolean().default(false).describe(
    "After the frozen stage, unfreeze the base from fineTune.fromLayer and train more.",
  ),
  fromLayer: z.union([z.number().int().min(0), z.string().min(1)]).default(100)
    .describe(
      "First base layer to unfreeze: an index in Keras' order (the base has 154 layers) or a layer name such as block_13_expand.",
    ),
  epochs: positiveInt.default(10).describe("Fine-tuning epochs."),
  optimizer: optimizer.default("adam").describe("Fine-tuning optimizer."),
  learningRate: z.number().positive().default(1e-5).describe(
    "Fine-tuning learning rate (keep it small).",
  ),
  batchNorm: z.enum(["inference", "batch-stats"]).default("inference")
    .describe(
      'BatchNormalization of the unfrozen layers: "inference" keeps the moving statistics (what the TensorFlow tutorial intends, and Keras 2 did); "batch-stats" normalises with batch statistics and updates them, which is what Keras 3 does despite base(x, training=False).',
    ),
});

const AugmentSchema = z.strictObject({
  flip: z.enum(["none", "horizontal", "vertical", "horizontal_and_vertical"])
    .default("none").describe(
      "Random flip (Keras RandomFlip): each image with probability 1/2 per axis.",
    ),
  rotation: z.number().min(0).max(1).default(0).describe(
    "Random rotation up to ± this fraction of a full turn (Keras RandomRotation).",
  ),
  zoom: z.number().min(0).lt(1).default(0).describe(
    "Random zoom up to ± this fraction (Keras RandomZoom).",
  ),
  translation: z.number().min(0).lt(1).default(0).describe(
    "Random shift up to ± this fraction of height and width (Keras RandomTranslation).",
  ),
});

const EngineSchema = z.strictObject({
  fused: z.boolean().default(true).describe(
    "When TF.js runs the frozen base: as fused ops from the frozen graph (BatchNormalization, padding and ReLU6 folded into the convolutions; fewer kernels). false: the plain layers model.",
  ),
  frozen: z.enum(["auto", "onnxruntime", "tfjs"]).default("auto").describe(
    'What runs the frozen base (features, augmented batches): "onnxruntime" (CPU, needs --allow-ffi), "tfjs" (the TF.js backend), or "auto": TF.js on a hardware WebGPU adapter, ONNX Runtime otherwise (TF.js if it cannot load).',
  ),
});

const OutputSchema = z.strictObject({
  dir: z.string().min(1).default("runs").describe(
    "Each run writes into a new folder <output.dir>/<name>-<UTC timestamp>/.",
  ),
  saveModel: z.boolean().default(true).describe(
    "Save the trained classifier (TF.js layers format) under model/.",
  ),
  saveBest: z.boolean().default(false).describe(
    "Also save the model of the best epoch (by train.earlyStopping.monitor) under best_model/, like Keras' ModelCheckpoint(save_best_only=True).",
  ),
  topLosses: z.number().int().min(0).default(16).describe(
    "Validation images with the highest loss shown in report.html (0: none).",
  ),
  heatmaps: z.boolean().default(true).describe(
    "Show class-activation heatmaps (CAM, equal to Grad-CAM for the GAP + Dense head) of the true and the predicted class under each top-loss image in report.html.",
  ),
  onnx: z.boolean().default(true).describe(
    "Also save the whole classifier as model/model.onnx (base + head + softmax, or sigmoid for the logit head), for ONNX Runtime in Python, Node or the browser.",
  ),
});

/** The zod schema of `train.config.json`: types, defaults and validation. */
export const ConfigSchema: z.ZodType<Config, ConfigInput> = z.strictObject({
  $schema: z.string().optional().describe("JSON Schema reference for editors."),
  name: z.string().regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    "expected letters, digits, '.', '_' or '-'",
  ).default("cats_vs_dogs").describe(
    "Run name; used in the run folder name.",
  ),
  data: DataSchema.prefault({}).describe(
    "Where the images come from and how they are read.",
  ),
  model: ModelSchema.prefault({}).describe("The network."),
  train: TrainSchema.prefault({}).describe("Training hyperparameters."),
  fineTune: FineTuneSchema.prefault({}).describe(
    "Optional second stage that unfreezes the top of the base.",
  ),
  augment: AugmentSchema.prefault({}).describe(
    "Training-time augmentation, applied per batch on the active backend (off by default).",
  ),
  backend: z.enum(["auto", "webgpu", "wasm", "cpu"]).default("auto").describe(
    '"auto" picks WebGPU on a real GPU adapter, else WASM, else CPU.',
  ),
  engine: EngineSchema.prefault({}).describe(
    "Which engine runs the frozen part of the model.",
  ),
  output: OutputSchema.prefault({}).describe("What a run writes and where."),
}).refine((c) => c.data.url !== null || c.data.path !== null, {
  message: "set data.url or data.path",
  path: ["data"],
}).superRefine((c, ctx) => {
  for (const issue of architectureIssues(c.model, c.data.imageSize)) {
    ctx.addIssue({
      code: "custom",
      path: [...issue.path],
      message: issue.message,
    });
  }
});
