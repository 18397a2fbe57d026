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
  labels: z.string().min(1).nullable().default(null).describe(
    "A labels CSV listing the images instead of class folders: a header file,label[,split] (RFC 4180), one row per image, files relative to the dataset root; the path is absolute or relative to the dataset root. Class names are the sorted labels; the split column (train/validation) wins over data.validationSplit. data.trainDir and data.validationDir are then not used.",
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
    'Base network, as keras.applications builds it: "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0" … "efficientnet_b3", "efficientnet_v2_b0" … "efficientnet_v2_b3". Runs build all of them; V3 and both EfficientNets take raw 0–255 pixels and rescale inside, as Keras does.',
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

const LR_SCHEDULES = [
  "constant",
  "cosine",
  "exponential",
  "one-cycle",
] as const;

/** Which schedule parameters belong to which schedule. */
const SCHEDULE_PARAMS: Record<string, readonly string[]> = {
  constant: [],
  cosine: ["decaySteps", "alpha", "warmupSteps", "warmupFrom"],
  exponential: ["decaySteps", "decayRate", "staircase"],
  "one-cycle": ["pctStart", "div", "divFinal", "moms"],
};

const LrScheduleObjectSchema = z.strictObject({
  type: z.enum(LR_SCHEDULES).describe("The schedule."),
  decaySteps: positiveInt.optional().describe(
    "cosine: Keras' decay_steps (default: the stage's steps after warmup); exponential: Keras' decay_steps (default: one epoch's batches).",
  ),
  alpha: z.number().min(0).max(1).optional().describe(
    "cosine: the rate decays to alpha × the learning rate (Keras' alpha; default 0).",
  ),
  warmupSteps: z.number().int().min(0).optional().describe(
    "cosine: steps of linear warmup from warmupFrom to the learning rate (Keras' warmup_steps; default 0).",
  ),
  warmupFrom: z.number().min(0).optional().describe(
    "cosine: the rate warmup starts from (Keras' initial_learning_rate when warming up; default 0).",
  ),
  decayRate: z.number().positive().optional().describe(
    "exponential: Keras' decay_rate (required).",
  ),
  staircase: z.boolean().optional().describe(
    "exponential: decay in steps of decaySteps (Keras' staircase; default false).",
  ),
  pctStart: z.number().gt(0).lt(1).optional().describe(
    "one-cycle: fraction of the steps spent rising (fastai's pct_start; default 0.25, fastai 2's; fastai 1 had 0.3).",
  ),
  div: z.number().gt(0).optional().describe(
    "one-cycle: the rate starts at learningRate / div (default 25).",
  ),
  divFinal: z.number().gt(0).optional().describe(
    "one-cycle: the rate ends at learningRate / divFinal (default 1e5).",
  ),
  moms: z.tuple([
    z.number().min(0).lt(1),
    z.number().min(0).lt(1),
    z.number().min(0).lt(1),
  ]).nullable()
    .optional().describe(
      "one-cycle: Adam's beta_1 at start, middle and end (default [0.95, 0.85, 0.95]); null leaves it alone. SGD and RMSprop (momentum 0) have no momentum to cycle.",
    ),
}).superRefine((s, ctx) => {
  const allowed = SCHEDULE_PARAMS[s.type];
  for (const key of Object.keys(s)) {
    if (key !== "type" && !allowed.includes(key)) {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message:
          `${key} is not a parameter of the "${s.type}" schedule (it takes ${
            allowed.length ? allowed.join(", ") : "none"
          })`,
      });
    }
  }
  if (s.type === "exponential" && s.decayRate === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["decayRate"],
      message:
        'the "exponential" schedule needs a decayRate (Keras\' decay_rate)',
    });
  }
});

const lrSchedule = (stage: string) =>
  z.union([
    z.enum(["constant", "cosine", "one-cycle"]),
    LrScheduleObjectSchema,
  ]).default("constant").describe(
    `Learning-rate schedule of the ${stage}, applied per optimizer step (each stage's steps count from 0): "constant" (Keras' default), "cosine" (Keras' CosineDecay, with optional warmup), "one-cycle" (fastai's fit_one_cycle, momentum cycled for Adam), or an object {"type": …, parameters below}; {"type": "exponential", "decayRate": r} is Keras' ExponentialDecay.`,
  );

