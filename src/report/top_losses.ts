/**
 * Top losses: the labelled examples a classifier got most wrong, ranked by
 * their own cross-entropy (Keras' clipping: each probability row rescaled to
 * sum 1, clipped to [1e-7, 1 − 1e-7], loss = −log p[true]). The report shows
 * them as a thumbnail gallery ({@link topLossGallery}).
 *
 * @module
 */

import { imageThumbnail } from "./_thumbnails.ts";

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
 * default 96).
 */
export async function topLossGallery(
  set: GalleryImages,
  probabilities: ArrayLike<number> | readonly ArrayLike<number>[],
  classNames: readonly string[],
  opts: { count?: number; size?: number } = {},
): Promise<TopLossEntry[]> {
  const indices = Array.from({ length: set.count }, (_, i) => i);
  const top = topLosses(set.labels, probabilities, indices, opts);
  return await Promise.all(top.map(async (t) => ({
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
  })));
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
