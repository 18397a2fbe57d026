/**
 * Prediction with a saved classifier: decode, resize and preprocess images
 * exactly as training did, and return the top class with every
 * probability (a model of the logit head outputs the probability p of the
 * second class; the first gets 1 − p). Also evaluation of a saved model on a labelled class-folder
 * tree.
 *
 * @example
 * ```ts ignore
 * import { loadModel, predictFiles } from "../../mod.ts";
 * // Needs a trained run folder and an image: not run by `deno test --doc`.
 * const saved = await loadModel("runs/cats_vs_dogs-20261128T025130Z");
 * for (const p of await predictFiles(saved, ["cat.jpg"])) console.log(p.label, p.probability);
 * ```
 *
 * @module
 */

import { join } from "node:path";
import * as tf from "../deps/tf.ts";
import { decodeAndResize } from "../data/resize.ts";
import { isImageFile, listClassFolder } from "../data/dataset.ts";
import { preprocessFor } from "../data/batches.ts";
import type { SavedModel } from "../model/model_io.ts";
import type { ImageSet } from "../data/image_set.ts";
import { decodeImages } from "../data/decode.ts";
import { evaluateModel, type Evaluation } from "./evaluate.ts";
import type { FrozenForward } from "../engine/frozen_engine.ts";
import { imageSource, onTheFlyFeatures } from "../train/sources.ts";
import { classProbabilities } from "../train/head_output.ts";
import { type CamGraph, classActivationMap } from "./cam.ts";
import {
  applyView,
  averageProbabilities,
  ttaEvaluation,
  type TtaMode,
  type TtaResult,
  type TtaView,
  ttaViews,
} from "./tta.ts";

/** One image's prediction. */
export interface Prediction {
  /** The image file. */
  file: string;
  /** Top class name. */
  label: string;
  /** Its probability. */
  probability: number;
  /** Probability of every class, by name. */
  probabilities: Record<string, number>;
}

/** A file that could not be predicted (unreadable image). */
export interface PredictionError {
  /** The image file. */
  file: string;
  /** Why. */
  error: string;
}

/**
 * Expands the arguments into image files: files are kept as given, folders
 * are searched recursively for image files (sorted).
 */
export async function collectImageFiles(
  paths: readonly string[],
): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(dir)) entries.push(e);
    entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const p = join(dir, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.isFile && isImageFile(e.name)) out.push(p);
    }
  };
  for (const p of paths) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(p);
    } catch {
      throw new Error(`not found: ${p}`);
    }
    if (info.isDirectory) await walk(p);
    else out.push(p);
  }
  return out;
}

/** One image's class-activation map, handed to {@link ExplainOptions.onImage}. */
export interface Explanation {
  /** The prediction it explains. */
  prediction: Prediction;
  /** Index of the predicted class (the map's class). */
  classIndex: number;
  /** The image as the model saw it: `height·width·3` RGB bytes, resized. */
  pixels: Uint8Array;
  /** Width of `pixels`. */
  width: number;
  /** Height of `pixels`. */
  height: number;
  /** The normalised CAM of the predicted class, `[mapHeight, mapWidth]`, in [0, 1]. */
  map: Float32Array;
  /** `[mapHeight, mapWidth]`. */
  mapSize: [number, number];
}

/** Class-activation maps while predicting (`predict --explain`). */
export interface ExplainOptions {
  /** The model's CAM graph ({@link camGraphOf} of `saved.model`). */
  graph: CamGraph;
  /** Called once per predicted image, in order. */
  onImage: (e: Explanation) => Promise<void> | void;
}

/**
 * Predicts each file with `saved` in batches of `batchSize`. Unreadable
 * files are returned as {@link PredictionError}s instead of failing the lot.
 * With `explain`, `forward` (when given) must run `explain.graph.model`
 * (probabilities, then the pre-pooling map); each image's map of its
 * predicted class goes to `explain.onImage`.
 */
