/**
 * The fused TF.js executor of the frozen graph (`src/engine/fused_graph.ts`)
 * against the layers model's `predict` on the same backend (what it
 * replaces), on cpu, wasm (single-threaded) and webgpu (skipped without an
 * adapter; lavapipe in CI): a tiny MobileNetV2 with randomised weights and
 * BatchNormalization statistics, a small model whose ZeroPadding2D folds
 * into asymmetric pads that are not "same" (explicit pads on every backend),
 * the whole classifier, cuts at a layer index (multi-output graphs, and the
 * part above the cut as a multi-input graph), MobileNetV3 Small and Large
 * (Rescaling, hard_silu, squeeze-and-excitation), EfficientNet-like V1/V2
 * blocks (`_effnet_like.ts`: Normalization, per-channel Rescaling, swish,
 * SE, drop-connect, 5×5 depthwise, "same" stride 2), and the full-size MobileNetV2
 * 1.0 @160 (batch 1 on cpu and webgpu, 2 on wasm). Tolerance: for every
 * output, max |fused − layers| ≤ 1e-4 · max |layers|. On cpu also: which
 * kernels run (one fused kernel per convolution), no leaked tensors, errors.
 *
 * Run with `deno test --allow-all tests/engine/fused_graph_test.ts`.
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { selectBackend } from "../../src/backend/backend.ts";
import { probeWebGpu } from "../../src/backend/webgpu_probe.ts";
import { mobileNetV2 } from "../../src/model/mobilenet_v2.ts";
import { kerasLayerNames, mobileNetV3 } from "../../src/model/mobilenet_v3.ts";
import { kerasLayerIndex } from "../../src/model/bases.ts";
import { buildClassifier } from "../../src/model/classifier.ts";
import type { FrozenGraph } from "../../src/engine/frozen_graph_ir.ts";
import { crossingTensors } from "../../src/engine/frozen_graph_cut.ts";
import { samePadding } from "../../src/engine/_frozen_graph_pads.ts";
import { extractFrozenGraph } from "../../src/engine/frozen_graph.ts";
import {
  extractFrozenGraphAsync,
  fusedGraphModel,
  type FusedGraphOptions,
  fusedModelOf,
} from "../../src/engine/fused_graph.ts";
import { randomizeWeights } from "../../fixtures/make_h5.ts";
import { effnetLike } from "./_effnet_like.ts";
import {
  assertClose as closeTo,
  take,
  upperPart,
  type Values,
} from "../_helpers/engine.ts";

await selectBackend("cpu");
const probe = await probeWebGpu();

const RTOL = 1e-4;
const PAD_FORMS: NonNullable<FusedGraphOptions["pads"]>[] = [
  "auto",
  "explicit",
  "pad-op",
];

/** Images in [-1, 1], as preprocessed batches are. */
const images = (n: number, h: number, w: number, c: number, seed: number) =>
  tf.randomUniform([n, h, w, c], -1, 1, "float32", seed) as tf.Tensor4D;

/** The fused graph against the layers model: max |fused − layers| ≤ RTOL · max |layers|. */
const assertClose = (got: Values, want: Values, what: string) =>
  closeTo(got, want, what, { rtol: RTOL, label: "fused − layers" });

/**
 * Runs `model.predict` and the fused executor of `graph` (every pad form
 * unless `forms` says otherwise) on `xs`, and compares every output.
 */
async function compare(
  model: tf.LayersModel,
  graph: FrozenGraph,
  xs: tf.Tensor | tf.Tensor[],
  what: string,
  forms: NonNullable<FusedGraphOptions["pads"]>[] = PAD_FORMS,
): Promise<void> {
  const want = await take(model.predict(xs));
  assert.equal(want.length, graph.outputs.length, `${what}: output count`);
  const errors: string[] = [];
  for (const pads of forms) {
    const fused = fusedGraphModel(graph, { pads });
    try {
      const before = tf.memory().numTensors;
      const got = await take(fused.predict(xs));
      assert.equal(
        tf.memory().numTensors,
        before,
        `${what} (${pads}): tensors leaked by a forward pass`,
      );
      assert.equal(got.length, want.length);
      const e = got.map((g, i) =>
        assertClose(g, want[i], `${what}, ${graph.outputs[i].name} (${pads})`)
      );
      errors.push(`${pads} ${Math.max(...e).toExponential(1)}`);
    } finally {
      fused.dispose();
    }
  }
  console.log(`  ${tf.getBackend()} ${what}: max |Δ|/max ${errors.join(", ")}`);
}

