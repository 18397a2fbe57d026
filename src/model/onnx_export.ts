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
 * Runtime fuses these into its FusedConv; pad → `Pad`; affine → `Mul` +
 * `Add`; add → `Add` (two inputs) or `Sum`; globalPool →
 * `GlobalAveragePool`/`GlobalMaxPool` + `Flatten`; dense → `Gemm` (+
 * `Relu`/`Clip`/`Softmax`/`Sigmoid`); identity → `Identity`. Tensor names
 * are the IR's (internal NCHW tensors get a `:nchw` suffix), so graph inputs
 * and outputs keep the Keras layer names.
 *
 * Encoding: a small hand-written protobuf writer covering the handful of
 * messages and fields needed (field numbers from `onnx/onnx.proto`, which
 * proto2 keeps stable). It avoids a runtime dependency and a schema load for
 * what is a write-only job; the npm packages with generated ONNX protos
 * (`onnx-proto`) pin an old protobufjs 6 and are not actively maintained.
 *
 * @example
 * ```ts
 * import { exportOnnx } from "./onnx_export.ts";
 * const bytes = exportOnnx(base, { outputs: ["out_relu"] });
 * ```
 *
 * @module
 */

import type { tf } from "../deps.ts";
import {
  extractFrozenGraph,
  type ExtractOptions,
  type FrozenGraph,
  type FrozenNode,
} from "./frozen_graph.ts";

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

// ---------------------------------------------------------------------------
// Protobuf writer

/** Appends protobuf wire-format fields to a growable buffer. */
class Writer {
  #buf = new Uint8Array(64);
  #len = 0;

