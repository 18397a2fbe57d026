/**
 * Transforms of an exported ONNX model (`frozenGraphToOnnxModel`) before it
 * is encoded: half precision, and static int8 in QDQ form. Used by
 * `onnx_quantize.ts`; the math is ONNX's QuantizeLinear / DequantizeLinear:
 * `q = saturate(round_half_even(x / scale) + zero_point)`,
 * `x̂ = (q − zero_point) · scale`.
 *
 * @module
 */

import {
  type Initializer,
  onnxDataType,
  type OnnxModel,
  type OnnxNode,
} from "./_onnx_proto.ts";

/** Rounds half to even (ONNX's QuantizeLinear rounding). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The model with float16 weights and compute, and float32 inputs and
 * outputs: every float initializer becomes float16, a Cast to float16
 * follows each graph input and a Cast to float precedes each graph output.
 */
export function toFloat16(m: OnnxModel): OnnxModel {
  const inputs = new Set(m.inputs.map((i) => i.name));
  const outputs = new Set(m.outputs.map((o) => o.name));
  const rename = (t: string) =>
    inputs.has(t) || outputs.has(t) ? `${t}:fp16` : t;
  const nodes: OnnxNode[] = [
    ...m.inputs.map((i) => ({
      op: "Cast",
      name: `${i.name}:cast_fp16`,
      inputs: [i.name],
      outputs: [`${i.name}:fp16`],
      attrs: { to: onnxDataType("float16") },
    })),
    ...m.nodes.map((n) => ({
      ...n,
      inputs: n.inputs.map(rename),
      outputs: n.outputs.map(rename),
    })),
    ...m.outputs.map((o) => ({
      op: "Cast",
      name: `${o.name}:cast_fp32`,
      inputs: [`${o.name}:fp16`],
      outputs: [o.name],
      attrs: { to: onnxDataType("float") },
    })),
  ];
  const initializers = m.initializers.map((t): Initializer =>
    t.type === "float"
      ? {
        ...t,
        type: "float16",
        data: new Float16Array(t.data as Float32Array),
      }
      : t
  );
  return { ...m, nodes, initializers };
}

/** What {@link qdqPlan} finds: the ops to quantize and the tensors to calibrate. */
export interface QdqPlan {
  /** Activation tensors that get a QuantizeLinear → DequantizeLinear pair. */
  tensors: string[];
  /** Names of the Relu / Clip(0, ·) nodes folded into their Conv's output quantization. */
  foldedActivations: Set<string>;
}

function constantValue(m: OnnxModel, name: string | undefined): number | null {
  if (name === undefined || name === "") return null;
  const t = m.initializers.find((i) => i.name === name);
  return t && t.type === "float" && t.data.length === 1
    ? (t.data as Float32Array)[0]
    : null;
}

/**
 * Which tensors the int8 model quantizes: the data input and the output of
 * every Conv (after its Relu or Clip(0, max), which the output's
 * quantization then does: its range starts at 0 and ends at most at max, so
 * saturating is clipping), and the inputs and output of every Add of two
 * activations (the residual connections). Pads, pooling, the Dense head
 * and softmax stay float32, reading dequantized values.
 */
export function qdqPlan(m: OnnxModel): QdqPlan {
  const inits = new Set(m.initializers.map((i) => i.name));
  const outputs = new Set(m.outputs.map((o) => o.name));
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of m.nodes) {
    for (const t of n.inputs) consumers.set(t, [...consumers.get(t) ?? [], n]);
  }
  const tensors = new Set<string>();
  const foldedActivations = new Set<string>();
  for (const n of m.nodes) {
    if (n.op === "Conv") {
      tensors.add(n.inputs[0]);
      const out = n.outputs[0];
      const next = consumers.get(out) ?? [];
      const act = next.length === 1 && !outputs.has(out) ? next[0] : null;
      const foldable = act !== null &&
        (act.op === "Relu" ||
          (act.op === "Clip" && constantValue(m, act.inputs[1]) === 0));
      if (foldable) {
        foldedActivations.add(act.name);
        tensors.add(act.outputs[0]);
      } else {
        tensors.add(out);
      }
    } else if (
      n.op === "Add" && n.inputs.length === 2 &&
      n.inputs.every((t) => !inits.has(t))
    ) {
      for (const t of [...n.inputs, n.outputs[0]]) tensors.add(t);
    }
  }
  return { tensors: [...tensors], foldedActivations };
}

