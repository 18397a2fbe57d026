/**
 * The generated gradient graph (`_grad_ops.ts`, `_train_graph.ts`) run by
 * ONNX Runtime against TF.js cpu-backend `tf.grads` of the same function.
 * Tolerance: per weight, max |ort − tf| ≤ 1e-4 · max(|tf|) (and the loss
 * within 1e-5 relative).
 *
 * Needs `--allow-ffi`: `deno test -A tests/engine/_train_graph_test.ts`.
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import type {
  FrozenGraph,
  FrozenNode,
} from "../../src/engine/frozen_graph_ir.ts";
import {
  buildTrainGraph,
  type TrainLoss,
} from "../../src/engine/_train_graph.ts";
import { tryLoadOnnxRuntime } from "../../src/engine/onnx_runtime.ts";
import { reduce, Tape } from "../../src/engine/_grad_ops.ts";
import { encodeOnnxModel } from "../../src/engine/_onnx_proto.ts";
import { extractFrozenGraph } from "../../src/engine/frozen_graph.ts";
import { mobileNetV2 } from "../../src/model/mobilenet_v2.ts";
import { randomizeWeights } from "../../fixtures/make_h5.ts";
import { upperPart } from "../_helpers/engine.ts";
import { effnetLike } from "./_effnet_like.ts";

await tf.setBackend("cpu");
silenceNodeBanner();
const loaded = await tryLoadOnnxRuntime();
if (!loaded.ok) throw new Error(`ONNX Runtime did not load: ${loaded.reason}`);
const ort = loaded.ort;

let seed = 7;
const rand = (n: number, scale = 1) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    a[i] = (seed / 2147483648 * 2 - 1) * scale;
  }
  return a;
};

const N = 5, H = 4, W = 3, C = 6, U = 7, K = 3;

/** input → BN affine → ReLU6 → + input → GAP → Dense relu → Dense linear. */
function graph(): FrozenGraph {
  const nodes: FrozenNode[] = [
    {
      op: "affine",
      name: "bn",
      inputs: ["x"],
      output: "bn",
      layers: ["bn"],
      scale: rand(C, 2),
      shift: rand(C),
    },
    {
      op: "activation",
      name: "r6",
      inputs: ["bn"],
      output: "r6",
      layers: ["r6"],
      activation: "relu6",
    },
    {
      op: "add",
      name: "add",
      inputs: ["r6", "x"],
      output: "add",
      layers: ["add"],
    },
    {
      op: "globalPool",
      name: "gap",
      inputs: ["add"],
      output: "gap",
      layers: ["gap"],
      mode: "avg",
    },
    {
      op: "dense",
      name: "d1",
      inputs: ["gap"],
      output: "d1",
      layers: ["d1"],
      inFeatures: C,
      units: U,
      kernel: rand(C * U),
      bias: rand(U),
      activation: "relu",
    },
    {
      op: "dense",
      name: "d2",
      inputs: ["d1"],
      output: "d2",
      layers: ["d2"],
      inFeatures: U,
      units: K,
      kernel: rand(U * K),
      bias: rand(K),
      activation: "linear",
    },
  ];
  return {
    name: "tiny",
    inputs: [{ name: "x", shape: [null, H, W, C] }],
    outputs: [{ name: "d2", shape: [null, K] }],
    nodes,
    shapes: {
      x: [null, H, W, C],
      bn: [null, H, W, C],
      r6: [null, H, W, C],
      add: [null, H, W, C],
      gap: [null, C],
      d1: [null, U],
      d2: [null, K],
    },
  };
}

