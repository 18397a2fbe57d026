/**
 * Frozen graph IR + ONNX export + ONNX Runtime against the TF.js cpu
 * backend's `model.predict` (the reference): a tiny MobileNetV2 with
 * randomised weights and BatchNormalization statistics (so that folding
 * matters), the full-size MobileNetV2 1.0 @160, the whole classifier, and
 * sub-graphs cut at a layer index, including feeding the cut tensors to the
 * rest of the network in TF.js. Tolerance: max |ort - ref| ≤ 1e-4 · max |ref|
 * for every output.
 *
 * Needs `--allow-ffi` (ONNX Runtime is a native addon); run with
 * `deno test --allow-all tests/engine/onnx_test.ts`.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as tf from "../../src/deps/tf.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import { mobileNetV2 } from "../../src/model/mobilenet_v2.ts";
import { kerasLayerNames, mobileNetV3 } from "../../src/model/mobilenet_v3.ts";
import { kerasLayerIndex } from "../../src/model/bases.ts";
import { buildClassifier } from "../../src/model/classifier.ts";
import type { FrozenGraph } from "../../src/engine/frozen_graph_ir.ts";
import { crossingTensors } from "../../src/engine/frozen_graph_cut.ts";
import { samePadding } from "../../src/engine/_frozen_graph_pads.ts";
import { extractFrozenGraph } from "../../src/engine/frozen_graph.ts";
import { exportOnnx, frozenGraphToOnnx } from "../../src/engine/onnx_export.ts";
import {
  createOnnxEngine,
  type OnnxOutput,
  type OnnxRuntime,
  tryLoadOnnxRuntime,
} from "../../src/engine/onnx_runtime.ts";
import type * as OnnxRuntimeNode from "npm:onnxruntime-node@1.30.0";
import { randomizeWeights } from "../../fixtures/make_h5.ts";
import { effnetLike } from "./_effnet_like.ts";
import {
  assertClose as closeTo,
  take,
  upperPart,
  type Values,
} from "../_helpers/engine.ts";

await tf.setBackend("cpu");
silenceNodeBanner();

const loaded = await tryLoadOnnxRuntime();
if (!loaded.ok) throw new Error(`ONNX Runtime did not load: ${loaded.reason}`);
const ort = loaded.ort;
// Type-level check: the engine's own declaration of the ONNX Runtime API it
// uses (kept free of the package's types) matches the real package.
const _ortTypes: OnnxRuntime = null as unknown as typeof OnnxRuntimeNode;
const RTOL = 1e-4;

/** The TF.js cpu reference outputs of `model` on `x`. */
const reference = (model: tf.LayersModel, x: tf.Tensor | tf.Tensor[]) =>
  take(model.predict(x));

/** ONNX Runtime against TF.js: max |ort − tfjs| ≤ RTOL · max |tfjs|. */
const assertClose = (got: Values, want: Values, what: string) =>
  closeTo(got, want, what, { rtol: RTOL, label: "ort − tfjs" });

/** Images in [-1, 1], as preprocessed batches are. */
const images = (n: number, size: number, seed: number) =>
  tf.randomUniform([n, size, size, 3], -1, 1, "float32", seed) as tf.Tensor4D;

/** Runs the ONNX bytes on `x` with ONNX Runtime. */
async function runOnnx(bytes: Uint8Array, x: tf.Tensor): Promise<OnnxOutput[]> {
  const engine = await createOnnxEngine(bytes, { ort, threads: 2 });
  try {
    return await engine.run(await x.data() as Float32Array, x.shape);
  } finally {
    await engine.dispose();
  }
}

const opCounts = (g: FrozenGraph) => {
  const c: Record<string, number> = {};
  for (const n of g.nodes) c[n.op] = (c[n.op] ?? 0) + 1;
  return c;
};

const layerCount = (m: tf.LayersModel, cls: string) =>
  m.layers.filter((l) => l.getClassName() === cls).length;

