/**
 * Top losses: the labelled examples a classifier got most wrong, ranked by
 * their own cross-entropy (Keras' clipping: each probability row rescaled to
 * sum 1, clipped to [1e-7, 1 − 1e-7], loss = −log p[true]). The report shows
 * them as a thumbnail gallery ({@link topLossGallery}).
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import { imageThumbnail } from "./_thumbnails.ts";
import { camOverlay } from "./cam_overlay.ts";
import { type CamGraph, classActivationMap } from "../evaluate/cam.ts";
import { mobileNetV2Preprocess, type Preprocess } from "../data/batches.ts";

/** Default number of top losses shown. */
export const DEFAULT_TOP_LOSSES = 16;

const EPS = 1e-7;

/** One ranked example. */
export interface TopLoss<T> {
  /** Position of the example in the inputs. */
  index: number;
  /** The caller's item for it (a path, an index, …). */
  item: T;
  /** True class index. */
  label: number;
  /** Predicted class index (argmax; the first on a tie). */
  predicted: number;
  /** Probability of the predicted class (after rescaling the row to sum 1). */
  probability: number;
  /** Probability of the true class (after rescaling). */
  trueProbability: number;
  /** Cross-entropy of this example. */
  loss: number;
}

/**
 * Ranks examples by loss, highest first (ties: lower index first), and
 * returns the first `count` (default {@link DEFAULT_TOP_LOSSES}).
 *
 * @param labels true class index per example
 * @param probabilities `n × k` probabilities: rows, or one flat row-major
 *   array (what `tensor.data()` gives)
 * @param items one item per example, returned with its entry
 * @throws {RangeError} on mismatched lengths, ragged rows or a bad label
 */
export function topLosses<T>(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number> | readonly ArrayLike<number>[],
  items: readonly T[],
  opts: { count?: number } = {},
): TopLoss<T>[] {
  const n = labels.length;
  if (items.length !== n) {
    throw new RangeError(`${n} labels but ${items.length} items`);
  }
  const count = opts.count ?? DEFAULT_TOP_LOSSES;
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`count: expected an integer ≥ 0, found ${count}`);
  }
  const row = rowAccessor(probabilities, n);
  const all: TopLoss<T>[] = [];
  for (let i = 0; i < n; i++) {
    const p = row(i);
    const k = p.length;
    const t = labels[i];
    if (!Number.isInteger(t) || t < 0 || t >= k) {
      throw new RangeError(
        `labels[${i}] = ${t} is not a class index in [0, ${k})`,
      );
    }
    let sum = 0;
    let predicted = 0;
    for (let j = 0; j < k; j++) {
      sum += p[j];
      if (p[j] > p[predicted]) predicted = j;
    }
    const scaled = (j: number) => (sum > 0 ? p[j] / sum : 0);
    const pt = Math.min(1 - EPS, Math.max(EPS, scaled(t)));
    all.push({
      index: i,
      item: items[i],
      label: t,
      predicted,
      probability: scaled(predicted),
      trueProbability: scaled(t),
      loss: -Math.log(pt),
    });
  }
  // Array.prototype.sort is stable: equal losses keep index order. A NaN
  // loss (NaN probabilities) ranks first, as the worst.
  const key = (t: TopLoss<T>) => (Number.isNaN(t.loss) ? Infinity : t.loss);
  all.sort((a, b) => key(b) - key(a) || a.index - b.index);
  return all.slice(0, count);
}

function rowAccessor(
  probabilities: ArrayLike<number> | readonly ArrayLike<number>[],
  n: number,
): (i: number) => ArrayLike<number> {
  const first = (probabilities as ArrayLike<unknown>)[0];
  if (n > 0 && typeof first === "object" && first !== null) {
    const rows = probabilities as readonly ArrayLike<number>[];
    if (rows.length !== n) {
      throw new RangeError(`${n} labels but ${rows.length} probability rows`);
    }
    const k = rows[0].length;
    rows.forEach((r, i) => {
      if (r.length !== k) {
        throw new RangeError(
          `probability row ${i} has ${r.length} values, row 0 has ${k}`,
        );
      }
    });
    return (i) => rows[i];
  }
  const flat = probabilities as ArrayLike<number>;
  if (n === 0) return () => [];
  const k = flat.length / n;
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(
      `${flat.length} probabilities do not split into ${n} rows`,
    );
  }
  const arr = Array.prototype.slice.call(flat) as number[];
  return (i) => arr.slice(i * k, (i + 1) * k);
}

/** One gallery entry of the report: what to show for a top-loss example. */
export interface TopLossEntry {
  /** Source file (shown as the image's tooltip and caption). */
  path: string;
  /** True class name. */
  trueClass: string;
  /** Predicted class name. */
  predictedClass: string;
  /** Probability of the predicted class. */
  probability: number;
  /** Probability of the true class. */
  trueProbability: number;
  /** The example's cross-entropy. */
  loss: number;
  /** Thumbnail as a `data:` URI, or null when there is none. */
  image: string | null;
  /**
   * Class-activation heatmap thumbnails (`data:` URIs) over the image, for
   * the true and the predicted class; absent without a CAM graph.
   */
  heatmaps?: { trueClass: string; predictedClass: string } | null;
}

