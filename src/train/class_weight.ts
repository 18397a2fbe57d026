/**
 * `train.classWeight` resolved against the training set's classes: Keras'
 * `fit(class_weight=…)` takes one weight per class index; the config names
 * classes by their folder names.
 *
 * - `null`: no weights (Keras' default).
 * - `"balanced"`: `n / (k · n_c)` for each class c with `n_c` of the `n`
 *   training images (scikit-learn's `compute_class_weight("balanced")`).
 * - `{ "<class>": weight }`: the given weights; classes left out weigh 1 (as
 *   Keras does for class indices missing from its dict).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classWeights } from "./class_weight.ts";
 * assert.deepEqual(classWeights("balanced", ["cat", "dog"], [30, 10]), [2 / 3, 2]);
 * assert.deepEqual(classWeights({ dog: 3 }, ["cat", "dog"], [30, 10]), [1, 3]);
 * assert.equal(classWeights(null, ["cat", "dog"], [30, 10]), null);
 * ```
 *
 * @module
 */

import type { Config } from "../config/types.ts";

/** The `train.classWeight` config value. */
export type ClassWeightConfig = Config["train"]["classWeight"];

/** Images per class (index order) of class indices `labels`. */
export function classCounts(
  labels: ArrayLike<number>,
  numClasses: number,
): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}

/**
 * One weight per class (in `classNames` order), or null for none.
 *
 * @throws {RangeError} naming `key` for a class name that is not a class of
 * the training set, or "balanced" with a class that has no images
 */
export function classWeights(
  config: ClassWeightConfig,
  classNames: readonly string[],
  counts: readonly number[],
  key = "train.classWeight",
): number[] | null {
  if (config === null) return null;
  if (config === "balanced") {
    const n = counts.reduce((a, b) => a + b, 0);
    const k = classNames.length;
    return counts.map((c, i) => {
      if (c === 0) {
        throw new RangeError(
          `${key}: "balanced" needs images of every class, but class "${
            classNames[i]
          }" has none`,
        );
      }
      return n / (k * c);
    });
  }
  for (const name of Object.keys(config)) {
    if (!classNames.includes(name)) {
      throw new RangeError(
        `${key}.${name}: no class named ${
          JSON.stringify(name)
        } (the classes are ${
          classNames.map((c) => JSON.stringify(c)).join(", ")
        })`,
      );
    }
  }
  return classNames.map((c) => Object.hasOwn(config, c) ? config[c] : 1);
}

/**
 * {@link classWeights} of a training split: its class indices `labels`
 * counted per class of `classNames` (what `deno task train` and `lr-find`
 * resolve before building anything).
 */
export function splitClassWeights(
  config: ClassWeightConfig,
  classNames: readonly string[],
  labels: ArrayLike<number>,
): number[] | null {
  return classWeights(
    config,
    classNames,
    classCounts(labels, classNames.length),
  );
}
