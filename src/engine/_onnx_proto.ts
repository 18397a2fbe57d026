/**
 * A small hand-written protobuf writer for ONNX `ModelProto`s, covering the
 * handful of messages and fields the exporter (`onnx_export.ts`) needs (field
 * numbers from `onnx/onnx.proto`, which proto2 keeps stable). It avoids a
 * runtime dependency and a schema load for what is a write-only job; the npm
 * packages with generated ONNX protos (`onnx-proto`) pin an old protobufjs 6
 * and are not actively maintained.
 *
 * @module
 */

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
const DTYPE = {
  float: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  float16: 10,
} as const;
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

/** Value of a node attribute: int, ints, string, or float (boxed, as ints are plain numbers). */
export type AttrValue = number | number[] | string | { float: number };

/**
 * `HardSigmoid` attributes of Keras 3's hard sigmoid, `relu6(x + 3) / 6` =
 * `clip(x / 6 + 1/2, 0, 1)` (the export's and the training graph's).
 */
export const HARD_SIGMOID_ATTRS: Record<string, AttrValue> = {
  alpha: { float: 1 / 6 },
  beta: { float: 0.5 },
};

/** A `NodeProto`: one operator application. */
export interface OnnxNode {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
}

/** Element type of a tensor: ONNX's FLOAT, UINT8, INT8, INT32, INT64, FLOAT16. */
export type OnnxElementType = keyof typeof DTYPE;

/** ONNX's `TensorProto.DataType` number of `type` (for Cast's `to`). */
export function onnxDataType(type: OnnxElementType): number {
  return DTYPE[type];
}

/**
 * A `TensorProto` initializer (a constant: weights, pads, clip bounds).
 * `data`: a Float32Array for "float", numbers for "int64", and the typed
 * array of the type otherwise (Float16Array, Uint8Array, Int8Array,
 * Int32Array).
 */
export interface Initializer {
  name: string;
  dims: number[];
  type: OnnxElementType;
  data:
    | Float32Array
    | number[]
    | Float16Array
    | Uint8Array
    | Int8Array
    | Int32Array;
}

/**
 * A graph input or output: its name and dims (a string is a symbolic dim;
 * null: no shape given), and its element type (default "float").
 */
export interface OnnxValueInfo {
  name: string;
  dims: (number | string)[] | null;
  type?: OnnxElementType;
}

/** Everything {@link encodeOnnxModel} writes into a `ModelProto`. */
export interface OnnxModel {
  /** `GraphProto.name`. */
  graphName: string;
  /** Version of the default-domain opset. */
  opset: number;
  /** `ModelProto.producer_name` and `producer_version`. */
  producer: { name: string; version: string };
  /** Nodes in topological order. */
  nodes: OnnxNode[];
  initializers: Initializer[];
  /** The graph inputs. */
  inputs: OnnxValueInfo[];
  /** The graph outputs. */
  outputs: OnnxValueInfo[];
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

/** Little-endian bytes of a typed array of 1, 2 or 4-byte elements. */
function rawBytes(
  data: Float16Array | Uint8Array | Int8Array | Int32Array,
): Uint8Array {
  if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    .slice();
  const n = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += n) bytes.subarray(i, i + n).reverse();
  return bytes;
}

function writeInitializer(w: Writer, t: Initializer) {
  for (const d of t.dims) w.int(TENSOR.dims, d);
  w.int(TENSOR.dataType, DTYPE[t.type]);
  w.string(TENSOR.name, t.name);
  w.bytes(
    TENSOR.rawData,
    t.type === "float"
      ? floatBytes(t.data as Float32Array)
      : t.type === "int64"
      ? int64Bytes(t.data as number[])
      : rawBytes(t.data as Float16Array | Uint8Array | Int8Array | Int32Array),
  );
}

function writeValueInfo(w: Writer, v: OnnxValueInfo) {
  w.string(VALUE_INFO.name, v.name);
  w.message(VALUE_INFO.type, (t) =>
    t.message(TYPE.tensorType, (tt) => {
      tt.int(TYPE_TENSOR.elemType, DTYPE[v.type ?? "float"]);
      if (v.dims === null) return;
      const dims = v.dims;
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

/** Serialises `m` as ONNX `ModelProto` bytes (IR version 8). */
export function encodeOnnxModel(m: OnnxModel): Uint8Array {
  const model = new Writer();
  model.int(MODEL.irVersion, 8);
  model.string(MODEL.producerName, m.producer.name);
  model.string(MODEL.producerVersion, m.producer.version);
  model.message(
    MODEL.opsetImport,
    (o) => o.string(OPSET.domain, "").int(OPSET.version, m.opset),
  );
  model.message(MODEL.graph, (g) => {
    for (const n of m.nodes) g.message(GRAPH.node, (w) => writeNode(w, n));
    g.string(GRAPH.name, m.graphName);
    for (const t of m.initializers) {
      g.message(GRAPH.initializer, (w) => writeInitializer(w, t));
    }
    for (const i of m.inputs) {
      g.message(GRAPH.input, (w) => writeValueInfo(w, i));
    }
    for (const o of m.outputs) {
      g.message(GRAPH.output, (w) => writeValueInfo(w, o));
    }
  });
  return model.finish();
}