/** The model with `names` as extra float graph outputs (shape left to ONNX Runtime), for calibration. */
export function withOutputs(m: OnnxModel, names: readonly string[]): OnnxModel {
  const have = new Set(m.outputs.map((o) => o.name));
  return {
    ...m,
    outputs: [
      ...m.outputs,
      ...names.filter((n) => !have.has(n)).map((name) => ({
        name,
        dims: null,
      })),
    ],
  };
}

/** Scale and zero point of an activation tensor. */
export interface ActivationQuantization {
  /** float32 scale. */
  scale: number;
  /** uint8 zero point. */
  zeroPoint: number;
}

/**
 * Asymmetric uint8 parameters for a calibrated range, as ONNX Runtime's
 * quantizer computes them: the range is widened to include 0, `scale =
 * (max − min) / 255` (1 for an all-zero range), `zero_point = round(−min /
 * scale)` clamped to [0, 255].
 */
export function activationQuantization(
  min: number,
  max: number,
): ActivationQuantization {
  const lo = Math.min(0, min), hi = Math.max(0, max);
  const scale = hi > lo ? Math.fround((hi - lo) / 255) : 1;
  const zeroPoint = Math.min(255, Math.max(0, roundHalfEven(-lo / scale)));
  return { scale, zeroPoint };
}

/**
 * Symmetric per-output-channel int8 weights (axis 0 of `dims`): scale_o =
 * max |w_o| / 127 (1 for an all-zero channel), q = round(w / scale_o) in
 * [−127, 127], zero point 0.
 */
export function quantizeWeightsPerChannel(
  w: Float32Array,
  channels: number,
): { q: Int8Array; scales: Float32Array } {
  const per = w.length / channels;
  const q = new Int8Array(w.length);
  const scales = new Float32Array(channels);
  for (let o = 0; o < channels; o++) {
    let absmax = 0;
    for (let i = o * per; i < (o + 1) * per; i++) {
      absmax = Math.max(absmax, Math.abs(w[i]));
    }
    const s = absmax > 0 ? Math.fround(absmax / 127) : 1;
    scales[o] = s;
    for (let i = o * per; i < (o + 1) * per; i++) {
      q[i] = Math.max(-127, Math.min(127, roundHalfEven(w[i] / s)));
    }
  }
  return { q, scales };
}

/**
 * The int8 QDQ model: every tensor of {@link qdqPlan} quantized with its
 * calibrated range (`ranges`, asymmetric uint8), Conv weights symmetric
 * per-channel int8, Conv biases int32 at scale `x_scale · w_scale` (zero
 * point 0), the planned Relu / Clip nodes folded into the quantization of
 * their Conv's output. ONNX Runtime fuses each DequantizeLinear → Conv →
 * QuantizeLinear group into QLinearConv and each Add group into QLinearAdd.
 */
