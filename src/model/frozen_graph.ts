/**
 * A small, backend-neutral intermediate representation (IR) of a frozen
 * TF.js `LayersModel` for inference: a topologically ordered list of nodes
 * with their weights copied out as `Float32Array`s. Exporters and executors
 * (ONNX in `onnx_export.ts`; later a fused TF.js executor) read it instead of
 * walking TF.js layers themselves.
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

import { tf } from "../deps.ts";

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

/** Layer classes {@link extractFrozenGraph} accepts, for error messages. */
export const SUPPORTED_LAYER_CLASSES: readonly string[] = [
  "InputLayer",
  "Conv2D",
  "DepthwiseConv2D",
  "BatchNormalization",
  "ReLU",
  "Activation",
  "ZeroPadding2D",
  "Add",
  "GlobalAveragePooling2D",
  "GlobalMaxPooling2D",
  "Dense",
  "Dropout",
];

type Layer = tf.layers.Layer;
type Sym = tf.SymbolicTensor;
type Shape = (number | null)[];

/** One layer application found by walking the model graph. */
interface RawEntry {
  name: string;
  layer: Layer;
  inputs: string[];
  shape: Shape;
}

/** The whole model graph, walked from its outputs, layers not yet converted. */
interface RawGraph {
  entries: Map<string, RawEntry>;
  inputs: Map<string, Shape>;
  /** Symbolic tensor id → IR names it got (one per nesting scope it appears in). */
  byTensorId: Map<number, string[]>;
  /** Layer name → IR names of its outputs. */
  byLayerName: Map<string, string[]>;
}

const isInputLayer = (layer: Layer) => layer.getClassName() === "InputLayer";

function walkModel(model: tf.LayersModel): RawGraph {
  const raw: RawGraph = {
    entries: new Map(),
    inputs: new Map(),
    byTensorId: new Map(),
    byLayerName: new Map(),
  };
  const memo = new Map<string, string>();
  const owner = new Map<string, string>();
  const note = (
    map: Map<number | string, string[]>,
    k: number | string,
    v: string,
  ) => {
    const list = map.get(k) ?? [];
    if (!list.includes(v)) list.push(v);
    map.set(k, list);
  };
  const claim = (name: string, key: string) => {
    const other = owner.get(name);
    if (other != null && other !== key) {
      throw new Error(
        `model "${model.name}": tensor name "${name}" is produced twice (a layer or nested model applied more than once); the frozen graph needs unique layer names`,
      );
    }
    owner.set(name, key);
  };

  const walk = (
    sym: Sym,
    scope: string,
    subst: Map<number, string>,
  ): string => {
    const key = `${scope}#${sym.id}`;
    const known = memo.get(key);
    if (known != null) return known;
    const layer = sym.sourceLayer as Layer;
    let name: string;
    if (isInputLayer(layer)) {
      const s = subst.get(sym.id);
      if (s != null) {
        name = s;
      } else {
        name = layer.name;
        claim(name, key);
        raw.inputs.set(name, [...sym.shape]);
        note(raw.byLayerName, layer.name, name);
      }
    } else if (layer instanceof tf.LayersModel) {
      const node = layer.inboundNodes[sym.nodeIndex];
      const outer = node.inputTensors.map((t) => walk(t, scope, subst));
      const inner = new Map<number, string>();
      layer.inputs.forEach((t, i) => inner.set(t.id, outer[i]));
      name = walk(
        layer.outputs[sym.tensorIndex],
        `${scope}/${layer.name}@${sym.nodeIndex}`,
        inner,
      );
    } else {
      if (sym.tensorIndex !== 0) {
        throw unsupported(
          layer,
          "layers with several outputs are not supported",
        );
      }
      const node = layer.inboundNodes[sym.nodeIndex];
      const inputs = node.inputTensors.map((t) => walk(t, scope, subst));
      name = layer.name;
      claim(name, key);
      raw.entries.set(name, { name, layer, inputs, shape: [...sym.shape] });
      note(raw.byLayerName, layer.name, name);
    }
    memo.set(key, name);
    note(raw.byTensorId, sym.id, name);
    return name;
  };
  for (const out of model.outputs) walk(out, "", new Map());
  return raw;
}

function unsupported(layer: Layer, why: string): Error {
  return new Error(
    `layer "${layer.name}" (class ${layer.getClassName()}): ${why}`,
  );
}

