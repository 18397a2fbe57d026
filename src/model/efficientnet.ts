/**
 * EfficientNet B0–B3 and EfficientNetV2 B0–B3 built like Keras'
 * `keras.applications` (Keras 3.15, `include_top=False`): the same layers in
 * the same order with the same names, Keras' `round_filters` /
 * `round_repeats`, BatchNormalization epsilon 1e-3 with momentum 0.99 (V1) or
 * 0.9 (V2), `correct_pad` before V1's stride-2 convolutions and "same"
 * padding in V2 (TF.js' "same" is TF's), and Keras' preprocessing inside the
 * model, so it takes raw 0–255 pixels: `Rescaling(1/255)` then
 * `Normalization`.
 *
 * Every layer is one of TF.js' own, so a saved model loads with plain
 * `tf.loadLayersModel`:
 * - Keras' `Normalization` (x − mean) / max(√variance, 1e-7) is a
 *   BatchNormalization named `normalization` with center and scale off,
 *   not trainable, moving mean ← mean, moving variance ← variance and
 *   epsilon {@link NORMALIZATION_EPSILON} (1e-14: (x − m)/√(v + 1e-14) is
 *   within 1e-6 relative of Keras' for every variance ≥ 1e-8). V1 starts at
 *   mean 0, variance 1 (Keras' unadapted state; ImageNet files set them);
 *   V2 at Keras' constants (ImageNet mean, std²). Keras' `count` weight (V1)
 *   has no counterpart, and V2's constants are weights here: our
 *   `countParams()` is Keras' − 1 for V1 and + 6 for V2.
 * - `swish`/`silu` is TF.js' `swish`, x·sigmoid(x).
 * - Drop-connect `Dropout(rate, noise_shape=(None, 1, 1, 1))` is TF.js'
 *   Dropout with `noiseShape: [null, 1, 1, 1]` (null takes the batch size;
 *   identity at inference).
 * - With `imagenetRescaling`, V1 gets the per-channel
 *   `Rescaling(1/√std)` Keras adds for ImageNet weights (tensorflow#49930),
 *   a TF.js Rescaling with an array scale, named `rescaling_1`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { efficientNet } from "./efficientnet.ts";
 * const base = efficientNet({ variant: "b0", inputShape: [96, 96, 3] });
 * assert.equal(base.countParams(), 4049571 - 1); // Keras' less its count
 * base.dispose();
 * ```
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import { freezableBatchNormalization } from "./batch_norm.ts";
import { correctPad } from "./mobilenet_v2.ts";

type Sym = tf.SymbolicTensor;

/** The epsilon of the BatchNormalization that stands for Keras' `Normalization`. */
export const NORMALIZATION_EPSILON = 1e-14;

/** ImageNet's per-channel mean and standard deviation (RGB), as Keras has them. */
export const IMAGENET_MEAN_RGB = [0.485, 0.456, 0.406];
/** See {@link IMAGENET_MEAN_RGB}. */
export const IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225];

/** A variant: `b0` … `b3`. */
export type EfficientNetVariant = "b0" | "b1" | "b2" | "b3";

/** One stage of blocks: kernel, repeats, filters in/out, expansion, stride, SE ratio, fused (V2). */
interface Stage {
  k: number;
  r: number;
  fi: number;
  fo: number;
  e: number;
  s: 1 | 2;
  se: number;
  fused?: boolean;
}

const V1_STAGES: Stage[] = [
  { k: 3, r: 1, fi: 32, fo: 16, e: 1, s: 1, se: 0.25 },
  { k: 3, r: 2, fi: 16, fo: 24, e: 6, s: 2, se: 0.25 },
  { k: 5, r: 2, fi: 24, fo: 40, e: 6, s: 2, se: 0.25 },
  { k: 3, r: 3, fi: 40, fo: 80, e: 6, s: 2, se: 0.25 },
  { k: 5, r: 3, fi: 80, fo: 112, e: 6, s: 1, se: 0.25 },
  { k: 5, r: 4, fi: 112, fo: 192, e: 6, s: 2, se: 0.25 },
  { k: 3, r: 1, fi: 192, fo: 320, e: 6, s: 1, se: 0.25 },
];

