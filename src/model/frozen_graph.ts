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
 *   folds a ZeroPadding2D into the following convolution's explicit pads, and
 *   fuses a following ReLU / ReLU6 into the convolution or Dense node;
 * - turns TensorFlow's `"same"` padding into explicit pads: total
 *   `max((ceil(in / s) - 1) * s + (k - 1) * d + 1 - in, 0)`, of which the
 *   extra pixel of an odd total goes AFTER (bottom / right), as TF does;
 * - drops Dropout (inference) and input layers;
 * - can stop at any set of tensors (layer names or symbolic tensors): only
 *   what they need is extracted. {@link crossingTensors} names the tensors a
 *   cut at layer index N needs (for fine-tuning from layer N).
 *
 * Supported layer classes: InputLayer, Conv2D, DepthwiseConv2D,
 * BatchNormalization, ReLU (no max or max 6), Activation (linear, relu,
 * relu6, softmax, sigmoid), ZeroPadding2D, Add, GlobalAveragePooling2D,
 * GlobalMaxPooling2D, Dense (rank-2 input), Dropout, and nested
 * `LayersModel`s made of those; anything else throws an error naming the
 * layer and its class. Image tensors must be channels-last.
 *
 * ## Files
 *
 * This file holds the IR's types and {@link extractFrozenGraph}; the steps
 * live next to it and their public names are re-exported here:
 * `frozen_graph_walk.ts` (walking and flattening the model graph),
 * `frozen_graph_convert.ts` (one layer → one node), `frozen_graph_pads.ts`
 * ("same" padding math), `frozen_graph_fold.ts` ({@link foldGraph}) and
 * `frozen_graph_cut.ts` ({@link crossingTensors}).
 *
 * ## Layout of the IR
 *
 * - Tensors are named; a tensor's name is the name of the Keras layer that
 *   produced it (for a fused node: the last layer it absorbed, e.g.
 *   `Conv1_relu` for Conv1 + bn_Conv1 + Conv1_relu). `graph.shapes[name]` is
 *   its TF.js shape, batch first (`null`), channels last: image tensors are
 *   NHWC `[null, H, W, C]`, features `[null, C]`.
 * - Weights are row-major `Float32Array`s in TensorFlow's layout, as the
 *   layers' `getWeights()` return them: a convolution kernel
 *   `[kh, kw, inChannels, outChannels]` (HWIO); a depthwise kernel
 *   `[kh, kw, inChannels, multiplier]` (output channel `c * multiplier + m`);
 *   a Dense kernel `[in, units]`; biases, scales and shifts `[channels]`.
 *   These feed `tf.fused.conv2d` / `tf.fused.depthwiseConv2d` /
 *   `tf.fused.matMul` as they are.
 * - Pads are explicit `{ top, bottom, left, right }` zero padding.
 *
 * @example
 * ```ts
 * import { crossingTensors, extractFrozenGraph } from "./frozen_graph.ts";
 * const graph = extractFrozenGraph(base);          // whole base
 * const cut = crossingTensors(base, 100);          // fine-tuning from layer 100
 * const frozen = extractFrozenGraph(base, { outputs: cut.names });
 * ```
 *
 * @module
 */

import type { tf } from "../deps.ts";
import { convertLayer } from "./frozen_graph_convert.ts";
import { foldGraph } from "./frozen_graph_fold.ts";
import { resolveOutput, type Shape, walkModel } from "./frozen_graph_walk.ts";

export { SUPPORTED_LAYER_CLASSES } from "./frozen_graph_convert.ts";
export { crossingTensors, type CutTensors } from "./frozen_graph_cut.ts";
export { foldGraph } from "./frozen_graph_fold.ts";
export { samePadding } from "./frozen_graph_pads.ts";

/** Explicit zero padding of the two spatial dimensions, in pixels. */
export interface Pads {
  /** Rows added before the first row. */
  top: number;
  /** Rows added after the last row. */
  bottom: number;
  /** Columns added before the first column. */
  left: number;
  /** Columns added after the last column. */
  right: number;
}

/** Activation fusable into a convolution (TF.js fused ops support these). */
export type ConvActivation = "linear" | "relu" | "relu6";
/** Activation of a Dense node. */
export type DenseActivation = ConvActivation | "softmax" | "sigmoid";
/** Activation of a standalone activation node (softmax over the last axis). */
export type StandaloneActivation = "relu" | "relu6" | "softmax" | "sigmoid";

