/**
 * MobileNetV2 built exactly like Keras' `keras.applications.MobileNetV2`:
 * same layers in the same order with the same names, ReLU6, BatchNormalization
 * (epsilon 1e-3, momentum 0.999), no conv biases, `_make_divisible` channel
 * rounding, and `correct_pad` ZeroPadding2D before every stride-2 depthwise
 * convolution. Without the top it has 154 layers (input included), so layer
 * indices mean what they mean in Keras.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mobileNetV2 } from "./mobilenet_v2.ts";
 * const base = mobileNetV2({ inputShape: [160, 160, 3], includeTop: false });
 * assert.equal(base.countParams(), 2257984); // as Keras
 * base.dispose();
 * ```
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import { freezableBatchNormalization } from "./batch_norm.ts";

/** Keras' `_make_divisible`: rounds channels to a multiple of `divisor`, never more than 10% down. */
export function makeDivisible(
  v: number,
  divisor = 8,
  minValue: number | null = null,
): number {
  const min = minValue ?? divisor;
  let newV = Math.max(
    min,
    Math.floor(Math.trunc(v + divisor / 2) / divisor) * divisor,
  );
  if (newV < 0.9 * v) newV += divisor;
  return newV;
}

/**
 * Keras' `imagenet_utils.correct_pad` for a square kernel: the
 * `[[top, bottom], [left, right]]` zero padding that makes a following
 * "valid" stride-2 convolution equal TensorFlow's "same" one (an unknown size
 * is padded as an even one, as Keras does).
 */
export function correctPad(
  size: [number | null, number | null],
  kernelSize = 3,
): [[number, number], [number, number]] {
  const adjust = size.map((s) => (s == null ? 1 : 1 - (s % 2)));
  const c = Math.floor(kernelSize / 2);
  return [[c - adjust[0], c], [c - adjust[1], c]];
}

/**
 * The 17 inverted residual blocks of MobileNetV2 (Keras' `_inverted_res_block`
 * calls): output filters before `alpha`, stride, and expansion factor.
 */
export const MOBILENET_V2_BLOCKS: ReadonlyArray<
  { filters: number; stride: 1 | 2; expansion: number }
> = [
  { filters: 16, stride: 1, expansion: 1 },
  { filters: 24, stride: 2, expansion: 6 },
  { filters: 24, stride: 1, expansion: 6 },
  { filters: 32, stride: 2, expansion: 6 },
  { filters: 32, stride: 1, expansion: 6 },
  { filters: 32, stride: 1, expansion: 6 },
  { filters: 64, stride: 2, expansion: 6 },
  { filters: 64, stride: 1, expansion: 6 },
  { filters: 64, stride: 1, expansion: 6 },
  { filters: 64, stride: 1, expansion: 6 },
  { filters: 96, stride: 1, expansion: 6 },
  { filters: 96, stride: 1, expansion: 6 },
  { filters: 96, stride: 1, expansion: 6 },
  { filters: 160, stride: 2, expansion: 6 },
  { filters: 160, stride: 1, expansion: 6 },
  { filters: 160, stride: 1, expansion: 6 },
  { filters: 320, stride: 1, expansion: 6 },
];

/** Number of layers of MobileNetV2 without its top, the input layer included (as Keras counts them). */
export const MOBILENET_V2_BASE_LAYERS = 154;

/** Options of {@link mobileNetV2}, named as Keras' arguments. */
export interface MobileNetV2Options {
  /** `[rows, cols, channels]`; rows/cols may be null (any size). Default `[224, 224, 3]`. */
  inputShape?: [number | null, number | null, number];
  /** Width multiplier. Default 1.0. */
  alpha?: number;
  /** Add global average pooling and the `predictions` Dense layer. Default true. */
  includeTop?: boolean;
  /** Classes of the top. Default 1000. */
  classes?: number;
  /** Without the top: `"avg"` or `"max"` global pooling of the output, or none. */
  pooling?: "avg" | "max" | null;
  /** Activation of the top. Default `"softmax"`. */
  classifierActivation?: "softmax" | "linear" | "sigmoid";
  /**
   * Seed for the random initial kernels (each layer gets `seed + its index`),
   * so a model without pretrained weights is reproducible. Default: unseeded.
   */
  seed?: number;
  /** Model name. Default Keras' `mobilenetv2_{alpha:.2f}_{rows}`. */
  name?: string;
}

type Sym = tf.SymbolicTensor;

/**
 * Builds MobileNetV2 as a functional `tf.LayersModel`, layer for layer as
 * Keras does (weights are random; load ImageNet ones with
 * `loadKerasWeights`). BatchNormalization layers run in inference mode while
 * frozen (see `batch_norm.ts`).
 */