const V2_STAGES: Stage[] = [
  { k: 3, r: 1, fi: 32, fo: 16, e: 1, s: 1, se: 0, fused: true },
  { k: 3, r: 2, fi: 16, fo: 32, e: 4, s: 2, se: 0, fused: true },
  { k: 3, r: 2, fi: 32, fo: 48, e: 4, s: 2, se: 0, fused: true },
  { k: 3, r: 3, fi: 48, fo: 96, e: 4, s: 2, se: 0.25 },
  { k: 3, r: 5, fi: 96, fo: 112, e: 6, s: 1, se: 0.25 },
  { k: 3, r: 8, fi: 112, fo: 192, e: 6, s: 2, se: 0.25 },
];

/** Keras' width and depth coefficients and default input size per variant. */
export const EFFICIENTNET_COEFFICIENTS: Record<
  EfficientNetVariant,
  { width: number; depth: number; size: number }
> = {
  b0: { width: 1.0, depth: 1.0, size: 224 },
  b1: { width: 1.0, depth: 1.1, size: 240 },
  b2: { width: 1.1, depth: 1.2, size: 260 },
  b3: { width: 1.2, depth: 1.4, size: 300 },
};

/** Options of {@link efficientNet}. */
export interface EfficientNetOptions {
  /** `b0` … `b3`. */
  variant: EfficientNetVariant;
  /** EfficientNetV2 instead of EfficientNet. Default false. */
  v2?: boolean;
  /** `[rows, cols, channels]`. Default Keras' size for the variant. */
  inputShape?: [number | null, number | null, number];
  /** V1 only: add the per-channel Rescaling Keras adds for ImageNet weights. Default false. */
  imagenetRescaling?: boolean;
  /** Seed for the random initial kernels (each layer gets `seed + its index`). Default: unseeded. */
  seed?: number;
  /** Model name. Default Keras' (`efficientnetb0`, `efficientnetv2-b0`, …). */
  name?: string;
}

/**
 * Builds the EfficientNet (V1 or V2) base without its top, ending at
 * `top_activation`, as a functional `tf.LayersModel` with random weights.
 */
