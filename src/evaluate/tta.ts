/**
 * Test-time augmentation (fastai's `learn.tta`, without its blend): the
 * class probabilities of an image are the mean of the probabilities of a few
 * fixed views of it.
 *
 * - `"flip"`: the image and its horizontal mirror (2 views);
 * - `"flip-crops"`: those two plus the four corner crops of
 *   {@link TTA_CROP_FRACTION} of each side, resized back to the input size
 *   by `tf.image.cropAndResize` (bilinear) — 6 views.
 *
 * Each view is a deterministic function of the image, so on a frozen base
 * its pooled features can be cached like the plain ones (the run reuses the
 * mirrored features that flip augmentation caches). The mean is taken over
 * probabilities (softmax rows, or `[1 − p, p]` of the logit head's sigmoid),
 * each view weighted equally.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { averageProbabilities, ttaViews } from "./tta.ts";
 * assert.deepEqual(ttaViews("flip"), ["none", "h"]);
 * const mean = averageProbabilities([new Float32Array([1, 0]), new Float32Array([0.5, 0.5])]);
 * assert.deepEqual(Array.from(mean), [0.75, 0.25]);
 * ```
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import { evaluateProbabilities, type Evaluation } from "./evaluate.ts";

/** Which views to average (config `train.tta`, `predict --tta`). */
export type TtaMode = "none" | "flip" | "flip-crops";

/** One view: the image, its horizontal mirror, or a corner crop. */
export type TtaView =
  | "none"
  | "h"
  | "crop-tl"
  | "crop-tr"
  | "crop-bl"
  | "crop-br";

/** Side of a `"flip-crops"` corner crop, as a fraction of the image's. */
export const TTA_CROP_FRACTION = 0.9;

/** The views of `mode`, the plain image first. */
export function ttaViews(mode: TtaMode): TtaView[] {
  switch (mode) {
    case "none":
      return ["none"];
    case "flip":
      return ["none", "h"];
    case "flip-crops":
      return ["none", "h", "crop-tl", "crop-tr", "crop-bl", "crop-br"];
    default:
      throw new RangeError(
        `tta: expected "none", "flip" or "flip-crops", got ${
          JSON.stringify(mode)
        }`,
      );
  }
}

/** `view` of a `[b, h, w, c]` batch (a new tensor of the same shape). */
export function applyView(x: tf.Tensor4D, view: TtaView): tf.Tensor4D {
  if (view === "none") return tf.clone(x);
  if (view === "h") return tf.reverse(x, 2);
  const f = TTA_CROP_FRACTION;
  const [y0, x0] = {
    "crop-tl": [0, 0],
    "crop-tr": [0, 1 - f],
    "crop-bl": [1 - f, 0],
    "crop-br": [1 - f, 1 - f],
  }[view];
  const [b, h, w] = x.shape;
  return tf.tidy(() =>
    tf.image.cropAndResize(
      x,
      tf.tensor2d(
        Array.from({ length: b }, () => [y0, x0, y0 + f, x0 + f]),
        [b, 4],
      ),
      tf.range(0, b, 1, "int32") as tf.Tensor1D,
      [h, w],
      "bilinear",
    )
  );
}

/** Element-wise mean of equally long probability arrays. */
export function averageProbabilities(
  parts: readonly Float32Array[],
): Float32Array {
  if (parts.length === 0) throw new RangeError("no views to average");
  const out = new Float32Array(parts[0].length);
  for (const p of parts) {
    if (p.length !== out.length) {
      throw new RangeError(
        `views disagree: ${p.length} and ${out.length} probabilities`,
      );
    }
    for (let i = 0; i < p.length; i++) out[i] += p[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= parts.length;
  return out;
}

/** What {@link ttaEvaluation} returns (written to `summary.json` as `tta`). */
export interface TtaResult {
  /** The mode. */
  mode: TtaMode;
  /** The views averaged. */
  views: TtaView[];
  /** Accuracy of the averaged probabilities. */
  accuracy: number;
  /** Mean cross-entropy of the averaged probabilities. */
  loss: number;
  /** Accuracy of the plain image alone (the first view). */
  accuracyWithout: number;
  /** Loss of the plain image alone. */
  lossWithout: number;
}

/**
 * Evaluates the mean of every view's probabilities (`probabilitiesOf(view)`:
 * `[n, k]` row-major, in label order) on `labels`; also returns the plain
 * view's own evaluation.
 */
export async function ttaEvaluation(
  mode: TtaMode,
  probabilitiesOf: (view: TtaView) => Promise<Float32Array>,
  labels: ArrayLike<number>,
  classNames: readonly string[],
): Promise<{ evaluation: Evaluation; plain: Evaluation; tta: TtaResult }> {
  const views = ttaViews(mode);
  const parts: Float32Array[] = [];
  for (const v of views) parts.push(await probabilitiesOf(v));
  const plain = evaluateProbabilities(parts[0], labels, classNames);
  const evaluation = evaluateProbabilities(
    averageProbabilities(parts),
    labels,
    classNames,
  );
  return {
    evaluation,
    plain,
    tta: {
      mode,
      views,
      accuracy: evaluation.accuracy,
      loss: evaluation.loss,
      accuracyWithout: plain.accuracy,
      lossWithout: plain.loss,
    },
  };
}
