/**
 * MobileNetV3 Small and Large built like Keras' `keras.applications`
 * (Keras 3.15): the same layers in the same order with the same names
 * (Keras' auto names `re_lu_N`, `activation_N`, `add_N`, `multiply_N`
 * included), BatchNormalization epsilon 1e-3 / momentum 0.999, `_depth`
 * channel rounding, `correct_pad` before every stride-2 depthwise
 * convolution, and the `Rescaling(1/127.5, -1)` Keras puts inside the model
 * (`include_preprocessing`), so the model takes raw 0–255 pixels.
 *
 * What TF.js lacks is composed from its native layers, so a saved model loads
 * with plain `tf.loadLayersModel`; every composing layer is named
 * `<keras name>__<part>` and carries no weights:
 * - `Activation("hard_silu")` (x·relu6(x+3)/6) becomes `__add3` Rescaling(1,
 *   +3) → `__relu6` ReLU(6) → `__div6` Rescaling(1/6) → a Multiply named as
 *   Keras' Activation. Rescaling multiplies by float32(1/6) where Keras
 *   divides by 6: at most 1 ulp apart.
 * - The squeeze-and-excitation gate's ops `x + 3` and `· (1/6)` (Keras
 *   `add_N` / `multiply_N`, operations that are not layers) become Rescaling
 *   layers of those names; Keras also multiplies by float32(1/6) there, so
 *   they are exact.
 * - `GlobalAveragePooling2D(keepdims=True)` becomes `__pool`
 *   GlobalAveragePooling2D → a Reshape([1, 1, C]) named as Keras' layer.
 *
 * {@link kerasLayerNames} lists the layers Keras' `model.layers` has, in
 * order, so indices can be mapped to Keras'.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mobileNetV3 } from "./mobilenet_v3.ts";
 * const base = mobileNetV3({ variant: "small", inputShape: [96, 96, 3] });
 * assert.equal(base.countParams(), 939120); // as Keras
 * base.dispose();
 * ```
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import { freezableBatchNormalization } from "./batch_norm.ts";
import { correctPad, makeDivisible } from "./mobilenet_v2.ts";

type Sym = tf.SymbolicTensor;
type Act = "relu" | "hard_silu";

/** One `_inverted_res_block` call: expansion, filters (before alpha), kernel, stride, squeeze-and-excitation, activation. */
interface Block {
  expansion: number;
  filters: number;
  kernel: 3 | "k";
  stride: 1 | 2;
  se: boolean;
  act: Act | "a";
}

// "k" / "a" / se: the variant's kernel (5, or 3 when minimalistic),
// activation (hard_silu, or relu when minimalistic) and SE (none when minimalistic).
const SMALL: Block[] = [
  { expansion: 1, filters: 16, kernel: 3, stride: 2, se: true, act: "relu" },
  {
    expansion: 72 / 16,
    filters: 24,
    kernel: 3,
    stride: 2,
    se: false,
    act: "relu",
  },
  {
    expansion: 88 / 24,
    filters: 24,
    kernel: 3,
    stride: 1,
    se: false,
    act: "relu",
  },
  { expansion: 4, filters: 40, kernel: "k", stride: 2, se: true, act: "a" },
  { expansion: 6, filters: 40, kernel: "k", stride: 1, se: true, act: "a" },
  { expansion: 6, filters: 40, kernel: "k", stride: 1, se: true, act: "a" },
  { expansion: 3, filters: 48, kernel: "k", stride: 1, se: true, act: "a" },
  { expansion: 3, filters: 48, kernel: "k", stride: 1, se: true, act: "a" },
  { expansion: 6, filters: 96, kernel: "k", stride: 2, se: true, act: "a" },
  { expansion: 6, filters: 96, kernel: "k", stride: 1, se: true, act: "a" },
  { expansion: 6, filters: 96, kernel: "k", stride: 1, se: true, act: "a" },
];