Deno.test("samePadding is TensorFlow's: extra pixel after, for odd totals", () => {
  assert.deepEqual(samePadding(160, 3, 2), [0, 1]);
  assert.deepEqual(samePadding(35, 3, 2), [1, 1]);
  assert.deepEqual(samePadding(7, 3, 1), [1, 1]);
  assert.deepEqual(samePadding(8, 4, 1), [1, 2]);
  assert.deepEqual(samePadding(9, 1, 2), [0, 0]);
  assert.deepEqual(samePadding(10, 3, 1, 2), [2, 2]);
});

Deno.test("tiny MobileNetV2 (alpha 0.35, odd 35 px): BN, pads and ReLU6 folded; ONNX Runtime = TF.js", async () => {
  const m = mobileNetV2({
    inputShape: [35, 35, 3],
    alpha: 0.35,
    includeTop: false,
  });
  randomizeWeights(m, 11);
  const x = images(3, 35, 1);
  try {
    const g = extractFrozenGraph(m);
    const convs = layerCount(m, "Conv2D") + layerCount(m, "DepthwiseConv2D");
    // Every BN, pad and ReLU6 went into a conv; only the adds remain apart.
    assert.deepEqual(opCounts(g), { conv: convs, add: layerCount(m, "Add") });
    assert.equal(
      g.nodes.filter((n) => n.op === "conv" && n.activation === "relu6").length,
      35,
    );
    const conv1 = g.nodes[0];
    assert.ok(conv1.op === "conv");
    assert.deepEqual(conv1.layers, ["Conv1", "bn_Conv1", "Conv1_relu"]);
    assert.deepEqual(conv1.pads, { top: 1, bottom: 1, left: 1, right: 1 }); // "same", 35 px
    const dw1 = g.nodes.find((n) => n.name === "block_1_depthwise");
    assert.ok(dw1?.op === "conv" && dw1.depthwise);
    assert.equal(dw1.layers[0], "block_1_pad");
    assert.deepEqual(g.outputs, [{
      name: "out_relu",
      shape: [null, 2, 2, 1280],
    }]);
    assert.deepEqual(g.inputs, [{ name: "input_1", shape: [null, 35, 35, 3] }]);

    const [want] = await reference(m, x);
    const [got] = await runOnnx(frozenGraphToOnnx(g), x);
    assert.equal(got.name, "out_relu");
    assertClose(got, want, "out_relu (NHWC)");
    // NCHW input and output layouts give the same values, transposed.
    const nchw = tf.transpose(x, [0, 3, 1, 2]);
    const [gotNchw] = await runOnnx(
      frozenGraphToOnnx(g, { inputLayout: "nchw", outputLayout: "nchw" }),
      nchw,
    );
    nchw.dispose();
    const back = tf.tidy(() =>
      tf.transpose(tf.tensor(gotNchw.data, gotNchw.shape), [0, 2, 3, 1])
    );
    assertClose(
      { data: back.dataSync() as Float32Array, shape: back.shape },
      want,
      "out_relu (NCHW)",
    );
    back.dispose();
  } finally {
    x.dispose();
    m.dispose();
  }
});

Deno.test("without folding the graph has one node per layer and the same outputs", async () => {
  const m = mobileNetV2({
    inputShape: [32, 32, 3],
    alpha: 0.35,
    includeTop: false,
    pooling: "max",
  });
  randomizeWeights(m, 12);
  const x = images(2, 32, 2);
  try {
    const g = extractFrozenGraph(m, { fold: false });
    const c = opCounts(g);
    assert.equal(c.affine, layerCount(m, "BatchNormalization"));
    assert.equal(c.pad, layerCount(m, "ZeroPadding2D"));
    assert.equal(c.activation, layerCount(m, "ReLU"));
    assert.equal(c.globalPool, 1);
    assert.equal(g.nodes.length, m.layers.length - 1); // all but the input layer
    const [want] = await reference(m, x);
    const [got] = await runOnnx(frozenGraphToOnnx(g), x);
    assertClose(got, want, "unfolded, global max pooling");
  } finally {
    x.dispose();
    m.dispose();
  }
});

