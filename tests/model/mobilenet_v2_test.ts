/**
 * MobileNetV2 against Keras' architecture rules, re-derived here from the
 * paper's block table and Keras' `_make_divisible`/`correct_pad`/naming code
 * (not from the module's own tables), plus an ops-level reference forward
 * pass that uses TensorFlow's "same" padding instead of ZeroPadding2D.
 */

import { mobileNetV2Preprocess } from "../../src/data/batches.ts";
import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import {
  correctPad,
  makeDivisible,
  MOBILENET_V2_BASE_LAYERS,
  mobileNetV2,
} from "../../src/model/mobilenet_v2.ts";
import { randomizeWeights } from "../../fixtures/make_h5.ts";

await tf.setBackend("cpu");
silenceNodeBanner();

const ALPHAS = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4];

/** Keras' `_make_divisible`, transcribed from keras/applications. */
function kerasMakeDivisible(v: number, divisor = 8): number {
  let newV = Math.max(
    divisor,
    Math.floor(Math.trunc(v + divisor / 2) / divisor) * divisor,
  );
  if (newV < 0.9 * v) newV += divisor;
  return newV;
}

/** The paper's table 2 (t, c, n, s), which Keras' 17 block calls expand. */
const PAPER_TABLE: [number, number, number, number][] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

interface KerasBlock {
  id: number;
  t: number;
  inC: number;
  outC: number;
  stride: number;
  add: boolean;
}

/** Keras' layer names, parameter counts and blocks for (alpha, top). */
function kerasExpected(alpha: number, includeTop: boolean) {
  const names = ["input_1", "Conv1", "bn_Conv1", "Conv1_relu"];
  const first = kerasMakeDivisible(32 * alpha);
  let params = 27 * first + 4 * first;
  let bnChannels = first;
  let inC = first;
  const blocks: KerasBlock[] = [];
  let id = 0;
  for (const [t, c, n, s] of PAPER_TABLE) {
    for (let i = 0; i < n; i++, id++) {
      const stride = i === 0 ? s : 1;
      const outC = kerasMakeDivisible(Math.trunc(c * alpha));
      const exp = inC * t;
      const p = id === 0 ? "expanded_conv_" : `block_${id}_`;
      if (id > 0) {
        names.push(p + "expand", p + "expand_BN", p + "expand_relu");
        params += inC * exp + 4 * exp;
        bnChannels += exp;
      }
      if (stride === 2) names.push(p + "pad");
      names.push(p + "depthwise", p + "depthwise_BN", p + "depthwise_relu");
      params += 9 * exp + 4 * exp;
      bnChannels += exp;
      names.push(p + "project", p + "project_BN");
      params += exp * outC + 4 * outC;
      bnChannels += outC;
      const add = inC === outC && stride === 1;
      if (add) names.push(p + "add");
      blocks.push({ id, t, inC, outC, stride, add });
      inC = outC;
    }
  }
  const last = alpha > 1 ? kerasMakeDivisible(1280 * alpha) : 1280;
  names.push("Conv_1", "Conv_1_bn", "out_relu");
  params += inC * last + 4 * last;
  bnChannels += last;
  if (includeTop) {
    names.push("global_average_pooling2d", "predictions");
    params += last * 1000 + 1000;
  }
  return { names, params, nonTrainable: 2 * bnChannels, last, blocks };
}

const countOf = (ws: tf.LayerVariable[]) =>
  ws.reduce((a, w) => a + w.shape.reduce((x, y) => x! * y!, 1)!, 0);

Deno.test("Keras rules reproduce Keras' published MobileNetV2 1.0 parameter counts", () => {
  // Keras' model.summary(): 2,257,984 total / 34,112 non-trainable at 160
  // without top; 3,538,984 with top (the TF transfer-learning tutorial, keras.io).
  assert.equal(kerasExpected(1.0, false).params, 2_257_984);
  assert.equal(kerasExpected(1.0, false).nonTrainable, 34_112);
  assert.equal(kerasExpected(1.0, true).params, 3_538_984);
  assert.equal(kerasExpected(1.0, false).names.length, 154);
});

