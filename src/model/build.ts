/**
 * The build step of a run: resolve `model.weights` (download ImageNet
 * weights once into the cache), build the classifier, and resolve
 * `fineTune.fromLayer` right away so that a bad layer fails before anything
 * trains.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import { resolveWeightsSource } from "../weights/keras_imagenet.ts";
import {
  buildClassifier,
  type Classifier,
  type HeadOutput,
} from "./classifier.ts";
import type * as tf from "../deps/tf.ts";
import type { FetchProgress } from "../data/fetch.ts";
import {
  BUILT_ARCHITECTURES,
  isBuiltArchitecture,
  kerasLayerIndex,
} from "./bases.ts";
import { kerasLayerNames } from "./mobilenet_v3.ts";

/** What {@link buildModel} returns. */
export interface BuiltModel extends Classifier {
  /** Local path of the weights file, or null for random weights. */
  weightsPath: string | null;
  /** Base layer index fine-tuning starts from (0 when fine-tuning is off). */
  fineTuneFrom: number;
}

/** Context of {@link buildModel} beyond its config slice. */
export interface BuildModelOptions {
  /** Class names of the data (the head's width). */
  classNames: readonly string[];
  /** Cache folder for downloaded weights. */
  cacheDir: string;
  /** Seed of the head's initial weights (and a random base's). */
  initSeed: number;
  /** Warnings (e.g. a non-standard ImageNet size). */
  warn?: (message: string) => void;
  /** Stops a weights download. */
  signal?: AbortSignal;
  /** Makes the weights download's progress callback; default: none. */
  downloadProgress?: (label: string) => (p: FetchProgress) => void;
}

/**
 * Fails, naming `model.architecture`, when this version cannot build the
 * base the config names yet (the config accepts every keras.applications
 * base of issue 19; the builders in are `BUILT_ARCHITECTURES` of
 * `bases.ts`: MobileNetV2, MobileNetV3 Small and Large). Runs call it before
 * any download.
 */
export function checkArchitectureBuilt(
  model: Pick<Config["model"], "architecture">,
): void {
  if (!isBuiltArchitecture(model.architecture)) {
    throw new Error(
      `model.architecture "${model.architecture}": this version builds only ${
        BUILT_ARCHITECTURES.map((a) => `"${a}"`).join(", ")
      }; the other keras.applications bases are accepted by the config but their builders are not in yet (issue 19)`,
    );
  }
}

/** Builds the classifier that `config.model` describes for `data.imageSize`. */
export async function buildModel(
  config: Pick<Config, "model" | "fineTune"> & {
    data: Pick<Config["data"], "imageSize">;
  },
  opts: BuildModelOptions,
): Promise<BuiltModel> {
  checkArchitectureBuilt(config.model);
  checkHeadOutput(config.model.head.output, opts.classNames);
  const [rows, cols] = config.data.imageSize;
  const weightsPath = await resolveWeightsSource(config.model.weights, {
    architecture: config.model.architecture,
    alpha: config.model.alpha,
    minimalistic: config.model.minimalistic,
    rows,
    cols,
    includeTop: false,
    cacheDir: opts.cacheDir,
    signal: opts.signal,
    warn: opts.warn,
    sha256: config.model.sha256,
    onProgress: opts.downloadProgress?.("weights"),
  });
  const clf = await buildClassifier({
    imageSize: [rows, cols],
    architecture: config.model.architecture,
    alpha: config.model.alpha,
    minimalistic: config.model.minimalistic,
    weights: weightsPath,
    imagenet: config.model.weights === "imagenet",
    trainable: config.model.trainable,
    dropout: config.model.head.dropout,
    output: config.model.head.output,
    numClasses: opts.classNames.length,
    seed: opts.initSeed,
  });
  try {
    const fineTuneFrom = config.fineTune.enabled
      ? resolveFromLayer(clf.base, config.fineTune.fromLayer)
      : 0;
    return { ...clf, weightsPath, fineTuneFrom };
  } catch (err) {
    disposeModel(clf);
    throw err;
  }
}

/**
 * Fails, naming the config key, when `model.head.output` does not fit the
 * data's classes: the `"logit"` head is one logit of class 1 against class
 * 0, so it needs exactly 2. Checked before any weights download.
 */
export function checkHeadOutput(
  output: HeadOutput,
  classNames: readonly string[],
): void {
  if (output !== "logit" || classNames.length === 2) return;
  throw new Error(
    `model.head.output: "logit" needs exactly 2 classes (one logit for class 1 against class 0), but the data has ${classNames.length} (${
      classNames.join(", ")
    }); use "softmax" for ${
      classNames.length < 2 ? "this data" : "more than 2 classes"
    }`,
  );
}

/**
 * Frees a classifier: the model and its head, whose shared Dense layer would
 * otherwise outlive `model.dispose()`. (The logit head's `fitModel` and
 * `fitHead` hold no layer of their own: nothing more to free.)
 */
export function disposeModel(clf: Pick<Classifier, "model" | "head">): void {
  clf.head.dispose();
  clf.model.dispose();
}

/**
 * Resolves `fineTune.fromLayer` — an index into Keras' `model.layers` of the
 * base, or a Keras layer name — to the index into our base's layers where
 * fine-tuning starts. MobileNetV2's layers are Keras' one for one; where a
 * Keras layer is composed of several of ours (MobileNetV3's hard_silu and
 * squeeze-and-excitation pooling), it is the first of them, so the frozen
 * part is exactly the Keras layers before it.
 */
export function resolveFromLayer(
  base: tf.LayersModel,
  fromLayer: number | string,
): number {
  const names = kerasLayerNames(base);
  if (typeof fromLayer === "number") {
    if (fromLayer >= names.length) {
      throw new RangeError(
        `fineTune.fromLayer: ${fromLayer} is past the base's last layer (it has ${names.length} layers, 0..${
          names.length - 1
        }), counting Keras' model.layers`,
      );
    }
    return kerasLayerIndex(base, fromLayer);
  }
  const index = kerasLayerIndex(base, fromLayer);
  if (index < 0) {
    const examples = names.filter((n) => /(expand|conv_1|Conv_1)$/.test(n))
      .slice(-2);
    throw new RangeError(
      `fineTune.fromLayer: no layer named "${fromLayer}" in the base (Keras' layer names, e.g. ${
        examples.join(", ")
      })`,
    );
  }
  return index;
}