async function check(loss: TrainLoss) {
  const g = graph();
  const tg = buildTrainGraph(g, loss);
  const x = rand(N * H * W * C, 4); // BN output spans both ReLU6 bounds
  const labels = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    if (loss === "softmaxCrossEntropy") labels[n * K + (n % K)] = 1;
    else for (let k = 0; k < K; k++) labels[n * K + k] = (n + k) % 2;
  }
  const session = await ort.InferenceSession.create(tg.onnx, {
    executionProviders: ["cpu"],
    intraOpNumThreads: 1,
  });
  const feeds: Record<string, unknown> = {
    [tg.inputs[0]]: new ort.Tensor("float32", x, [N, H, W, C]),
    [tg.labels]: new ort.Tensor("float32", labels, [N, K]),
    [tg.sampleWeights]: new ort.Tensor(
      "float32",
      new Float32Array(N).fill(1),
      [N],
    ),
  };
  for (const w of tg.weights) {
    feeds[w.name] = new ort.Tensor("float32", w.value, w.shape);
  }
  // deno-lint-ignore no-explicit-any
  const out = await session.run(feeds as any);
  await session.release();

  // TF.js reference of the same function.
  const ws = tg.weights.map((w) => tf.tensor(w.value, w.shape));
  const idx = (name: string) => tg.weights.findIndex((w) => w.name === name);
  const f = (...p: tf.Tensor[]) => {
    const xt = tf.tensor4d(x, [N, H, W, C]);
    const bn = tf.add(tf.mul(xt, p[idx("bn/scale")]), p[idx("bn/shift")]);
    const a = tf.add(tf.relu6(bn), xt);
    const gap = tf.mean(a, [1, 2]);
    const d1 = tf.relu(
      tf.add(
        tf.matMul(gap, p[idx("d1/kernel")] as tf.Tensor2D),
        p[idx("d1/bias")],
      ),
    );
    const z = tf.add(
      tf.matMul(d1, p[idx("d2/kernel")] as tf.Tensor2D),
      p[idx("d2/bias")],
    );
    const y = tf.tensor2d(labels, [N, K]);
    return loss === "softmaxCrossEntropy"
      ? tf.losses.softmaxCrossEntropy(y, z) as tf.Scalar
      : tf.losses.sigmoidCrossEntropy(y, z) as tf.Scalar;
  };
  const { value, grads } = tf.valueAndGrads(f)(ws);
  const refLoss = (await value.data())[0];
  const gotLoss = (out.loss.data as Float32Array)[0];
  assert.ok(
    Math.abs(gotLoss - refLoss) <= 1e-5 * Math.abs(refLoss),
    `loss ${gotLoss} vs ${refLoss}`,
  );
  for (let i = 0; i < tg.weights.length; i++) {
    const ref = await grads[i].data() as Float32Array;
    const got = out[tg.outputs[i + 1]].data as Float32Array;
    assert.equal(got.length, ref.length, tg.weights[i].name);
    let maxRef = 0, maxDiff = 0;
    for (let j = 0; j < ref.length; j++) {
      maxRef = Math.max(maxRef, Math.abs(ref[j]));
      maxDiff = Math.max(maxDiff, Math.abs(got[j] - ref[j]));
    }
    assert.ok(maxRef > 0, `${tg.weights[i].name}: zero reference gradient`);
    assert.ok(
      maxDiff <= 1e-4 * maxRef,
      `${tg.weights[i].name}: max diff ${maxDiff} vs max |ref| ${maxRef}`,
    );
  }
}

Deno.test("gradient graph (BN affine, ReLU6, Add, GAP, Dense, softmax CE) = tf.grads on cpu", async () => {
  await check("softmaxCrossEntropy");
});

Deno.test("gradient graph with sigmoid cross-entropy from logits = tf.grads on cpu", async () => {
  await check("sigmoidCrossEntropy");
});

Deno.test("unsupported nodes name the node", () => {
  const g = graph();
  g.nodes[3] = { ...g.nodes[3], mode: "max" } as FrozenNode;
  assert.throws(
    () => buildTrainGraph(g, "softmaxCrossEntropy"),
    /"gap": max pooling/,
  );
});

