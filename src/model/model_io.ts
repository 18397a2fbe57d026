/**
 * Saving and loading a trained classifier in TF.js layers format
 * (`model.json` + `weights.bin`) on the local file system, plus the
 * `labels.json` and `preprocessing.json` that `predict` needs. The files are
 * the same ones `tf.loadLayersModel("https://…/model.json")` reads in a
 * browser.
 *
 * @module
 */

import { join } from "node:path";
import * as tf from "../deps/tf.ts";
import { writeFileAtomic } from "../util/fs.ts";
import type { Interpolation } from "../data/resize.ts";
import type { PreprocessName } from "../data/batches.ts";

/** How images must be prepared for a saved model. */
export interface Preprocessing {
  /** `[height, width]` the model was trained at. */
  imageSize: [number, number];
  /** Resize interpolation used in training. */
  interpolation: Interpolation;
  /**
   * Input scaling: `"mobilenet_v2"` = x / 127.5 − 1; `"identity"` = raw
   * 0–255 pixels (the model rescales inside: MobileNetV3).
   */
  preprocess: PreprocessName;
  /**
   * `data.exifOrientation` in training: "apply" when JPEGs were turned as
   * their EXIF orientation says; absent or "ignore": as stored (TF's way).
   */
  exifOrientation?: "ignore" | "apply";
  /** `data.bmp` in training; absent or "tf": TF's BMP reader. */
  bmp?: "tf" | "full";
}

/** A loaded model with its labels and preprocessing. */
export interface SavedModel {
  /** The classifier. */
  model: tf.LayersModel;
  /** Class names, index = output unit. */
  classNames: string[];
  /** How to prepare inputs. */
  preprocessing: Preprocessing;
  /** The folder it was loaded from. */
  dir: string;
}

/**
 * Saves `model` into `dir` (created) as `model.json` + `weights.bin`, with
 * `labels.json` (the class names) and `preprocessing.json`. Files are
 * written under temporary names and renamed.
 */
export async function saveModel(
  model: tf.LayersModel,
  dir: string,
  meta: { classNames: string[]; preprocessing: Preprocessing },
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const write = (name: string, data: Uint8Array | string) =>
    writeFileAtomic(join(dir, name), data);
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weightData = artifacts.weightData === undefined
      ? new ArrayBuffer(0)
      : tf.io.concatenateArrayBuffers(
        Array.isArray(artifacts.weightData)
          ? artifacts.weightData
          : [artifacts.weightData],
      );
    await write("weights.bin", new Uint8Array(weightData));
    const json = {
      modelTopology: artifacts.modelTopology,
      format: "layers-model",
      generatedBy: artifacts.generatedBy,
      convertedBy: null,
      weightsManifest: [{
        paths: ["weights.bin"],
        weights: artifacts.weightSpecs ?? [],
      }],
      trainingConfig: artifacts.trainingConfig,
    };
    await write("model.json", JSON.stringify(json));
    return {
      modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts),
    };
  }));
  await write("labels.json", JSON.stringify(meta.classNames, null, 2) + "\n");
  await write(
    "preprocessing.json",
    JSON.stringify(meta.preprocessing, null, 2) + "\n",
  );
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Finds the model folder: `path` itself, or `path/model` for a run folder. */
export async function resolveModelDir(path: string): Promise<string> {
  for (const dir of [path, join(path, "model")]) {
    if (await isFile(join(dir, "model.json"))) return dir;
  }
  throw new Error(
    `No model.json in ${path} or ${
      join(path, "model")
    }: pass a run folder (runs/<name>-<stamp>) or its model/ folder`,
  );
}

/**
 * Loads a model saved by {@link saveModel} (give the run folder or its
 * `model/` folder) with plain `tf.loadLayersModel`.
 */
export async function loadModel(path: string): Promise<SavedModel> {
  const dir = await resolveModelDir(path);
  const json = JSON.parse(await Deno.readTextFile(join(dir, "model.json")));
  const manifest = json.weightsManifest as tf.io.WeightsManifestConfig;
  const buffers: Uint8Array[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  for (const group of manifest) {
    for (const p of group.paths) {
      buffers.push(await Deno.readFile(join(dir, p)));
    }
    specs.push(...group.weights);
  }
  const weightData = tf.io.concatenateArrayBuffers(
    buffers.map((b) =>
      b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer
    ),
  );
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: specs,
    weightData,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
  }));
  const classNames = JSON.parse(
    await Deno.readTextFile(join(dir, "labels.json")),
  ) as string[];
  const preprocessing = JSON.parse(
    await Deno.readTextFile(join(dir, "preprocessing.json")),
  ) as Preprocessing;
  if (!["mobilenet_v2", "identity"].includes(preprocessing.preprocess)) {
    model.dispose();
    throw new Error(
      `${join(dir, "preprocessing.json")}: "preprocess" is ${
        JSON.stringify(preprocessing.preprocess)
      }; expected "mobilenet_v2" (x / 127.5 - 1) or "identity" (raw 0-255 pixels)`,
    );
  }
  return { model, classNames, preprocessing, dir };
}