export function mobileNetV2(options: MobileNetV2Options = {}): tf.LayersModel {
  const {
    inputShape = [224, 224, 3],
    alpha = 1.0,
    includeTop = true,
    classes = 1000,
    pooling = null,
    classifierActivation = "softmax",
    seed,
  } = options;
  if (!(alpha > 0)) throw new RangeError(`alpha must be > 0, got ${alpha}`);
  const [rows, cols] = inputShape;
  for (const s of [rows, cols]) {
    if (s != null && !(Number.isInteger(s) && s >= 32)) {
      throw new RangeError(
        `MobileNetV2 input rows and cols must be integers >= 32 (as Keras requires), got [${inputShape}]`,
      );
    }
  }
  let layerIndex = 0;
  const kernelInit = () =>
    seed == null
      ? "glorotUniform" as const
      : tf.initializers.glorotUniform({ seed: seed + layerIndex++ });
  const bn = (x: Sym, name: string) =>
    freezableBatchNormalization({
      axis: -1,
      epsilon: 1e-3,
      momentum: 0.999,
      name,
    })
      .apply(x) as Sym;
  const relu6 = (x: Sym, name: string) =>
    tf.layers.reLU({ maxValue: 6, name }).apply(x) as Sym;
  const conv1x1 = (x: Sym, filters: number, name: string) =>
    tf.layers.conv2d({
      filters,
      kernelSize: 1,
      padding: "same",
      useBias: false,
      kernelInitializer: kernelInit(),
      name,
    }).apply(x) as Sym;

  const input = tf.input({ shape: inputShape, name: "input_1" });
  const firstFilters = makeDivisible(32 * alpha, 8);
  let x = tf.layers.conv2d({
    filters: firstFilters,
    kernelSize: 3,
    strides: 2,
    padding: "same",
    useBias: false,
    kernelInitializer: kernelInit(),
    name: "Conv1",
  }).apply(input) as Sym;
  x = bn(x, "bn_Conv1");
  x = relu6(x, "Conv1_relu");

  MOBILENET_V2_BLOCKS.forEach(({ filters, stride, expansion }, blockId) => {
    const inputs = x;
    const inChannels = inputs.shape[3] as number;
    const pointwiseFilters = makeDivisible(Math.trunc(filters * alpha), 8);
    let prefix = `block_${blockId}_`;
    if (blockId > 0) {
      x = conv1x1(x, expansion * inChannels, prefix + "expand");
      x = bn(x, prefix + "expand_BN");
      x = relu6(x, prefix + "expand_relu");
    } else {
      prefix = "expanded_conv_";
    }
    if (stride === 2) {
      x = tf.layers.zeroPadding2d({
        padding: correctPad([x.shape[1], x.shape[2]], 3),
        name: prefix + "pad",
      }).apply(x) as Sym;
    }
    x = tf.layers.depthwiseConv2d({
      kernelSize: 3,
      strides: stride,
      useBias: false,
      padding: stride === 1 ? "same" : "valid",
      depthwiseInitializer: kernelInit(),
      name: prefix + "depthwise",
    }).apply(x) as Sym;
    x = bn(x, prefix + "depthwise_BN");
    x = relu6(x, prefix + "depthwise_relu");
    x = conv1x1(x, pointwiseFilters, prefix + "project");
    x = bn(x, prefix + "project_BN");
    if (inChannels === pointwiseFilters && stride === 1) {
      x = tf.layers.add({ name: prefix + "add" }).apply([inputs, x]) as Sym;
    }
  });

  const lastFilters = alpha > 1.0 ? makeDivisible(1280 * alpha, 8) : 1280;
  x = conv1x1(x, lastFilters, "Conv_1");
  x = bn(x, "Conv_1_bn");
  x = relu6(x, "out_relu");

  if (includeTop) {
    x = tf.layers.globalAveragePooling2d({ name: "global_average_pooling2d" })
      .apply(x) as Sym;
    x = tf.layers.dense({
      units: classes,
      activation: classifierActivation,
      kernelInitializer: kernelInit(),
      name: "predictions",
    }).apply(x) as Sym;
  } else if (pooling === "avg") {
    x = tf.layers.globalAveragePooling2d({ name: "global_average_pooling2d" })
      .apply(x) as Sym;
  } else if (pooling === "max") {
    x = tf.layers.globalMaxPooling2d({ name: "global_max_pooling2d" })
      .apply(x) as Sym;
  }
  const name = options.name ??
    `mobilenetv2_${alpha.toFixed(2)}_${rows ?? 224}`;
  return tf.model({ inputs: input, outputs: x, name });
}
