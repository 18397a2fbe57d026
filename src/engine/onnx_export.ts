/**
 * Serialises a frozen graph (`frozen_graph.ts`) to an ONNX `ModelProto`
 * (IR version 8, default opset 17), for ONNX Runtime (`onnx_runtime.ts`).
 *
 * The graph takes NHWC images like our batches (`[batch, H, W, C]`, batch
 * dynamic, named `"batch"`) and transposes them once to NCHW, which ONNX's
 * Conv expects; a 4-D output is transposed back to NHWC so that it can be fed
 * to a TF.js model (`outputLayout: "nchw"` skips that). The transposes cost
 * little next to the network (measured in `bench/onnx_forward.ts`:
 * `inputLayout: "nchw"` takes NCHW input directly).
 *
 * Node mapping: conv → `Conv` (depthwise: `group` = channels) with explicit
 * `pads`, then `Relu` or `Clip(0, 6)` (min/max as inputs, opset ≥ 11) — ONNX
 * Runtime fuses these into its FusedConv — or `Sigmoid`, or swish as `x ·
 * Sigmoid(x)` (`Sigmoid` + `Mul`), or Keras 3's hard sigmoid as
 * `HardSigmoid(α = 1/6, β = 1/2)` and hard_silu as `HardSwish` (opset ≥ 14;
 * `HardSigmoid` + `Mul` at 13); pad → `Pad`; affine → `Mul` +
 * `Add`; add → `Add` (two inputs) or `Sum`; globalPool →
 * `GlobalAveragePool`/`GlobalMaxPool` + `Flatten` (no `Flatten` with
 * `keepDims`); mul → `Mul` (broadcasting); expandSpatial → `Unsqueeze` of
 * axes 2, 3 (`[n, C]` → NCHW `[n, C, 1, 1]`); dense → `Gemm` (+
 * `Relu`/`Clip`/`Softmax`/`Sigmoid`); identity → `Identity`. Tensor names
 * are the IR's (internal NCHW tensors get a `:nchw` suffix), so graph inputs
 * and outputs keep the Keras layer names.
 *
 * The protobuf encoding is `onnx_proto.ts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mobileNetV2 } from "../model/mobilenet_v2.ts";
 * import { exportOnnx } from "./onnx_export.ts";
 * const base = mobileNetV2({ inputShape: [96, 96, 3], alpha: 0.35, includeTop: false });
 * const bytes = exportOnnx(base, { outputs: ["out_relu"] }); // an ONNX ModelProto
 * assert.ok(bytes.length > 400_000); // about the weights' size
 * base.dispose();
 * ```
 *
 * @module
 */

import type * as tf from "../deps/tf.ts";
import type { FrozenGraph, FrozenNode } from "./frozen_graph_ir.ts";
import { extractFrozenGraph, type ExtractOptions } from "./frozen_graph.ts";
import {
  encodeOnnxModel,
  HARD_SIGMOID_ATTRS,
  type Initializer,
  type OnnxModel,
  type OnnxNode,
} from "./_onnx_proto.ts";

/** Options of {@link frozenGraphToOnnx}. */
export interface OnnxOptions {
  /** Layout of the graph input: `"nhwc"` (default; one Transpose inside) or `"nchw"`. */
  inputLayout?: "nhwc" | "nchw";
  /** Layout of 4-D outputs: `"nhwc"` (default, as TF.js) or `"nchw"`. */
  outputLayout?: "nhwc" | "nchw";
  /** Opset of the default domain, ≥ 13. Default 17. */
  opset?: number;
  /** Fixed batch size, or null (default) for a dynamic batch dimension. */
  batch?: number | null;
}

/** Options of {@link exportOnnx}: which tensors to export, and how. */
export interface ExportOnnxOptions extends OnnxOptions, ExtractOptions {}

/** Extracts `model`'s frozen graph (up to `opts.outputs`) and serialises it. */
export function exportOnnx(
  model: tf.LayersModel,
  opts: ExportOnnxOptions = {},
): Uint8Array {
  return frozenGraphToOnnx(extractFrozenGraph(model, opts), opts);
}