Deno.test("makeDivisible and correctPad follow Keras", () => {
  for (const alpha of ALPHAS) {
    for (const c of [16, 24, 32, 64, 96, 160, 320, 1280]) {
      assert.equal(makeDivisible(c * alpha), kerasMakeDivisible(c * alpha));
    }
  }
  assert.equal(makeDivisible(32 * 0.35), 16); // 8 would be > 10 % down
  assert.equal(makeDivisible(1280 * 1.4), 1792);
  assert.deepEqual(correctPad([80, 80]), [[0, 1], [0, 1]]);
  assert.deepEqual(correctPad([25, 25]), [[1, 1], [1, 1]]);
  assert.deepEqual(correctPad([24, 25]), [[0, 1], [1, 1]]);
  assert.deepEqual(correctPad([null, null]), [[0, 1], [0, 1]]);
});

Deno.test("parameter counts equal Keras' for all six alphas, with and without top", () => {
  for (const alpha of ALPHAS) {
    for (const includeTop of [false, true]) {
      const rows = includeTop ? 224 : 160;
      const want = kerasExpected(alpha, includeTop);
      const m = mobileNetV2({ inputShape: [rows, rows, 3], alpha, includeTop });
      try {
        const where = `alpha ${alpha} @${rows} top=${includeTop}`;
        assert.equal(m.countParams(), want.params, where);
        assert.equal(countOf(m.nonTrainableWeights), want.nonTrainable, where);
        assert.deepEqual(m.layers.map((l) => l.name), want.names, where);
        assert.deepEqual(
          m.outputs[0].shape,
          includeTop ? [null, 1000] : [null, 5, 5, want.last],
          where,
        );
      } finally {
        m.dispose();
      }
    }
  }
});

Deno.test("layer order, classes and configs are Keras': 154 layers, index 100 as in the TF tutorial", () => {
  const m = mobileNetV2({ inputShape: [160, 160, 3], includeTop: false });
  try {
    assert.equal(m.layers.length, MOBILENET_V2_BASE_LAYERS);
    assert.equal(m.layers.length, 154);
    assert.equal(m.name, "mobilenetv2_1.00_160");
    // `fine_tune_at = 100` in the tutorial: layers[100:] are trainable.
    assert.equal(m.layers[100].name, "block_11_expand_relu");
    assert.equal(m.layers[116].name, "block_13_expand");
    assert.equal(m.layers[153].name, "out_relu");
    const classOf = (name: string) =>
      name === "input_1"
        ? "InputLayer"
        : /_(BN|bn)$|^bn_/.test(name)
        ? "BatchNormalization"
        : /relu$/.test(name)
        ? "ReLU"
        : /pad$/.test(name)
        ? "ZeroPadding2D"
        : /add$/.test(name)
        ? "Add"
        : /depthwise$/.test(name)
        ? "DepthwiseConv2D"
        : "Conv2D";
    for (const layer of m.layers) {
      assert.equal(layer.getClassName(), classOf(layer.name), layer.name);
      const cfg = layer.getConfig();
      switch (layer.getClassName()) {
        case "BatchNormalization":
          assert.equal(cfg.epsilon, 1e-3);
          assert.equal(cfg.momentum, 0.999);
          break;
        case "ReLU":
          assert.equal(cfg.maxValue, 6);
          break;
        case "Conv2D":
        case "DepthwiseConv2D":
          assert.equal(cfg.useBias, false, layer.name);
          assert.equal(
            cfg.padding,
            cfg.strides?.toString() === "2,2" &&
              layer.getClassName() === "DepthwiseConv2D"
              ? "valid"
              : "same",
            layer.name,
          );
          break;
      }
    }
  } finally {
    m.dispose();
  }
});