/** A tiny MobileNetV2 at an odd size, no top, randomised. */
function tinyBase(pooling?: "avg"): tf.LayersModel {
  const m = mobileNetV2({
    inputShape: [35, 35, 3],
    alpha: 0.35,
    includeTop: false,
    pooling,
  });
  randomizeWeights(m, 11);
  return m;
}

/**
 * A small two-output model whose ZeroPadding2D layers fold into asymmetric
 * pads that are not "same" (so `"auto"` passes them explicitly, to conv2d
 * and to depthwiseConv2d), a dilated "same" conv, a residual add, global
 * max pooling, a Dropout, a linear Dense + softmax Activation and a sigmoid
 * Dense.
 */
function padsModel(): tf.LayersModel {
  const L = tf.layers;
  const ap = (
    layer: tf.layers.Layer,
    x: tf.SymbolicTensor | tf.SymbolicTensor[],
  ) => layer.apply(x) as tf.SymbolicTensor;
  const input = tf.input({ shape: [13, 11, 4], name: "img" });
  let x = ap(
    L.zeroPadding2d({ padding: [[2, 0], [1, 3]], name: "pad_a" }),
    input,
  ); // 15×15
  x = ap(
    L.conv2d({ filters: 8, kernelSize: 3, strides: 2, name: "conv_a" }),
    x,
  ); // 7×7×8
  x = ap(L.batchNormalization({ name: "bn_a" }), x);
  const skip = ap(L.reLU({ maxValue: 6, name: "relu_a" }), x);
  x = ap(L.zeroPadding2d({ padding: [[0, 2], [2, 0]], name: "pad_b" }), skip); // 9×9
  x = ap(
    L.depthwiseConv2d({
      kernelSize: 3,
      depthMultiplier: 2,
      useBias: false,
      name: "dw_b",
    }),
    x,
  ); // 7×7×16
  x = ap(L.batchNormalization({ name: "bn_b" }), x);
  x = ap(L.reLU({ name: "relu_b" }), x);
  x = ap(
    L.conv2d({
      filters: 8,
      kernelSize: 3,
      dilationRate: 2,
      padding: "same",
      useBias: false,
      name: "conv_c",
    }),
    x,
  );
  x = ap(L.batchNormalization({ name: "bn_c" }), x);
  x = ap(L.add({ name: "add" }), [skip, x]);
  x = ap(L.zeroPadding2d({ padding: [[1, 0], [0, 1]], name: "pad_d" }), x); // 8×8
  x = ap(L.depthwiseConv2d({ kernelSize: 3, strides: 2, name: "dw_d" }), x); // 3×3×8
  x = ap(L.globalMaxPooling2d({ name: "pool" }), x);
  x = ap(L.dropout({ rate: 0.5, name: "drop" }), x);
  const logits = ap(L.dense({ units: 6, name: "logits" }), x);
  const probs = ap(
    L.activation({ activation: "softmax", name: "probs" }),
    logits,
  );
  const sig = ap(L.dense({ units: 3, activation: "sigmoid", name: "sig" }), x);
  const m = tf.model({
    inputs: input,
    outputs: [probs, sig],
    name: "pads_model",
  });
  randomizeWeights(m, 17);
  return m;
}

