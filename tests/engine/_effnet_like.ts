/**
 * Small hand-built TF.js functional models with each construct of the
 * EfficientNet / EfficientNetV2 bases as the model builders compose them
 * (issue 19), for the engine tests (`onnx_test.ts`, `fused_graph_test.ts`,
 * `_train_graph_test.ts`):
 *
 * - stem: `Rescaling(1/255)` → Keras' `Normalization` as a
 *   BatchNormalization with neither gamma nor beta (`center`/`scale` false,
 *   not trainable) → ImageNet's per-channel `Rescaling` (an array scale and
 *   offset) → V1: ZeroPadding2D + 3×3 stride-2 "valid" Conv2D; V2: 3×3
 *   stride-2 "same" Conv2D (TF's asymmetric pads) → BatchNormalization →
 *   `Activation("swish")`;
 * - V1 MBConv: 1×1 expand → BN → swish → ZeroPadding2D + 5×5 stride-2
 *   depthwise → BN → swish → squeeze-and-excitation (GlobalAveragePooling2D →
 *   `Reshape([1, 1, C])` → 1×1 Conv2D swish → 1×1 Conv2D sigmoid →
 *   broadcasting Multiply) → 1×1 project → BN; then a stride-1 3×3 MBConv
 *   with SE, drop-connect (`Dropout` with `noiseShape [null, 1, 1, 1]`) and a
 *   residual Add;
 * - V2: a Fused-MBConv (3×3 stride-2 "same" Conv2D → BN → swish → 1×1
 *   project → BN), a stride-1 Fused-MBConv with drop-connect and residual,
 *   and an MBConv with a 5×5 stride-2 "same" depthwise and SE;
 * - head (optional): GlobalAveragePooling2D → Dense.
 *
 * Weights are seeded random (`randomizeWeights`), the Normalization's
 * statistics ImageNet's.
 *
 * @module
 */

import * as tf from "../../src/deps/tf.ts";
import { randomizeWeights } from "../../fixtures/make_h5.ts";

type Sym = tf.SymbolicTensor;

/** Options of {@link effnetLike}. */
export interface EffnetLikeOptions {
  /** `"v1"`: ZeroPadding2D + "valid"; `"v2"`: "same" padding, Fused-MBConv. */
  variant: "v1" | "v2";
  /** Square input size. */
  size: number;
  /** Units of a GAP → Dense head (none by default). */
  head?: { units: number; activation: "softmax" | "linear" };
  /** Weight seed. Default 5. */
  seed?: number;
}

/** ImageNet's mean and variance (Keras' EfficientNet `Normalization`). */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
/** ImageNet's per-channel variance. */
export const IMAGENET_VARIANCE = [0.229 ** 2, 0.224 ** 2, 0.225 ** 2];

