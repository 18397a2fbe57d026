/**
 * The feature plan: how the frozen base meets the training data. A pure
 * function of the config, so the decision is visible and table-tested.
 *
 * - `cached`: the base cannot change and sees each image as decoded, so its
 *   pooled features are computed once, kept on disk, and only the head
 *   trains (exact: same losses as running the base every batch).
 * - `cached-flips`: the augmentation is flips only, so every image is one of
 *   a few exact mirrors: the features of each mirror are cached, and each
 *   epoch picks one per image with the same seeded draws the augmentation
 *   would make (exact too).
 * - `per-batch`: the base is frozen but sees different pixels every epoch
 *   (augmentation) or caching is off: it runs on every batch outside the
 *   gradient tape, and only the head trains.
 * - `images`: the base itself trains (`model.trainable`): the whole model
 *   trains on images.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import { flipOnlyVariants, isAugmentEnabled } from "./augment.ts";

/** How the frozen stage feeds the model; see the module doc. */
export type FeatureMode = "cached" | "cached-flips" | "per-batch" | "images";

/** How the fine-tuning stage is fed. */
export type FineTuneMode = "none" | "prefix" | "prefix-per-batch" | "images";

/** The decision and why it was made (written to `summary.json`). */
export interface FeaturePlan {
  /** How the frozen stage runs. */
  mode: FeatureMode;
  /** Why, in words. */
  reason: string;
  /**
   * Fine-tuning: `prefix` trains the suffix on the cached outputs of the
   * frozen layers before `fineTune.fromLayer` (exact: the prefix never
   * changes without augmentation); `prefix-per-batch` runs those frozen
   * layers on every (augmented) batch outside the gradient tape and trains
   * the suffix on their outputs; `images` runs the whole model on images
   * (a trainable base).
   */
  fineTune: { mode: FineTuneMode; reason: string };
}

/** Decides the {@link FeaturePlan} from the config keys that matter. */
export function planFeatures(
  config: Pick<Config, "train" | "model" | "augment" | "fineTune">,
): FeaturePlan {
  const fineTune = planFineTune(config);
  if (config.model.trainable) {
    return { mode: "images", reason: "the base is trainable", fineTune };
  }
  if (!config.train.cacheFeatures) {
    return {
      mode: "per-batch",
      reason: "train.cacheFeatures is false",
      fineTune,
    };
  }
  if (flipOnlyVariants(config.augment)) {
    return {
      mode: "cached-flips",
      reason: "flip-only augmentation: the features of each mirror are cached",
      fineTune,
    };
  }
  if (isAugmentEnabled(config.augment)) {
    return { mode: "per-batch", reason: "augmentation is on", fineTune };
  }
  return { mode: "cached", reason: "frozen base, no augmentation", fineTune };
}

function planFineTune(
  config: Pick<Config, "train" | "model" | "augment" | "fineTune">,
): FeaturePlan["fineTune"] {
  if (!config.fineTune.enabled) {
    return { mode: "none", reason: "fineTune.enabled is false" };
  }
  if (config.model.trainable) {
    return { mode: "images", reason: "the base is trainable" };
  }
  if (!config.train.cacheFeatures) {
    return {
      mode: "prefix-per-batch",
      reason:
        "train.cacheFeatures is false: the frozen layers run per batch, off the gradient tape",
    };
  }
  if (isAugmentEnabled(config.augment)) {
    return {
      mode: "prefix-per-batch",
      reason:
        "augmentation is on: the frozen layers run per batch, off the gradient tape",
    };
  }
  return {
    mode: "prefix",
    reason: "no augmentation: the frozen layers' outputs are cached",
  };
}