/** Runs the training graph in ONNX Runtime; returns loss and gradients. */
async function runTrain(
  g: FrozenGraph,
  x: Float32Array | Float32Array[],
  xShape: number[] | number[][],
  labels: Float32Array,
) {
  const xs = Array.isArray(x) ? x : [x];
  const shapes = (Array.isArray(xShape[0]) ? xShape : [xShape]) as number[][];
  const tg = buildTrainGraph(g, "softmaxCrossEntropy");
  const session = await ort.InferenceSession.create(tg.onnx, {
    executionProviders: ["cpu"],
    intraOpNumThreads: 1,
  });
  const feeds: Record<string, unknown> = {
    [tg.labels]: new ort.Tensor("float32", labels, [
      shapes[0][0],
      labels.length / shapes[0][0],
    ]),
    [tg.sampleWeights]: new ort.Tensor(
      "float32",
      new Float32Array(shapes[0][0]).fill(1),
      [shapes[0][0]],
    ),
  };
  tg.inputs.forEach((name, i) => {
    feeds[name] = new ort.Tensor("float32", xs[i], shapes[i]);
  });
  for (const w of tg.weights) {
    feeds[w.name] = new ort.Tensor("float32", w.value, w.shape);
  }
  // deno-lint-ignore no-explicit-any
  const out = await session.run(feeds as any);
  await session.release();
  return { tg, out };
}

/**
 * The training graph's gradients as the Keras weights' (`names`, `got`) next
 * to TF.js' (`refs`). A BatchNormalization with frozen statistics is a
 * graph affine: scale = γ/σ, shift = β − μγ/σ, so dγ = (dscale − μ·dshift)/σ
 * and dβ = dshift.
 */
async function gradsAsKerasWeights(
  tg: { weights: { name: string }[] },
  out: Record<string, { data: unknown }>,
  layers: Map<string, tf.layers.Layer>,
  grads: Record<string, tf.Tensor>,
) {
  const gotOf = (name: string) => out[`grad:${name}`].data as Float32Array;
  const names: string[] = [];
  const refs: tf.Tensor[] = [];
  const got: Record<string, { data: Float32Array }> = {};
  for (const w of tg.weights) {
    const [node, kind] = w.name.split("/");
    const layer = layers.get(node);
    assert.ok(layer != null, `no layer for ${w.name}`);
    const vs = layer.trainableWeights.map((v) =>
      grads[(v.read() as tf.Variable).name]
    );
    if (kind === "shift") continue;
    if (kind === "scale") {
      const [, , mean, variance] = layer.getWeights();
      const eps = (layer.getConfig().epsilon as number) ?? 1e-3;
      const sigma = await tf.sqrt(tf.add(variance, eps)).data();
      const mu = await mean.data();
      const ds = gotOf(`${node}/scale`), dsh = gotOf(`${node}/shift`);
      names.push(`${node}/gamma`, `${node}/beta`);
      got[`grad:${node}/gamma`] = {
        data: ds.map((v, i) => (v - mu[i] * dsh[i]) / sigma[i]),
      };
      got[`grad:${node}/beta`] = { data: dsh };
      refs.push(vs[0], vs[1]);
    } else {
      names.push(w.name);
      got[`grad:${w.name}`] = { data: gotOf(w.name) };
      refs.push(vs[kind === "bias" ? 1 : 0]);
    }
  }
  return { names, got, refs };
}

/** Asserts each gradient within 1e-4 · max |ref|. */
async function assertGrads(
  names: string[],
  got: Record<string, { data: unknown }>,
  ref: tf.Tensor[],
) {
  for (let i = 0; i < names.length; i++) {
    const r = await ref[i].data() as Float32Array;
    const o = got[`grad:${names[i]}`].data as Float32Array;
    assert.equal(o.length, r.length, names[i]);
    let maxRef = 0, maxDiff = 0;
    for (let j = 0; j < r.length; j++) {
      maxRef = Math.max(maxRef, Math.abs(r[j]));
      maxDiff = Math.max(maxDiff, Math.abs(o[j] - r[j]));
    }
    assert.ok(maxRef > 0, `${names[i]}: zero reference gradient`);
    assert.ok(
      maxDiff <= 1e-4 * maxRef,
      `${names[i]}: max diff ${maxDiff} vs max |ref| ${maxRef}`,
    );
  }
}