/**
 * What {@link topLossGallery} needs to draw heatmaps: the classifier's CAM
 * graph (`camGraphOf`), run as a layers model on the chosen images only
 * (preprocessed as the base takes them).
 */
export interface GalleryCam {
  /** The CAM graph of the classifier that made the probabilities. */
  graph: CamGraph;
  /** The base's input preprocessing. Default MobileNetV2's `preprocess_input`. */
  preprocess?: Preprocess;
}

/**
 * The parts of a decoded image set a gallery needs (an `ImageSet` fits):
 * its pixels through `pixelsOf` (only the chosen images are read), or as
 * one `count·height·width·3` buffer, image after image.
 */
export type GalleryImages =
  & {
    /** Images in the set. */
    count: number;
    /** Height of every image. */
    height: number;
    /** Width of every image. */
    width: number;
    /** True class per image. */
    labels: ArrayLike<number>;
    /** Source file per image. */
    paths: readonly string[];
  }
  & (
    | {
      /** The `height·width·3` RGB bytes of image `i`. */
      pixelsOf(i: number): Uint8Array;
    }
    | {
      /** `count·height·width·3` RGB bytes, image after image. */
      pixels: Uint8Array;
    }
  );

/** Image `i`'s RGB bytes from either form of {@link GalleryImages}. */
function galleryPixels(set: GalleryImages, i: number): Uint8Array {
  if ("pixelsOf" in set) return set.pixelsOf(i);
  const frame = set.height * set.width * 3;
  return set.pixels.subarray(i * frame, (i + 1) * frame);
}

/**
 * Top-loss gallery entries for a decoded image set and the model's
 * probabilities on it (same order): ranks with {@link topLosses} and encodes
 * each chosen image as a PNG thumbnail (`size` px on its longer side,
 * default 96). With `cam`, each entry also gets the heatmap overlays
 * (`cam_overlay.ts`) of its true and its predicted class.
 */
export async function topLossGallery(
  set: GalleryImages,
  probabilities: ArrayLike<number> | readonly ArrayLike<number>[],
  classNames: readonly string[],
  opts: { count?: number; size?: number; cam?: GalleryCam | null } = {},
): Promise<TopLossEntry[]> {
  const indices = Array.from({ length: set.count }, (_, i) => i);
  const top = topLosses(set.labels, probabilities, indices, opts);
  const maps = opts.cam && top.length > 0
    ? await camMapsOf(
      set,
      top.map((t) => t.index),
      opts.cam.graph,
      opts.cam.preprocess ?? mobileNetV2Preprocess,
    )
    : null;
  const heatmaps = async (t: TopLoss<number>, j: number) => {
    if (!maps || !opts.cam) return null;
    const { graph } = opts.cam;
    const [mh, mw, mc] = graph.mapShape;
    const map = maps.subarray(j * mh * mw * mc, (j + 1) * mh * mw * mc);
    const px = galleryPixels(set, t.index);
    const thumb = (cls: number) =>
      imageThumbnail(
        camOverlay(
          px,
          set.width,
          set.height,
          classActivationMap(map, graph, cls),
          mh,
          mw,
        ),
        set.width,
        set.height,
        { size: opts.size },
      );
    return {
      trueClass: await thumb(t.label),
      predictedClass: await thumb(t.predicted),
    };
  };
  return await Promise.all(top.map(async (t, j) => ({
    path: set.paths[t.index],
    trueClass: className(classNames, t.label),
    predictedClass: className(classNames, t.predicted),
    probability: t.probability,
    trueProbability: t.trueProbability,
    loss: t.loss,
    image: await imageThumbnail(
      galleryPixels(set, t.index),
      set.width,
      set.height,
      { size: opts.size },
    ),
    ...(maps ? { heatmaps: await heatmaps(t, j) } : {}),
  })));
}

/** The CAM graph's feature maps of images `indices`, `[n, H, W, C]` row-major. */
async function camMapsOf(
  set: GalleryImages,
  indices: readonly number[],
  graph: CamGraph,
  preprocess: Preprocess,
): Promise<Float32Array> {
  const frame = set.height * set.width * 3;
  const all = new Uint8Array(indices.length * frame);
  indices.forEach((i, j) => all.set(galleryPixels(set, i), j * frame));
  const out = tf.tidy(() => {
    const x = preprocess(
      tf.tensor4d(all, [indices.length, set.height, set.width, 3], "float32"),
    );
    const y = graph.model.predict(x) as tf.Tensor[];
    tf.dispose(y[0]);
    return y[1];
  });
  try {
    return await out.data() as Float32Array;
  } finally {
    out.dispose();
  }
}

function className(names: readonly string[], i: number): string {
  const name = names[i];
  if (name === undefined) {
    throw new RangeError(
      `class index ${i} has no name (${names.length} class names)`,
    );
  }
  return name;
}
