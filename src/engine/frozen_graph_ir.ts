/**
 * The frozen graph IR's types: a topologically ordered list of nodes with
 * their weights as `Float32Array`s, made by `extractFrozenGraph`
 * (`frozen_graph.ts`) and read by the exporters and executors.
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
 * @module
 */

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

/**
 * Activation of a convolution node: `swish` is `x · sigmoid(x)` (Keras'
 * silu, EfficientNet's), `sigmoid` a squeeze-and-excitation gate's;
 * `hard_sigmoid` is Keras 3's `relu6(x + 3) / 6` and `hard_silu` its `x ·
 * hard_sigmoid(x)` (MobileNetV3's, recognised from the layers that compose
 * them: `_frozen_graph_hard.ts`).
 */
export type ConvActivation =
  | "linear"
  | "relu"
  | "relu6"
  | "sigmoid"
  | "swish"
  | "hard_sigmoid"
  | "hard_silu";
/** Activation of a Dense node. */
export type DenseActivation = ConvActivation | "softmax";
/** Activation of a standalone activation node (softmax over the last axis). */
export type StandaloneActivation =
  | "relu"
  | "relu6"
  | "softmax"
  | "sigmoid"
  | "swish"
  | "hard_sigmoid"
  | "hard_silu";

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
  /** The node kind. */
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
  /** The node kind. */
  op: "pad";
  /** Explicit zero padding. */
  pads: Pads;
}

/**
 * Per-channel `x * scale + shift` over the last axis: a BatchNormalization
 * that could not be folded, or a Rescaling (scalar or per-channel).
 */
export interface AffineNode extends NodeBase {
  /** The node kind. */
  op: "affine";
  /** `[channels]`. */
  scale: Float32Array;
  /** `[channels]`. */
  shift: Float32Array;
  /**
   * True when the affine has no trainable weights (a Rescaling, or a
   * BatchNormalization with neither gamma nor beta: Keras' `Normalization`
   * as EfficientNet composes it): the training graph keeps it constant.
   */
  constant?: boolean;
}

/** Standalone activation (when it could not be fused into its producer). */
export interface ActivationNode extends NodeBase {
  /** The node kind. */
  op: "activation";
  /** Applied last. */
  activation: StandaloneActivation;
}

/** Element-wise sum of two or more tensors of the same shape. */
export interface AddNode extends NodeBase {
  /** The node kind. */
  op: "add";
}

/**
 * Global average or max pooling: `[n, H, W, C]` → `[n, C]`, or `[n, 1, 1,
 * C]` with `keepDims` (Keras' `GlobalAveragePooling2D(keepdims=True)`, the
 * pooling of a squeeze-and-excitation gate).
 */
export interface GlobalPoolNode extends NodeBase {
  /** The node kind. */
  op: "globalPool";
  /** Average or maximum over the spatial axes. */
  mode: "avg" | "max";
  /** Keep the spatial axes as size 1. Default false. */
  keepDims?: boolean;
}

/**
 * Element-wise product of two tensors of one rank, with broadcasting over
 * size-1 axes (MobileNetV3's hard_silu `x · gate` and its
 * squeeze-and-excitation `x · [n, 1, 1, C]` gate).
 */
export interface MulNode extends NodeBase {
  /** The node kind. */
  op: "mul";
}

/**
 * `[n, C]` → `[n, 1, 1, C]`: the only reshape the IR has (a
 * GlobalAveragePooling2D followed by `Reshape([1, 1, C])`, which folding
 * turns into a `keepDims` pooling).
 */
export interface ExpandSpatialNode extends NodeBase {
  /** The node kind. */
  op: "expandSpatial";
}

/** Dense on `[n, inFeatures]`, BatchNormalization and activation folded in. */
export interface DenseNode extends NodeBase {
  /** The node kind. */
  op: "dense";
  /** Input features. */
  inFeatures: number;
  /** Output features. */
  units: number;
  /** `[inFeatures, units]`. */
  kernel: Float32Array;
  /** `[units]`, or null. */
  bias: Float32Array | null;
  /** Applied last. */
  activation: DenseActivation;
}

/** Copies its input (kept only when its output is a requested output). */
export interface IdentityNode extends NodeBase {
  /** The node kind. */
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
  | MulNode
  | ExpandSpatialNode
  | DenseNode
  | IdentityNode;

/** A named tensor with its TF.js shape (batch `null`). */
export interface TensorInfo {
  /** Tensor name (the producing Keras layer's). */
  name: string;
  /** TF.js shape, batch first (`null`). */
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