const LARGE: Block[] = [
  { expansion: 1, filters: 16, kernel: 3, stride: 1, se: false, act: "relu" },
  { expansion: 4, filters: 24, kernel: 3, stride: 2, se: false, act: "relu" },
  { expansion: 3, filters: 24, kernel: 3, stride: 1, se: false, act: "relu" },
  { expansion: 3, filters: 40, kernel: "k", stride: 2, se: true, act: "relu" },
  { expansion: 3, filters: 40, kernel: "k", stride: 1, se: true, act: "relu" },
  { expansion: 3, filters: 40, kernel: "k", stride: 1, se: true, act: "relu" },
  { expansion: 6, filters: 80, kernel: 3, stride: 2, se: false, act: "a" },
  { expansion: 2.5, filters: 80, kernel: 3, stride: 1, se: false, act: "a" },
  { expansion: 2.3, filters: 80, kernel: 3, stride: 1, se: false, act: "a" },
  { expansion: 2.3, filters: 80, kernel: 3, stride: 1, se: false, act: "a" },
  { expansion: 6, filters: 112, kernel: 3, stride: 1, se: true, act: "a" },
  { expansion: 6, filters: 112, kernel: 3, stride: 1, se: true, act: "a" },
  { expansion: 6, filters: 160, kernel: "k", stride: 2, se: true, act: "a" },
  { expansion: 6, filters: 160, kernel: "k", stride: 1, se: true, act: "a" },
  { expansion: 6, filters: 160, kernel: "k", stride: 1, se: true, act: "a" },
];

/** Options of {@link mobileNetV3}, named as Keras' arguments (the base only: no top). */
export interface MobileNetV3Options {
  /** `"small"` (MobileNetV3Small) or `"large"` (MobileNetV3Large). */
  variant: "small" | "large";
  /** `[rows, cols, channels]`, rows and cols ≥ 32 or null. Default `[224, 224, 3]`. */
  inputShape?: [number | null, number | null, number];
  /** Width multiplier. Default 1.0. */
  alpha?: number;
  /** Keras' minimalistic variant: 3×3 kernels, ReLU, no squeeze-and-excitation. Default false. */
  minimalistic?: boolean;
  /** Keep Keras' `Rescaling(1/127.5, -1)` at the input (raw 0–255 pixels in). Default true. */
  includePreprocessing?: boolean;
  /** Seed for the random initial kernels (each layer gets `seed + its index`). Default: unseeded. */
  seed?: number;
  /** Model name. Default Keras' `MobileNetV3Small` / `MobileNetV3Large`. */
  name?: string;
}

/**
 * Builds the MobileNetV3 base (Keras' `include_top=False`: it ends at the
 * activation after `conv_1`) as a functional `tf.LayersModel` with random
 * weights.
 */