  #reserve(n: number) {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  #varint(v: number | bigint) {
    this.#reserve(10);
    // int64 as two's complement, 10 bytes when negative.
    let x = BigInt.asUintN(64, BigInt(v));
    do {
      let byte = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) byte |= 0x80;
      this.#buf[this.#len++] = byte;
    } while (x !== 0n);
  }

  #tag(field: number, wire: 0 | 2 | 5) {
    this.#varint((field << 3) | wire);
  }

  /** varint field (int32, int64, enum). */
  int(field: number, v: number): this {
    this.#tag(field, 0);
    this.#varint(v);
    return this;
  }

  /** fixed32 float field. */
  float(field: number, v: number): this {
    this.#tag(field, 5);
    this.#reserve(4);
    new DataView(this.#buf.buffer).setFloat32(this.#len, v, true);
    this.#len += 4;
    return this;
  }

  /** Length-delimited bytes field. */
  bytes(field: number, v: Uint8Array): this {
    this.#tag(field, 2);
    this.#varint(v.length);
    this.#reserve(v.length);
    this.#buf.set(v, this.#len);
    this.#len += v.length;
    return this;
  }

  /** UTF-8 string field. */
  string(field: number, v: string): this {
    return this.bytes(field, new TextEncoder().encode(v));
  }

  /** Embedded message field. */
  message(field: number, build: (w: Writer) => void): this {
    const w = new Writer();
    build(w);
    return this.bytes(field, w.finish());
  }

  /** The bytes written so far. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

// Field numbers, from onnx.proto.
const MODEL = {
  irVersion: 1,
  producerName: 2,
  producerVersion: 3,
  docString: 6,
  graph: 7,
  opsetImport: 8,
};
const OPSET = { domain: 1, version: 2 };
const GRAPH = { node: 1, name: 2, initializer: 5, input: 11, output: 12 };
const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5 };
const ATTR = { name: 1, f: 2, i: 3, s: 4, ints: 8, type: 20 };
const ATTR_TYPE = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 };
const TENSOR = { dims: 1, dataType: 2, name: 8, rawData: 9 };
const DTYPE = { FLOAT: 1, INT64: 7 };
const VALUE_INFO = { name: 1, type: 2 };
const TYPE = { tensorType: 1 };
const TYPE_TENSOR = { elemType: 1, shape: 2 };
const SHAPE = { dim: 1 };
const DIM = { value: 1, param: 2 };

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function floatBytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  data.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

function int64Bytes(data: number[]): Uint8Array {
  const out = new Uint8Array(data.length * 8);
  const view = new DataView(out.buffer);
  data.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return out;
}

type AttrValue = number | number[] | string | { float: number };

interface OnnxNode {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
}

interface Initializer {
  name: string;
  dims: number[];
  type: "float" | "int64";
  data: Float32Array | number[];
}

function writeNode(w: Writer, n: OnnxNode) {
  for (const i of n.inputs) w.string(NODE.input, i);
  for (const o of n.outputs) w.string(NODE.output, o);
  w.string(NODE.name, n.name);
  w.string(NODE.opType, n.op);
  for (const [key, v] of Object.entries(n.attrs ?? {})) {
    w.message(NODE.attribute, (a) => {
      a.string(ATTR.name, key);
      if (typeof v === "number") {
        a.int(ATTR.i, v).int(ATTR.type, ATTR_TYPE.INT);
      } else if (typeof v === "string") {
        a.string(ATTR.s, v).int(ATTR.type, ATTR_TYPE.STRING);
      } else if (Array.isArray(v)) {
        for (const x of v) a.int(ATTR.ints, x);
        a.int(ATTR.type, ATTR_TYPE.INTS);
      } else {
        a.float(ATTR.f, v.float).int(ATTR.type, ATTR_TYPE.FLOAT);
      }
    });
  }
}

function writeInitializer(w: Writer, t: Initializer) {
  for (const d of t.dims) w.int(TENSOR.dims, d);
  w.int(TENSOR.dataType, t.type === "float" ? DTYPE.FLOAT : DTYPE.INT64);
  w.string(TENSOR.name, t.name);
  w.bytes(
    TENSOR.rawData,
    t.type === "float"
      ? floatBytes(t.data as Float32Array)
      : int64Bytes(t.data as number[]),
  );
}

function writeValueInfo(w: Writer, name: string, dims: (number | string)[]) {
  w.string(VALUE_INFO.name, name);
  w.message(VALUE_INFO.type, (t) =>
    t.message(TYPE.tensorType, (tt) => {
      tt.int(TYPE_TENSOR.elemType, DTYPE.FLOAT);
      tt.message(TYPE_TENSOR.shape, (s) => {
        for (const d of dims) {
          s.message(SHAPE.dim, (dim) => {
            if (typeof d === "number") dim.int(DIM.value, d);
            else dim.string(DIM.param, d);
          });
        }
      });
    }));
}

// ---------------------------------------------------------------------------
// Graph translation

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
        const pooled = `${node.name}:pooled`;
        nodes.push({
          op: node.mode === "avg" ? "GlobalAveragePool" : "GlobalMaxPool",
          name: node.name,
          inputs: [x[0]],
          outputs: [pooled],
        });
        nodes.push({
          op: "Flatten",
          name: `${node.name}:flatten`,
          inputs: [pooled],
          outputs: [y],
          attrs: { axis: 1 },
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
  const model = new Writer();
  model.int(MODEL.irVersion, 8);
  model.string(MODEL.producerName, "deno-transfer");
  model.string(MODEL.producerVersion, "frozen_graph");
  model.message(
    MODEL.opsetImport,
    (o) => o.string(OPSET.domain, "").int(OPSET.version, opset),
  );
  model.message(MODEL.graph, (g) => {
    for (const n of nodes) g.message(GRAPH.node, (w) => writeNode(w, n));
    g.string(GRAPH.name, graph.name);
    for (const t of inits) {
      g.message(GRAPH.initializer, (w) => writeInitializer(w, t));
    }
    for (const i of graph.inputs) {
      g.message(
        GRAPH.input,
        (w) =>
          writeValueInfo(w, i.name, dimsOf(i.shape, inputLayout === "nchw")),
      );
    }
    for (const o of graph.outputs) {
      g.message(
        GRAPH.output,
        (w) =>
          writeValueInfo(w, o.name, dimsOf(o.shape, outputLayout === "nchw")),
      );
    }
  });
  return model.finish();
}