/** Fields every node has. */
export interface NodeBase {
  /** Unique node name (the name of its main Keras layer). */
  name: string;
  /** Names of the tensors it reads, in order. */
  inputs: string[];
  /** Name of the tensor it writes. */
  output: string;
  /** Names of the Keras layers this node stands for, in graph order. */
  layers: string[];
}

/** Conv2D or DepthwiseConv2D, BatchNormalization and activation folded in. */
export interface ConvNode extends NodeBase {
  op: "conv";
  /** True for a depthwise convolution (one group per input channel). */
  depthwise: boolean;
  /** `[kh, kw]`. */
  kernelSize: [number, number];
  /** `[sh, sw]`. */
  strides: [number, number];
  /** `[dh, dw]`. */
  dilations: [number, number];
  /** Explicit zero padding (TF "same" and folded ZeroPadding2D included). */
  pads: Pads;
  /** Input channels. */
  inChannels: number;
  /** Output channels (`inChannels * multiplier` for depthwise). */
  outChannels: number;
  /** Channel multiplier of a depthwise convolution (1 otherwise). */
  depthMultiplier: number;
  /** `[kh, kw, inChannels, outChannels]`, or `[kh, kw, inChannels, multiplier]` if depthwise. */
  kernel: Float32Array;
  /** `[outChannels]`, or null (no bias and no folded BatchNormalization). */
  bias: Float32Array | null;
  /** Applied after the bias. */
  activation: ConvActivation;
}

/** Standalone ZeroPadding2D (when it could not be folded into a convolution). */
export interface PadNode extends NodeBase {
  op: "pad";
  pads: Pads;
}

/** Per-channel `x * scale + shift` over the last axis: a BatchNormalization that could not be folded. */
export interface AffineNode extends NodeBase {
  op: "affine";
  /** `[channels]`. */
  scale: Float32Array;
  /** `[channels]`. */
  shift: Float32Array;
}

/** Standalone activation (when it could not be fused into its producer). */
export interface ActivationNode extends NodeBase {
  op: "activation";
  activation: StandaloneActivation;
}

/** Element-wise sum of two or more tensors of the same shape. */
export interface AddNode extends NodeBase {
  op: "add";
}

/** Global average or max pooling: `[n, H, W, C]` → `[n, C]`. */
export interface GlobalPoolNode extends NodeBase {
  op: "globalPool";
  mode: "avg" | "max";
}

/** Dense on `[n, inFeatures]`, BatchNormalization and activation folded in. */
export interface DenseNode extends NodeBase {
  op: "dense";
  inFeatures: number;
  units: number;
  /** `[inFeatures, units]`. */
  kernel: Float32Array;
  /** `[units]`, or null. */
  bias: Float32Array | null;
  activation: DenseActivation;
}

/** Copies its input (kept only when its output is a requested output). */
export interface IdentityNode extends NodeBase {
  op: "identity";
}

/** A node of the IR. */
export type FrozenNode =
  | ConvNode
  | PadNode
  | AffineNode
  | ActivationNode
  | AddNode
  | GlobalPoolNode
  | DenseNode
  | IdentityNode;

/** A named tensor with its TF.js shape (batch `null`). */
export interface TensorInfo {
  name: string;
  shape: (number | null)[];
}

/** The IR: inputs, outputs, nodes in topological order, and every tensor's shape. */
export interface FrozenGraph {
  /** Name of the source model. */
  name: string;
  /** Graph inputs (the model's input layers that the outputs depend on). */
  inputs: TensorInfo[];
  /** Requested outputs, in the order asked for. */
  outputs: TensorInfo[];
  /** Nodes; each reads only graph inputs and outputs of earlier nodes. */
  nodes: FrozenNode[];
  /** Shape of every tensor named by inputs, outputs and nodes. */
  shapes: Record<string, (number | null)[]>;
}

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
  return graph;
}

/** Number of weight values held by the graph's nodes. */
export function countGraphParams(graph: FrozenGraph): number {
  let n = 0;
  for (const node of graph.nodes) {
    if (node.op === "conv" || node.op === "dense") {
      n += node.kernel.length + (node.bias?.length ?? 0);
    } else if (node.op === "affine") n += node.scale.length + node.shift.length;
  }
  return n;
}