/** The same-backend comparisons, run on each backend. */
async function parity(t: Deno.TestContext, fullBatch: number) {
  await t.step(
    "tiny MobileNetV2 (alpha 0.35, 35 px, random BN), 4-D output",
    async () => {
      const m = tinyBase();
      const x = images(3, 35, 35, 3, 1);
      try {
        await compare(m, await extractFrozenGraphAsync(m), x, "tiny base");
      } finally {
        x.dispose();
        m.dispose();
      }
    },
  );

  await t.step(
    "explicit asymmetric pads (conv and depthwise), dilation, two outputs; unfolded graph",
    async () => {
      const m = padsModel();
      const x = images(2, 13, 11, 4, 2);
      try {
        const g = await extractFrozenGraphAsync(m);
        // The folded pads are neither zero nor TF's "same": "auto" passes them explicitly.
        for (const name of ["conv_a", "dw_b", "dw_d"]) {
          const node = g.nodes.find((n) => n.name === name);
          assert.ok(node?.op === "conv", name);
          const [h, w] = g.shapes[node.inputs[0]].slice(1, 3) as number[];
          const same = [
            ...samePadding(h, node.kernelSize[0], node.strides[0]),
            ...samePadding(w, node.kernelSize[1], node.strides[1]),
          ];
          const { top, bottom, left, right } = node.pads;
          assert.notDeepEqual([top, bottom, left, right], same, name);
          assert.ok(top + bottom + left + right > 0, name);
        }
        await compare(m, g, x, "pads model");
        // Unfolded: standalone pad, affine (BN), activation and identity nodes.
        const raw = await extractFrozenGraphAsync(m, { fold: false });
        const ops = new Set(raw.nodes.map((n) => n.op));
        for (const op of ["pad", "affine", "activation", "identity"]) {
          assert.ok(ops.has(op as never), `unfolded graph has no ${op} node`);
        }
        await compare(m, raw, x, "pads model, unfolded", ["auto"]);
      } finally {
        x.dispose();
        m.dispose();
      }
    },
  );

  await t.step(
    "whole classifier: base + GAP + Dropout + Dense softmax",
    async () => {
      const c = await buildClassifier({
        imageSize: [40, 40],
        alpha: 0.35,
        numClasses: 3,
        dropout: 0.3,
        seed: 5,
      });
      randomizeWeights(c.model, 31);
      const x = images(4, 40, 40, 3, 3);
      try {
        const g = await extractFrozenGraphAsync(c.model);
        const last = g.nodes.at(-1)!;
        assert.ok(last.op === "dense" && last.activation === "softmax");
        await compare(c.model, g, x, "classifier", ["auto"]);
      } finally {
        x.dispose();
        c.model.dispose();
      }
    },
  );

  await t.step(
    "cuts: crossing tensors as outputs; the part above as a multi-input graph",
    async () => {
      const m = tinyBase("avg");
      const x = images(2, 35, 35, 3, 4);
      try {
        // 100: a residual block's skip and expand BN; 12: after block_1_pad; 1: the input itself.
        for (const cut of [100, 12, 1]) {
          const crossing = crossingTensors(m, cut);
          const below = tf.model({
            inputs: m.inputs,
            outputs: crossing.tensors,
          });
          const g = await extractFrozenGraphAsync(m, {
            outputs: crossing.tensors,
          });
          assert.deepEqual(g.outputs.map((o) => o.name), crossing.names);
          await compare(
            below,
            g,
            x,
            `below cut ${cut} (${crossing.names.join(", ")})`,
            ["auto"],
          );
          if (cut === 1) continue;
          const upper = upperPart(m, cut);
          const fusedBelow = fusedGraphModel(g);
          const feeds = fusedBelow.execute(x);
          fusedBelow.dispose();
          try {
            const gu = await extractFrozenGraphAsync(upper);
            assert.equal(gu.inputs.length, crossing.names.length);
            await compare(
              upper,
              gu,
              feeds.length === 1 ? feeds[0] : feeds,
              `above cut ${cut}`,
              [
                "auto",
              ],
            );
          } finally {
            tf.dispose(feeds);
          }
        }
      } finally {
        x.dispose();
        m.dispose();
      }
    },
  );

  await t.step(
    "MobileNetV3 Small and Large @64 on raw 0–255 pixels: whole base and the cut at a Keras index in the last third",
    async () => {
      for (const variant of ["small", "large"] as const) {
        const m = mobileNetV3({ variant, inputShape: [64, 64, 3] });
        randomizeWeights(m, 31);
        const x = tf.randomUniform([2, 64, 64, 3], 0, 255, "float32", 7);
        try {
          const g = await extractFrozenGraphAsync(m);
          assert.ok(g.nodes.some((n) => n.op === "globalPool" && n.keepDims));
          assert.ok(g.nodes.some((n) => n.op === "mul"));
          await compare(m, g, x, `MobileNetV3 ${variant} @64`, ["auto"]);
          const from = kerasLayerIndex(
            m,
            Math.floor(kerasLayerNames(m).length * 0.7),
          );
          const cut = crossingTensors(m, from);
          const below = tf.model({ inputs: m.inputs, outputs: cut.tensors });
          // After predict on WebGPU: only an async read finds the weights.
          const gc = await extractFrozenGraphAsync(m, { outputs: cut.tensors });
          await compare(below, gc, x, `MobileNetV3 ${variant} below ${from}`, [
            "auto",
          ]);
        } finally {
          x.dispose();
          m.dispose();
        }
      }
    },
  );

  await t.step(
    'EfficientNet-like V1 @32 and V2 @32/@35 on raw 0–255 pixels (Normalization, per-channel Rescaling, swish, SE with a sigmoid conv, drop-connect, 5×5 depthwise, "same" stride 2), folded and unfolded',
    async () => {
      for (
        const [variant, size] of [["v1", 32], ["v2", 32], ["v2", 35]] as const
      ) {
        const m = effnetLike({ variant, size });
        const x = tf.randomUniform([2, size, size, 3], 0, 255, "float32", 3);
        try {
          const what = `EfficientNet-like ${variant} @${size}`;
          const g = await extractFrozenGraphAsync(m);
          assert.ok(
            g.nodes.some((n) => n.op === "conv" && n.activation === "swish"),
          );
          await compare(m, g, x, what);
          const raw = await extractFrozenGraphAsync(m, { fold: false });
          await compare(m, raw, x, `${what}, unfolded`, ["auto"]);
        } finally {
          x.dispose();
          m.dispose();
        }
      }
    },
  );

  await t.step(
    `full-size MobileNetV2 1.0 @160, batch ${fullBatch}: pooled features and the cut at 100`,
    async () => {
      const m = mobileNetV2({
        inputShape: [160, 160, 3],
        alpha: 1.0,
        includeTop: false,
        pooling: "avg",
      });
      randomizeWeights(m, 21);
      const x = images(fullBatch, 160, 160, 3, 5);
      try {
        const g = await extractFrozenGraphAsync(m);
        const cut = crossingTensors(m, 100);
        const gc = extractFrozenGraph(m, { outputs: cut.names });
        await compare(m, g, x, "MobileNetV2 1.0 @160 features", ["auto"]);
        const sub = tf.model({ inputs: m.inputs, outputs: cut.tensors });
        await compare(sub, gc, x, "MobileNetV2 1.0 @160, cut at 100", ["auto"]);
      } finally {
        x.dispose();
        m.dispose();
      }
    },
  );
}