export function efficientNet(options: EfficientNetOptions): tf.LayersModel {
  const { variant, v2 = false, imagenetRescaling = false, seed } = options;
  const coef = EFFICIENTNET_COEFFICIENTS[variant];
  if (!coef) throw new RangeError(`Unknown EfficientNet variant "${variant}"`);
  if (v2 && imagenetRescaling) {
    throw new RangeError(
      "imagenetRescaling is EfficientNet V1's (V2 has no such layer)",
    );
  }
  const inputShape = options.inputShape ?? [coef.size, coef.size, 3];
  const divisor = 8;
  const roundFilters = (f: number) => {
    const x = f * coef.width;
    let n = Math.max(
      divisor,
      Math.floor(Math.floor(x + divisor / 2) / divisor) * divisor,
    );
    if (!v2 && n < 0.9 * x) n += divisor;
    return n;
  };
  const roundRepeats = (r: number) => Math.ceil(coef.depth * r);
  const momentum = v2 ? 0.9 : 0.99;

  let layerIndex = 0;
  const init = () =>
    seed == null
      ? "glorotUniform" as const
      : tf.initializers.glorotUniform({ seed: seed + layerIndex++ });
  const conv = (
    x: Sym,
    filters: number,
    name: string,
    kernelSize = 1,
    strides = 1,
    opts: { padding?: "same" | "valid"; useBias?: boolean; act?: string } = {},
  ) =>
    tf.layers.conv2d({
      filters,
      kernelSize,
      strides,
      padding: opts.padding ?? "same",
      useBias: opts.useBias ?? false,
      activation: (opts.act ?? "linear") as "linear",
      kernelInitializer: init(),
      name,
    }).apply(x) as Sym;
  const bn = (x: Sym, name: string) =>
    freezableBatchNormalization({ axis: -1, epsilon: 1e-3, momentum, name })
      .apply(x) as Sym;
  const swish = (x: Sym, name: string) =>
    tf.layers.activation({ activation: "swish", name }).apply(x) as Sym;

  const input = tf.input({ shape: inputShape, name: "input_layer" });
  let x = tf.layers.rescaling({ scale: 1 / 255, name: "rescaling" })
    .apply(input) as Sym;
  const norm = freezableBatchNormalization({
    axis: -1,
    center: false,
    scale: false,
    epsilon: NORMALIZATION_EPSILON,
    trainable: false,
    name: "normalization",
  });
  x = norm.apply(x) as Sym;
  if (v2) {
    norm.setWeights([
      tf.tensor1d(IMAGENET_MEAN_RGB),
      tf.tensor1d(IMAGENET_STDDEV_RGB.map((s) => s * s)),
    ]);
  }
  if (imagenetRescaling) {
    x = tf.layers.rescaling({
      // Keras' 1/√std (not 1/std): tensorflow#49930. TF.js multiplies with broadcasting.
      scale: IMAGENET_STDDEV_RGB.map((s) =>
        1 / Math.sqrt(s)
      ) as unknown as number,
      name: "rescaling_1",
    }).apply(x) as Sym;
  }

  const stemFilters = roundFilters(32);
  if (v2) {
    x = conv(x, stemFilters, "stem_conv", 3, 2);
  } else {
    x = tf.layers.zeroPadding2d({
      padding: correctPad([x.shape[1], x.shape[2]], 3),
      name: "stem_conv_pad",
    }).apply(x) as Sym;
    x = conv(x, stemFilters, "stem_conv", 3, 2, { padding: "valid" });
  }
  x = bn(x, "stem_bn");
  x = swish(x, "stem_activation");

  const stages = v2 ? V2_STAGES : V1_STAGES;
  // Keras divides by the rounded repeats in V1, the unrounded ones in V2.
  const total = stages.reduce(
    (s, st) => s + (v2 ? st.r : roundRepeats(st.r)),
    0,
  );
  let b = 0;
  stages.forEach((st, i) => {
    const repeats = roundRepeats(st.r);
    for (let j = 0; j < repeats; j++) {
      const fi = j > 0 ? roundFilters(st.fo) : roundFilters(st.fi);
      const fo = roundFilters(st.fo);
      const strides = j > 0 ? 1 : st.s;
      const p = `block${i + 1}${String.fromCharCode(97 + j)}_`;
      const rate = 0.2 * b / total;
      const inputs = x;
      const filters = fi * st.e;
      if (st.fused) {
        if (st.e !== 1) {
          x = conv(x, filters, p + "expand_conv", st.k, strides);
          x = bn(x, p + "expand_bn");
          x = swish(x, p + "expand_activation");
        }
        x = st.e !== 1
          ? conv(x, fo, p + "project_conv")
          : conv(x, fo, p + "project_conv", st.k, strides);
        x = bn(x, p + "project_bn");
        if (st.e === 1) x = swish(x, p + "project_activation");
      } else {
        if (st.e !== 1) {
          x = conv(x, filters, p + "expand_conv");
          x = bn(x, p + "expand_bn");
          x = swish(x, p + "expand_activation");
        }
        let padding: "same" | "valid" = "same";
        if (!v2 && strides === 2) {
          x = tf.layers.zeroPadding2d({
            padding: correctPad([x.shape[1], x.shape[2]], st.k),
            name: p + "dwconv_pad",
          }).apply(x) as Sym;
          padding = "valid";
        }
        x = tf.layers.depthwiseConv2d({
          kernelSize: st.k,
          strides,
          padding,
          useBias: false,
          depthwiseInitializer: init(),
          name: p + (v2 ? "dwconv2" : "dwconv"),
        }).apply(x) as Sym;
        x = bn(x, p + "bn");
        x = swish(x, p + "activation");
        if (st.se > 0 && st.se <= 1) {
          const fse = Math.max(1, Math.floor(fi * st.se));
          let g = tf.layers.globalAveragePooling2d({ name: p + "se_squeeze" })
            .apply(x) as Sym;
          g = tf.layers.reshape({
            targetShape: [1, 1, filters],
            name: p + "se_reshape",
          }).apply(g) as Sym;
          g = conv(g, fse, p + "se_reduce", 1, 1, {
            useBias: true,
            act: "swish",
          });
          g = conv(g, filters, p + "se_expand", 1, 1, {
            useBias: true,
            act: "sigmoid",
          });
          x = tf.layers.multiply({ name: p + "se_excite" }).apply([
            x,
            g,
          ]) as Sym;
        }
        x = conv(x, fo, p + "project_conv");
        x = bn(x, p + "project_bn");
      }
      if (strides === 1 && fi === fo) {
        if (rate > 0) {
          x = tf.layers.dropout({
            rate,
            noiseShape: [null, 1, 1, 1] as unknown as number[],
            name: p + "drop",
          }).apply(x) as Sym;
        }
        x = tf.layers.add({ name: p + "add" }).apply([x, inputs]) as Sym;
      }
      b++;
    }
  });

  x = conv(x, roundFilters(1280), "top_conv");
  x = bn(x, "top_bn");
  x = swish(x, "top_activation");
  const name = options.name ??
    (v2 ? `efficientnetv2-${variant}` : `efficientnet${variant}`);
  return tf.model({ inputs: input, outputs: x, name });
}
