/**
 * A fused TF.js executor of the frozen graph IR (`frozen_graph.ts`): the
 * frozen base run as one `tf.fused.*` op per convolution (bias and
 * ReLU/ReLU6 fused, BatchNormalization and zero padding already folded into
 * the weights and pads by the extraction) instead of the layers model's
 * conv → BatchNormalization → ReLU6 (→ ZeroPadding2D) chain of separate ops.
 * Same numbers as `model.predict` up to float rounding, fewer passes over
 * the activations; `bench/fused_forward.ts` measures the difference.
 *
 * Built once by {@link fusedGraphModel}: every weight is uploaded as a TF.js
 * tensor on the current backend and kept until `dispose()`; each node is
 * compiled into one closure. A forward pass (`predict`) runs the nodes in
 * order inside one `tf.tidy`, and frees each intermediate tensor as soon as
 * its last consumer has run (as the layers model's `execute` does), so the
 * peak memory is that of the live activations, not of the whole network.
 *
 * Node mapping:
 * - conv → `tf.fused.conv2d` / `tf.fused.depthwiseConv2d` with the folded
 *   bias and `linear` / `relu` / `relu6` / `sigmoid` fused (swish, which
 *   TF.js cannot fuse, follows as `sigmoid(y) · y`, TF.js' own swish; the
 *   hard sigmoid as `relu6(y + 3) · float32(1/6)` and hard_silu as `y ·
 *   hard_sigmoid(y)`, as MobileNetV3's composing layers). Pads (see
 *   {@link FusedGraphOptions.pads}): `"valid"` when zero, `"same"` when they
 *   are TensorFlow's "same" padding for the node's input size (the usual
 *   case, including MobileNetV2's folded `correct_pad` ZeroPadding2D), and
 *   explicit `[[0, 0], [top, bottom], [left, right], [0, 0]]` otherwise.
 *   The string forms keep each backend's fast paths (WebGPU runs a 1×1
 *   "valid" conv as a matMul, XNNPACK takes TF's SAME flag). The public type
 *   of `tf.fused.depthwiseConv2d` leaves explicit pads out, but in TF.js
 *   4.22 every backend's kernel (cpu, wasm, webgpu) goes through
 *   `computeConv2DInfo`, which takes them; `tests/engine/fused_graph_test.ts`
 *   checks that explicit pads give the layers model's numbers on each
 *   backend.
 * - pad → `tf.pad`; affine → `x * scale + shift`; activation → `tf.relu`,
 *   `tf.relu6`, `tf.softmax` (last axis), `tf.sigmoid`, swish, the hard
 *   ones; add → `tf.add` /
 *   `tf.addN`; globalPool → `tf.mean` / `tf.max` over `[1, 2]` (keeping
 *   them with `keepDims`); mul → `tf.mul` (broadcasting); expandSpatial →
 *   `tf.reshape` to `[n, 1, 1, C]`;
 *   dense → `tf.fused.matMul` with the bias and `linear` / `relu` / `relu6`
 *   / `sigmoid` fused (softmax, swish and the hard ones, which TF.js cannot
 *   fuse, follow it); identity → `tf.clone`.
 *
 * Multi-output graphs (the crossing tensors of a cut, `crossingTensors`) and
 * multi-input graphs (the part above a cut) work; outputs come back in the
 * graph's output order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "../deps/tf.ts";
 * import { mobileNetV2 } from "../model/mobilenet_v2.ts";
 * import { extractFrozenGraph } from "./frozen_graph.ts";
 * import { fusedGraphModel } from "./fused_graph.ts";
 * const base = mobileNetV2({ inputShape: [96, 96, 3], alpha: 0.35, includeTop: false, pooling: "avg" });
 * const fused = fusedGraphModel(extractFrozenGraph(base));
 * const images = tf.randomUniform([2, 96, 96, 3], -1, 1);
 * const features = fused.predict(images) as tf.Tensor2D; // caller disposes
 * assert.deepEqual(features.shape, [2, 1280]);
 * tf.dispose([images, features]);
 * fused.dispose();
 * base.dispose();
 * ```
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import type {
  ConvNode,
  FrozenGraph,
  FrozenNode,
  Pads,
  TensorInfo,
} from "./frozen_graph_ir.ts";
import { samePadding } from "./_frozen_graph_pads.ts";
import { extractFrozenGraph, type ExtractOptions } from "./frozen_graph.ts";

/**
 * Version of the executor's numerics, for cache keys: bump it when a change
 * here can change output values (a different op, pad form or fusion).
 */