Deno.test("stride-2 paddings are Keras' correct_pad at even and odd sizes", () => {
  // 100 → 50 (even) → 25 → 13 → 7 (odd): both kinds of padding occur.
  const m = mobileNetV2({
    inputShape: [100, 100, 3],
    alpha: 0.35,
    includeTop: false,
  });
  try {
    const pads = m.layers.filter((l) => l.name.endsWith("_pad"));
    assert.deepEqual(pads.map((l) => l.name), [
      "block_1_pad",
      "block_3_pad",
      "block_6_pad",
      "block_13_pad",
    ]);
    const inSizes = [50, 25, 13, 7];
    pads.forEach((l, i) => {
      const s = inSizes[i];
      assert.equal((l.input as tf.SymbolicTensor).shape[1], s);
      const a = 1 - (s % 2);
      assert.deepEqual(l.getConfig().padding, [[1 - a, 1], [1 - a, 1]], l.name);
    });
    // TensorFlow's "same" sizes: ceil(100/2)=50, 25, 13, 7, 4.
    assert.deepEqual(m.outputs[0].shape, [null, 4, 4, 1280]);
  } finally {
    m.dispose();
  }
});

Deno.test("ZeroPadding2D(correct_pad) + valid stride-2 depthwise equals TF 'same' at even and odd sizes", () => {
  for (const size of [8, 9]) {
    tf.tidy(() => {
      const x = tf.randomNormal<tf.Rank.R4>(
        [1, size, size, 4],
        0,
        1,
        "float32",
        size,
      );
      const k = tf.randomNormal<tf.Rank.R4>([3, 3, 4, 1], 0, 1, "float32", 7);
      const p = correctPad([size, size]);
      const ours = tf.depthwiseConv2d(
        tf.pad(x, [[0, 0], p[0], p[1], [0, 0]]) as tf.Tensor4D,
        k,
        2,
        "valid",
      );
      const same = tf.depthwiseConv2d(x, k, 2, "same");
      assert.deepEqual(ours.shape, same.shape);
      assert.ok(tf.max(tf.abs(tf.sub(ours, same))).dataSync()[0] < 1e-5);
    });
  }
});

/**
 * MobileNetV2 forward with raw ops from Keras' definition: TF "same" padding
 * for every conv, BN as (x - mean) / sqrt(var + 1e-3) * gamma + beta, ReLU6
 * as clip, residual adds where in == out channels and stride 1. Weights are
 * read from the model's layers by name.
 */
function referenceForward(m: tf.LayersModel, x: tf.Tensor4D, alpha: number) {
  const w = (name: string) => m.getLayer(name).getWeights();
  const bn = (t: tf.Tensor4D, name: string) => {
    const [g, b, mean, v] = w(name);
    return tf.add(
      tf.mul(tf.div(tf.sub(t, mean), tf.sqrt(tf.add(v, 1e-3))), g),
      b,
    ) as tf.Tensor4D;
  };
  const relu6 = (t: tf.Tensor4D) => tf.clipByValue(t, 0, 6);
  const conv = (t: tf.Tensor4D, name: string, stride: 1 | 2 = 1) =>
    tf.conv2d(t, w(name)[0] as tf.Tensor4D, stride, "same");
  let y = relu6(bn(conv(x, "Conv1", 2), "bn_Conv1"));
  for (const blk of kerasExpected(alpha, false).blocks) {
    const p = blk.id === 0 ? "expanded_conv_" : `block_${blk.id}_`;
    let h = y;
    if (blk.id > 0) h = relu6(bn(conv(h, p + "expand"), p + "expand_BN"));
    h = relu6(
      bn(
        tf.depthwiseConv2d(
          h,
          w(p + "depthwise")[0] as tf.Tensor4D,
          blk.stride as 1 | 2,
          "same",
        ),
        p + "depthwise_BN",
      ),
    );
    h = bn(conv(h, p + "project"), p + "project_BN");
    y = blk.add ? tf.add(y, h) : h;
  }
  return relu6(bn(conv(y, "Conv_1"), "Conv_1_bn"));
}