/** Conv weight `[out, in / group, kh, kw]` from TF's HWIO or depthwise `[kh, kw, C, M]`. */
function onnxConvWeight(
  node: Extract<FrozenNode, { op: "conv" }>,
): Float32Array {
  const [kh, kw] = node.kernelSize;
  const { inChannels: cin, outChannels: cout, kernel } = node;
  const out = new Float32Array(kernel.length);
  if (node.depthwise) {
    // Output channel o = c * M + m reads input channel c: group = C.
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        for (let o = 0; o < cout; o++) {
          out[(o * kh + y) * kw + x] = kernel[(y * kw + x) * cout + o];
        }
      }
    }
    return out;
  }
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        const src = ((y * kw + x) * cin + i) * cout;
        for (let o = 0; o < cout; o++) {
          out[((o * cin + i) * kh + y) * kw + x] = kernel[src + o];
        }
      }
    }
  }
  return out;
}

/** Serialises `graph` to ONNX `ModelProto` bytes. */
export function frozenGraphToOnnx(
  graph: FrozenGraph,
  opts: OnnxOptions = {},
): Uint8Array {
  return encodeOnnxModel(frozenGraphToOnnxModel(graph, opts));
}

/**
 * `graph` as the ONNX model {@link frozenGraphToOnnx} encodes (nodes,
 * initializers, inputs, outputs), for transforms such as
 * `onnx_quantize.ts`' before encoding.
 */