export const FUSED_GRAPH_VERSION = 2;

/** Options of {@link fusedGraphModel}. */
export interface FusedGraphOptions {
  /**
   * How convolution pads reach TF.js:
   * - `"auto"` (default): `"valid"` / `"same"` where they match, explicit
   *   pads otherwise (see the module doc);
   * - `"explicit"`: always the explicit form (zero pads included);
   * - `"pad-op"`: a separate `tf.pad` before a `"valid"` convolution.
   *
   * All three give the same values; the last two exist to test and compare
   * the forms.
   */
  pads?: "auto" | "explicit" | "pad-op";
}

/** A frozen graph compiled into fused TF.js ops, weights on the backend. */
export interface FusedGraphModel {
  /** Name of the source model. */
  readonly name: string;
  /** Graph inputs, in the order `predict` takes them. */
  readonly inputs: readonly TensorInfo[];
  /** Graph outputs, in the order `predict` returns them. */
  readonly outputs: readonly TensorInfo[];
  /** Per-example shape of each output (batch dimension left out). */
  readonly outputShapes: number[][];
  /** The TF.js backend the weights were uploaded to. */
  readonly backend: string;
  /** Number of weight tensors held (kernels and biases). */
  readonly weightTensors: number;
  /**
   * Runs a batch: one tensor per graph input (a single tensor for a
   * one-input graph), in {@link inputs} order. Returns one tensor for a
   * one-output graph, else an array in {@link outputs} order; the caller
   * owns (and disposes) what is returned and keeps its inputs.
   */
  predict(xs: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[];
  /** Like {@link predict}, always returning an array. */
  execute(xs: tf.Tensor | tf.Tensor[]): tf.Tensor[];
  /** Frees the weight tensors; later calls throw. Idempotent. */
  dispose(): void;
}

/** One compiled node: reads its inputs, returns its output. */
interface Step {
  inputs: string[];
  output: string;
  run: (ins: tf.Tensor[]) => tf.Tensor;
}

type Shape = (number | null)[];

/**
 * {@link extractFrozenGraph} on any backend: first reads every weight of
 * `model` asynchronously, which leaves a copy of its values on the CPU, so
 * that the extraction's synchronous reads (`dataSync`) find them. Needed on
 * WebGPU, where a weight that has been used on the GPU has no CPU copy and
 * Deno cannot read GPU buffers synchronously (TF.js' `readSync` needs an
 * `OffscreenCanvas` 2D context). The values stay cached while the weights
 * are not reassigned, so do not let a weight update race with this call.
 * On cpu and wasm it costs one extra read of each weight.
 */
export async function extractFrozenGraphAsync(
  model: tf.LayersModel,
  opts: ExtractOptions = {},
): Promise<FrozenGraph> {
  await Promise.all(model.weights.map((w) => w.read().data()));
  return extractFrozenGraph(model, opts);
}

/**
 * Extracts `model`'s frozen graph (up to `extract.outputs`, see
 * {@link extractFrozenGraphAsync}) and compiles it with
 * {@link fusedGraphModel} on the current backend.
 */
export async function fusedModelOf(
  model: tf.LayersModel,
  extract: ExtractOptions = {},
  opts: FusedGraphOptions = {},
): Promise<FusedGraphModel> {
  return fusedGraphModel(await extractFrozenGraphAsync(model, extract), opts);
}
/** TF.js' explicit NHWC padding: `[[0, 0], [top, bottom], [left, right], [0, 0]]`. */
type ExplicitPads = [
  [number, number],
  [number, number],
  [number, number],
  [number, number],
];

/**
 * Compiles `graph` for the current TF.js backend: uploads its weights (kept
 * until `dispose()`) and returns the executor. Throws, naming the graph and
 * node, for a node this executor cannot run (an unknown op or activation,
 * a non-4D convolution input).
 */
export function fusedGraphModel(
  graph: FrozenGraph,
  opts: FusedGraphOptions = {},
): FusedGraphModel {
  const padMode = opts.pads ?? "auto";
  if (!["auto", "explicit", "pad-op"].includes(padMode)) {
    throw new Error(
      `fusedGraphModel: option "pads" must be "auto", "explicit" or "pad-op", got ${
        JSON.stringify(padMode)
      }`,
    );
  }
  const weights: tf.Tensor[] = [];
  const upload = <T extends tf.Tensor>(t: T): T => {
    weights.push(t);
    return t;
  };
  let steps: Step[];
  try {
    steps = graph.nodes.map((node) =>
      compile(
        graph,
        node,
        padMode,
        (values, shape) => upload(tf.tensor(values, shape)),
      )
    );
  } catch (e) {
    tf.dispose(weights);
    throw e;
  }

  // Last step reading each tensor: an intermediate is freed right after it.
  // Outputs are never freed here (tf.tidy keeps what it returns).
  const lastUse = new Map<string, number>();
  steps.forEach((s, i) => s.inputs.forEach((n) => lastUse.set(n, i)));
  const outputNames = graph.outputs.map((o) => o.name);
  for (const n of outputNames) lastUse.set(n, Infinity);
  const inputNames = new Set(graph.inputs.map((i) => i.name));
  const known = new Set([...inputNames, ...steps.map((s) => s.output)]);
  for (const n of outputNames) {
    if (!known.has(n)) {
      throw new Error(
        `fusedGraphModel: graph "${graph.name}" has output "${n}", which no node produces and is not an input`,
      );
    }
  }
  const frees: string[][] = steps.map(() => []);
  for (const [n, i] of lastUse) {
    if (Number.isFinite(i) && !inputNames.has(n)) frees[i].push(n);
  }
  for (const [i, s] of steps.entries()) {
    // A node output nobody reads (cannot happen in an extracted graph):
    // free it after its own step.
    if (!lastUse.has(s.output)) frees[i].push(s.output);
  }

  let disposed = false;
  const execute = (xs: tf.Tensor | tf.Tensor[]): tf.Tensor[] => {
    if (disposed) {
      throw new Error(
        `fused graph "${graph.name}" was disposed; build a new one with fusedGraphModel`,
      );
    }
    const list = Array.isArray(xs) ? xs : [xs];
    checkInputs(graph, list);
    return tf.tidy(() => {
      const env = new Map<string, tf.Tensor>();
      graph.inputs.forEach((info, i) => env.set(info.name, list[i]));
      steps.forEach((step, i) => {
        const ins = step.inputs.map((n) => env.get(n)!);
        env.set(step.output, step.run(ins));
        for (const n of frees[i]) {
          env.get(n)!.dispose();
          env.delete(n);
        }
      });
      // A graph input requested as an output is returned as a copy, so
      // that the caller may dispose outputs and inputs independently.
      return outputNames.map((n) =>
        inputNames.has(n) ? tf.clone(env.get(n)!) : env.get(n)!
      );
    });
  };

  return {
    name: graph.name,
    inputs: graph.inputs,
    outputs: graph.outputs,
    outputShapes: graph.outputs.map((o) => o.shape.slice(1) as number[]),
    backend: tf.getBackend(),
    weightTensors: weights.length,
    execute,
    predict(xs) {
      const out = execute(xs);
      return out.length === 1 ? out[0] : out;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      tf.dispose(weights);
      weights.length = 0;
    },
  };
}

/** Checks the number, rank and fixed dimensions of the inputs. */
function checkInputs(graph: FrozenGraph, xs: tf.Tensor[]): void {
  if (xs.length !== graph.inputs.length) {
    throw new Error(
      `fused graph "${graph.name}" takes ${graph.inputs.length} input(s) (${
        graph.inputs.map((i) => i.name).join(", ")
      }), got ${xs.length}`,
    );
  }
  graph.inputs.forEach((info, i) => {
    const shape = xs[i].shape;
    const ok = shape.length === info.shape.length &&
      info.shape.every((d, k) => d == null || d === shape[k]);
    if (!ok) {
      throw new Error(
        `fused graph "${graph.name}": input "${info.name}" must have shape [${
          info.shape.map((d) => d ?? "batch").join(", ")
        }], got [${shape.join(", ")}]`,
      );
    }
  });
}

type Upload = (values: Float32Array, shape: number[]) => tf.Tensor;

function compile(
  graph: FrozenGraph,
  node: FrozenNode,
  padMode: NonNullable<FusedGraphOptions["pads"]>,
  upload: Upload,
): Step {
  const base = { inputs: node.inputs, output: node.output };
  const fail = (why: string) =>
    new Error(
      `fusedGraphModel: graph "${graph.name}", node "${node.name}" (${node.op}): ${why}`,
    );
  switch (node.op) {
    case "conv":
      return { ...base, run: compileConv(graph, node, padMode, upload, fail) };
    case "pad": {
      const p = padArray(node.pads);
      return { ...base, run: ([x]) => tf.pad(x, p) };
    }
    case "affine": {
      const scale = upload(node.scale, [node.scale.length]);
      const shift = upload(node.shift, [node.shift.length]);
      return { ...base, run: ([x]) => tf.add(tf.mul(x, scale), shift) };
    }
    case "activation": {
      const f = standalone(node.activation, fail);
      return { ...base, run: ([x]) => f(x) };
    }
    case "add":
      if (node.inputs.length < 2) {
        throw fail(`needs two or more inputs, got ${node.inputs.length}`);
      }
      return {
        ...base,
        run: (ins) => ins.length === 2 ? tf.add(ins[0], ins[1]) : tf.addN(ins),
      };
    case "globalPool": {
      if (node.mode !== "avg" && node.mode !== "max") {
        throw fail(`unknown pooling mode "${node.mode}"`);
      }
      const keep = node.keepDims ?? false;
      return {
        ...base,
        run: node.mode === "avg"
          ? ([x]) => tf.mean(x, [1, 2], keep)
          : ([x]) => tf.max(x, [1, 2], keep),
      };
    }
    case "mul":
      if (node.inputs.length !== 2) {
        throw fail(`needs two inputs, got ${node.inputs.length}`);
      }
      return { ...base, run: ([a, b]) => tf.mul(a, b) };
    case "expandSpatial":
      return {
        ...base,
        run: ([x]) => tf.reshape(x, [x.shape[0], 1, 1, x.shape[1]!]),
      };
    case "dense": {
      const kernel = upload(node.kernel, [node.inFeatures, node.units]);
      const bias = node.bias ? upload(node.bias, [node.units]) : undefined;
      const act = node.activation;
      if (act === "softmax") {
        return {
          ...base,
          run: ([x]) =>
            tf.softmax(
              tf.fused.matMul({ a: x as tf.Tensor2D, b: kernel, bias }),
            ),
        };
      }
      const post = POST_ACTIVATIONS[act];
      if (post) {
        return {
          ...base,
          run: ([x]) =>
            tf.tidy(() =>
              post(tf.fused.matMul({ a: x as tf.Tensor2D, b: kernel, bias }))
            ),
        };
      }
      if (!TFJS_FUSED.includes(act)) {
        throw fail(`activation "${act}" is not supported`);
      }
      return {
        ...base,
        run: ([x]) =>
          tf.fused.matMul({
            a: x as tf.Tensor2D,
            b: kernel,
            bias,
            activation: act as "linear" | "relu" | "relu6" | "sigmoid",
          }),
      };
    }
    case "identity":
      return { ...base, run: ([x]) => tf.clone(x) };
    default:
      throw fail(
        `unknown op (supported: conv, pad, affine, activation, add, globalPool, mul, expandSpatial, dense, identity)`,
      );
  }
}

/** TF.js' explicit padding array of NHWC `pads`. */
function padArray(p: Pads): ExplicitPads {
  return [[0, 0], [p.top, p.bottom], [p.left, p.right], [0, 0]];
}

const ZERO_PADS: Pads = { top: 0, bottom: 0, left: 0, right: 0 };

function compileConv(
  graph: FrozenGraph,
  node: ConvNode,
  padMode: NonNullable<FusedGraphOptions["pads"]>,
  upload: Upload,
  fail: (why: string) => Error,
): Step["run"] {
  const inShape = graph.shapes[node.inputs[0]] as Shape | undefined;
  if (inShape != null && inShape.length !== 4) {
    throw fail(`expects a rank-4 NHWC input, got shape [${inShape}]`);
  }
  const post = POST_ACTIVATIONS[node.activation];
  if (
    !post && !TFJS_FUSED.includes(node.activation)
  ) {
    throw fail(`activation "${node.activation}" is not supported`);
  }
  const [kh, kw] = node.kernelSize;
  const kernel = upload(node.kernel, [
    kh,
    kw,
    node.inChannels,
    node.depthwise ? node.depthMultiplier : node.outChannels,
  ]) as tf.Tensor4D;
  const bias = node.bias
    ? upload(node.bias, [node.outChannels]) as tf.Tensor1D
    : undefined;
  const strides = node.strides;
  const dilations = node.dilations;
  // TF.js fuses linear, relu, relu6 and sigmoid; the others follow the
  // linear convolution (POST_ACTIVATIONS).
  const activation = post
    ? "linear"
    : node.activation as "linear" | "relu" | "relu6" | "sigmoid";
  const prePad = padMode === "pad-op" && !samePads(node.pads, ZERO_PADS)
    ? padArray(node.pads)
    : null;
  const pad = prePad ? "valid" : convPad(node, inShape ?? null, padMode);
  const conv = node.depthwise
    ? (x: tf.Tensor4D) =>
      tf.fused.depthwiseConv2d({
        x,
        filter: kernel,
        strides,
        dilations,
        // Explicit pads work in every backend's kernel; the public type
        // lists only "valid" | "same" | number (see the module doc).
        pad: pad as "valid",
        bias,
        activation,
      })
    : (x: tf.Tensor4D) =>
      tf.fused.conv2d({
        x,
        filter: kernel,
        strides,
        dilations,
        pad,
        bias,
        activation,
      });
  const run: Step["run"] = prePad
    ? ([x]) => conv(tf.pad(x as tf.Tensor4D, prePad))
    : ([x]) => conv(x as tf.Tensor4D);
  // One tidy, so that the linear output and the activation's temporaries
  // are freed at once, not when the whole pass ends.
  return post ? (ins) => tf.tidy(() => post(run(ins))) : run;
}

/** Activations `tf.fused.conv2d` / `depthwiseConv2d` / `matMul` apply themselves. */
const TFJS_FUSED: readonly string[] = ["linear", "relu", "relu6", "sigmoid"];

/** `relu6(x + 3) · float32(1/6)`, as MobileNetV3's composing layers compute it. */
const hardSigmoidOf = (x: tf.Tensor) =>
  tf.mul(tf.relu6(tf.add(x, 3)), Math.fround(1 / 6));

/**
 * Activations TF.js' fused kernels lack, applied after a linear convolution
 * or matMul as the layers they stand for compute them: swish as TF.js'
 * `swish` activation (`sigmoid(x) · x`), the hard ones as MobileNetV3's
 * composing Rescaling → ReLU(6) → Rescaling (→ Multiply) layers.
 */
const POST_ACTIVATIONS: Partial<
  Record<string, (x: tf.Tensor) => tf.Tensor>
> = {
  swish: (x) => tf.mul(tf.sigmoid(x), x),
  hard_sigmoid: hardSigmoidOf,
  hard_silu: (x) => tf.mul(x, hardSigmoidOf(x)),
};

/**
 * The `pad` argument for a convolution: `"valid"` for zero pads, `"same"`
 * when the pads are TF's "same" padding for the input size (for an unknown
 * size: only at stride 1, where "same" does not depend on it), else the
 * explicit array. `"explicit"` mode always returns the array.
 */
function convPad(
  node: ConvNode,
  inShape: Shape | null,
  padMode: NonNullable<FusedGraphOptions["pads"]>,
): "valid" | "same" | ExplicitPads {
  const explicit = padArray(node.pads);
  if (padMode === "explicit") return explicit;
  if (samePads(node.pads, ZERO_PADS)) return "valid";
  const same = [0, 1].map((i) => {
    const size = inShape?.[1 + i] ?? null;
    const k = node.kernelSize[i];
    const s = node.strides[i];
    const d = node.dilations[i];
    if (size != null) return samePadding(size, k, s, d);
    return s === 1 ? samePadding(k, k, 1, d) : null;
  });
  if (same[0] == null || same[1] == null) return explicit;
  const samePad: Pads = {
    top: same[0][0],
    bottom: same[0][1],
    left: same[1][0],
    right: same[1][1],
  };
  return samePads(node.pads, samePad) ? "same" : explicit;
}

function samePads(a: Pads, b: Pads): boolean {
  return a.top === b.top && a.bottom === b.bottom && a.left === b.left &&
    a.right === b.right;
}

function standalone(
  activation: string,
  fail: (why: string) => Error,
): (x: tf.Tensor) => tf.Tensor {
  switch (activation) {
    case "relu":
      return (x) => tf.relu(x);
    case "relu6":
      return (x) => tf.relu6(x);
    case "softmax":
      return (x) => tf.softmax(x);
    case "sigmoid":
      return (x) => tf.sigmoid(x);
    default: {
      const post = POST_ACTIVATIONS[activation];
      if (post) return (x) => tf.tidy(() => post(x));
      throw fail(`activation "${activation}" is not supported`);
    }
  }
}
