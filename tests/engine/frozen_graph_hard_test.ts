/**
 * The frozen graph's hard activations (`_frozen_graph_hard.ts`): which
 * composed chains become one `hard_sigmoid` / `hard_silu` node and which
 * must stay as they are, each checked against the layers model on cpu
 * (fused TF.js graph) and on ONNX Runtime (`HardSigmoid` / `HardSwish`).
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import { mobileNetV3 } from "../../src/model/mobilenet_v3.ts";
import type { FrozenGraph } from "../../src/engine/frozen_graph_ir.ts";
import { extractFrozenGraph } from "../../src/engine/frozen_graph.ts";
import { fusedGraphModel } from "../../src/engine/fused_graph.ts";
import { frozenGraphToOnnx } from "../../src/engine/onnx_export.ts";
import {
  createOnnxEngine,
  tryLoadOnnxRuntime,
} from "../../src/engine/onnx_runtime.ts";
import { randomizeWeights } from "../../fixtures/make_h5.ts";
import { assertClose, take } from "../_helpers/engine.ts";

silenceNodeBanner();
await tf.setBackend("cpu");
const loaded = await tryLoadOnnxRuntime();
if (!loaded.ok) throw new Error(loaded.reason);

type Sym = tf.SymbolicTensor;
const L = tf.layers;
const rescale = (scale: number, offset: number, name: string) =>
  L.rescaling({ scale, offset, name }) as unknown as tf.layers.Layer;

/** Every output of `model` on `x`: the layers model, the fused graph of `g` and ONNX Runtime agree (1e-5 of the largest |value|). */
async function agree(model: tf.LayersModel, g: FrozenGraph, x: tf.Tensor) {
  const wants = await take(model.predict(x));
  const fused = fusedGraphModel(g);
  const engine = await createOnnxEngine(frozenGraphToOnnx(g), {
    ort: loaded.ok ? loaded.ort : undefined,
    threads: 1,
  });
  try {
    const gots = await take(fused.execute(x));
    const orts = await engine.run(await x.data() as Float32Array, x.shape);
    for (const [i, want] of wants.entries()) {
      const what = `output ${i} (${g.outputs[i].name})`;
      assertClose(gots[i], want, `${what}, fused TF.js`, {
        rtol: 1e-5,
        label: "fused − layers",
      });
      assertClose(orts[i], want, `${what}, ONNX Runtime`, {
        rtol: 1e-5,
        label: "ort − layers",
      });
    }
  } finally {
    await engine.dispose();
    fused.dispose();
  }
}

const acts = (g: FrozenGraph, a: string) =>
  g.nodes.filter((n) =>
    (n.op === "conv" || n.op === "activation") && n.activation === a
  ).length;

Deno.test("MobileNetV3 Small: an inner tensor of a composed hard_silu that is requested as an output keeps that chain composed, the others still fuse", async () => {
  const m = mobileNetV3({ variant: "small", inputShape: [32, 32, 3] });
  randomizeWeights(m, 5);
  const x = tf.randomUniform([2, 32, 32, 3], 0, 255, "float32", 3);
  try {
    const all = extractFrozenGraph(m);
    const n = acts(all, "hard_silu");
    assert.ok(n > 2);
    const inner = m.getLayer("activation__relu6");
    const outs = [inner.output as Sym, m.outputs[0]];
    const g = extractFrozenGraph(m, { outputs: outs });
    assert.equal(acts(g, "hard_silu"), n - 1);
    assert.ok(g.nodes.some((k) => k.output === "activation__relu6"));
    await agree(tf.model({ inputs: m.inputs, outputs: outs }), g, x);
  } finally {
    x.dispose();
    m.dispose();
  }
});

Deno.test("hard activations: look-alike chains stay composed; a hard_silu on a graph input is a standalone node; a gate on another tensor is a hard sigmoid then Mul", async () => {
  const input = tf.input({ shape: [6, 6, 4] });
  const conv = L.conv2d({
    filters: 4,
    kernelSize: 3,
    padding: "same",
    name: "conv",
  }).apply(input) as Sym;
  const chain = (
    from: Sym,
    p: string,
    add: number,
    div: number,
  ) => {
    const a = rescale(1, add, `${p}__add3`).apply(from) as Sym;
    const r = L.reLU({ maxValue: 6, name: `${p}__relu6` }).apply(a) as Sym;
    return rescale(div, 0, `${p}__div6`).apply(r) as Sym;
  };
  // Input → hard_silu (standalone: no conv before it).
  const silu = L.multiply({ name: "silu" }).apply([
    input,
    chain(input, "silu", 3, 1 / 6),
  ]) as Sym;
  // conv → hard sigmoid gating another tensor (an SE gate's shape).
  const gated = L.multiply({ name: "gated" }).apply([
    silu,
    chain(conv, "gate", 3, 1 / 6),
  ]) as Sym;
  // Look-alikes: + 2.5 instead of + 3; · 0.17 instead of · 1/6.
  const off = chain(gated, "off", 2.5, 1 / 6);
  const scale = chain(off, "scale", 3, 0.17);
  const m = tf.model({ inputs: input, outputs: scale });
  randomizeWeights(m, 9);
  const x = tf.randomUniform([2, 6, 6, 4], -5, 5, "float32", 4);
  try {
    const g = extractFrozenGraph(m);
    const byName = new Map(g.nodes.map((n) => [n.name, n]));
    const s = byName.get("silu");
    assert.equal(s?.op, "activation");
    assert.equal(s.op === "activation" && s.activation, "hard_silu");
    assert.deepEqual(s.inputs, [g.inputs[0].name]);
    const c = byName.get("conv");
    assert.equal(c?.op === "conv" && c.activation, "hard_sigmoid");
    assert.equal(byName.get("gated")?.op, "mul");
    for (const p of ["off", "scale"]) {
      assert.equal(byName.get(`${p}__relu6`)?.op, "activation", p);
      assert.equal(byName.get(`${p}__div6`)?.op, "affine", p);
    }
    assert.equal(acts(g, "hard_silu"), 1);
    assert.equal(acts(g, "hard_sigmoid"), 1);
    await agree(m, g, x);
  } finally {
    x.dispose();
    m.dispose();
  }
});

Deno.test("training graphs ask for the hard activations alone: BatchNormalization stays a node", () => {
  const m = mobileNetV3({ variant: "small", inputShape: [32, 32, 3] });
  try {
    const raw = extractFrozenGraph(m, { fold: false });
    const hard = extractFrozenGraph(m, { fold: false, hardActivations: true });
    const count = (g: FrozenGraph, op: string) =>
      g.nodes.filter((n) => n.op === op).length;
    assert.equal(acts(raw, "hard_silu"), 0);
    const silus = acts(hard, "hard_silu"), gates = acts(hard, "hard_sigmoid");
    assert.ok(silus > 0 && gates > 0);
    // Each hard_silu was 4 nodes (+3, ReLU6, · 1/6, Multiply), each gate 3.
    assert.equal(
      raw.nodes.length - hard.nodes.length,
      3 * silus + 2 * gates,
    );
    assert.equal(
      count(hard, "affine") - count(raw, "affine"),
      -2 * (silus + gates),
    );
    assert.ok(
      count(hard, "affine") >=
        m.layers.filter((l) => l.getClassName() === "BatchNormalization")
          .length,
    );
  } finally {
    m.dispose();
  }
});