Deno.test("conv gradients (3×3 stride 2, asymmetric pads, unused row, depthwise ×2, 3×3 stride 1 with asymmetric pads, 1×1) = tf.grads on cpu", async () => {
  const n = 3, h = 8, w = 8, c0 = 4, c1 = 5, m = 2, c2 = c1 * m, c3 = 6, k = 3;
  // 3×3 stride 2 on 8×8, pads t0 b0 l0 r1: out 3×4; the last input row is
  // unused, so ConvTranspose needs output_padding 1 in height.
  const oh = 3, ow = 4;
  const conv = (o: Partial<FrozenNode> & Record<string, unknown>) =>
    ({
      op: "conv",
      layers: [o.name],
      dilations: [1, 1],
      depthMultiplier: 1,
      depthwise: false,
      ...o,
    }) as FrozenNode;
  const nodes: FrozenNode[] = [
    // A 1×1 first so that c1's input gradient (stride 2, asymmetric pads,
    // ConvTranspose with output_padding) reaches a weight.
    conv({
      name: "c0",
      inputs: ["x"],
      output: "c0",
      kernelSize: [1, 1],
      strides: [1, 1],
      pads: { top: 0, bottom: 0, left: 0, right: 0 },
      inChannels: c0,
      outChannels: c0,
      kernel: rand(c0 * c0),
      bias: null,
      activation: "linear",
    }),
    conv({
      name: "c1",
      inputs: ["c0"],
      output: "c1",
      kernelSize: [3, 3],
      strides: [2, 2],
      pads: { top: 0, bottom: 0, left: 0, right: 1 },
      inChannels: c0,
      outChannels: c1,
      kernel: rand(9 * c0 * c1),
      bias: rand(c1),
      activation: "relu6",
    }),
    conv({
      name: "dw",
      inputs: ["c1"],
      output: "dw",
      depthwise: true,
      depthMultiplier: m,
      kernelSize: [3, 3],
      strides: [1, 1],
      dilations: [1, 1],
      pads: { top: 1, bottom: 1, left: 1, right: 1 },
      inChannels: c1,
      outChannels: c2,
      kernel: rand(9 * c1 * m),
      bias: null,
      activation: "linear",
    }),
    {
      op: "affine",
      name: "bn",
      inputs: ["dw"],
      output: "bn",
      layers: ["bn"],
      scale: rand(c2, 2),
      shift: rand(c2),
    },
    {
      op: "activation",
      name: "r",
      inputs: ["bn"],
      output: "r",
      layers: ["r"],
      activation: "relu",
    },
    // Stride 1 with kernel > 1: dX is a Conv by the flipped kernel (pads
    // 2 − p); width pads 0 and 2 make the complementary pads 2 and 0.
    conv({
      name: "fs",
      inputs: ["r"],
      output: "fs",
      kernelSize: [3, 3],
      strides: [1, 1],
      pads: { top: 1, bottom: 1, left: 0, right: 2 },
      inChannels: c2,
      outChannels: c2,
      kernel: rand(9 * c2 * c2),
      bias: null,
      activation: "linear",
    }),
    conv({
      name: "pw",
      inputs: ["fs"],
      output: "pw",
      kernelSize: [1, 1],
      strides: [1, 1],
      pads: { top: 0, bottom: 0, left: 0, right: 0 },
      inChannels: c2,
      outChannels: c3,
      kernel: rand(c2 * c3),
      bias: rand(c3),
      activation: "linear",
    }),
    {
      op: "globalPool",
      name: "gap",
      inputs: ["pw"],
      output: "gap",
      layers: ["gap"],
      mode: "avg",
    },
    {
      op: "dense",
      name: "d",
      inputs: ["gap"],
      output: "d",
      layers: ["d"],
      inFeatures: c3,
      units: k,
      kernel: rand(c3 * k),
      bias: rand(k),
      activation: "linear",
    },
  ];
  const g: FrozenGraph = {
    name: "convs",
    inputs: [{ name: "x", shape: [null, h, w, c0] }],
    outputs: [{ name: "d", shape: [null, k] }],
    nodes,
    shapes: {
      x: [null, h, w, c0],
      c0: [null, h, w, c0],
      c1: [null, oh, ow, c1],
      dw: [null, oh, ow, c2],
      bn: [null, oh, ow, c2],
      r: [null, oh, ow, c2],
      fs: [null, oh, ow, c2],
      pw: [null, oh, ow, c3],
      gap: [null, c3],
      d: [null, k],
    },
  };
  const x = rand(n * h * w * c0, 2);
  const labels = new Float32Array(n * k);
  for (let i = 0; i < n; i++) labels[i * k + (i % k)] = 1;
  const { tg, out } = await runTrain(g, x, [n, h, w, c0], labels);
  const ws = tg.weights.map((wt) => tf.tensor(wt.value, wt.shape));
  const p = (name: string) =>
    ws[tg.weights.findIndex((wt) => wt.name === name)];
  const f = (..._: tf.Tensor[]) => {
    const xt = tf.tensor4d(x, [n, h, w, c0]);
    const a0 = tf.conv2d(xt, p("c0/kernel") as tf.Tensor4D, 1, "valid");
    let a = tf.conv2d(
      tf.pad(a0, [[0, 0], [0, 0], [0, 1], [0, 0]]),
      p("c1/kernel") as tf.Tensor4D,
      2,
      "valid",
    );
    a = tf.relu6(tf.add(a, p("c1/bias")));
    a = tf.depthwiseConv2d(
      tf.pad(a, [[0, 0], [1, 1], [1, 1], [0, 0]]),
      p("dw/kernel") as tf.Tensor4D,
      1,
      "valid",
    );
    a = tf.relu(tf.add(tf.mul(a, p("bn/scale")), p("bn/shift")));
    a = tf.conv2d(
      tf.pad(a, [[0, 0], [1, 1], [0, 2], [0, 0]]),
      p("fs/kernel") as tf.Tensor4D,
      1,
      "valid",
    );
    a = tf.add(
      tf.conv2d(a, p("pw/kernel") as tf.Tensor4D, 1, "valid"),
      p("pw/bias"),
    );
    const z = tf.add(
      tf.matMul(
        tf.mean(a, [1, 2]) as tf.Tensor2D,
        p("d/kernel") as tf.Tensor2D,
      ),
      p("d/bias"),
    );
    return tf.losses.softmaxCrossEntropy(
      tf.tensor2d(labels, [n, k]),
      z,
    ) as tf.Scalar;
  };
  const { value, grads } = tf.valueAndGrads(f)(ws);
  const refLoss = (await value.data())[0];
  const gotLoss = (out.loss.data as Float32Array)[0];
  assert.ok(
    Math.abs(gotLoss - refLoss) <= 1e-5 * Math.abs(refLoss),
    `loss ${gotLoss} vs ${refLoss}`,
  );
  await assertGrads(tg.weights.map((wt) => wt.name), out, grads);
});