export function frozenGraphToOnnxModel(
  graph: FrozenGraph,
  opts: OnnxOptions = {},
): OnnxModel {
  const {
    inputLayout = "nhwc",
    outputLayout = "nhwc",
    opset = 17,
    batch = null,
  } = opts;
  if (!(Number.isInteger(opset) && opset >= 13)) {
    throw new RangeError(`opset must be an integer >= 13, got ${opset}`);
  }
  const rank = (name: string) => {
    const s = graph.shapes[name];
    if (s == null) {
      throw new Error(`graph "${graph.name}": no shape for tensor "${name}"`);
    }
    return s.length;
  };
  const inputNames = new Set(graph.inputs.map((i) => i.name));
  const outputNames = new Set(graph.outputs.map((o) => o.name));
  for (const o of graph.outputs) {
    if (inputNames.has(o.name)) {
      throw new Error(
        `graph "${graph.name}": output "${o.name}" is a graph input; ONNX export needs at least one layer before each output`,
      );
    }
  }
  // ONNX name of an IR tensor: 4-D tensors are NCHW inside the graph.
  const onnxName = (name: string) => {
    if (rank(name) !== 4) return name;
    if (inputNames.has(name) && inputLayout === "nchw") return name;
    if (outputNames.has(name) && outputLayout === "nchw") return name;
    return `${name}:nchw`;
  };
  const nodes: OnnxNode[] = [];
  const inits: Initializer[] = [];
  const initNames = new Set<string>();
  const init = (t: Initializer) => {
    if (!initNames.has(t.name)) inits.push(t);
    initNames.add(t.name);
    return t.name;
  };
  const needRank = (node: FrozenNode, r: number) => {
    const got = rank(node.inputs[0]);
    if (got !== r) {
      throw new Error(
        `graph "${graph.name}": node "${node.name}" (${node.op}) expects a rank-${r} input, got rank ${got}`,
      );
    }
  };
  /** Appends an activation reading `x`, writing `y`. */
  const activation = (
    name: string,
    kind: string,
    x: string,
    y: string,
    r: number,
  ) => {
    switch (kind) {
      case "relu":
        nodes.push({ op: "Relu", name, inputs: [x], outputs: [y] });
        break;
      case "relu6": {
        const lo = init({
          name: "relu6:min",
          dims: [],
          type: "float",
          data: new Float32Array([0]),
        });
        const hi = init({
          name: "relu6:max",
          dims: [],
          type: "float",
          data: new Float32Array([6]),
        });
        nodes.push({ op: "Clip", name, inputs: [x, lo, hi], outputs: [y] });
        break;
      }
      case "softmax":
        // Channels are axis 1 in both [n, C] and NCHW.
        nodes.push({
          op: "Softmax",
          name,
          inputs: [x],
          outputs: [y],
          attrs: { axis: r === 2 || r === 4 ? 1 : -1 },
        });
        break;
      case "sigmoid":
        nodes.push({ op: "Sigmoid", name, inputs: [x], outputs: [y] });
        break;
      case "swish": {
        // x · sigmoid(x) (Keras' silu); ONNX Runtime fuses the pair.
        const sig = `${name}:sigmoid`;
        nodes.push({ op: "Sigmoid", name: sig, inputs: [x], outputs: [sig] });
        nodes.push({ op: "Mul", name, inputs: [x, sig], outputs: [y] });
        break;
      }
      case "hard_sigmoid":
        // Keras 3's relu6(x + 3) / 6 = clip(x / 6 + 1/2, 0, 1); ONNX Runtime
        // fuses it into a preceding Conv.
        nodes.push({
          op: "HardSigmoid",
          name,
          inputs: [x],
          outputs: [y],
          attrs: HARD_SIGMOID_ATTRS,
        });
        break;
      case "hard_silu":
        if (opset >= 14) {
          // HardSwish is x · HardSigmoid(α = 1/6, β = 1/2)(x), Keras 3's
          // hard_silu.
          nodes.push({ op: "HardSwish", name, inputs: [x], outputs: [y] });
        } else {
          const gate = `${name}:gate`;
          activation(gate, "hard_sigmoid", x, gate, r);
          nodes.push({ op: "Mul", name, inputs: [x, gate], outputs: [y] });
        }
        break;
      default:
        throw new Error(`internal: activation "${kind}"`);
    }
  };

  for (const input of graph.inputs) {
    if (input.shape.length === 4 && inputLayout === "nhwc") {
      nodes.push({
        op: "Transpose",
        name: `${input.name}:to_nchw`,
        inputs: [input.name],
        outputs: [onnxName(input.name)],
        attrs: { perm: [0, 3, 1, 2] },
      });
    }
  }
  for (const node of graph.nodes) {
    const x = node.inputs.map(onnxName);
    const y = onnxName(node.output);
    switch (node.op) {
      case "conv": {
        needRank(node, 4);
        const [kh, kw] = node.kernelSize;
        const group = node.depthwise ? node.inChannels : 1;
        const w = init({
          name: `${node.name}:W`,
          dims: [node.outChannels, node.inChannels / group, kh, kw],
          type: "float",
          data: onnxConvWeight(node),
        });
        const inputs = [x[0], w];
        if (node.bias) {
          inputs.push(
            init({
              name: `${node.name}:B`,
              dims: [node.outChannels],
              type: "float",
              data: node.bias,
            }),
          );
        }
        const convOut = node.activation === "linear" ? y : `${node.name}:conv`;
        const { top, left, bottom, right } = node.pads;
        nodes.push({
          op: "Conv",
          name: node.name,
          inputs,
          outputs: [convOut],
          attrs: {
            kernel_shape: [kh, kw],
            strides: node.strides,
            dilations: node.dilations,
            pads: [top, left, bottom, right],
            group,
          },
        });
        if (node.activation !== "linear") {
          activation(
            `${node.name}:${node.activation}`,
            node.activation,
            convOut,
            y,
            4,
          );
        }
        break;
      }
      case "pad": {
        needRank(node, 4);
        const { top, left, bottom, right } = node.pads;
        const pads = init({
          name: `${node.name}:pads`,
          dims: [8],
          type: "int64",
          data: [0, 0, top, left, 0, 0, bottom, right],
        });
        nodes.push({
          op: "Pad",
          name: node.name,
          inputs: [x[0], pads],
          outputs: [y],
        });
        break;
      }
      case "affine": {
        const r = rank(node.inputs[0]);
        const c = node.scale.length;
        const dims = r === 4 ? [c, 1, 1] : [c];
        const scale = init({
          name: `${node.name}:scale`,
          dims,
          type: "float",
          data: node.scale,
        });
        const shift = init({
          name: `${node.name}:shift`,
          dims,
          type: "float",
          data: node.shift,
        });
        const mid = `${node.name}:scaled`;
        nodes.push({
          op: "Mul",
          name: `${node.name}:mul`,
          inputs: [x[0], scale],
          outputs: [mid],
        });
        nodes.push({
          op: "Add",
          name: `${node.name}:add`,
          inputs: [mid, shift],
          outputs: [y],
        });
        break;
      }
      case "activation":
        activation(node.name, node.activation, x[0], y, rank(node.inputs[0]));
        break;
      case "add":
        nodes.push({
          op: x.length === 2 ? "Add" : "Sum",
          name: node.name,
          inputs: x,
          outputs: [y],
        });
        break;
      case "globalPool": {
        needRank(node, 4);
        const pooled = node.keepDims ? y : `${node.name}:pooled`;
        nodes.push({
          op: node.mode === "avg" ? "GlobalAveragePool" : "GlobalMaxPool",
          name: node.name,
          inputs: [x[0]],
          outputs: [pooled],
        });
        if (!node.keepDims) {
          nodes.push({
            op: "Flatten",
            name: `${node.name}:flatten`,
            inputs: [pooled],
            outputs: [y],
            attrs: { axis: 1 },
          });
        }
        break;
      }
      case "mul":
        // Both operands share the layout (NCHW for rank 4), so ONNX's
        // numpy broadcasting over size-1 axes is TF.js'.
        nodes.push({ op: "Mul", name: node.name, inputs: x, outputs: [y] });
        break;
      case "expandSpatial": {
        needRank(node, 2);
        const axes = init({
          name: "expandSpatial:axes",
          dims: [2],
          type: "int64",
          data: [2, 3],
        });
        nodes.push({
          op: "Unsqueeze",
          name: node.name,
          inputs: [x[0], axes],
          outputs: [y],
        });
        break;
      }
      case "dense": {
        needRank(node, 2);
        const w = init({
          name: `${node.name}:W`,
          dims: [node.inFeatures, node.units],
          type: "float",
          data: node.kernel,
        });
        const inputs = [x[0], w];
        if (node.bias) {
          inputs.push(
            init({
              name: `${node.name}:B`,
              dims: [node.units],
              type: "float",
              data: node.bias,
            }),
          );
        }
        const gemmOut = node.activation === "linear" ? y : `${node.name}:gemm`;
        nodes.push({ op: "Gemm", name: node.name, inputs, outputs: [gemmOut] });
        if (node.activation !== "linear") {
          activation(
            `${node.name}:${node.activation}`,
            node.activation,
            gemmOut,
            y,
            2,
          );
        }
        break;
      }
      case "identity":
        nodes.push({
          op: "Identity",
          name: node.name,
          inputs: [x[0]],
          outputs: [y],
        });
        break;
    }
  }
  for (const output of graph.outputs) {
    const internal = onnxName(output.name);
    if (internal !== output.name) {
      nodes.push({
        op: "Transpose",
        name: `${output.name}:to_nhwc`,
        inputs: [internal],
        outputs: [output.name],
        attrs: { perm: [0, 2, 3, 1] },
      });
    }
  }

  const batchDim: number | string = batch ?? "batch";
  const dimsOf = (
    shape: (number | null)[],
    nchw: boolean,
  ): (number | string)[] => {
    const d = shape.map((s, i) => (i === 0 ? batchDim : s ?? `d${i}`));
    return nchw && d.length === 4 ? [d[0], d[3], d[1], d[2]] : d;
  };
  return {
    graphName: graph.name,
    opset,
    producer: { name: "deno-transfer", version: "frozen_graph" },
    nodes,
    initializers: inits,
    inputs: graph.inputs.map((i) => ({
      name: i.name,
      dims: dimsOf(i.shape, inputLayout === "nchw"),
    })),
    outputs: graph.outputs.map((o) => ({
      name: o.name,
      dims: dimsOf(o.shape, outputLayout === "nchw"),
    })),
  };
}