export async function predictFiles(
  saved: SavedModel,
  files: readonly string[],
  opts: {
    batchSize?: number;
    forward?: FrozenForward;
    explain?: ExplainOptions;
    /** Test-time augmentation (`predict --tta`): the mean over the views of `tta.ts`. */
    tta?: TtaMode;
  } = {},
): Promise<(Prediction | PredictionError)[]> {
  const [h, w] = saved.preprocessing.imageSize;
  const batchSize = opts.batchSize ?? 32;
  const results: (Prediction | PredictionError)[] = [];
  for (let start = 0; start < files.length; start += batchSize) {
    const chunk = files.slice(start, start + batchSize);
    const ok: { file: string; pixels: Uint8Array }[] = [];
    const slot: (Prediction | PredictionError | null)[] = [];
    for (const file of chunk) {
      try {
        const pixels = await decodeAndResize(
          await Deno.readFile(file),
          h,
          w,
          saved.preprocessing.interpolation,
          {
            exifOrientation: saved.preprocessing.exifOrientation ?? "ignore",
            bmp: saved.preprocessing.bmp ?? "tf",
          },
        );
        ok.push({ file, pixels });
        slot.push(null);
      } catch (err) {
        slot.push({ file, error: (err as Error).message });
      }
    }
    let probs: number[][] = [];
    let maps: Float32Array | null = null;
    if (ok.length > 0) {
      const all = new Uint8Array(ok.length * h * w * 3);
      ok.forEach((o, i) => all.set(o.pixels, i * h * w * 3));
      const x = tf.tidy(() =>
        preprocessFor(saved.preprocessing.preprocess)(
          tf.tensor4d(all, [ok.length, h, w, 3], "float32"),
        )
      );
      try {
        const views = ttaViews(opts.tta ?? "none");
        if (opts.explain && views.length > 1) {
          throw new Error(
            "explaining and test-time augmentation do not combine",
          );
        }
        const y = opts.explain
          ? await explainForward(opts.explain.graph, x, opts.forward)
          : views.length > 1
          ? await viewsMean(views, x, saved, opts.forward)
          : opts.forward
          ? await opts.forward.run(x)
          : saved.model.predict(x) as tf.Tensor2D;
        if (y instanceof Float32Array) {
          probs = classProbabilities(y, ok.length, saved.classNames.length);
        } else if (Array.isArray(y)) {
          maps = y[1];
          probs = classProbabilities(
            y[0],
            ok.length,
            saved.classNames.length,
          );
        } else {
          try {
            // [n, k] probabilities, or the logit head's sigmoid [n, 1].
            probs = classProbabilities(
              await y.data(),
              ok.length,
              saved.classNames.length,
            );
          } finally {
            y.dispose();
          }
        }
      } finally {
        x.dispose();
      }
    }
    const k = saved.classNames.length;
    let j = 0;
    for (const s of slot) {
      if (s) {
        results.push(s);
        continue;
      }
      const p = probs[j];
      let top = 0;
      for (let c = 1; c < k; c++) if (p[c] > p[top]) top = c;
      const prediction: Prediction = {
        file: ok[j].file,
        label: saved.classNames[top],
        probability: p[top],
        probabilities: Object.fromEntries(
          saved.classNames.map((name, c) => [name, p[c]]),
        ),
      };
      results.push(prediction);
      if (opts.explain && maps) {
        const { graph } = opts.explain;
        const [mh, mw, mc] = graph.mapShape;
        const frame = mh * mw * mc;
        await opts.explain.onImage({
          prediction,
          classIndex: top,
          pixels: ok[j].pixels,
          width: w,
          height: h,
          map: classActivationMap(
            maps.subarray(j * frame, (j + 1) * frame),
            graph,
            top,
          ),
          mapSize: [mh, mw],
        });
      }
      j++;
    }
  }
  return results;
}

