/**
 * Where Keras' published ImageNet weights for the issue-19 bases live, as
 * Keras 3.15's source names them (`keras/src/applications/mobilenet_v3.py`,
 * `efficientnet.py`, `efficientnet_v2.py`): URL, file name and the MD5
 * `file_hash` Keras' `get_file` checks, for the files with and without the
 * top. MobileNetV3's files exist at 224 px only; any other size loads them
 * with Keras' warning. `resolveWeightsSource` (`keras_imagenet.ts`)
 * downloads them into the cache and checks each against its MD5.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zooImagenetFile } from "./keras_zoo_imagenet.ts";
 * const warnings: string[] = [];
 * const f = zooImagenetFile("mobilenet_v3_large", {
 *   rows: 160, cols: 160, warn: (m) => warnings.push(m),
 * });
 * assert.equal(f.fileName, "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5");
 * assert.equal(warnings.length, 1);
 * ```
 *
 * @module
 */

import type { Architecture } from "../config/architecture.ts";
import { pythonFloatString } from "./_python_float.ts";

/** Keras' `BASE_WEIGHT_PATH` of MobileNetV3. */
export const KERAS_MOBILENET_V3_WEIGHTS_BASE =
  "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/";
/** Keras' `BASE_WEIGHTS_PATH` of EfficientNet (V1). */
export const KERAS_EFFICIENTNET_WEIGHTS_BASE =
  "https://storage.googleapis.com/keras-applications/";
/** Keras' `BASE_WEIGHTS_PATH` of EfficientNetV2. */
export const KERAS_EFFICIENTNET_V2_WEIGHTS_BASE =
  "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/";

/** Keras' `WEIGHTS_HASHES`: `[with top, no top]` MD5 of each published file. */
const V3_HASHES: Readonly<Record<string, readonly [string, string]>> = {
  "large_224_0.75_float": [
    "765b44a33ad4005b3ac83185abf1d0eb",
    "40af19a13ebea4e2ee0c676887f69a2e",
  ],
  "large_224_1.0_float": [
    "59e551e166be033d707958cf9e29a6a7",
    "07fb09a5933dd0c8eaafa16978110389",
  ],
  "large_minimalistic_224_1.0_float": [
    "675e7b876c45c57e9e63e6d90a36599c",
    "ec5221f64a2f6d1ef965a614bdae7973",
  ],
  "small_224_0.75_float": [
    "cb65d4e5be93758266aa0a7f2c6708b7",
    "ebdb5cc8e0b497cd13a7c275d475c819",
  ],
  "small_224_1.0_float": [
    "8768d4c2e7dee89b9d02b2d03d65d862",
    "d3e8ec802a04aa4fc771ee12a9a9b836",
  ],
  "small_minimalistic_224_1.0_float": [
    "99cd97fb2fcdad2bf028eb838de69e37",
    "cde8136e733e811080d9fcd8a252f7e4",
  ],
};
const EFFICIENTNET_HASHES: Readonly<Record<string, readonly [string, string]>> =
  {
    b0: [
      "902e53a9f72be733fc0bcb005b3ebbac",
      "50bc09e76180e00e4465e1a485ddc09d",
    ],
    b1: [
      "1d254153d4ab51201f1646940f018540",
      "74c4e6b3e1f6a1eea24c589628592432",
    ],
    b2: [
      "b15cce36ff4dcbd00b6dd88e7857a6ad",
      "111f8e2ac8aa800a7a99e3239f7bfb39",
    ],
    b3: [
      "ffd1fdc53d0ce67064dc6a9c7960ede0",
      "af6d107764bb5b1abb91932881670226",
    ],
  };
const EFFICIENTNET_V2_HASHES: Readonly<
  Record<string, readonly [string, string]>
> = {
  b0: ["21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"],
  b1: ["069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"],
  b2: ["424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"],
  b3: ["1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"],
};

/** Keras' warning when MobileNetV3's 224 px ImageNet weights load at another size. */
export const MOBILENET_V3_SIZE_WARNING =
  "`input_shape` is undefined or non-square, or `rows` is not 224. Weights for input shape (224, 224) will be loaded as the default.";

/** One published Keras weights file. */
export interface ZooImagenetFile {
  /** Download URL. */
  url: string;
  /** File name (Keras' `fname`). */
  fileName: string;
  /** MD5 hex digest Keras' `get_file` checks. */
  md5: string;
}

/** Options of {@link zooImagenetFile}. */
export interface ZooImagenetOptions {
  /** MobileNetV3 width multiplier. Default 1.0. */
  alpha?: number;
  /** MobileNetV3's minimalistic variant. Default false. */
  minimalistic?: boolean;
  /** The file with the 1000-class top instead of the no-top one. Default false. */
  includeTop?: boolean;
  /** Input rows (null: undefined). */
  rows?: number | null;
  /** Input cols (null: undefined). */
  cols?: number | null;
  /** Receives Keras' MobileNetV3 size warning. Default `console.warn`. */
  warn?: (message: string) => void;
}

/**
 * Keras' published ImageNet file for `architecture` (not `mobilenet_v2`:
 * see `imagenetWeightsUrl`). Throws, naming `model.alpha`, where Keras
 * publishes no file for the MobileNetV3 width.
 */
export function zooImagenetFile(
  architecture: Exclude<Architecture, "mobilenet_v2">,
  options: ZooImagenetOptions = {},
): ZooImagenetFile {
  const { alpha = 1.0, minimalistic = false, includeTop = false } = options;
  const top = includeTop ? 0 : 1;
  if (
    architecture === "mobilenet_v3_small" ||
    architecture === "mobilenet_v3_large"
  ) {
    const size = architecture === "mobilenet_v3_small" ? "small" : "large";
    const modelName = `${size}${minimalistic ? "_minimalistic" : ""}_224_${
      pythonFloatString(alpha)
    }_float`;
    const hashes = V3_HASHES[modelName];
    if (!hashes) {
      throw new RangeError(
        "model.alpha: If imagenet weights are being loaded, alpha can be one of `0.75`, `1.0` for non minimalistic or `1.0` for minimalistic only." +
          ` (found ${alpha}${minimalistic ? ", minimalistic" : ""})`,
      );
    }
    const { rows = 224, cols = rows } = options;
    if (rows !== 224 || cols !== 224) {
      (options.warn ?? console.warn)(MOBILENET_V3_SIZE_WARNING);
    }
    const fileName = `weights_mobilenet_v3_${modelName}${
      includeTop ? "" : "_no_top_v2"
    }.h5`;
    return {
      url: KERAS_MOBILENET_V3_WEIGHTS_BASE + fileName,
      fileName,
      md5: hashes[top],
    };
  }
  const v2 = architecture.startsWith("efficientnet_v2_");
  const b = architecture.slice(architecture.lastIndexOf("_") + 1);
  const modelName = v2 ? `efficientnetv2-${b}` : `efficientnet${b}`;
  const fileName = `${modelName}${includeTop ? "" : "_notop"}.h5`;
  const base = v2
    ? KERAS_EFFICIENTNET_V2_WEIGHTS_BASE
    : KERAS_EFFICIENTNET_WEIGHTS_BASE;
  return {
    url: base + fileName,
    fileName,
    md5: (v2 ? EFFICIENTNET_V2_HASHES : EFFICIENTNET_HASHES)[b][top],
  };
}