function resolveOutput(
  raw: RawGraph,
  model: tf.LayersModel,
  out: string | Sym,
): string {
  if (typeof out === "string") {
    const names = raw.byLayerName.get(out) ??
      (raw.entries.has(out) || raw.inputs.has(out) ? [out] : []);
    if (names.length === 1) return names[0];
    if (names.length > 1) {
      throw new Error(
        `model "${model.name}": layer "${out}" has several outputs in the graph (${
          names.join(", ")
        }); pass its symbolic tensor instead`,
      );
    }
    throw new Error(
      `model "${model.name}": no layer named "${out}" on the path to the model's outputs`,
    );
  }
  const names = raw.byTensorId.get(out.id) ?? [];
  if (names.length === 1) return names[0];
  throw new Error(
    names.length > 1
      ? `model "${model.name}": tensor "${out.name}" appears several times in the graph (${
        names.join(", ")
      })`
      : `model "${model.name}": tensor "${out.name}" is not on the path to the model's outputs`,
  );
}

/** Reads a layer weight by its short name (`kernel`, `gamma`, …) as a copy. */
function weight(layer: Layer, short: string): Float32Array | null {
  const v = layer.weights.find((w) =>
    w.originalName.slice(w.originalName.lastIndexOf("/") + 1) === short
  );
  if (v == null) return null;
  return new Float32Array(v.read().dataSync() as Float32Array);
}

function requireWeight(layer: Layer, short: string): Float32Array {
  const w = weight(layer, short);
  if (w == null) throw unsupported(layer, `has no "${short}" weight`);
  return w;
}

const pair = (v: number | number[]): [number, number] =>
  typeof v === "number" ? [v, v] : [v[0], v[v.length > 1 ? 1 : 0]];

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