/** The mean of the model's outputs over `views` of `x` (raw rows, `[n, cols]`). */
async function viewsMean(
  views: readonly TtaView[],
  x: tf.Tensor4D,
  saved: SavedModel,
  forward?: FrozenForward,
): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (const view of views) {
    const xv = applyView(x, view);
    try {
      const y = forward
        ? await forward.run(xv)
        : saved.model.predict(xv) as tf.Tensor;
      try {
        parts.push(await y.data() as Float32Array);
      } finally {
        y.dispose();
      }
    } finally {
      xv.dispose();
    }
  }
  return averageProbabilities(parts);
}

/** `[probabilities, maps]` of the CAM graph, on `forward` or the layers model. */
async function explainForward(
  graph: CamGraph,
  x: tf.Tensor4D,
  forward?: FrozenForward,
): Promise<[Float32Array, Float32Array]> {
  if (forward) {
    const [probs, maps] = await forward.runAll(x);
    if (maps === undefined) {
      throw new Error(
        `engine ${forward.id} returned one output; explaining needs the CAM graph's two`,
      );
    }
    return [probs, maps];
  }
  const out = graph.model.predict(x) as tf.Tensor[];
  try {
    return [
      await out[0].data() as Float32Array,
      await out[1].data() as Float32Array,
    ];
  } finally {
    tf.dispose(out);
  }
}

/**
 * Evaluates a saved model on a labelled class-folder tree (one subfolder per
 * class, the names the model was trained with): confusion matrix,
 * per-class precision/recall/F1, loss and accuracy.
 */
export async function evaluateFolder(
  saved: SavedModel,
  folder: string,
  opts: {
    batchSize?: number;
    workers?: number | null;
    forward?: FrozenForward;
    /**
     * Decode cache folder (as `data.cacheDir/decoded`): the images are
     * cached there and the returned set reads them back per batch instead
     * of holding the whole folder decoded in memory. Default none.
     */
    cacheDir?: string | null;
    /** Test-time augmentation (`predict --eval --tta`); default none. */
    tta?: TtaMode;
  } = {},
): Promise<
  Evaluation & { skipped: number; set: ImageSet; tta: TtaResult | null }
> {
  const tree = await listClassFolder(folder);
  const unknown = tree.classNames.filter((c) => !saved.classNames.includes(c));
  if (unknown.length > 0) {
    throw new Error(
      `${folder}: class folders ${
        unknown.join(", ")
      } are not among the model's classes (${saved.classNames.join(", ")})`,
    );
  }
  const items = tree.items.map((it) => ({
    ...it,
    label: saved.classNames.indexOf(tree.classNames[it.label]),
  }));
  const set = await decodeImages(items, {
    imageSize: saved.preprocessing.imageSize,
    classNames: saved.classNames,
    interpolation: saved.preprocessing.interpolation,
    exifOrientation: saved.preprocessing.exifOrientation ?? "ignore",
    bmp: saved.preprocessing.bmp ?? "tf",
    workers: opts.workers ?? undefined,
    cacheDir: opts.cacheDir,
    onBadImage: "warn",
  });
  const preprocess = preprocessFor(saved.preprocessing.preprocess);
  const evaluateView = (view: TtaView) => {
    const source = imageSource(set, {
      batchSize: opts.batchSize ?? 32,
      shuffle: false,
      seed: 0,
      preprocess: view === "none"
        ? preprocess
        : (x) => tf.tidy(() => applyView(preprocess(x), view)),
    });
    // With an engine (ONNX Runtime), the batches arrive as probabilities.
    return opts.forward
      ? evaluateModel(
        { predict: (probs) => (probs as tf.Tensor).clone() },
        onTheFlyFeatures(source, opts.forward).batches(0),
        saved.classNames,
      )
      : evaluateModel(saved.model, source.batches(0), saved.classNames);
  };
  const mode = opts.tta ?? "none";
  if (mode === "none") {
    const result = await evaluateView("none");
    return { ...result, skipped: set.skipped.length, set, tta: null };
  }
  const { evaluation, tta } = await ttaEvaluation(
    mode,
    async (view) => (await evaluateView(view)).probabilities,
    set.labels,
    saved.classNames,
  );
  return { ...evaluation, skipped: set.skipped.length, set, tta };
}