Deno.test("outputs inside fused chains keep the chain apart (standalone BN, ReLU6, pad)", async () => {
  const m = mobileNetV2({
    inputShape: [32, 32, 3],
    alpha: 0.35,
    includeTop: false,
  });
  randomizeWeights(m, 13);
  const outs = ["Conv1", "bn_Conv1", "block_1_pad", "block_2_add"];
  const x = images(2, 32, 3);
  try {
    const g = extractFrozenGraph(m, { outputs: outs });
    assert.deepEqual(g.outputs.map((o) => o.name), outs);
    const byName = new Map(g.nodes.map((n) => [n.output, n]));
    assert.equal(byName.get("bn_Conv1")?.op, "affine");
    assert.equal(byName.get("Conv1_relu")?.op, "activation");
    assert.equal(byName.get("block_1_pad")?.op, "pad");
    // Nothing after block_2_add is extracted.
    assert.ok(
      !g.nodes.some((n) => n.layers.some((l) => l.startsWith("block_3"))),
    );
    const sub = tf.model({
      inputs: m.inputs,
      outputs: outs.map((n) => m.getLayer(n).output as tf.SymbolicTensor),
    });
    const want = await reference(sub, x);
    const got = await runOnnx(frozenGraphToOnnx(g), x);
    assert.deepEqual(got.map((o) => o.name), outs);
    got.forEach((o, i) => assertClose(o, want[i], o.name));
  } finally {
    x.dispose();
    m.dispose();
  }
});

Deno.test("crossing tensors of a cut: ONNX Runtime below the cut + TF.js above = the whole model", async () => {
  const m = mobileNetV2({
    inputShape: [32, 32, 3],
    alpha: 0.35,
    includeTop: false,
    pooling: "avg",
  });
  randomizeWeights(m, 14);
  const x = images(2, 32, 4);
  try {
    const [want] = await reference(m, x);
    // 100: inside block 11 (a residual block); 12: right after block_1_pad; 3: after bn_Conv1.
    for (const cut of [100, 12, 3, 150]) {
      const crossing = crossingTensors(m, cut);
      const frozen = extractFrozenGraph(m, { outputs: crossing.tensors });
      assert.deepEqual(frozen.outputs.map((o) => o.name), crossing.names);
      const below = await runOnnx(frozenGraphToOnnx(frozen), x);
      const upper = upperPart(m, cut);
      const feeds = below.map((o) => tf.tensor(o.data, o.shape));
      const [got] = await reference(
        upper,
        feeds.length === 1 ? feeds[0] : feeds,
      );
      tf.dispose(feeds);
      assertClose(got, want, `cut at ${cut} (${crossing.names.join(", ")})`);
    }
  } finally {
    x.dispose();
    m.dispose();
  }
});

Deno.test("crossingTensors: MobileNetV2 at 100 is the residual skip and the expand BN; bad index", () => {
  const m = mobileNetV2({
    inputShape: [32, 32, 3],
    alpha: 0.35,
    includeTop: false,
  });
  try {
    const c = crossingTensors(m, 100);
    // Layer 100 is block_11_expand_relu: it reads block_11_expand_BN, and
    // block_11_add (index 107) reads block 11's input, block_10_project_BN.
    assert.equal(m.layers[100].name, "block_11_expand_relu");
    assert.deepEqual(c.names, ["block_10_project_BN", "block_11_expand_BN"]);
    assert.deepEqual(c.layerIndices, [97, 99]);
    assert.deepEqual(c.tensors.map((t) => t.sourceLayer.name), c.names);
    assert.deepEqual(crossingTensors(m, 1).names, ["input_1"]);
    assert.throws(
      () => crossingTensors(m, 0),
      /cut index must be an integer in \[1, 153\]/,
    );
    assert.throws(() => crossingTensors(m, 154), /got 154/);
  } finally {
    m.dispose();
  }
});

