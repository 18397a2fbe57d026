/**
 * deno-transfer: transfer learning for image classification on TensorFlow.js
 * in Deno, training on WebGPU (falling back to WASM/CPU).
 *
 * This module holds what users compose: the config, the whole run
 * ({@link runTraining}), its named steps in chain order, the model builders,
 * prediction and TensorFlow.js itself. Everything else is importable by URL
 * from each stage's own `mod.ts`: `src/config/mod.ts`, `src/data/mod.ts`,
 * `src/model/mod.ts`, `src/train/mod.ts`, `src/report/mod.ts`.
 *
 * @example Describe a run, and see how its frozen base will be fed
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig, planFeatures } from "./mod.ts";
 * // Every key has the reference job's default; override what differs.
 * const config = parseConfig({ train: { epochs: 3 }, data: { imageSize: [96, 96] } });
 * assert.equal(planFeatures(config).mode, "cached"); // base frozen: features cached once
 * ```
 *
 * @example Run the reference job (downloads the dataset and weights once; not run by `deno test --doc`)
 * ```ts ignore
 * import { loadConfig, runTraining } from "https://example.com/deno-transfer/mod.ts";
 * const config = await loadConfig("train.config.json", ["train.epochs=3"]);
 * const { dir, summary } = await runTraining(config);
 * console.log(dir, summary.best?.val_accuracy);
 * ```
 *
 * @module
 */

// Config.
export { type Config, type ConfigInput } from "./src/config/types.ts";
export { ConfigError, loadConfig, parseConfig } from "./src/config/load.ts";
export { parseConfigArgs } from "./src/config/cli.ts";
export { parseLrFindArgs } from "./src/config/lr_find_args.ts";

// The whole run, then its steps in chain order.
export { type RunSummary } from "./src/report/summary.ts";
export {
  prepareCaches,
  type PrepareResult,
  type RunOptions,
  type RunResult,
  runTraining,
} from "./src/run.ts";
export {
  type LrFindRunOptions,
  type LrFindRunResult,
  runLrFind,
} from "./src/run_lr_find.ts";
export { selectBackend } from "./src/backend/backend.ts";
export { prepareData } from "./src/data/prepare.ts";
export { buildModel } from "./src/model/build.ts";
export { planFeatures } from "./src/train/plan.ts";
export { trainingInputs } from "./src/train/inputs.ts";
export { trainStages } from "./src/train/stages.ts";
export { fitLoop } from "./src/train/fit.ts";
export { evaluateValidation } from "./src/evaluate/validate.ts";
export { RunOutputs } from "./src/report/run_outputs.ts";

// Models.
export { mobileNetV2 } from "./src/model/mobilenet_v2.ts";
export {
  buildClassifier,
  type Classifier,
  type HeadOutput,
  setTrainable,
} from "./src/model/classifier.ts";
export { loadKerasWeights } from "./src/weights/keras_weights.ts";
export { loadModel, saveModel } from "./src/model/model_io.ts";

// Images, prediction and evaluation.
export { decodeAndResize } from "./src/data/resize.ts";
export { mobileNetV2Preprocess } from "./src/data/batches.ts";
export { evaluateFolder, predictFiles } from "./src/evaluate/predict.ts";
export { evaluateModel } from "./src/evaluate/evaluate.ts";

// Charts.
export { renderTrainingChart } from "./src/report/training_chart.ts";
export { renderConfusionMatrix } from "./src/report/confusion_chart.ts";

/** TensorFlow.js (core + layers), as this project uses it. */
export * as tf from "./src/deps/tf.ts";