Deno.test("tiny MobileNetV2 (alpha 0.35, 32 px, unfolded) + GAP + Dense softmax: every weight's gradient = tf.grads on cpu", async () => {
  const base = mobileNetV2({
    inputShape: [32, 32, 3],
    alpha: 0.35,
    includeTop: false,
    pooling: "avg",
  });
  const k = 3, n = 2;
  const head = tf.layers.dense({
    units: k,
    activation: "softmax",
    name: "head",
  });
  const model = tf.model({
    inputs: base.inputs,
    outputs: head.apply(base.outputs[0]) as tf.SymbolicTensor,
  });
  randomizeWeights(model, 21);
  try {
    const g = extractFrozenGraph(model, { fold: false });
    const x = rand(n * 32 * 32 * 3);
    const labels = new Float32Array(n * k);
    for (let i = 0; i < n; i++) labels[i * k + (i % k)] = 1;
    const { tg, out } = await runTrain(g, x, [n, 32, 32, 3], labels);
    // Reference: the layers model in inference mode, gradients w.r.t. its variables.
    const layers = new Map<string, tf.layers.Layer>();
    const visit = (m: tf.LayersModel) => {
      for (const l of m.layers) {
        if (l instanceof tf.LayersModel) visit(l);
        else layers.set(l.name, l);
      }
    };
    visit(model);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => {
      const xt = tf.tensor4d(x, [n, 32, 32, 3]);
      const p = model.apply(xt, { training: false }) as tf.Tensor2D;
      return tf.mean(
        tf.metrics.categoricalCrossentropy(tf.tensor2d(labels, [n, k]), p),
      ) as tf.Scalar;
    }, vars);
    const refLoss = (await value.data())[0];
    const gotLoss = (out.loss.data as Float32Array)[0];
    assert.ok(
      Math.abs(gotLoss - refLoss) <= 1e-4 * Math.abs(refLoss),
      `loss ${gotLoss} vs ${refLoss}`,
    );
    const { names, got, refs } = await gradsAsKerasWeights(
      tg,
      out,
      layers,
      grads,
    );
    assert.ok(
      names.length === vars.length,
      `${names.length} of ${vars.length} weights compared`,
    );
    await assertGrads(names, got, refs);
  } finally {
    model.dispose();
  }
});

