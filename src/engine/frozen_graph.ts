/**
 * A small, backend-neutral intermediate representation (IR) of a frozen
 * TF.js `LayersModel` for inference: a topologically ordered list of nodes
 * with their weights copied out as `Float32Array`s. Exporters and executors
 * (ONNX in `onnx_export.ts`, the fused TF.js executor in `fused_graph.ts`)
 * read it instead of walking TF.js layers themselves.
 *
 * What extraction does:
 * - flattens nested models (the classifier's functional form, where the
 *   MobileNetV2 base is one layer; also `tf.sequential([base, ...])`);
 * - folds every frozen BatchNormalization (moving mean/variance, gamma,
 *   beta, epsilon) into the preceding convolution or Dense (kernel and bias),
 *   folds a ZeroPadding2D into the following convolution's explicit pads,
 *   merges consecutive affines (Rescaling → Normalization → Rescaling),
 *   turns MobileNetV3's composed hard sigmoid / hard_silu into one activation
 *   each (`_frozen_graph_hard.ts`), and fuses a following ReLU / ReLU6 /
 *   sigmoid / swish / hard sigmoid / hard_silu into the convolution or Dense
 *   node;
 * - turns TensorFlow's `"same"` padding into explicit pads: total
 *   `max((ceil(in / s) - 1) * s + (k - 1) * d + 1 - in, 0)`, of which the
 *   extra pixel of an odd total goes AFTER (bottom / right), as TF does;
 * - drops Dropout (inference) and input layers;
 * - can stop at any set of tensors (layer names or symbolic tensors): only
 *   what they need is extracted. `crossingTensors` (`frozen_graph_cut.ts`) names the tensors a
 *   cut at layer index N needs (for fine-tuning from layer N).
 *
 * Supported layer classes: InputLayer, Conv2D, DepthwiseConv2D (activations
 * linear, relu, relu6, sigmoid, swish), BatchNormalization (with or without
 * gamma/beta: Keras' `Normalization` is one without), ReLU (no max or max
 * 6), Activation (linear, relu, relu6, softmax, sigmoid, swish),
 * ZeroPadding2D, Add, GlobalAveragePooling2D, GlobalMaxPooling2D (keepDims
 * too), Dense (rank-2 input), Dropout (any `noiseShape`: EfficientNet's
 * drop-connect), Rescaling (a per-channel affine; scale and offset a number
 * or one value per channel), Multiply (two inputs, the second broadcast over
 * its size-1 axes), Reshape (`[n, C]` → `[n, 1, 1, C]` only), and nested
 * `LayersModel`s made of those — all MobileNetV2, MobileNetV3 and
 * EfficientNet (V1, V2) need (V3's hard_silu and squeeze-and-excitation are
 * composed of Rescaling, ReLU(6) and Multiply: `mobilenet_v3.ts`); anything else
 * throws an error naming the layer and its class. Image tensors must be
 * channels-last.
 *
 * ## Files
 *
 * This file holds {@link extractFrozenGraph}; the IR's types are in
 * `frozen_graph_ir.ts`, and the steps live next to it:
 * `_frozen_graph_walk.ts` (walking and flattening the model graph),
 * `_frozen_graph_convert.ts` (one layer → one node), `_frozen_graph_pads.ts`
 * ("same" padding math), `_frozen_graph_fold.ts` (folding) and
 * `frozen_graph_cut.ts` (`crossingTensors`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mobileNetV2 } from "../model/mobilenet_v2.ts";
 * import { extractFrozenGraph } from "./frozen_graph.ts";
 * import { crossingTensors } from "./frozen_graph_cut.ts";
 * const base = mobileNetV2({ inputShape: [96, 96, 3], alpha: 0.35, includeTop: false });
 * const graph = extractFrozenGraph(base); // the whole base, BatchNormalization folded
 * const cut = crossingTensors(base, 100); // fine-tuning from layer 100
 * const frozen = extractFrozenGraph(base, { outputs: cut.names });
 * assert.ok(frozen.nodes.length < graph.nodes.length);
 * base.dispose();
 * ```
 *
 * @module
 */

import type * as tf from "../deps/tf.ts";
import { convertLayer } from "./_frozen_graph_convert.ts";
import { foldGraph } from "./_frozen_graph_fold.ts";
import { fuseHardActivations } from "./_frozen_graph_hard.ts";
import { resolveOutput, type Shape, walkModel } from "./_frozen_graph_walk.ts";
import type { FrozenGraph, FrozenNode } from "./frozen_graph_ir.ts";

/** Options of {@link extractFrozenGraph}. */
export interface ExtractOptions {
  /**
   * Tensors to stop at: layer names (their output; nested models' layers
   * included) or symbolic tensors of the model's graph. Default: the model's
   * outputs.
   */
  outputs?: (string | tf.SymbolicTensor)[];
  /** Fold BatchNormalization / padding and fuse activations. Default true. */
  fold?: boolean;
  /**
   * Turn composed hard activations (MobileNetV3's hard sigmoid and
   * hard_silu, `_frozen_graph_hard.ts`) into one node each with `fold:
   * false` (a training graph, whose BatchNormalizations stay apart, asks for
   * it). Default false; folding always does it.
   */
  hardActivations?: boolean;
}

/**
 * Extracts the frozen graph of `model` up to `opts.outputs` (default: the
 * model's outputs). Weights are copied out of the layers, so the graph stays
 * valid after the model is disposed and does not follow later weight
 * changes. Throws, naming the layer and its class, for an unsupported layer
 * on the way to the outputs.
 */
export function extractFrozenGraph(
  model: tf.LayersModel,
  opts: ExtractOptions = {},
): FrozenGraph {
  const raw = walkModel(model);
  const outputNames = (opts.outputs ?? model.outputs).map((o) =>
    resolveOutput(raw, model, o)
  );
  const dup = outputNames.find((n, i) => outputNames.indexOf(n) !== i);
  if (dup != null) {
    throw new Error(
      `model "${model.name}": output "${dup}" is requested twice`,
    );
  }
  const shapes: Record<string, Shape> = {};
  const shapeOf = (n: string): Shape => {
    const s = raw.entries.get(n)?.shape ?? raw.inputs.get(n);
    if (s == null) throw new Error(`internal: unknown tensor "${n}"`);
    return s;
  };
  // Convert what the outputs need, inputs before consumers (DFS post-order).
  const nodes: FrozenNode[] = [];
  const inputs: string[] = [];
  const seen = new Set<string>();
  const visit = (n: string) => {
    if (seen.has(n)) return;
    seen.add(n);
    shapes[n] = shapeOf(n);
    const entry = raw.entries.get(n);
    if (entry == null) {
      inputs.push(n);
      return;
    }
    for (const i of entry.inputs) visit(i);
    nodes.push(convertLayer(entry, shapeOf));
  };
  for (const n of outputNames) visit(n);
  const graph: FrozenGraph = {
    name: model.name,
    inputs: [...raw.inputs.keys()].filter((n) => inputs.includes(n)).map((
      n,
    ) => ({
      name: n,
      shape: shapes[n],
    })),
    outputs: outputNames.map((n) => ({ name: n, shape: shapes[n] })),
    nodes,
    shapes,
  };
  if (opts.fold !== false) foldGraph(graph);
  else if (opts.hardActivations) fuseHardActivations(graph);
  return graph;
}