/** The model; see the module doc. Its BatchNormalizations run inference-mode statistics. */
export function effnetLike(opts: EffnetLikeOptions): tf.LayersModel {
  const { variant, size } = opts;
  const v2 = variant === "v2";
  const L = tf.layers;
  const input = tf.input({ shape: [size, size, 3], name: "image" });
  let x: Sym = L.rescaling({ scale: 1 / 255, offset: 0, name: "rescaling" })
    .apply(input) as Sym;
  x = L.batchNormalization({
    center: false,
    scale: false,
    epsilon: 1e-7,
    trainable: false,
    name: "normalization",
  }).apply(x) as Sym;
  x = L.rescaling({
    // Per-channel: TF.js' Rescaling broadcasts an array over the last axis.
    scale: [1 / 0.229, 1 / 0.224, 1 / 0.225] as unknown as number,
    offset: [0.01, -0.02, 0.03] as unknown as number,
    name: "rescaling_1",
  }).apply(x) as Sym;
  const bn = (t: Sym, name: string) =>
    L.batchNormalization({ epsilon: 1e-3, name }).apply(t) as Sym;
  const swish = (t: Sym, name: string) =>
    L.activation({ activation: "swish", name }).apply(t) as Sym;
  const conv = (
    t: Sym,
    filters: number,
    k: number,
    s: number,
    name: string,
    padding: "same" | "valid" = "same",
  ) =>
    L.conv2d({
      filters,
      kernelSize: k,
      strides: s,
      padding,
      useBias: false,
      name,
    }).apply(t) as Sym;
  const pad = (t: Sym, k: number, name: string) => {
    // Keras' correct_pad for an even input: [k/2 − 1, k/2] per side.
    const c = Math.floor(k / 2);
    return L.zeroPadding2d({ padding: [[c - 1, c], [c - 1, c]], name })
      .apply(t) as Sym;
  };
  const dw = (
    t: Sym,
    k: number,
    s: number,
    name: string,
    padding: "same" | "valid",
  ) =>
    L.depthwiseConv2d({
      kernelSize: k,
      strides: s,
      padding,
      useBias: false,
      name,
    }).apply(t) as Sym;
  const se = (t: Sym, channels: number, squeeze: number, prefix: string) => {
    let g = L.globalAveragePooling2d({ name: `${prefix}se_squeeze` })
      .apply(t) as Sym;
    g = L.reshape({
      targetShape: [1, 1, channels],
      name: `${prefix}se_reshape`,
    })
      .apply(g) as Sym;
    g = L.conv2d({
      filters: squeeze,
      kernelSize: 1,
      activation: "swish",
      name: `${prefix}se_reduce`,
    }).apply(g) as Sym;
    g = L.conv2d({
      filters: channels,
      kernelSize: 1,
      activation: "sigmoid",
      name: `${prefix}se_expand`,
    }).apply(g) as Sym;
    return L.multiply({ name: `${prefix}se_excite` }).apply([t, g]) as Sym;
  };
  const dropConnect = (t: Sym, name: string) =>
    L.dropout({
      rate: 0.2,
      noiseShape: [null, 1, 1, 1] as unknown as number[],
      name,
    }).apply(t) as Sym;

  // Stem.
  x = v2
    ? conv(x, 8, 3, 2, "stem_conv", "same")
    : conv(pad(x, 3, "stem_conv_pad"), 8, 3, 2, "stem_conv", "valid");
  x = swish(bn(x, "stem_bn"), "stem_activation");
  if (!v2) {
    // MBConv, expand 2, 5×5 stride 2 with SE.
    let y = swish(
      bn(conv(x, 16, 1, 1, "b1_expand_conv"), "b1_expand_bn"),
      "b1_expand_activation",
    );
    y = dw(pad(y, 5, "b1_dwconv_pad"), 5, 2, "b1_dwconv", "valid");
    y = swish(bn(y, "b1_bn"), "b1_activation");
    y = se(y, 16, 2, "b1_");
    x = bn(conv(y, 12, 1, 1, "b1_project_conv"), "b1_project_bn");
    // MBConv, 3×3 stride 1 with SE, drop-connect and the residual.
    y = swish(
      bn(conv(x, 24, 1, 1, "b2_expand_conv"), "b2_expand_bn"),
      "b2_expand_activation",
    );
    y = dw(y, 3, 1, "b2_dwconv", "same");
    y = swish(bn(y, "b2_bn"), "b2_activation");
    y = se(y, 24, 3, "b2_");
    y = bn(conv(y, 12, 1, 1, "b2_project_conv"), "b2_project_bn");
    x = L.add({ name: "b2_add" }).apply([dropConnect(y, "b2_drop"), x]) as Sym;
  } else {
    // Fused-MBConv, 3×3 stride 2 "same".
    let y = swish(
      bn(conv(x, 16, 3, 2, "b1_expand_conv"), "b1_expand_bn"),
      "b1_expand_activation",
    );
    x = bn(conv(y, 12, 1, 1, "b1_project_conv"), "b1_project_bn");
    // Fused-MBConv stride 1 with drop-connect and the residual.
    y = swish(
      bn(conv(x, 24, 3, 1, "b2_expand_conv"), "b2_expand_bn"),
      "b2_expand_activation",
    );
    y = bn(conv(y, 12, 1, 1, "b2_project_conv"), "b2_project_bn");
    x = L.add({ name: "b2_add" }).apply([dropConnect(y, "b2_drop"), x]) as Sym;
    // MBConv: 5×5 stride-2 "same" depthwise with SE.
    y = swish(
      bn(conv(x, 24, 1, 1, "b3_expand_conv"), "b3_expand_bn"),
      "b3_expand_activation",
    );
    y = dw(y, 5, 2, "b3_dwconv", "same");
    y = swish(bn(y, "b3_bn"), "b3_activation");
    y = se(y, 24, 3, "b3_");
    x = bn(conv(y, 16, 1, 1, "b3_project_conv"), "b3_project_bn");
  }
  if (opts.head) {
    x = L.globalAveragePooling2d({ name: "avg_pool" }).apply(x) as Sym;
    x = L.dense({
      units: opts.head.units,
      activation: opts.head.activation,
      name: "predictions",
    }).apply(x) as Sym;
  }
  const model = tf.model({
    inputs: input,
    outputs: x,
    name: `effnet_${variant}`,
  });
  randomizeWeights(model, opts.seed ?? 5);
  const norm = model.getLayer("normalization");
  tf.tidy(() =>
    norm.setWeights([
      tf.tensor1d(IMAGENET_MEAN),
      tf.tensor1d(IMAGENET_VARIANCE),
    ])
  );
  return model;
}