const ReduceLrOnPlateauSchema = z.strictObject({
  enabled: z.boolean().default(false).describe(
    "Keras' ReduceLROnPlateau: multiply the learning rate by factor when the monitored metric stops improving (needs validation data and a constant lrSchedule).",
  ),
  monitor: z.enum(["val_loss", "val_accuracy"]).default("val_loss").describe(
    'Metric to watch: val_loss (lower is better) or val_accuracy (higher is better), as Keras\' mode "auto" infers.',
  ),
  factor: z.number().gt(0).lt(1).default(0.1).describe(
    "Factor the learning rate is multiplied by (Keras' factor).",
  ),
  patience: z.number().int().min(0).default(10).describe(
    "Epochs without improvement before a reduction (Keras' patience).",
  ),
  minDelta: z.number().min(0).default(1e-4).describe(
    "Smallest change that counts as an improvement (Keras' min_delta).",
  ),
  cooldown: z.number().int().min(0).default(0).describe(
    "Epochs after a reduction during which epochs without improvement are not counted (Keras' cooldown).",
  ),
  minLr: z.number().min(0).default(0).describe(
    "Lower bound of the learning rate (Keras' min_lr).",
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
  classWeight: z.union([
    z.literal("balanced"),
    z.record(z.string(), z.number().min(0)),
  ]).nullable().default(null).describe(
    'Weight of each class in the training loss (Keras\' fit(class_weight=…), in both stages): null (none), "balanced" (n / (k · n_c), as scikit-learn computes it) or {"<class name>": weight} (classes left out weigh 1). The loss is the batch mean of w · l; the validation loss is not weighted.',
  ),
  labelSmoothing: z.number().min(0).max(1).default(0).describe(
    'Label smoothing of the training and validation loss (Keras\' label_smoothing, both stages): cross-entropy against y·(1−ls) + ls/k for the "softmax" head, y·(1−ls) + ls/2 for the "logit" head (BinaryCrossentropy(from_logits=True, label_smoothing)).',
  ),
  lrSchedule: lrSchedule("frozen stage"),
  reduceLrOnPlateau: ReduceLrOnPlateauSchema.prefault({}).describe(
    "Keras' ReduceLROnPlateau in the frozen stage.",
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
  lrSchedule: lrSchedule("fine-tuning stage"),
  reduceLrOnPlateau: ReduceLrOnPlateauSchema.prefault({}).describe(
    "Keras' ReduceLROnPlateau in fine-tuning (its own, as a second fit's callback).",
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
  train: z.enum(["auto", "onnxruntime", "tfjs"]).default("tfjs").describe(
    'What runs the fine-tuning steps on the frozen prefix: "tfjs" (the TF.js backend), "onnxruntime" (a generated gradient graph on ONNX Runtime\'s CPU build, needs --allow-ffi; the update is the same optimizer), or "auto": ONNX Runtime unless on a hardware WebGPU adapter, TF.js when ONNX Runtime cannot load or the suffix cannot train on its graph (BatchNormalization "batch-stats", a layer without a training lowering), with the reason in the log and summary.json. On ONNX Runtime, train.classWeight and train.labelSmoothing are in the graph\'s loss, and Dropout (model.head.dropout) trains with masks drawn from data.seed\'s generator (distributed as TF.js\' draws, not the same draws).',
  ),
  frozenInt8: z.boolean().default(false).describe(
    "Opt-in: extract the frozen base's features (and run it under augmentation) with its static int8 QDQ model in ONNX Runtime (calibrated as output.onnxInt8Calibration says on output.onnxInt8CalibrationImages training images), instead of float32. The head trains on int8 features; summary.json's frozenInt8Cost and report.html give the accuracy cost (the trained head on int8 against float32 features, on the validation set). Not for the fine-tuning prefix. Needs ONNX Runtime (--allow-ffi) and engine.frozen other than \"tfjs\".",
  ),
});

const weightQuantization = z.enum(["float16", "uint8", "uint16"]);
const onnxQuantization = z.enum(["fp16", "int8"]);

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
  quantize: z.union([weightQuantization, z.array(weightQuantization)])
    .default([]).describe(
      "Also write quantized copies of the TF.js model, each a model folder of its own: model/float16/, model/uint8/, model/uint16/ (tfjs-converter's --quantize_float16 / --quantize_uint8 / --quantize_uint16 manifest, 4 MiB shards; stock tf.loadLayersModel dequantizes them). Each is measured on the validation set against the float32 model (size, top-1 agreement, max |Δp|, accuracy) in summary.json and report.html. [] (default): none.",
    ),
  onnxQuantize: z.union([onnxQuantization, z.array(onnxQuantization)])
    .default([]).describe(
      'Also write ONNX twins of model.onnx: "fp16" → model/model.fp16.onnx (float16 weights and ops, float32 input and output); "int8" → model/model.int8.onnx (static QDQ: per-channel symmetric int8 Conv weights, uint8 activations calibrated (output.onnxInt8Calibration) on output.onnxInt8CalibrationImages training images). Each is measured in ONNX Runtime on the validation set against model.onnx, like output.quantize. Needs output.onnx and --allow-ffi. [] (default): none.',
    ),
  onnxInt8MinAgreement: z.number().min(0).max(1).default(0.99).describe(
    "model.int8.onnx is written only when its top-1 agreement with model.onnx on the validation set is at least this; else the run warns and skips the file (its measured costs stay in summary.json).",
  ),
  onnxInt8Calibration: z.enum(["minmax", "percentile"]).default("minmax")
    .describe(
      'How model.int8.onnx (and engine.frozenInt8) set each activation tensor\'s range from the calibration images: "minmax", its whole range; "percentile", the range of its central 99.999 % (ONNX Runtime\'s default percentile; a 2048-bin histogram, a second pass), clipping rare outliers.',
    ),
  onnxInt8CalibrationImages: positiveInt.default(256).describe(
    "Training images (a seeded shuffle of the training split, without augmentation) whose activation ranges calibrate model.int8.onnx.",
  ),
  demo: z.boolean().default(true).describe(
    "Write demo/index.html with the model: a page that classifies chosen, dropped or webcam images in the browser (TF.js, files copied into demo/vendor/, about 2.5 MB; no network), opened with `deno task serve RUN`. Needs output.saveModel.",
  ),
});

/** Combinations of the training-recipe keys that cannot work. */
function recipeIssues(
  c: Pick<Config, "train" | "fineTune">,
): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const type = (s: Config["train"]["lrSchedule"]) =>
    typeof s === "string" ? s : s.type;
  for (const stage of ["train", "fineTune"] as const) {
    const s = c[stage];
    if (s.reduceLrOnPlateau.enabled && type(s.lrSchedule) !== "constant") {
      issues.push({
        path: [stage, "reduceLrOnPlateau", "enabled"],
        message:
          `ReduceLROnPlateau cannot change a scheduled learning rate (${stage}.lrSchedule is "${
            type(s.lrSchedule)
          }"; Keras refuses to set it too): use one or the other`,
      });
    }
    const moms = typeof s.lrSchedule === "object" &&
        s.lrSchedule.moms !== undefined
      ? s.lrSchedule.moms
      : [0.95, 0.85, 0.95];
    if (
      type(s.lrSchedule) === "one-cycle" && moms !== null &&
      s.optimizer === "adam" && c.train.optimizerRule === "tfjs"
    ) {
      issues.push({
        path: [stage, "lrSchedule"],
        message:
          `one-cycle cycles Adam's beta_1, which TF.js' own Adam (train.optimizerRule "tfjs") cannot change mid-run: use optimizerRule "keras" or set ${stage}.lrSchedule.moms to null`,
      });
    }
  }
  return issues;
}

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
    "Which engines run the frozen part of the model and the fine-tuning steps.",
  ),
  output: OutputSchema.prefault({}).describe("What a run writes and where."),
}).refine((c) => c.data.url !== null || c.data.path !== null, {
  message: "set data.url or data.path",
  path: ["data"],
}).superRefine((c, ctx) => {
  for (const issue of recipeIssues(c)) {
    ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
  }
  if (c.engine.train === "onnxruntime" && c.fineTune.enabled) {
    const clash = c.fineTune.batchNorm === "batch-stats"
      ? 'fineTune.batchNorm "batch-stats" (the ONNX graph runs frozen BatchNormalization statistics)'
      : c.model.trainable
      ? "model.trainable (fine-tuning then trains the whole model on images, with no frozen prefix)"
      : null;
    if (clash) {
      ctx.addIssue({
        code: "custom",
        path: ["engine", "train"],
        message:
          `"onnxruntime" cannot fine-tune with ${clash}; set engine.train to "auto" or "tfjs"`,
      });
    }
  }
  const quantize = c.output.quantize;
  if (
    !c.output.saveModel && (Array.isArray(quantize) ? quantize.length : 1) > 0
  ) {
    ctx.addIssue({
      code: "custom",
      path: ["output", "quantize"],
      message:
        "quantized copies are made from the saved model: set output.saveModel to true, or output.quantize to []",
    });
  }
  const onnxQuantize = c.output.onnxQuantize;
  const onnxCount = Array.isArray(onnxQuantize) ? onnxQuantize.length : 1;
  if (onnxCount > 0 && !(c.output.onnx && c.output.saveModel)) {
    ctx.addIssue({
      code: "custom",
      path: ["output", "onnxQuantize"],
      message:
        "the ONNX twins are made next to model/model.onnx: set output.onnx and output.saveModel to true, or output.onnxQuantize to []",
    });
  }
  if (c.engine.frozenInt8 && c.model.trainable) {
    ctx.addIssue({
      code: "custom",
      path: ["engine", "frozenInt8"],
      message:
        "a trainable base has no frozen part to run in int8: set model.trainable to false, or engine.frozenInt8 to false",
    });
  }
  if (c.engine.frozenInt8 && c.engine.frozen === "tfjs") {
    ctx.addIssue({
      code: "custom",
      path: ["engine", "frozenInt8"],
      message:
        'the int8 frozen base runs in ONNX Runtime: set engine.frozen to "auto" or "onnxruntime", or engine.frozenInt8 to false',
    });
  }
  for (const issue of architectureIssues(c.model, c.data.imageSize)) {
    ctx.addIssue({
      code: "custom",
      path: [...issue.path],
      message: issue.message,
    });
  }
});