Deno.test("full-size MobileNetV2 1.0 @160 (random weights): pooled features and the cut at 100", async (t) => {
  const m = mobileNetV2({
    inputShape: [160, 160, 3],
    alpha: 1.0,
    includeTop: false,
    pooling: "avg",
  });
  randomizeWeights(m, 21);
  const x = images(2, 160, 5);
  try {
    await t.step("pooled features", async () => {
      const [want] = await reference(m, x);
      const [got] = await runOnnx(exportOnnx(m), x);
      assert.deepEqual(got.shape, [2, 1280]);
      assertClose(got, want, "features");
    });
    await t.step(
      "crossing tensors at layer 100 vs a TF.js sub-model",
      async () => {
        const cut = crossingTensors(m, 100);
        assert.deepEqual(cut.names, [
          "block_10_project_BN",
          "block_11_expand_BN",
        ]);
        const sub = tf.model({ inputs: m.inputs, outputs: cut.tensors });
        const want = await reference(sub, x);
        const got = await runOnnx(exportOnnx(m, { outputs: cut.names }), x);
        assert.deepEqual(
          got.map((o) => o.shape),
          [[2, 10, 10, 96], [2, 10, 10, 576]], // block 10 outputs 96 channels; expand x6
        );
        got.forEach((o, i) => assertClose(o, want[i], o.name));
      },
    );
  } finally {
    x.dispose();
    m.dispose();
  }
});

Deno.test("whole classifier (functional and sequential): base + GAP + Dropout + Dense softmax", async () => {
  for (const api of ["functional", "sequential"] as const) {
    const c = await buildClassifier({
      imageSize: [40, 40],
      alpha: 0.35,
      numClasses: 3,
      dropout: 0.3,
      api,
      seed: 5,
    });
    randomizeWeights(c.model, 31);
    const x = images(4, 40, 6);
    try {
      const g = extractFrozenGraph(c.model);
      const last = g.nodes.at(-1)!;
      assert.ok(last.op === "dense" && last.activation === "softmax", api);
      assert.equal(
        last.inputs[0],
        "global_average_pooling2d",
        `${api}: dropout dropped`,
      );
      assert.ok(!g.nodes.some((n) => n.op === "identity"), api);
      const [want] = await reference(c.model, x);
      const [got] = await runOnnx(exportOnnx(c.model), x);
      assert.equal(got.name, "predictions");
      assertClose(got, want, `${api} classifier`);
      // The head alone (features → probabilities) exports too.
      const feats = c.features.predict(x) as tf.Tensor;
      const [wantHead] = await reference(c.head, feats);
      const [gotHead] = await runOnnx(exportOnnx(c.head), feats);
      feats.dispose();
      assertClose(gotHead, wantHead, `${api} head`);
    } finally {
      x.dispose();
      c.model.dispose();
    }
  }
});

Deno.test("one engine runs any batch size; bad input length and use after dispose throw", async () => {
  const m = mobileNetV2({
    inputShape: [32, 32, 3],
    alpha: 0.35,
    includeTop: false,
    pooling: "avg",
  });
  randomizeWeights(m, 15);
  const engine = await createOnnxEngine(exportOnnx(m), {
    ort,
    threads: 1,
    allowSpinning: false,
  });
  try {
    assert.deepEqual(engine.inputNames, ["input_1"]);
    assert.deepEqual(engine.outputNames, ["global_average_pooling2d"]);
    assert.equal(engine.threads, 1);
    for (const n of [1, 5]) {
      const x = images(n, 32, 20 + n);
      const [want] = await reference(m, x);
      const [got] = await engine.run(await x.data() as Float32Array, x.shape);
      x.dispose();
      assertClose(got, want, `batch ${n}`);
    }
    await assert.rejects(
      engine.run(new Float32Array(10), [1, 32, 32, 3]),
      /input has 10 values but shape \[1,32,32,3\] needs 3072/,
    );
  } finally {
    await engine.dispose();
    m.dispose();
  }
  await assert.rejects(
    engine.run(new Float32Array(3072), [1, 32, 32, 3]),
    /after dispose/,
  );
});

