/**
 * A training graph from the frozen-graph IR: the forward pass, a loss and
 * its gradients with respect to every weight, as one ONNX model that ONNX
 * Runtime runs. Weights are graph inputs (fed each step), so the optimizer
 * update stays outside (TypeScript); the outputs are the loss, one
 * gradient per weight, in {@link TrainGraph.weights} order, and the logits
 * (for the batch's accuracy). Besides the data and the labels it takes
 * per-sample loss weights (Keras' class weights: the loss is the batch mean
 * of `w · l`) and one mask per trained Dropout, drawn by the caller; a
 * Dropout without a mask is the identity, as in inference.
 *
 * Run by `train_session.ts` (`engine.train`). Lowers the
 * IR's `conv` (full and depthwise, any stride and pads), `dense`, `affine`
 * (BatchNormalization with frozen statistics: γ/β as the trainable
 * scale/shift; a `constant` one — Rescaling, Normalization — as constants),
 * `activation` and conv/dense activations (relu, relu6, sigmoid, swish),
 * `add`, `mul` (broadcasting), `globalPool` (avg, keepDims too),
 * `expandSpatial` and `identity` nodes; image tensors run NCHW inside,
 * weights and their gradients keep TensorFlow's layout.
 *
 * @module
 */

import { reduce, Tape } from "./_grad_ops.ts";
import { encodeOnnxModel, HARD_SIGMOID_ATTRS } from "./_onnx_proto.ts";
import type { FrozenGraph, FrozenNode } from "./frozen_graph_ir.ts";

/** The loss on the graph's single output. */
export type TrainLoss =
  /** Mean softmax cross-entropy on logits `[n, C]` against one-hot labels. */
  | "softmaxCrossEntropy"
  /** Mean sigmoid binary cross-entropy on logits against 0/1 labels. */
  | "sigmoidCrossEntropy";

/** A trainable weight: a graph input of the training model. */
export interface TrainWeight {
  /** Graph input name (`<node>/<kernel|bias|scale|shift>`). */
  name: string;
  /** Its shape (TF layout, as in the IR). */
  shape: number[];
  /** Its initial value (the IR's). */
  value: Float32Array;
}

/** A Dropout layer that trains with a mask (see {@link TrainGraph.masks}). */
export interface TrainDropout {
  /** The IR node, named as the Dropout layer. */
  node: string;
  /** Keras' / TF.js' rate: an element is kept with probability 1 − rate. */
  rate: number;
  /** TF.js' `noiseShape` (channels-last, `null` = the input's size), or null for the input's shape. */
  noiseShape?: readonly (number | null)[] | null;
}

/** Options of {@link buildTrainGraph}. */
export interface TrainGraphOptions {
  /** The Dropout nodes to mask; every other Dropout is the identity (inference). */
  dropout?: readonly TrainDropout[];
}

/** A dropout mask input of the training graph. */
export interface TrainMask {
  /** Graph input name (`mask:<node>`). */
  input: string;
  /** The Dropout node. */
  node: string;
  /** Its rate. */
  rate: number;
  /**
   * The mask's shape inside the graph (NCHW for images; the batch is
   * `null`). Each element is 0 or 1/(1 − rate), as TF.js' and Keras'
   * dropout scale the kept ones; broadcast over the dimensions of size 1.
   */
  shape: (number | null)[];
}

/** What {@link buildTrainGraph} returns. */
export interface TrainGraph {
  /** ONNX model bytes. */
  onnx: Uint8Array;
  /** Data input names (the IR's inputs, channels-last as in TF.js). */
  inputs: string[];
  /** Labels input name, the same shape as the logits. */
  labels: string;
  /**
   * Per-sample loss weights input `[n]` (Keras' class weights; ones for
   * none): the loss is the batch mean of `w · l` (`sum_over_batch_size`).
   */
  sampleWeights: string;
  /** Dropout mask inputs, in graph order. */
  masks: TrainMask[];
  /** Weights, in the order of the gradient outputs. */
  weights: TrainWeight[];
  /** Output names: `loss`, then one gradient per weight, then `logits`. */
  outputs: string[];
}