Deno.test("cpu: fused graph = layers model", async (t) => {
  await selectBackend("cpu");
  await parity(t, 1);
});

Deno.test("cpu: one fused kernel per convolution, nothing else but adds and the mean", async () => {
  await selectBackend("cpu");
  const m = tinyBase("avg");
  const x = images(1, 35, 35, 3, 6);
  try {
    const g = await extractFrozenGraphAsync(m);
    const convs = g.nodes.filter((n) => n.op === "conv").length;
    const padded = g.nodes.filter((n) =>
      n.op === "conv" &&
      n.pads.top + n.pads.bottom + n.pads.left + n.pads.right > 0
    ).length;
    const adds = g.nodes.filter((n) => n.op === "add").length;
    for (const pads of PAD_FORMS) {
      const fused = fusedGraphModel(g, { pads });
      // kernel + folded bias of every conv
      assert.equal(fused.weightTensors, 2 * convs);
      const info = await tf.profile(() => {
        tf.dispose(fused.predict(x));
      });
      fused.dispose();
      const count: Record<string, number> = {};
      // (custom-gradient ops also show up as "<op>__op" entries: not kernels)
      for (const k of info.kernels) {
        if (!k.name.endsWith("__op")) count[k.name] = (count[k.name] ?? 0) + 1;
      }
      const expected: Record<string, number> = {
        FusedConv2D: g.nodes.filter((n) =>
          n.op === "conv" && !n.depthwise
        ).length,
        FusedDepthwiseConv2D: g.nodes.filter((n) =>
          n.op === "conv" && n.depthwise
        ).length,
        Add: adds,
        Mean: 1,
      };
      if (pads === "pad-op") expected.PadV2 = padded;
      assert.equal(expected.FusedConv2D + expected.FusedDepthwiseConv2D, convs);
      assert.deepEqual(count, expected, pads);
    }
  } finally {
    x.dispose();
    m.dispose();
  }
});