function convPads(
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

type Config = Record<string, unknown>;

function checkChannelsLast(layer: Layer, config: Config) {
  const f = config.dataFormat;
  if (f != null && f !== "channelsLast") {
    throw unsupported(
      layer,
      `dataFormat "${f}" is not supported (channels-last only)`,
    );
  }
}

function activationOf<T extends string>(
  layer: Layer,
  name: unknown,
  allowed: readonly T[],
): T {
  const a = (name ?? "linear") as T;
  if (!allowed.includes(a)) {
    throw unsupported(
      layer,
      `activation "${name}" is not supported (expected one of ${
        allowed.join(", ")
      })`,
    );
  }
  return a;
}

const CONV_ACTIVATIONS = ["linear", "relu", "relu6"] as const;
const DENSE_ACTIVATIONS = [
  "linear",
  "relu",
  "relu6",
  "softmax",
  "sigmoid",
] as const;

/** Converts one layer application into one unfused IR node. */
function convert(entry: RawEntry, shapeOf: (n: string) => Shape): FrozenNode {
  const { layer, inputs, name } = entry;
  const cls = layer.getClassName();
  const config = layer.getConfig() as Config;
  const base = { name, inputs, output: name, layers: [layer.name] };
  const inShape = shapeOf(inputs[0]);
  switch (cls) {
    case "Conv2D":
    case "DepthwiseConv2D": {
      checkChannelsLast(layer, config);
      if (inShape.length !== 4) {
        throw unsupported(layer, `expects a rank-4 input, got [${inShape}]`);
      }
      const depthwise = cls === "DepthwiseConv2D";
      const k = pair(config.kernelSize as number | number[]);
      const s = pair(config.strides as number | number[]);
      const d = pair((config.dilationRate ?? 1) as number | number[]);
      const inChannels = inShape[3] as number;
      const depthMultiplier = depthwise
        ? (config.depthMultiplier as number ?? 1)
        : 1;
      const outChannels = depthwise
        ? inChannels * depthMultiplier
        : config.filters as number;
      const kernel = requireWeight(
        layer,
        depthwise ? "depthwise_kernel" : "kernel",
      );
      if (
        kernel.length !==
          k[0] * k[1] * inChannels * (depthwise ? depthMultiplier : outChannels)
      ) {
        throw unsupported(
          layer,
          `kernel has ${kernel.length} values, which does not match its config`,
        );
      }
      return {
        ...base,
        op: "conv",
        depthwise,
        kernelSize: k,
        strides: s,
        dilations: d,
        pads: convPads(layer, config.padding as string, inShape, k, s, d),
        inChannels,
        outChannels,
        depthMultiplier,
        kernel,
        bias: config.useBias ? requireWeight(layer, "bias") : null,
        activation: activationOf(layer, config.activation, CONV_ACTIVATIONS),
      };
    }
    case "BatchNormalization": {
      const axis = config.axis as number;
      const rank = inShape.length;
      if (!(axis === -1 || axis === rank - 1)) {
        throw unsupported(
          layer,
          `axis ${axis} is not supported (the last axis only)`,
        );
      }
      const channels = inShape[rank - 1] as number;
      const mean = requireWeight(layer, "moving_mean");
      const variance = requireWeight(layer, "moving_variance");
      const gamma = weight(layer, "gamma");
      const beta = weight(layer, "beta");
      const eps = config.epsilon as number;
      const scale = new Float32Array(channels);
      const shift = new Float32Array(channels);
      for (let c = 0; c < channels; c++) {
        const sc = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
        scale[c] = sc;
        shift[c] = (beta ? beta[c] : 0) - mean[c] * sc;
      }
      return { ...base, op: "affine", scale, shift };
    }
    case "ReLU": {
      const max = config.maxValue;
      if (max == null) return { ...base, op: "activation", activation: "relu" };
      if (max === 6) return { ...base, op: "activation", activation: "relu6" };
      throw unsupported(layer, `maxValue ${max} is not supported (none or 6)`);
    }
    case "Activation": {
      const a = activationOf(layer, config.activation, DENSE_ACTIVATIONS);
      return a === "linear"
        ? { ...base, op: "identity" }
        : { ...base, op: "activation", activation: a };
    }
    case "ZeroPadding2D": {
      checkChannelsLast(layer, config);
      const p = config.padding as number | [number, number] | [
        [number, number],
        [number, number],
      ];
      const [[top, bottom], [left, right]] = typeof p === "number"
        ? [[p, p], [p, p]]
        : (p.map((v) => pair(v)) as [[number, number], [number, number]]);
      return { ...base, op: "pad", pads: { top, bottom, left, right } };
    }
    case "Add":
      return { ...base, op: "add" };
    case "GlobalAveragePooling2D":
    case "GlobalMaxPooling2D":
      checkChannelsLast(layer, config);
      if (config.keepDims) {
        throw unsupported(layer, "keepDims is not supported");
      }
      return {
        ...base,
        op: "globalPool",
        mode: cls === "GlobalAveragePooling2D" ? "avg" : "max",
      };
    case "Dense": {
      if (inShape.length !== 2) {
        throw unsupported(
          layer,
          `expects a rank-2 input [batch, features], got [${inShape}]`,
        );
      }
      const inFeatures = inShape[1] as number;
      const units = config.units as number;
      return {
        ...base,
        op: "dense",
        inFeatures,
        units,
        kernel: requireWeight(layer, "kernel"),
        bias: config.useBias ? requireWeight(layer, "bias") : null,
        activation: activationOf(layer, config.activation, DENSE_ACTIVATIONS),
      };
    }
    case "Dropout":
      return { ...base, op: "identity" };
    default:
      throw unsupported(
        layer,
        `not supported by the frozen graph (supported: ${
          SUPPORTED_LAYER_CLASSES.join(", ")
        })`,
      );
  }
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
    nodes.push(convert(entry, shapeOf));
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

/** Consumers of each tensor (a requested output counts as one more). */
function useCounts(graph: FrozenGraph): Map<string, number> {
  const uses = new Map<string, number>();
  const add = (n: string) => uses.set(n, (uses.get(n) ?? 0) + 1);
  for (const node of graph.nodes) node.inputs.forEach(add);
  for (const o of graph.outputs) add(o.name);
  return uses;
}

/**
 * Folds in place: drops identities that are not outputs, pads into the
 * following convolution, per-channel affines (BatchNormalization) into the
 * preceding linear convolution or Dense, and ReLU/ReLU6 (or any Dense
 * activation) into the preceding linear convolution or Dense. A tensor that
 * is a requested output or has other consumers is never folded away.
 */
export function foldGraph(graph: FrozenGraph): void {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  // Identities: rewire consumers to the identity's input.
  for (const node of [...graph.nodes]) {
    if (node.op !== "identity" || outputs.has(node.output)) continue;
    const [src] = node.inputs;
    for (const other of graph.nodes) {
      other.inputs = other.inputs.map((i) => (i === node.output ? src : i));
    }
    graph.nodes.splice(graph.nodes.indexOf(node), 1);
  }
  let changed = true;
  while (changed) {
    changed = false;
    const uses = useCounts(graph);
    const producer = new Map(graph.nodes.map((n) => [n.output, n]));
    for (const consumer of graph.nodes) {
      const producerNode = producer.get(consumer.inputs[0]);
      if (
        producerNode == null || consumer.inputs.length !== 1 ||
        uses.get(producerNode.output) !== 1 || outputs.has(producerNode.output)
      ) continue;
      if (tryFold(graph, producerNode, consumer)) {
        changed = true;
        break;
      }
    }
  }
}

/** Merges `a` (sole producer) and `b` (its sole consumer) when a rule applies. */
function tryFold(graph: FrozenGraph, a: FrozenNode, b: FrozenNode): boolean {
  const removeA = () => graph.nodes.splice(graph.nodes.indexOf(a), 1);
  const removeB = () => graph.nodes.splice(graph.nodes.indexOf(b), 1);
  if (a.op === "pad" && b.op === "conv") {
    b.pads = {
      top: b.pads.top + a.pads.top,
      bottom: b.pads.bottom + a.pads.bottom,
      left: b.pads.left + a.pads.left,
      right: b.pads.right + a.pads.right,
    };
    b.inputs = [...a.inputs];
    b.layers = [...a.layers, ...b.layers];
    removeA();
    return true;
  }
  if ((a.op === "conv" || a.op === "dense") && a.activation === "linear") {
    if (b.op === "affine") {
      const channels = a.op === "conv" ? a.outChannels : a.units;
      // Kernel layouts all end with the output channel (depthwise too:
      // [kh, kw, C, M] with output channel c * M + m).
      for (let i = 0; i < a.kernel.length; i++) {
        a.kernel[i] *= b.scale[i % channels];
      }
      const bias = new Float32Array(channels);
      for (let c = 0; c < channels; c++) {
        bias[c] = (a.bias ? a.bias[c] : 0) * b.scale[c] + b.shift[c];
      }
      a.bias = bias;
    } else if (
      b.op === "activation" &&
      (a.op === "dense" || b.activation === "relu" || b.activation === "relu6")
    ) {
      a.activation = b.activation as ConvActivation;
    } else {
      return false;
    }
    a.output = b.output;
    a.layers = [...a.layers, ...b.layers];
    removeB();
    return true;
  }
  return false;
}

/** What {@link crossingTensors} returns. */
export interface CutTensors {
  /** IR names of the crossing tensors (= their producing layers' names), ordered by producing layer index. */
  names: string[];
  /** The same tensors as symbolic tensors of `model`'s graph (for `tf.model({ inputs, outputs })`). */
  tensors: tf.SymbolicTensor[];
  /** Index in `model.layers` of each one's producing layer. */
  layerIndices: number[];
}

/**
 * The tensors that cross a cut of `model` before layer index `cutIndex`
 * (Keras numbering: `model.layers[cutIndex]` is the first layer after the
 * cut, as in `fine_tune_at`): every output of a layer with index
 * `< cutIndex` that a layer with index `>= cutIndex` reads, or that is a
 * model output. For MobileNetV2 1.0 at 100 these are `block_10_project_BN`
 * (the residual skip that `block_11_add` reads) and `block_11_expand_BN`.
 * `model` must be flat (no nested models), like the MobileNetV2 base.
 */
export function crossingTensors(
  model: tf.LayersModel,
  cutIndex: number,
): CutTensors {
  const layers = model.layers;
  if (
    !Number.isInteger(cutIndex) || cutIndex < 1 || cutIndex >= layers.length
  ) {
    throw new RangeError(
      `cut index must be an integer in [1, ${
        layers.length - 1
      }] for model "${model.name}" (${layers.length} layers), got ${cutIndex}`,
    );
  }
  const index = new Map(layers.map((l, i) => [l, i]));
  for (const l of layers) {
    if (l instanceof tf.LayersModel) {
      throw new Error(
        `model "${model.name}": crossingTensors needs a flat model, but layer "${l.name}" is a nested model; pass that model instead`,
      );
    }
  }
  const found = new Map<number, Sym>();
  const consider = (t: Sym) => {
    const i = index.get(t.sourceLayer as Layer);
    if (i != null && i < cutIndex) found.set(t.id, t);
  };
  const inModel = (layer: Layer, nodeIndex: number) =>
    layer.inboundNodes[nodeIndex]?.outputTensors.some((t) =>
      walkable.has(t.id)
    );
  // Tensors of the model's own graph (a layer shared with another model has
  // inbound nodes that are not ours).
  const walkable = new Set<number>();
  const stack = [...model.outputs];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (walkable.has(t.id)) continue;
    walkable.add(t.id);
    const layer = t.sourceLayer as Layer;
    if (!isInputLayer(layer)) {
      stack.push(...layer.inboundNodes[t.nodeIndex].inputTensors);
    }
  }
  for (const [layer, i] of index) {
    if (i < cutIndex) continue;
    layer.inboundNodes.forEach((node, k) => {
      if (inModel(layer, k)) node.inputTensors.forEach(consider);
    });
  }
  model.outputs.forEach(consider);
  const tensors = [...found.values()].sort((a, b) =>
    index.get(a.sourceLayer as Layer)! - index.get(b.sourceLayer as Layer)! ||
    a.tensorIndex - b.tensorIndex
  );
  return {
    names: tensors.map((t) => (t.sourceLayer as Layer).name),
    tensors,
    layerIndices: tensors.map((t) => index.get(t.sourceLayer as Layer)!),
  };
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