Deno.test("maxBatch: a batch of 7 in runs of at most 3 gives the bits of one run of 7, for every output; a bad maxBatch is refused", async () => {
  const m = mobileNetV2({
    inputShape: [32, 32, 3],
    alpha: 0.35,
    includeTop: false,
  });
  randomizeWeights(m, 16);
  // Two outputs: a 4-D map inside the base and the pooled features.
  const two = tf.model({
    inputs: m.inputs,
    outputs: [
      m.getLayer("block_3_expand_relu").output as tf.SymbolicTensor,
      tf.layers.globalAveragePooling2d({}).apply(
        m.outputs[0],
      ) as tf.SymbolicTensor,
    ],
  });
  const bytes = exportOnnx(two);
  const whole = await createOnnxEngine(bytes, { ort, threads: 1 });
  const split = await createOnnxEngine(bytes, { ort, threads: 1, maxBatch: 3 });
  const x = images(7, 32, 41);
  try {
    const input = await x.data() as Float32Array;
    const want = await whole.run(input, x.shape);
    const got = await split.run(input, x.shape);
    assert.equal(got.length, 2);
    for (const [i, o] of got.entries()) {
      assert.equal(o.name, want[i].name);
      assert.deepEqual(o.shape, want[i].shape);
      assert.equal(o.shape[0], 7);
      assert.deepEqual(o.data, want[i].data, o.name);
    }
    // A batch no larger than maxBatch is one run.
    const [small] = await split.run(input.subarray(0, 3 * 32 * 32 * 3), [
      3,
      32,
      32,
      3,
    ]);
    assert.deepEqual(
      small.data,
      want[0].data.subarray(0, small.data.length),
    );
  } finally {
    x.dispose();
    await whole.dispose();
    await split.dispose();
    two.dispose();
  }
  for (const bad of [0, 1.5, -2]) {
    await assert.rejects(
      createOnnxEngine(bytes, { ort, threads: 1, maxBatch: bad }),
      /maxBatch must be a positive integer/,
    );
  }
});

Deno.test("unsupported layers and settings: the error names the layer and its class", () => {
  const input = tf.input({ shape: [8, 8, 3], name: "img" });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: "c1" })
    .apply(input) as tf.SymbolicTensor;
  const pool = tf.layers.maxPooling2d({ poolSize: 2, name: "pool_here" }).apply(
    conv,
  ) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: pool });
  assert.throws(
    () => extractFrozenGraph(model),
    /layer "pool_here" \(class MaxPooling2D\): not supported by the frozen graph \(supported: InputLayer, Conv2D/,
  );
  // Stopping before the unsupported layer works.
  assert.equal(extractFrozenGraph(model, { outputs: ["c1"] }).nodes.length, 1);
  assert.throws(
    () => exportOnnx(model, { outputs: ["nope"] }),
    /no layer named "nope"/,
  );
  assert.throws(
    () => extractFrozenGraph(model, { outputs: ["c1", "c1"] }),
    /output "c1" is requested twice/,
  );

  const tanh = tf.layers.conv2d({
    filters: 2,
    kernelSize: 1,
    activation: "tanh",
    name: "c_tanh",
  })
    .apply(input) as tf.SymbolicTensor;
  assert.throws(
    () => extractFrozenGraph(tf.model({ inputs: input, outputs: tanh })),
    /layer "c_tanh" \(class Conv2D\): activation "tanh" is not supported/,
  );
  const free = tf.input({ shape: [null, null, 3], name: "free" });
  const strided = tf.layers.conv2d({
    filters: 2,
    kernelSize: 3,
    strides: 2,
    padding: "same",
    name: "c_s2",
  })
    .apply(free) as tf.SymbolicTensor;
  assert.throws(
    () => extractFrozenGraph(tf.model({ inputs: free, outputs: strided })),
    /layer "c_s2" \(class Conv2D\): "same" padding with stride 2 needs a static input size/,
  );
  model.dispose();
});