Deno.test("outputs equal an ops-level Keras reference forward pass (odd and even sizes)", () => {
  for (const size of [35, 32]) {
    const alpha = 0.35;
    const m = mobileNetV2({
      inputShape: [size, size, 3],
      alpha,
      includeTop: false,
    });
    try {
      randomizeWeights(m, size);
      tf.tidy(() => {
        const x = tf.randomUniform([2, size, size, 3], -1, 1, "float32", 3);
        const got = m.predict(x) as tf.Tensor;
        const want = referenceForward(m, x as tf.Tensor4D, alpha);
        assert.deepEqual(got.shape, want.shape);
        const scale = tf.max(tf.abs(want)).dataSync()[0];
        const err = tf.max(tf.abs(tf.sub(got, want))).dataSync()[0];
        assert.ok(scale > 0.1, `degenerate reference output (max ${scale})`);
        assert.ok(
          err <= 1e-4 * scale,
          `size ${size}: max error ${err} vs scale ${scale}`,
        );
      });
    } finally {
      m.dispose();
    }
  }
});

Deno.test("top, pooling and input checks", () => {
  const top = mobileNetV2({ inputShape: [32, 32, 3], alpha: 0.35, classes: 7 });
  const avg = mobileNetV2({
    inputShape: [32, 32, 3],
    alpha: 0.35,
    includeTop: false,
    pooling: "avg",
  });
  const max = mobileNetV2({
    inputShape: [32, 32, 3],
    alpha: 0.35,
    includeTop: false,
    pooling: "max",
  });
  const any = mobileNetV2({
    inputShape: [null, null, 3],
    alpha: 0.35,
    includeTop: false,
  });
  try {
    assert.deepEqual(top.outputs[0].shape, [null, 7]);
    assert.equal(top.getLayer("predictions").getConfig().activation, "softmax");
    assert.deepEqual(avg.outputs[0].shape, [null, 1280]);
    assert.equal(avg.layers.length, 155);
    assert.deepEqual(max.outputs[0].shape, [null, 1280]);
    assert.deepEqual(any.outputs[0].shape, [null, null, null, 1280]);
    tf.tidy(() => {
      const y = any.predict(tf.zeros([1, 33, 40, 3])) as tf.Tensor;
      // Unknown sizes are padded as even ones (Keras: adjust = (1, 1)):
      // 33x40 → 17x20 → 8x10 → 4x5 → 2x2 → 1x1.
      assert.deepEqual(y.shape, [1, 1, 1, 1280]);
    });
  } finally {
    for (const m of [top, avg, max, any]) m.dispose();
  }
  assert.throws(
    () => mobileNetV2({ inputShape: [31, 32, 3] }),
    /at least|>= 32/,
  );
  assert.throws(() => mobileNetV2({ alpha: 0 }), /alpha/);
});

Deno.test("seeded initialisation is reproducible", () => {
  const a = mobileNetV2({
    inputShape: [32, 32, 3],
    alpha: 0.35,
    includeTop: false,
    seed: 4,
  });
  const b = mobileNetV2({
    inputShape: [32, 32, 3],
    alpha: 0.35,
    includeTop: false,
    seed: 4,
  });
  try {
    const wa = a.getLayer("block_5_project").getWeights()[0].dataSync();
    const wb = b.getLayer("block_5_project").getWeights()[0].dataSync();
    assert.deepEqual(wa, wb);
  } finally {
    a.dispose();
    b.dispose();
  }
});

Deno.test("mobileNetV2Preprocess maps [0, 255] to [-1, 1] like Keras' preprocess_input", () => {
  tf.tidy(() => {
    const y = mobileNetV2Preprocess(
      tf.tensor4d([0, 127.5, 255, 51], [1, 1, 1, 4]),
    );
    const want = [-1, 0, 1, 51 / 127.5 - 1];
    y.dataSync().forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-7));
    assert.equal(y.dtype, "float32");
  });
});