/**
 * Builds the training graph of `graph`, whose single output is the logits
 * that `loss` reads: a linear output, or a Dense output whose softmax
 * (softmax cross-entropy) or sigmoid (sigmoid cross-entropy) the loss
 * includes.
 */
export function buildTrainGraph(
  graph: FrozenGraph,
  loss: TrainLoss,
  opts: TrainGraphOptions = {},
): TrainGraph {
  if (graph.outputs.length !== 1) {
    throw new Error(
      `graph "${graph.name}": a training graph needs one output (the logits)`,
    );
  }
  const tape = new Tape();
  // Image tensors are NCHW inside the graph.
  const toNchw = (s: (number | null)[]) =>
    s.length === 4 ? [s[0], s[3], s[1], s[2]] : s;
  const weights: TrainWeight[] = [];
  const weight = (name: string, shape: number[], value: Float32Array) => {
    weights.push({ name, shape, value });
    return tape.input(name, shape);
  };
  const act = (kind: string, x: string) => {
    const s = tape.shape(x);
    switch (kind) {
      case "linear":
        return x;
      case "relu":
        return tape.op("Relu", [x], s);
      case "relu6":
        return tape.op(
          "Clip",
          [x, tape.constFloat([0]), tape.constFloat([6])],
          s,
        );
      case "sigmoid":
        return tape.op("Sigmoid", [x], s);
      case "swish":
        // x · sigmoid(x), as TF.js' swish: the Mul and Sigmoid rules give
        // σ(x)·(1 + x·(1 − σ(x))).
        return tape.op("Mul", [tape.op("Sigmoid", [x], s), x], s);
      case "hard_sigmoid":
        // Keras 3's relu6(x + 3) / 6.
        return tape.op("HardSigmoid", [x], s, HARD_SIGMOID_ATTRS);
      case "hard_silu":
        return tape.op("HardSwish", [x], s);
      default:
        throw new Error(
          `graph "${graph.name}": activation "${kind}" has no training lowering`,
        );
    }
  };
  const dropout = new Map((opts.dropout ?? []).map((d) => [d.node, d]));
  const masks: TrainMask[] = [];
  const names = new Map<string, string>();
  for (const { name, shape } of graph.inputs) {
    tape.input(name, shape);
    names.set(
      name,
      shape.length === 4
        ? tape.op("Transpose", [name], toNchw(shape), { perm: [0, 3, 1, 2] })
        : name,
    );
  }
  const get = (n: string) => {
    const t = names.get(n);
    if (t == null) throw new Error(`internal: tensor "${n}" not produced`);
    return t;
  };
  for (const node of graph.nodes) {
    const x = get(node.inputs[0]);
    let y: string;
    switch (node.op) {
      case "dense": {
        const k = weight(
          `${node.name}/kernel`,
          [node.inFeatures, node.units],
          node.kernel,
        );
        y = tape.op("MatMul", [x, k], [null, node.units]);
        if (node.bias != null) {
          const b = weight(`${node.name}/bias`, [node.units], node.bias);
          y = tape.op("Add", [y, b], [null, node.units]);
        }
        // The loss reads logits: the output's softmax / sigmoid is in it.
        const isOutput = node.output === graph.outputs[0].name;
        const head =
          (loss === "softmaxCrossEntropy" && node.activation === "softmax") ||
          (loss === "sigmoidCrossEntropy" && node.activation === "sigmoid");
        y = isOutput && head ? y : act(node.activation, y);
        break;
      }
      case "affine": {
        const c = node.scale.length;
        const s = tape.shape(x);
        if (node.constant) {
          // Rescaling, Normalization: constants, no weights.
          const dims = s.length === 4 ? [c, 1, 1] : [c];
          const scale = tape.constFloat([...node.scale], dims);
          const shift = tape.constFloat([...node.shift], dims);
          y = tape.op("Add", [tape.op("Mul", [x, scale], s), shift], s);
          break;
        }
        let g = weight(`${node.name}/scale`, [c], node.scale);
        let b = weight(`${node.name}/shift`, [c], node.shift);
        if (s.length === 4) {
          const shape = tape.constInt([c, 1, 1]);
          g = tape.op("Reshape", [g, shape], [c, 1, 1]);
          b = tape.op("Reshape", [b, shape], [c, 1, 1]);
        }
        y = tape.op("Add", [tape.op("Mul", [x, g], s), b], s);
        break;
      }
      case "conv": {
        const [kh, kw] = node.kernelSize;
        const ci = node.inChannels, co = node.outChannels;
        const m = node.depthMultiplier;
        let k: string;
        if (node.depthwise) {
          // [kh, kw, ci, m] → [co, 1, kh, kw] (output channel c·m + j).
          const tfk = weight(
            `${node.name}/kernel`,
            [kh, kw, ci, m],
            node.kernel,
          );
          const r = tape.op("Reshape", [tfk, tape.constInt([kh, kw, co, 1])], [
            kh,
            kw,
            co,
            1,
          ]);
          k = tape.op("Transpose", [r], [co, 1, kh, kw], {
            perm: [2, 3, 0, 1],
          });
        } else {
          const tfk = weight(
            `${node.name}/kernel`,
            [kh, kw, ci, co],
            node.kernel,
          );
          k = tape.op("Transpose", [tfk], [co, ci, kh, kw], {
            perm: [3, 2, 0, 1],
          });
        }
        const ins = [x, k];
        if (node.bias != null) {
          ins.push(weight(`${node.name}/bias`, [co], node.bias));
        }
        const [, oh, ow] = graph.shapes[node.output] as number[];
        const p = node.pads;
        y = tape.op("Conv", ins, [null, co, oh, ow], {
          group: node.depthwise ? ci : 1,
          kernel_shape: [kh, kw],
          strides: node.strides,
          dilations: node.dilations,
          pads: [p.top, p.left, p.bottom, p.right],
        });
        y = act(node.activation, y);
        break;
      }
      case "pad": {
        const p = node.pads;
        const [n, c, h, w] = tape.shape(x);
        y = tape.op(
          "Pad",
          [x, tape.constInt([0, 0, p.top, p.left, 0, 0, p.bottom, p.right])],
          [
            n,
            c,
            (h as number) + p.top + p.bottom,
            (w as number) + p.left + p.right,
          ],
        );
        break;
      }
      case "activation":
        y = act(node.activation, x);
        break;
      case "add":
        y = x;
        for (const other of node.inputs.slice(1)) {
          y = tape.op("Add", [y, get(other)], tape.shape(x));
        }
        break;
      case "globalPool":
        if (node.mode !== "avg") {
          throw new Error(
            `graph "${graph.name}": node "${node.name}": max pooling has no training lowering`,
          );
        }
        y = reduce(tape, "ReduceMean", x, [2, 3], node.keepDims ?? false);
        break;
      case "mul": {
        // Broadcasting (an SE gate [n, C, 1, 1] times [n, C, H, W]): the Mul
        // rule sums each gradient over its operand's broadcast axes.
        const b = get(node.inputs[1]);
        const [sa, sb] = [tape.shape(x), tape.shape(b)];
        y = tape.op("Mul", [x, b], sa.map((d, i) => d === 1 ? sb[i] : d));
        break;
      }
      case "expandSpatial": {
        // [n, C] → NCHW [n, C, 1, 1].
        const c = tape.shape(x)[1] as number;
        y = tape.op("Reshape", [x, tape.constInt([-1, c, 1, 1])], [
          null,
          c,
          1,
          1,
        ]);
        break;
      }
      case "identity": {
        const d = dropout.get(node.name);
        if (d == null) {
          y = x;
          break;
        }
        const s = tape.shape(x);
        const shape = maskShape(graph.name, node.name, s, d.noiseShape);
        const input = tape.dataInput(`mask:${node.name}`, shape);
        masks.push({ input, node: node.name, rate: d.rate, shape });
        y = tape.op("Mul", [x, input], s);
        break;
      }
      default:
        throw new Error(
          `graph "${graph.name}": node "${(node as FrozenNode).name}" (${
            (node as FrozenNode).op
          }) has no training lowering yet`,
        );
    }
    names.set(node.output, y);
  }
  const logits = get(graph.outputs[0].name);
  const missing = [...dropout.keys()].filter((n) =>
    !masks.some((m) => m.node === n)
  );
  if (missing.length > 0) {
    throw new Error(
      `graph "${graph.name}": no Dropout node named ${missing.join(", ")}`,
    );
  }
  const labels = tape.dataInput("labels", tape.shape(logits));
  const sampleWeights = tape.dataInput("sample_weights", [null]);
  let lossName: string;
  if (loss === "softmaxCrossEntropy") {
    const s = tape.shape(logits);
    const logp = tape.op("LogSoftmax", [logits], s, { axis: -1 });
    const picked = tape.op("Mul", [labels, logp], s);
    const perExample = reduce(tape, "ReduceSum", picked, [s.length - 1], false);
    const weighted = tape.op("Mul", [perExample, sampleWeights], [s[0]]);
    const mean = reduce(tape, "ReduceMean", weighted, [0], false);
    lossName = tape.op("Neg", [mean], []);
  } else {
    // softplus(z) − z·y = max(z, 0) − z·y + log(1 + e^−|z|).
    const s = tape.shape(logits);
    const sp = tape.op("Softplus", [logits], s);
    const zy = tape.op("Mul", [logits, labels], s);
    const per = tape.op("Sub", [sp, zy], s);
    const w = tape.stopGradient(
      tape.emit("Reshape", [sampleWeights, tape.constInt([-1, 1])], [s[0], 1]),
    );
    const weighted = tape.op("Mul", [per, w], s);
    lossName = reduce(tape, "ReduceMean", weighted, s.map((_, i) => i), false);
  }
  const grads = tape.backward(lossName, weights.map((w) => w.name));
  // Graph outputs need their own names: Identity nodes.
  const outputs = ["loss", ...weights.map((w) => `grad:${w.name}`), "logits"];
  [lossName, ...grads, logits].forEach((t, i) => {
    tape.nodes.push({
      op: "Identity",
      name: outputs[i],
      inputs: [t],
      outputs: [outputs[i]],
    });
  });
  const dims = (s: (number | null)[]) => s.map((d) => d ?? "batch");
  const onnx = encodeOnnxModel({
    graphName: `${graph.name}:train`,
    opset: 18,
    producer: { name: "deno-transfer", version: "train" },
    nodes: tape.nodes,
    initializers: tape.initializers,
    inputs: [
      ...graph.inputs.map((i) => ({ name: i.name, dims: dims(i.shape) })),
      { name: labels, dims: dims(tape.shape(logits)) },
      { name: sampleWeights, dims: ["batch"] },
      ...masks.map((m) => ({ name: m.input, dims: dims(m.shape) })),
      ...weights.map((w) => ({ name: w.name, dims: w.shape })),
    ],
    outputs: [
      { name: "loss", dims: [] },
      ...weights.map((w) => ({ name: `grad:${w.name}`, dims: w.shape })),
      { name: "logits", dims: dims(tape.shape(logits)) },
    ],
  });
  return {
    onnx,
    inputs: graph.inputs.map((i) => i.name),
    labels,
    sampleWeights,
    masks,
    weights,
    outputs,
  };
}

/**
 * The mask shape of a Dropout on a tensor of graph shape `s` (NCHW for
 * images): `s` itself, or TF.js' channels-last `noiseShape` with its
 * `null`s filled from `s`, in the graph's layout.
 */
function maskShape(
  graph: string,
  node: string,
  s: (number | null)[],
  noiseShape: readonly (number | null)[] | null | undefined,
): (number | null)[] {
  if (noiseShape == null) return s;
  if (noiseShape.length !== s.length) {
    throw new Error(
      `graph "${graph}": node "${node}": noiseShape [${noiseShape}] does not match its input's rank ${s.length}`,
    );
  }
  const ns = s.length === 4
    ? [noiseShape[0], noiseShape[3], noiseShape[1], noiseShape[2]]
    : [...noiseShape];
  return ns.map((d, i) => (i === 0 ? null : d ?? s[i]));
}