Deno.test("tryLoadOnnxRuntime without --allow-ffi: not ok, one line saying why", async () => {
  const url = new URL("../../src/engine/onnx_runtime.ts", import.meta.url).href;
  const code = `const { tryLoadOnnxRuntime } = await import(${
    JSON.stringify(url)
  });
const r = await tryLoadOnnxRuntime();
console.log(JSON.stringify({ ok: r.ok, reason: r.reason ?? null }));`;
  const dir = await Deno.makeTempDir();
  const script = `${dir}/load.ts`;
  await Deno.writeTextFile(script, code);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", script],
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(dir, { recursive: true });
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(text);
  assert.equal(r.ok, false);
  assert.match(r.reason, /needs --allow-ffi/);
  assert.ok(!r.reason.includes("\n"));
});

Deno.test("MobileNetV3 Small and Large @64 on raw 0–255 pixels: Rescaling, hard_silu (Rescaling + ReLU6 + Multiply → HardSwish), SE (keepDims pooling, hard sigmoid → HardSigmoid, broadcasting Multiply); ONNX Runtime = TF.js, whole base and cut at a Keras index in the last third", async () => {
  for (const variant of ["small", "large"] as const) {
    const m = mobileNetV3({ variant, inputShape: [64, 64, 3] });
    randomizeWeights(m, 31);
    const x = tf.randomUniform([2, 64, 64, 3], 0, 255, "float32", 7);
    try {
      const g = extractFrozenGraph(m);
      const ops = opCounts(g);
      // Every SE pooling + Reshape folded into one keepDims pooling; every
      // SE gate (+ 3, ReLU6, · 1/6) one hard sigmoid fused into its conv;
      // every composed hard_silu one hard_silu fused into its conv.
      const se = m.layers.filter((l) => l.name.endsWith("_avg_pool")).length;
      assert.ok(se > 0);
      assert.equal(ops.expandSpatial, undefined);
      assert.equal(
        g.nodes.filter((n) => n.op === "globalPool" && n.keepDims).length,
        se,
      );
      const convActs = (a: string) =>
        g.nodes.filter((n) => n.op === "conv" && n.activation === a).length;
      assert.equal(convActs("hard_sigmoid"), se);
      const hardSilus = m.layers.filter((l) =>
        l.name.endsWith("__relu6")
      ).length;
      assert.ok(hardSilus > 0);
      assert.equal(convActs("hard_silu"), hardSilus);
      assert.equal(ops.mul, se, "one Mul per SE gate, none per hard_silu");
      assert.equal(layerCount(m, "Multiply"), se + hardSilus);
      assert.equal(ops.affine, 1, "only the input's Rescaling stays");
      assert.equal(ops.activation, undefined);
      const [want] = await reference(m, x);
      const [got] = await runOnnx(exportOnnx(m), x);
      assertClose(got, want, `MobileNetV3 ${variant} @64`);
      // Opset 13 has no HardSwish: HardSigmoid + Mul.
      const [got13] = await runOnnx(exportOnnx(m, { opset: 13 }), x);
      assertClose(got13, want, `MobileNetV3 ${variant} @64, opset 13`);

      const names = kerasLayerNames(m);
      const from = Math.floor(names.length * 0.7);
      const cut = crossingTensors(m, kerasLayerIndex(m, from));
      const frozen = extractFrozenGraph(m, { outputs: cut.tensors });
      const below = await runOnnx(frozenGraphToOnnx(frozen), x);
      const upper = upperPart(m, kerasLayerIndex(m, from));
      const feeds = below.map((o) => tf.tensor(o.data, o.shape));
      const [above] = await reference(
        upper,
        feeds.length === 1 ? feeds[0] : feeds,
      );
      tf.dispose(feeds);
      assertClose(
        above,
        want,
        `MobileNetV3 ${variant} cut at Keras layer ${from} (${names[from]}: ${
          cut.names.join(", ")
        })`,
      );
    } finally {
      x.dispose();
      m.dispose();
    }
  }
});