export function mobileNetV3(options: MobileNetV3Options): tf.LayersModel {
  const {
    variant,
    inputShape = [224, 224, 3],
    alpha = 1.0,
    minimalistic = false,
    includePreprocessing = true,
    seed,
  } = options;
  if (!(alpha > 0)) throw new RangeError(`alpha must be > 0, got ${alpha}`);
  for (const s of [inputShape[0], inputShape[1]]) {
    if (s != null && !(Number.isInteger(s) && s >= 32)) {
      throw new RangeError(
        `Input size must be at least 32x32 (as Keras requires), got [${inputShape}]`,
      );
    }
  }
  const kernel = minimalistic ? 3 : 5;
  const activation: Act = minimalistic ? "relu" : "hard_silu";
  const seRatio = minimalistic ? 0 : 0.25;
  const counters = new Map<string, number>();
  const auto = (base: string) => {
    const n = counters.get(base) ?? 0;
    counters.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  };
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
    useBias = false,
  ) =>
    tf.layers.conv2d({
      filters,
      kernelSize,
      strides,
      padding: "same",
      useBias,
      kernelInitializer: init(),
      name,
    }).apply(x) as Sym;
  const bn = (x: Sym, name: string) =>
    freezableBatchNormalization({
      axis: -1,
      epsilon: 1e-3,
      momentum: 0.999,
      name,
    })
      .apply(x) as Sym;
  const rescale = (x: Sym, scale: number, offset: number, name: string) =>
    tf.layers.rescaling({ scale, offset, name }).apply(x) as Sym;
  const relu = (x: Sym, name: string, maxValue?: number) =>
    tf.layers.reLU({ maxValue, name }).apply(x) as Sym;
  const act = (x: Sym, kind: Act) => {
    if (kind === "relu") return relu(x, auto("re_lu"));
    const name = auto("activation");
    let g = rescale(x, 1, 3, `${name}__add3`);
    g = relu(g, `${name}__relu6`, 6);
    g = rescale(g, 1 / 6, 0, `${name}__div6`);
    return tf.layers.multiply({ name }).apply([x, g]) as Sym;
  };

  const input = tf.input({ shape: inputShape, name: "input_layer" });
  let x = includePreprocessing
    ? rescale(input, 1 / 127.5, -1, "rescaling")
    : input;
  x = conv(x, 16, "conv", 3, 2);
  x = bn(x, "conv_bn");
  x = act(x, activation);

  (variant === "small" ? SMALL : LARGE).forEach((b, blockId) => {
    const shortcut = x;
    const inFilters = x.shape[3] as number;
    const filters = makeDivisible(b.filters * alpha, 8);
    const k = b.kernel === "k" ? kernel : 3;
    const a: Act = b.act === "a" ? activation : "relu";
    const prefix = blockId ? `expanded_conv_${blockId}_` : "expanded_conv_";
    const expanded = makeDivisible(inFilters * b.expansion, 8);
    if (blockId) {
      x = conv(x, expanded, prefix + "expand");
      x = bn(x, prefix + "expand_bn");
      x = act(x, a);
    }
    if (b.stride === 2) {
      x = tf.layers.zeroPadding2d({
        padding: correctPad([x.shape[1], x.shape[2]], k),
        name: prefix + "depthwise_pad",
      }).apply(x) as Sym;
    }
    x = tf.layers.depthwiseConv2d({
      kernelSize: k,
      strides: b.stride,
      padding: b.stride === 1 ? "same" : "valid",
      useBias: false,
      depthwiseInitializer: init(),
      name: prefix + "depthwise",
    }).apply(x) as Sym;
    x = bn(x, prefix + "depthwise_bn");
    x = act(x, a);
    if (b.se && seRatio > 0) {
      const se = prefix + "squeeze_excite_";
      const channels = x.shape[3] as number;
      let g = tf.layers.globalAveragePooling2d({ name: se + "avg_pool__pool" })
        .apply(x) as Sym;
      g = tf.layers.reshape({
        targetShape: [1, 1, channels],
        name: se + "avg_pool",
      }).apply(g) as Sym;
      g = conv(
        g,
        makeDivisible(expanded * seRatio, 8),
        se + "conv",
        1,
        1,
        true,
      );
      g = relu(g, se + "relu");
      g = conv(g, expanded, se + "conv_1", 1, 1, true);
      g = rescale(g, 1, 3, auto("add"));
      g = relu(g, auto("re_lu"), 6);
      g = rescale(g, 1 / 6, 0, auto("multiply"));
      x = tf.layers.multiply({ name: se + "mul" }).apply([x, g]) as Sym;
    }
    x = conv(x, filters, prefix + "project");
    x = bn(x, prefix + "project_bn");
    if (b.stride === 1 && inFilters === filters) {
      x = tf.layers.add({ name: prefix + "add" }).apply([shortcut, x]) as Sym;
    }
  });

  x = conv(x, makeDivisible((x.shape[3] as number) * 6, 8), "conv_1");
  x = bn(x, "conv_1_bn");
  x = act(x, activation);
  const name = options.name ??
    (variant === "small" ? "MobileNetV3Small" : "MobileNetV3Large");
  return tf.model({ inputs: input, outputs: x, name });
}

/**
 * The names of the layers Keras' `model.layers` holds, in order: the model's
 * layers without the composing parts (`…__part`) and without the layers
 * standing in for Keras operations that are not layers (the SE gate's
 * `add_N` and `multiply_N` Rescalings).
 */
export function kerasLayerNames(model: tf.LayersModel): string[] {
  return model.layers
    .map((l) => l.name)
    .filter((n) => !n.includes("__") && !/^(add|multiply)(_\d+)?$/.test(n));
}