Deno.test("HardSwish, HardSigmoid, Sigmoid·x (SiLU) and Mul rules = tf.grads on cpu", async () => {
  const n = 4, d = 64;
  const tape = new Tape();
  tape.input("x", [null, d]);
  tape.input("w", [d]);
  const a = tape.op("Mul", ["x", "w"], [null, d]);
  const b = tape.op("HardSwish", [a], [null, d]);
  const c = tape.op("HardSigmoid", [b], [null, d], {
    alpha: { float: 0.25 },
    beta: { float: 0.375 },
  });
  const silu = tape.op("Mul", [a, tape.op("Sigmoid", [a], [null, d])], [
    null,
    d,
  ]);
  const e = tape.op("Mul", [c, silu], [null, d]);
  const loss = reduce(tape, "ReduceMean", e, [0, 1], false);
  const [gw] = tape.backward(loss, ["w"]);
  tape.nodes.push({
    op: "Identity",
    name: "gw",
    inputs: [gw],
    outputs: ["gw"],
  });
  tape.nodes.push({
    op: "Identity",
    name: "loss",
    inputs: [loss],
    outputs: ["loss"],
  });
  const bytes = encodeOnnxModel({
    graphName: "acts",
    opset: 18,
    producer: { name: "test", version: "0" },
    nodes: tape.nodes,
    initializers: tape.initializers,
    inputs: [{ name: "x", dims: ["batch", d] }, { name: "w", dims: [d] }],
    outputs: [{ name: "loss", dims: [] }, { name: "gw", dims: [d] }],
  });
  const x = rand(n * d, 5), w = rand(d, 2);
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ["cpu"],
  });
  const out = await session.run({
    x: new ort.Tensor("float32", x, [n, d]),
    w: new ort.Tensor("float32", w, [d]),
  });
  await session.release();
  const f = (wt: tf.Tensor) => {
    const at = tf.mul(tf.tensor2d(x, [n, d]), wt);
    const bt = tf.div(tf.mul(at, tf.relu6(tf.add(at, 3))), 6);
    const ct = tf.clipByValue(tf.add(tf.mul(bt, 0.25), 0.375), 0, 1);
    return tf.mean(tf.mul(ct, tf.mul(at, tf.sigmoid(at)))) as tf.Scalar;
  };
  const { value, grad } = tf.valueAndGrad(f)(tf.tensor1d(w));
  const refLoss = (await value.data())[0];
  assert.ok(
    Math.abs((out.loss.data as Float32Array)[0] - refLoss) <=
      1e-5 * Math.abs(refLoss),
  );
  await assertGrads(["w"], { "grad:w": out.gw }, [grad]);
});

