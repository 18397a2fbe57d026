/**
 * Folding of a frozen graph (`frozen_graph.ts`), in place: drops
 * identities, folds ZeroPadding2D into the following convolution's pads and a
 * per-channel affine (frozen BatchNormalization, Rescaling) into the
 * preceding convolution or Dense, fuses a following activation into it, and
 * turns a global pooling followed by `Reshape([1, 1, C])` into one
 * `keepDims` pooling. Composed hard activations (MobileNetV3's) become one
 * node first (`_frozen_graph_hard.ts`).
 *
 * @module
 */

import { fuseHardActivations } from "./_frozen_graph_hard.ts";
import type {
  ConvActivation,
  FrozenGraph,
  FrozenNode,
} from "./frozen_graph_ir.ts";

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
 * preceding linear convolution or Dense or affine, and ReLU, ReLU6, sigmoid,
 * swish, hard sigmoid or hard_silu (or any Dense activation) into the
 * preceding linear convolution or Dense. A tensor that
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
  fuseHardActivations(graph);
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
  if (a.op === "globalPool" && !a.keepDims && b.op === "expandSpatial") {
    a.keepDims = true;
    a.output = b.output;
    a.layers = [...a.layers, ...b.layers];
    removeB();
    return true;
  }
  if (a.op === "affine" && b.op === "affine") {
    // Two affines in a row (Rescaling → Normalization): one affine.
    for (let c = 0; c < a.scale.length; c++) {
      a.shift[c] = a.shift[c] * b.scale[c] + b.shift[c];
      a.scale[c] *= b.scale[c];
    }
    if (!(a.constant && b.constant)) delete a.constant;
    a.output = b.output;
    a.layers = [...a.layers, ...b.layers];
    removeB();
    return true;
  }
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
      b.op === "activation" && (a.op === "dense" || b.activation !== "softmax")
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
