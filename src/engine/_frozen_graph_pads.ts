/**
 * Padding math of the frozen graph: TensorFlow's `"same"` padding as explicit
 * pads, total `max((ceil(in / s) - 1) * s + (k - 1) * d + 1 - in, 0)`, of
 * which the extra pixel of an odd total goes AFTER (bottom / right), as TF
 * does; and a convolution layer's `padding` config turned into {@link Pads}.
 *
 * @module
 */

import type { Pads } from "./frozen_graph_ir.ts";
import { type Layer, type Shape, unsupported } from "./_frozen_graph_walk.ts";

/** TensorFlow's "same" padding of one spatial dimension: `[before, after]`. */
export function samePadding(
  size: number,
  kernel: number,
  stride: number,
  dilation = 1,
): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + effective - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/**
 * Explicit pads of a convolution layer from its `padding` config ("valid" or
 * "same") and input shape `[n, H, W, C]`. An unknown spatial size is only
 * allowed with stride 1 (where "same" pads do not depend on it).
 */
export function convPads(
  layer: Layer,
  padding: string,
  inShape: Shape,
  k: [number, number],
  s: [number, number],
  d: [number, number],
): Pads {
  if (padding === "valid") return { top: 0, bottom: 0, left: 0, right: 0 };
  if (padding !== "same") {
    throw unsupported(layer, `padding "${padding}" is not supported`);
  }
  const dims = [inShape[1], inShape[2]].map((size, i) => {
    if (size != null) return samePadding(size, k[i], s[i], d[i]);
    if (s[i] === 1) return samePadding(k[i], k[i], 1, d[i]);
    throw unsupported(
      layer,
      `"same" padding with stride ${
        s[i]
      } needs a static input size (build the model with fixed rows and cols)`,
    );
  });
  return {
    top: dims[0][0],
    bottom: dims[0][1],
    left: dims[1][0],
    right: dims[1][1],
  };
}
