/**
 * `model/metadata.json` in Teachable Machine's format, so that
 * `@teachablemachine/image`'s `tmImage.load(modelURL, metadataURL)` loads a
 * run's model with its class names: the fields of its `Metadata` interface
 * (`tfjsVersion`, `packageName`, `packageVersion`, `modelName`,
 * `timeStamp`, `labels`, `userMetadata`, `grayscale`, `imageSize`).
 *
 * Teachable Machine models are square (`imageSize` is one number, the side
 * its library crops and resizes to), so the file is written only for a
 * square `data.imageSize`. Its library prepares images its own way — a
 * centre square crop drawn by the canvas, then x / 127 − 1 — which is not
 * how the model was trained (the whole image resized as `tf.image.resize`
 * does, then x / 127.5 − 1), so its probabilities differ a little from
 * `deno task predict`'s; the demo page (`demo_page.ts`) prepares images
 * exactly as training did.
 *
 * @module
 */

import { BROWSER_TFJS_VERSION } from "../deps/browser_tfjs.ts";

/** Teachable Machine's image-model metadata (`@teachablemachine/image`'s `Metadata`). */
export interface TeachableMachineMetadata {
  /** TF.js version the model was written with. */
  tfjsVersion: string;
  /** The writer. */
  packageName: string;
  /** The `@teachablemachine/image` version whose `Metadata` format this follows. */
  packageVersion: string;
  /** The run name. */
  modelName: string;
  /** When the model was written (ISO 8601). */
  timeStamp: string;
  /** Class names, index = output unit. */
  labels: string[];
  /** Free-form; here where the model came from and how to prepare its input. */
  userMetadata: Record<string, unknown>;
  /** Always false: the model takes RGB. */
  grayscale: boolean;
  /** Side of the square input in pixels. */
  imageSize: number;
}

/**
 * The metadata of a model trained on `classNames` at `imageSize`, or null
 * when the size is not square (Teachable Machine has no such models) or the
 * base does not take x / 127.5 − 1 inputs (Teachable Machine's library always
 * scales its input that way, so a base that rescales inside would be fed
 * wrong pixels).
 */
export function teachableMachineMetadata(opts: {
  modelName: string;
  classNames: readonly string[];
  imageSize: readonly [number, number];
  interpolation: string;
  preprocess: string;
  timeStamp: string;
}): TeachableMachineMetadata | null {
  const [h, w] = opts.imageSize;
  if (h !== w || opts.preprocess !== "mobilenet_v2") return null;
  return {
    tfjsVersion: BROWSER_TFJS_VERSION,
    packageName: "deno-transfer",
    packageVersion: "0.8.5",
    modelName: opts.modelName,
    timeStamp: opts.timeStamp,
    labels: [...opts.classNames],
    userMetadata: {
      writtenBy: "deno-transfer",
      preprocessing:
        `whole image resized to ${h}×${w} (${opts.interpolation}), then ${
          opts.preprocess === "mobilenet_v2" ? "x / 127.5 − 1" : opts.preprocess
        }; see preprocessing.json`,
    },
    grayscale: false,
    imageSize: h,
  };
}