Deno.test("the frozen graph refuses what it cannot lower: a Multiply of three, a Reshape other than [n, C] → [1, 1, C]", () => {
  const input = tf.input({ shape: [4, 4, 2] });
  const tri = tf.layers.multiply({ name: "mul3" }).apply([
    input,
    input,
    input,
  ]) as tf.SymbolicTensor;
  const m1 = tf.model({ inputs: input, outputs: tri });
  assert.throws(
    () => extractFrozenGraph(m1),
    /layer "mul3" \(class Multiply\): multiplies 3 tensors/,
  );
  const flat = tf.layers.reshape({ targetShape: [32], name: "flat" }).apply(
    input,
  ) as tf.SymbolicTensor;
  const m2 = tf.model({ inputs: input, outputs: flat });
  assert.throws(
    () => extractFrozenGraph(m2),
    /layer "flat" \(class Reshape\): reshape \[,4,4,2\] → \[32\] is not supported/,
  );
});

Deno.test('EfficientNet-like V1 and V2 blocks on raw 0–255 pixels (Normalization as gamma/beta-less BN, per-channel Rescaling, swish, SE with Reshape and a sigmoid conv, drop-connect Dropout, 5×5 depthwise, "same" stride 2): ONNX Runtime = TF.js, folded and unfolded, and the .onnx file reloads', async () => {
  const cases = [
    { variant: "v1", size: 32 },
    { variant: "v2", size: 32 },
    { variant: "v2", size: 35 },
  ] as const;
  for (const { variant, size } of cases) {
    const m = effnetLike({ variant, size });
    const x = tf.randomUniform([2, size, size, 3], 0, 255, "float32", 11);
    const what = `EfficientNet-like ${variant} @${size}`;
    try {
      const g = extractFrozenGraph(m);
      // Rescaling → Normalization → Rescaling is one constant affine; every
      // swish / sigmoid after a convolution is fused into it.
      const affines = g.nodes.filter((n) => n.op === "affine");
      assert.equal(affines.length, 1, `${what}: one stem affine`);
      assert.equal(affines[0].op === "affine" && affines[0].constant, true);
      assert.deepEqual(affines[0].layers, [
        "rescaling",
        "normalization",
        "rescaling_1",
      ]);
      assert.equal(opCounts(g).activation, undefined, `${what}: all fused`);
      const acts = g.nodes.flatMap((n) =>
        n.op === "conv" ? [n.activation] : []
      );
      assert.ok(acts.includes("swish") && acts.includes("sigmoid"));
      // "same" stride 2 on an even size pads one more row/column after.
      const s2 = g.nodes.find((n) => n.name === "stem_conv");
      assert.ok(s2?.op === "conv");
      assert.deepEqual(
        s2.pads,
        size % 2 === 0
          ? { top: 0, bottom: 1, left: 0, right: 1 }
          : { top: 1, bottom: 1, left: 1, right: 1 },
      );
      const [want] = await reference(m, x);
      const bytes = exportOnnx(m);
      const [got] = await runOnnx(bytes, x);
      assertClose(got, want, what);
      const [unfolded] = await runOnnx(exportOnnx(m, { fold: false }), x);
      assertClose(unfolded, want, `${what}, unfolded`);
      // The exported file reloads in ONNX Runtime from disk.
      const dir = await Deno.makeTempDir();
      try {
        const file = `${dir}/model.onnx`;
        await Deno.writeFile(file, bytes);
        const [fromFile] = await runOnnx(await Deno.readFile(file), x);
        assertClose(fromFile, want, `${what}, from the .onnx file`);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    } finally {
      x.dispose();
      m.dispose();
    }
  }
});

Deno.test("Rescaling: per-channel scale and offset of the wrong length, or nested, name the layer", () => {
  const input = tf.input({ shape: [4, 4, 3] });
  for (
    const [scale, offset, re] of [
      [[1, 2], 0, /scale \[1,2\] is not supported \(a number, or 3 numbers/],
      [2, [[1, 2, 3]], /offset \[\[1,2,3\]\] is not supported/],
    ] as const
  ) {
    const y = tf.layers.rescaling({
      scale: scale as unknown as number,
      offset: offset as unknown as number,
      name: "bad_rescale",
    }).apply(input) as tf.SymbolicTensor;
    assert.throws(
      () => extractFrozenGraph(tf.model({ inputs: input, outputs: y })),
      new RegExp(`layer "bad_rescale" \\(class Rescaling\\): ${re.source}`),
    );
  }
});