Deno.test("cpu: tensors are freed, outputs are the caller's, errors name the graph and input", async () => {
  await selectBackend("cpu");
  const m = tinyBase("avg");
  const x = images(2, 35, 35, 3, 7);
  const start = tf.memory().numTensors;
  try {
    const g = await extractFrozenGraphAsync(m, {
      outputs: ["input_1", "block_2_add"],
    });
    const fused = fusedGraphModel(g);
    assert.equal(tf.memory().numTensors, start + fused.weightTensors);
    assert.deepEqual(fused.outputShapes, [[35, 35, 3], [9, 9, 8]]);
    assert.equal(fused.backend, "cpu");
    // A graph input requested as an output comes back as a copy.
    const [copy, add] = fused.execute(x);
    assert.notEqual(copy, x);
    assert.deepEqual(await copy.data(), await x.data());
    tf.dispose([copy, add]);
    assert.equal(x.isDisposed, false);
    assert.equal(tf.memory().numTensors, start + fused.weightTensors);

    const wrong = images(1, 32, 32, 3, 1);
    assert.throws(
      () => fused.predict(wrong),
      /fused graph "mobilenetv2_0\.35_35": input "input_1" must have shape \[batch, 35, 35, 3\], got \[1, 32, 32, 3\]/,
    );
    assert.throws(
      () => fused.predict([x, x]),
      /fused graph "mobilenetv2_0\.35_35" takes 1 input\(s\) \(input_1\), got 2/,
    );
    wrong.dispose();
    fused.dispose();
    fused.dispose(); // idempotent
    assert.throws(
      () => fused.predict(x),
      /fused graph "mobilenetv2_0\.35_35" was disposed/,
    );
    assert.throws(
      () => fusedGraphModel(g, { pads: "same" as never }),
      /option "pads" must be "auto", "explicit" or "pad-op", got "same"/,
    );
    // A bad node after good ones: the weights uploaded before it are freed.
    const bad = { ...g.nodes[0], name: "bad", op: "lrn" } as never;
    assert.throws(
      () => fusedGraphModel({ ...g, nodes: [...g.nodes, bad] }),
      /graph "mobilenetv2_0\.35_35", node "bad" \(lrn\): unknown op/,
    );
    assert.equal(tf.memory().numTensors, start);
  } finally {
    x.dispose();
    m.dispose();
  }
});

Deno.test("wasm (single-threaded): fused graph = layers model", async (t) => {
  await selectBackend("wasm", { wasmThreads: false });
  try {
    assert.equal(tf.getBackend(), "wasm");
    await parity(t, 2);
  } finally {
    await selectBackend("cpu");
  }
});

Deno.test({
  name: "webgpu: fused graph = layers model",
  ignore: probe.adapter == null,
  // The WebGPU device TF.js creates lives for the whole process.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const sel = await selectBackend("webgpu");
    console.log(
      `  adapter: ${sel.adapter}${sel.fallbackAdapter ? " (software)" : ""}`,
    );
    try {
      assert.equal(tf.getBackend(), "webgpu");
      await parity(t, 1);
      // fusedModelOf reads the weights asynchronously first: extraction
      // works after the layers model has run on the GPU (when the weights
      // have no CPU copy left and dataSync cannot read them in Deno).
      const m = tinyBase("avg");
      const x = images(1, 35, 35, 3, 8);
      try {
        await take(m.predict(x));
        const fused = await fusedModelOf(m);
        assert.equal(fused.backend, "webgpu");
        const [got] = await take(fused.predict(x));
        const [want] = await take(m.predict(x));
        assertClose(got, want, "after predict on the GPU");
        fused.dispose();
      } finally {
        x.dispose();
        m.dispose();
      }
    } finally {
      await selectBackend("cpu");
    }
  },
});