export function toQdq(
  m: OnnxModel,
  plan: QdqPlan,
  ranges: ReadonlyMap<string, { min: number; max: number }>,
): OnnxModel {
  const quantized = new Set(plan.tensors);
  const params = new Map<string, ActivationQuantization>();
  for (const t of plan.tensors) {
    const r = ranges.get(t);
    if (!r) throw new Error(`int8: no calibrated range for tensor "${t}"`);
    params.set(t, activationQuantization(r.min, r.max));
  }
  const inits = new Map(m.initializers.map((i) => [i.name, i]));
  const used = new Set<string>();
  const extra: Initializer[] = [];
  const nodes: OnnxNode[] = [];
  const outputs = new Set(m.outputs.map((o) => o.name));
  // A quantized graph output is the DequantizeLinear's output; what its
  // producer wrote is renamed.
  const dq = (t: string) => quantized.has(t) && !outputs.has(t) ? `${t}:dq` : t;
  const pre = (t: string) =>
    quantized.has(t) && outputs.has(t) ? `${t}:float` : t;
  const qdqOf = (t: string) => {
    const p = params.get(t)!;
    extra.push(
      {
        name: `${t}:scale`,
        dims: [],
        type: "float",
        data: new Float32Array([p.scale]),
      },
      {
        name: `${t}:zp`,
        dims: [],
        type: "uint8",
        data: new Uint8Array([p.zeroPoint]),
      },
    );
    nodes.push(
      {
        op: "QuantizeLinear",
        name: `${t}:quantize`,
        inputs: [pre(t), `${t}:scale`, `${t}:zp`],
        outputs: [`${t}:q`],
      },
      {
        op: "DequantizeLinear",
        name: `${t}:dequantize`,
        inputs: [`${t}:q`, `${t}:scale`, `${t}:zp`],
        outputs: [dq(t)],
      },
    );
  };
  for (const i of m.inputs) if (quantized.has(i.name)) qdqOf(i.name);
  // The output each folded activation's Conv writes instead.
  const foldedOutput = new Map<string, string>();
  for (const n of m.nodes) {
    if (plan.foldedActivations.has(n.name)) {
      foldedOutput.set(n.inputs[0], n.outputs[0]);
    }
  }
  for (const n of m.nodes) {
    if (plan.foldedActivations.has(n.name)) continue;
    let node: OnnxNode = { ...n, inputs: n.inputs.map(dq) };
    if (n.op === "Conv") {
      const x = n.inputs[0];
      const w = inits.get(n.inputs[1]);
      if (!w || w.type !== "float") {
        throw new Error(
          `int8: Conv "${n.name}" has no float weight initializer`,
        );
      }
      const channels = w.dims[0];
      const { q, scales } = quantizeWeightsPerChannel(
        w.data as Float32Array,
        channels,
      );
      used.add(w.name);
      extra.push(
        { name: `${w.name}:q`, dims: w.dims, type: "int8", data: q },
        {
          name: `${w.name}:scale`,
          dims: [channels],
          type: "float",
          data: scales,
        },
        {
          name: `${w.name}:zp`,
          dims: [channels],
          type: "int8",
          data: new Int8Array(channels),
        },
      );
      nodes.push({
        op: "DequantizeLinear",
        name: `${w.name}:dequantize`,
        inputs: [`${w.name}:q`, `${w.name}:scale`, `${w.name}:zp`],
        outputs: [`${w.name}:dq`],
        attrs: { axis: 0 },
      });
      const inputs = [dq(x), `${w.name}:dq`];
      const b = n.inputs[2] ? inits.get(n.inputs[2]) : undefined;
      if (b) {
        const sx = params.get(x)!.scale;
        const bq = new Int32Array(channels);
        const bs = new Float32Array(channels);
        const bias = b.data as Float32Array;
        for (let o = 0; o < channels; o++) {
          bs[o] = Math.fround(sx * scales[o]);
          bq[o] = Math.max(
            -(2 ** 31),
            Math.min(2 ** 31 - 1, roundHalfEven(bias[o] / bs[o])),
          );
        }
        used.add(b.name);
        extra.push(
          { name: `${b.name}:q`, dims: [channels], type: "int32", data: bq },
          {
            name: `${b.name}:scale`,
            dims: [channels],
            type: "float",
            data: bs,
          },
          {
            name: `${b.name}:zp`,
            dims: [channels],
            type: "int32",
            data: new Int32Array(channels),
          },
        );
        nodes.push({
          op: "DequantizeLinear",
          name: `${b.name}:dequantize`,
          inputs: [`${b.name}:q`, `${b.name}:scale`, `${b.name}:zp`],
          outputs: [`${b.name}:dq`],
          attrs: { axis: 0 },
        });
        inputs.push(`${b.name}:dq`);
      }
      const out = foldedOutput.get(n.outputs[0]) ?? n.outputs[0];
      node = { ...n, inputs, outputs: [out] };
    }
    nodes.push({ ...node, outputs: node.outputs.map(pre) });
    for (const o of node.outputs) if (quantized.has(o)) qdqOf(o);
  }
  // Initializers still read by some node (Clip bounds of unfolded activations…).
  const read = new Set(nodes.flatMap((n) => n.inputs));
  const initializers = [
    ...m.initializers.filter((i) => !used.has(i.name) && read.has(i.name)),
    ...extra,
  ];
  return { ...m, nodes, initializers };
}
