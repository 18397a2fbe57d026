/**
 * The base networks runs can build, by `model.architecture`: which builder
 * makes each (`mobilenet_v2.ts`, `mobilenet_v3.ts`,
 * `efficientnet.ts`), what it is called in
 * logs and reports, which input preprocessing it takes, and how a Keras
 * `model.layers` index or name (`fineTune.fromLayer`) maps onto our layers.
 *
 * - MobileNetV2 takes `preprocess_input`'s x / 127.5 − 1 (done on the
 *   batches, `"mobilenet_v2"`); its layers are Keras' one for one.
 * - MobileNetV3 Small/Large carry Keras' `Rescaling(1/127.5, −1)` inside, so
 *   they take raw 0–255 pixels (`"identity"`). Their composed layers
 *   (`<keras name>__<part>`, the SE gate's `add_N` / `multiply_N`) are not in
 *   Keras' `model.layers`: a Keras index counts only Keras' layers, and maps
 *   to the first of our layers that make up that Keras layer.
 *
 * - EfficientNet B0–B3 and EfficientNetV2 B0–B3 (`efficientnet.ts`) carry
 *   Keras' `Rescaling(1/255)` and `Normalization` inside (`"identity"`); all
 *   their layers are TF.js' own, one for one with Keras' (Normalization is a
 *   BatchNormalization of the same name).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { baseNetwork, kerasLayerIndex } from "./bases.ts";
 * const base = baseNetwork({ architecture: "mobilenet_v3_small", inputShape: [96, 96, 3] });
 * assert.equal(base.countParams(), 939120); // as Keras
 * // Keras' layer 1 is its Rescaling; our index of the Keras layer "conv":
 * assert.equal(base.layers[kerasLayerIndex(base, 2)].name, "conv");
 * base.dispose();
 * ```
 *
 * @module
 */

import type * as tf from "../deps/tf.ts";
import type { Architecture } from "../config/architecture.ts";
import { KERAS_APPLICATION_NAMES } from "../config/architecture.ts";
import type { PreprocessName } from "../data/batches.ts";
import { efficientNet, type EfficientNetVariant } from "./efficientnet.ts";
import { mobileNetV2 } from "./mobilenet_v2.ts";
import { kerasLayerNames, mobileNetV3 } from "./mobilenet_v3.ts";

/** The architectures runs can build (the others fail, naming `model.architecture`). */
export const BUILT_ARCHITECTURES = [
  "mobilenet_v2",
  "mobilenet_v3_small",
  "mobilenet_v3_large",
  "efficientnet_b0",
  "efficientnet_b1",
  "efficientnet_b2",
  "efficientnet_b3",
  "efficientnet_v2_b0",
  "efficientnet_v2_b1",
  "efficientnet_v2_b2",
  "efficientnet_v2_b3",
] as const;

/** One of {@link BUILT_ARCHITECTURES}. */
export type BuiltArchitecture = typeof BUILT_ARCHITECTURES[number];

/** Whether runs can build `architecture`. */
export function isBuiltArchitecture(
  architecture: Architecture,
): architecture is BuiltArchitecture {
  return (BUILT_ARCHITECTURES as readonly string[]).includes(architecture);
}

/**
 * The input preprocessing `architecture` takes: `"mobilenet_v2"` (x / 127.5
 * − 1 on the batches, Keras' `mobilenet_v2.preprocess_input`) or
 * `"identity"` (raw 0–255 pixels; the model rescales inside, as Keras'
 * MobileNetV3 and EfficientNets do).
 */
export function basePreprocess(architecture: Architecture): PreprocessName {
  return architecture === "mobilenet_v2" ? "mobilenet_v2" : "identity";
}

/** Options of {@link baseNetwork}. */
export interface BaseNetworkOptions {
  /** `model.architecture` (a built one). */
  architecture: Architecture;
  /** `[rows, cols, channels]`. */
  inputShape: [number, number, number];
  /** Width multiplier (`model.alpha`). Default 1.0. */
  alpha?: number;
  /** MobileNetV3's minimalistic variant (`model.minimalistic`). Default false. */
  minimalistic?: boolean;
  /** Seed of the random initial kernels. Default: unseeded. */
  seed?: number;
  /**
   * Built for Keras' ImageNet weights: EfficientNet V1 then has the
   * per-channel `Rescaling` (`rescaling_1`) Keras adds for them. Default false.
   */
  imagenet?: boolean;
}

/**
 * Builds the base without its top, as `keras.applications` does, with
 * random weights. Throws, naming `model.architecture`, for one without a
 * builder.
 */
export function baseNetwork(options: BaseNetworkOptions): tf.LayersModel {
  const { architecture, inputShape, alpha = 1.0, seed } = options;
  switch (architecture) {
    case "mobilenet_v2":
      return mobileNetV2({ inputShape, alpha, includeTop: false, seed });
    case "mobilenet_v3_small":
    case "mobilenet_v3_large":
      return mobileNetV3({
        variant: architecture === "mobilenet_v3_small" ? "small" : "large",
        inputShape,
        alpha,
        minimalistic: options.minimalistic ?? false,
        seed,
      });
    case "efficientnet_b0":
    case "efficientnet_b1":
    case "efficientnet_b2":
    case "efficientnet_b3":
    case "efficientnet_v2_b0":
    case "efficientnet_v2_b1":
    case "efficientnet_v2_b2":
    case "efficientnet_v2_b3":
      return efficientNet({
        variant: architecture.slice(-2) as EfficientNetVariant,
        v2: architecture.startsWith("efficientnet_v2"),
        inputShape,
        imagenetRescaling: options.imagenet === true &&
          !architecture.startsWith("efficientnet_v2"),
        seed,
      });
    default:
      throw new Error(
        `model.architecture "${architecture}": no builder for ${
          KERAS_APPLICATION_NAMES[architecture]
        } yet (runs build ${
          BUILT_ARCHITECTURES.map((a) => `"${a}"`).join(", ")
        })`,
      );
  }
}

/**
 * The base in one phrase for logs and reports, e.g. `MobileNetV2 α 1` or
 * `MobileNetV3Large α 0.75 minimalistic`.
 */
export function baseDisplayName(
  model: { architecture: Architecture; alpha: number; minimalistic?: boolean },
): string {
  const name = KERAS_APPLICATION_NAMES[model.architecture];
  const alpha = model.architecture.startsWith("mobilenet")
    ? ` α ${model.alpha}`
    : "";
  return `${name}${alpha}${model.minimalistic ? " minimalistic" : ""}`;
}

/**
 * Our index of the first layer that makes up the Keras layer `kerasIndex`
 * of `base` (Keras' `model.layers` order, see {@link kerasLayerNames}), or of
 * the Keras layer named `kerasName`; -1 when there is none.
 */
export function kerasLayerIndex(
  base: tf.LayersModel,
  keras: number | string,
): number {
  const names = kerasLayerNames(base);
  const name = typeof keras === "number" ? names[keras] : keras;
  if (name === undefined || !names.includes(name)) return -1;
  return base.layers.findIndex((l) =>
    l.name === name || l.name.startsWith(`${name}__`)
  );
}