Deno.test("MobileNetV2 1.0 @160 suffix from layer 100 (two crossing inputs) + GAP + Dense softmax: gradients = tf.grads on cpu", async () => {
  const base = mobileNetV2({ inputShape: [160, 160, 3], includeTop: false });
  const k = 2, n = 2;
  const pooled = tf.layers.globalAveragePooling2d({ name: "gap" })
    .apply(base.outputs[0]) as tf.SymbolicTensor;
  const head = tf.layers.dense({
    units: k,
    activation: "softmax",
    name: "head",
  });
  const model = tf.model({
    inputs: base.inputs,
    outputs: head.apply(pooled) as tf.SymbolicTensor,
  });
  randomizeWeights(model, 33);
  const upper = upperPart(model, 100);
  try {
    const g = extractFrozenGraph(upper, { fold: false });
    const xs = upper.inputs.map((i) => {
      const s = [n, ...(i.shape.slice(1) as number[])];
      return { data: rand(s.reduce((a, b) => a * b, 1), 2), shape: s };
    });
    // Graph inputs in the IR's order (by name).
    const byName = new Map(upper.inputs.map((i, j) => [i.name, xs[j]]));
    const feedsIn = g.inputs.map((i) => byName.get(i.name)!);
    const labels = new Float32Array(n * k);
    for (let i = 0; i < n; i++) labels[i * k + (i % k)] = 1;
    const { tg, out } = await runTrain(
      g,
      feedsIn.map((f) => f.data),
      feedsIn.map((f) => f.shape),
      labels,
    );
    const vars = upper.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => {
      const ins = xs.map((x) => tf.tensor(x.data, x.shape));
      const p = upper.apply(ins, { training: false }) as tf.Tensor2D;
      return tf.mean(
        tf.metrics.categoricalCrossentropy(tf.tensor2d(labels, [n, k]), p),
      ) as tf.Scalar;
    }, vars);
    const refLoss = (await value.data())[0];
    const gotLoss = (out.loss.data as Float32Array)[0];
    assert.ok(
      Math.abs(gotLoss - refLoss) <= 1e-4 * Math.abs(refLoss),
      `loss ${gotLoss} vs ${refLoss}`,
    );
    const { names, got, refs } = await gradsAsKerasWeights(
      tg,
      out,
      new Map(upper.layers.map((l) => [l.name, l])),
      grads,
    );
    assert.equal(names.length, vars.length);
    await assertGrads(names, got, refs);
  } finally {
    model.dispose();
  }
});

Deno.test('EfficientNet-like V1 and V2 blocks + GAP + Dense softmax (unfolded: constant Rescaling/Normalization affines, swish, SE with keepDims pooling, Reshape, sigmoid conv and broadcasting Mul, 5×5 depthwise, "same" stride 2): every weight\'s gradient = tf.grads on cpu', async () => {
  for (const [variant, size] of [["v1", 32], ["v2", 32], ["v2", 35]] as const) {
    const k = 3, n = 2;
    const model = effnetLike({
      variant,
      size,
      head: { units: k, activation: "softmax" },
      seed: 9,
    });
    try {
      const g = extractFrozenGraph(model, { fold: false });
      const x = rand(n * size * size * 3, 127.5).map((v) => v + 127.5);
      const labels = new Float32Array(n * k);
      for (let i = 0; i < n; i++) labels[i * k + (i % k)] = 1;
      const { tg, out } = await runTrain(g, x, [n, size, size, 3], labels);
      // The stem's Rescaling/Normalization affines are no weights.
      assert.ok(
        !tg.weights.some((w) => /rescaling|normalization/.test(w.name)),
      );
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      // Reference: the stem (up to the per-channel Rescaling) runs outside
      // the gradient tape — TF.js' FusedBatchNorm cannot record a gradient
      // without gamma (it clones an undefined scale) — and the rest of the
      // same layers inside it.
      const cut = model.layers.findIndex((l) => l.name === "rescaling_1") + 1;
      const stem = tf.model({
        inputs: model.inputs,
        outputs: model.getLayer("rescaling_1").output as tf.SymbolicTensor,
      }).predict(tf.tensor4d(x, [n, size, size, 3])) as tf.Tensor;
      const upper = upperPart(model, cut);
      const { value, grads } = tf.variableGrads(() => {
        const p = upper.apply(stem, { training: false }) as tf.Tensor2D;
        return tf.mean(
          tf.metrics.categoricalCrossentropy(tf.tensor2d(labels, [n, k]), p),
        ) as tf.Scalar;
      }, vars);
      const refLoss = (await value.data())[0];
      const gotLoss = (out.loss.data as Float32Array)[0];
      assert.ok(
        Math.abs(gotLoss - refLoss) <= 1e-4 * Math.abs(refLoss),
        `${variant} @${size}: loss ${gotLoss} vs ${refLoss}`,
      );
      const { names, got, refs } = await gradsAsKerasWeights(
        tg,
        out,
        new Map(model.layers.map((l) => [l.name, l])),
        grads,
      );
      assert.equal(names.length, vars.length, `${variant} @${size}`);
      await assertGrads(names, got, refs);
    } finally {
      model.dispose();
    }
  }
});
