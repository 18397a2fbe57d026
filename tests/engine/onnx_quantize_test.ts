/**
 * ONNX fp16 and static int8 QDQ models in ONNX Runtime (needs --allow-ffi):
 * QuantizeLinear / DequantizeLinear and a quantized Conv + ReLU6 against
 * references computed here in TypeScript from ONNX's formulas, and a whole
 * classifier's fp16 / int8 twins against its float32 model.
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import {
  encodeOnnxModel,
  type OnnxModel,
} from "../../src/engine/_onnx_proto.ts";
import {
  activationQuantization,
  qdqPlan,
  quantizeWeightsPerChannel,
  toQdq,
} from "../../src/engine/_onnx_quantize.ts";
import {
  type CalibrationBatch,
  exportOnnxFloat16,
  exportOnnxInt8,
  Histogram,
  PERCENTILE,
} from "../../src/engine/onnx_quantize.ts";
import { exportOnnx } from "../../src/engine/onnx_export.ts";
import {
  createOnnxEngine,
  tryLoadOnnxRuntime,
} from "../../src/engine/onnx_runtime.ts";
import { buildClassifier } from "../../src/model/classifier.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import { calibratedH5 } from "../_helpers/train.ts";

const loaded = await tryLoadOnnxRuntime();
const ignore = !loaded.ok;
if (!loaded.ok) console.error(`skipping ONNX Runtime tests: ${loaded.reason}`);

/** Round half to even, written out (the reference's own copy). */
function rne(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}
/** ONNX QuantizeLinear to uint8, x / scale in float32 as ONNX Runtime does. */
function quantizeU8(x: number, scale: number, zp: number): number {
  return Math.min(
    255,
    Math.max(0, rne(Math.fround(Math.fround(x) / scale)) + zp),
  );
}
/** ONNX DequantizeLinear, in float32. */
function dequantize(q: number, scale: number, zp: number): number {
  return Math.fround((q - zp) * scale);
}

Deno.test({
  name:
    "QuantizeLinear → DequantizeLinear in ONNX Runtime equals the TypeScript formula exactly (ties to even, saturation)",
  ignore,
  async fn() {
    const scale = 0.5, zp = 10;
    // Ties at x / scale = k + ½, values past both ends of [0, 255], a spread.
    const xs = [
      0.25,
      0.75,
      1.25,
      -0.25,
      -0.75,
      -4.75,
      -5,
      -5.25,
      -100,
      122.25,
      122.5,
      122.75,
      123,
      1000,
      0,
      3.1,
      -2.2,
    ];
    for (let i = 0; i < 200; i++) xs.push(Math.sin(i) * 80 + 40);
    const m: OnnxModel = {
      graphName: "qdq",
      opset: 17,
      producer: { name: "test", version: "0" },
      nodes: [
        {
          op: "QuantizeLinear",
          name: "q",
          inputs: ["x", "s", "z"],
          outputs: ["xq"],
        },
        {
          op: "DequantizeLinear",
          name: "dq",
          inputs: ["xq", "s", "z"],
          outputs: ["y"],
        },
      ],
      initializers: [
        { name: "s", dims: [], type: "float", data: new Float32Array([scale]) },
        { name: "z", dims: [], type: "uint8", data: new Uint8Array([zp]) },
      ],
      inputs: [{ name: "x", dims: [xs.length] }],
      outputs: [{ name: "y", dims: [xs.length] }],
    };
    const engine = await createOnnxEngine(encodeOnnxModel(m));
    try {
      const [y] = await engine.run(new Float32Array(xs), [xs.length]);
      const want = xs.map((x) =>
        dequantize(quantizeU8(x, scale, zp), scale, zp)
      );
      assert.deepEqual(Array.from(y.data), want);
      // The ties went to even: 0.25 / 0.5 = 0.5 → 0, 0.75 / 0.5 = 1.5 → 2.
      assert.deepEqual(Array.from(y.data.subarray(0, 2)), [0, 1]);
      assert.equal(y.data[8], dequantize(0, scale, zp)); // -100 saturates at 0
      assert.equal(y.data[13], dequantize(255, scale, zp)); // 1000 at 255
    } finally {
      await engine.dispose();
    }
  },
});

/** A Conv(3×3, pads 1) + Clip(0, 6) ONNX model on NCHW input. */
function convModel(
  w: Float32Array,
  b: Float32Array,
  [cout, cin, k]: number[],
  hw: number,
): OnnxModel {
  return {
    graphName: "conv",
    opset: 17,
    producer: { name: "test", version: "0" },
    nodes: [
      {
        op: "Conv",
        name: "conv",
        inputs: ["x", "W", "B"],
        outputs: ["c"],
        attrs: { kernel_shape: [k, k], pads: [1, 1, 1, 1], strides: [1, 1] },
      },
      { op: "Clip", name: "relu6", inputs: ["c", "lo", "hi"], outputs: ["y"] },
    ],
    initializers: [
      { name: "W", dims: [cout, cin, k, k], type: "float", data: w },
      { name: "B", dims: [cout], type: "float", data: b },
      { name: "lo", dims: [], type: "float", data: new Float32Array([0]) },
      { name: "hi", dims: [], type: "float", data: new Float32Array([6]) },
    ],
    inputs: [{ name: "x", dims: [1, cin, hw, hw] }],
    outputs: [{ name: "y", dims: [1, cout, hw, hw] }],
  };
}

Deno.test({
  name:
    "int8 QDQ Conv + ReLU6 in ONNX Runtime: within one output step of the quantize → float64 conv → quantize reference",
  ignore,
  async fn() {
    const [cout, cin, k, hw] = [6, 4, 3, 7];
    const rand = (n: number, seed: number, amp: number) =>
      Float32Array.from(
        { length: n },
        (_, i) => Math.sin(seed * 7.1 + i * 1.7) * amp,
      );
    const w = rand(cout * cin * k * k, 1, 0.6);
    // Channel 5 all-zero weights (scale 1, q 0); the rest spread.
    w.fill(0, 5 * cin * k * k);
    const b = rand(cout, 2, 0.5);
    const x = rand(cin * hw * hw, 3, 2);
    const m = convModel(w, b, [cout, cin, k], hw);
    const plan = qdqPlan(m);
    assert.deepEqual(plan.tensors, ["x", "y"]);
    assert.deepEqual([...plan.foldedActivations], ["relu6"]);
    // Float reference conv (float64) of any input/weights.
    const conv = (
      xv: ArrayLike<number>,
      wv: ArrayLike<number>,
      bv: ArrayLike<number>,
    ) => {
      const out = new Float64Array(cout * hw * hw);
      for (let o = 0; o < cout; o++) {
        for (let r = 0; r < hw; r++) {
          for (let c = 0; c < hw; c++) {
            let acc = bv[o];
            for (let i = 0; i < cin; i++) {
              for (let dy = 0; dy < k; dy++) {
                for (let dx = 0; dx < k; dx++) {
                  const rr = r + dy - 1, cc = c + dx - 1;
                  if (rr < 0 || cc < 0 || rr >= hw || cc >= hw) continue;
                  acc += xv[(i * hw + rr) * hw + cc] *
                    wv[((o * cin + i) * k + dy) * k + dx];
                }
              }
            }
            out[(o * hw + r) * hw + c] = acc;
          }
        }
      }
      return out;
    };
    const yFloat = conv(x, w, b).map((v) => Math.min(6, Math.max(0, v)));
    const range = (v: ArrayLike<number>) => ({
      min: Math.min(...Array.from(v)),
      max: Math.max(...Array.from(v)),
    });
    const ranges = new Map([["x", range(x)], ["y", range(yFloat)]]);
    const qm = toQdq(m, plan, ranges);
    assert.ok(!qm.nodes.some((n) => n.op === "Clip"), "ReLU6 folded");
    // The reference, from the formulas.
    const px = activationQuantization(
      ranges.get("x")!.min,
      ranges.get("x")!.max,
    );
    const py = activationQuantization(0, ranges.get("y")!.max);
    const { q: wq, scales } = quantizeWeightsPerChannel(w, cout);
    assert.equal(scales[5], 1);
    const per = cin * k * k;
    for (let o = 0; o < 5; o++) {
      const absmax = Math.max(
        ...Array.from(w.subarray(o * per, (o + 1) * per), Math.abs),
      );
      assert.equal(scales[o], Math.fround(absmax / 127));
      assert.ok(
        wq.subarray(o * per, (o + 1) * per).some((v) => Math.abs(v) === 127),
      );
    }
    const xh = Array.from(
      x,
      (v) =>
        dequantize(
          quantizeU8(v, px.scale, px.zeroPoint),
          px.scale,
          px.zeroPoint,
        ),
    );
    const wh = Array.from(
      wq,
      (q, i) => Math.fround(q * scales[Math.floor(i / per)]),
    );
    const bh = Array.from(b, (v, o) => {
      const s = Math.fround(px.scale * scales[o]);
      return Math.fround(rne(v / s) * s);
    });
    const want = Array.from(
      conv(xh, wh, bh),
      (v) =>
        dequantize(
          quantizeU8(v, py.scale, py.zeroPoint),
          py.scale,
          py.zeroPoint,
        ),
    );
    for (const level of ["all", "disabled"] as const) {
      const engine = await createOnnxEngine(encodeOnnxModel(qm), {
        graphOptimizationLevel: level,
      });
      try {
        const [y] = await engine.run(x, [1, cin, hw, hw]);
        let exact = 0, worst = 0;
        y.data.forEach((v, i) => {
          const d = Math.abs(v - want[i]);
          worst = Math.max(worst, d);
          if (d === 0) exact++;
        });
        // Tolerance: one output step, and ≥ 95 % exact (all 294 values are
        // exact on this machine). QLinearConv requantizes the int32 sum with
        // a float32 multiplier (x_scale · w_scale / y_scale) and the unfused
        // path accumulates in float32, so a sum within rounding of a tie may
        // round the other way.
        assert.ok(
          worst <= py.scale * 1.0001,
          `${level}: worst ${worst} > step ${py.scale}`,
        );
        assert.ok(
          exact >= 0.95 * y.data.length,
          `${level}: only ${exact}/${y.data.length} exact`,
        );
        // And the quantization error against float is what int8 costs: ≤ a few steps.
        const errFloat = Math.max(
          ...Array.from(y.data, (v, i) => Math.abs(v - yFloat[i])),
        );
        assert.ok(
          errFloat > 0 && errFloat < 8 * py.scale,
          `${level}: |int8 − float| ${errFloat}`,
        );
      } finally {
        await engine.dispose();
      }
    }
  },
});

Deno.test({
  name:
    "a classifier's fp16 and int8 ONNX twins run in ONNX Runtime and agree with float32 as its margins require",
  ignore,
  async fn() {
    silenceNodeBanner();
    await tf.setBackend("cpu");
    const { model } = await buildClassifier({
      imageSize: [32, 32],
      alpha: 0.35,
      // Random weights with calibrated BatchNormalization statistics: plain
      // random statistics wash every image out to the same probabilities.
      weights: await calibratedH5(2),
      numClasses: 3,
      seed: 11,
    });
    try {
      const n = 24;
      const images = tf.randomUniform([n, 32, 32, 3], -1, 1, "float32", 4);
      const data = await images.data() as Float32Array;
      images.dispose();
      const calib = tf.randomUniform([16, 32, 32, 3], -1, 1, "float32", 9);
      const calibData = await calib.data() as Float32Array;
      calib.dispose();
      const batches: CalibrationBatch[] = [0, 1].map((i) => ({
        data: calibData.subarray(
          i * 8 * 32 * 32 * 3,
          (i + 1) * 8 * 32 * 32 * 3,
        ),
        shape: [8, 32, 32, 3],
      }));
      const fp32 = exportOnnx(model);
      const fp16 = exportOnnxFloat16(model);
      const int8 = await exportOnnxInt8(model, batches);
      assert.equal(int8.calibration.images, 16);
      assert.equal(int8.calibration.method, "minmax");
      assert.ok(
        fp16.length < 0.55 * fp32.length,
        `fp16 ${fp16.length} vs ${fp32.length}`,
      );
      assert.ok(
        int8.bytes.length < 0.4 * fp32.length,
        `int8 ${int8.bytes.length} vs ${fp32.length}`,
      );
      const run = async (bytes: Uint8Array) => {
        const e = await createOnnxEngine(bytes);
        try {
          return (await e.run(data, [n, 32, 32, 3]))[0].data;
        } finally {
          await e.dispose();
        }
      };
      const ref = await run(fp32);
      for (
        const [name, bytes] of [["fp16", fp16], ["int8", int8.bytes]] as const
      ) {
        const got = await run(bytes);
        assert.equal(got.length, n * 3);
        let diff = 0, agree = 0, sure = 0;
        for (let i = 0; i < n; i++) {
          const r = Array.from(ref.subarray(i * 3, i * 3 + 3));
          const g = Array.from(got.subarray(i * 3, i * 3 + 3));
          assert.ok(
            Math.abs(g.reduce((a, v) => a + v, 0) - 1) < 1e-2,
            `${name} row ${i} sums to 1`,
          );
          for (let c = 0; c < 3; c++) {
            diff = Math.max(diff, Math.abs(g[c] - r[c]));
          }
          if (g.indexOf(Math.max(...g)) === r.indexOf(Math.max(...r))) agree++;
        }
        for (let i = 0; i < n; i++) {
          const r = Array.from(ref.subarray(i * 3, i * 3 + 3)).sort((a, b) =>
            b - a
          );
          if (r[0] - r[1] > 2 * diff) sure++;
        }
        assert.ok(diff > 0, `${name} changed nothing`);
        assert.ok(
          agree >= sure,
          `${name}: ${agree}/${n} agree, ${sure} have margin > 2·${diff}`,
        );
      }
    } finally {
      model.dispose();
    }
  },
});

/** How many nodes of each op type a serialized ONNX model has (NodeProto.op_type is field 4). */
function opCounts(bytes: Uint8Array, ops: string[]): Record<string, number> {
  const text = new TextDecoder("latin1").decode(bytes);
  return Object.fromEntries(
    ops.map((op) => [
      op,
      text.split(`\x22${String.fromCharCode(op.length)}${op}`).length - 1,
    ]),
  );
}

Deno.test({
  name:
    "ONNX Runtime fuses the int8 QDQ model: every Conv into QLinearConv, every residual Add into QLinearAdd, one Q and one DQ left",
  ignore,
  async fn() {
    await tf.setBackend("cpu");
    const { model } = await buildClassifier({
      imageSize: [32, 32],
      alpha: 0.35,
      weights: null,
      numClasses: 2,
      seed: 1,
    });
    const dir = await Deno.makeTempDir();
    try {
      const x = tf.randomUniform([8, 32, 32, 3], -1, 1, "float32", 1);
      const data = await x.data() as Float32Array;
      x.dispose();
      const int8 = await exportOnnxInt8(model, [{
        data,
        shape: [8, 32, 32, 3],
      }]);
      const plain = opCounts(exportOnnx(model), ["Conv", "Add"]);
      const path = `${dir}/optimized.onnx`;
      if (!loaded.ok) return;
      const session = await loaded.ort.InferenceSession.create(int8.bytes, {
        graphOptimizationLevel: "all",
        optimizedModelFilePath: path,
      });
      await session.release();
      const fused = opCounts(await Deno.readFile(path), [
        "QLinearConv",
        "QLinearAdd",
        "QuantizeLinear",
        "DequantizeLinear",
        "Conv",
        "Clip",
      ]);
      assert.ok(plain.Conv > 50, `${plain.Conv} convolutions`);
      assert.deepEqual(fused, {
        QLinearConv: plain.Conv,
        QLinearAdd: plain.Add,
        QuantizeLinear: 1, // the input, after its Transpose
        DequantizeLinear: 1, // before the float pooling and head
        Conv: 0,
        Clip: 0,
      });
    } finally {
      model.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("Histogram.range: the central p % at bin resolution, edges outward, against the sorted values", () => {
  // 100 000 values in [-1, 1] plus two outliers far out on each side.
  const values = Float32Array.from(
    { length: 100_000 },
    (_, i) => Math.sin(i * 0.7),
  );
  const all = [...values, -40, -30, 50, 60];
  const h = new Histogram({ min: -40, max: 60 });
  h.add(all);
  const sorted = [...all].sort((a, b) => a - b);
  const width = 100 / 2048;
  for (const p of [99, 99.9, PERCENTILE]) {
    const r = h.range(p);
    const tail = Math.floor(all.length * (100 - p) / 200);
    const lo = sorted[tail], hi = sorted[all.length - 1 - tail];
    // Outward: the range holds the exact central values, within one bin.
    assert.ok(
      r.min <= lo && lo - r.min <= width,
      `${p}: min ${r.min} vs ${lo}`,
    );
    assert.ok(
      r.max >= hi && r.max - hi <= width,
      `${p}: max ${r.max} vs ${hi}`,
    );
  }
  // 99.999 % of 100 004 values leaves 0.5 per side: the outliers stay.
  assert.deepEqual(h.range(100), { min: -40, max: 60 });
  const tight = h.range(99.99); // 5 per side: the 4 outliers go
  assert.ok(tight.min > -1.1 && tight.max < 1.1, JSON.stringify(tight));
});

Deno.test({
  name:
    "percentile calibration: ranges within the min-max ones, recorded, and the model runs",
  ignore,
  async fn() {
    await tf.setBackend("cpu");
    const { model } = await buildClassifier({
      imageSize: [32, 32],
      alpha: 0.35,
      weights: null,
      numClasses: 2,
      seed: 2,
    });
    try {
      // 32 images: enough values per tensor (up to ~800 000) for a 99.999 %
      // range to leave some out.
      const x = tf.randomUniform([32, 32, 32, 3], -1, 1, "float32", 6);
      const all = await x.data() as Float32Array;
      x.dispose();
      const per = 8 * 32 * 32 * 3;
      const batch = [0, 1, 2, 3].map((i) => ({
        data: all.subarray(i * per, (i + 1) * per),
        shape: [8, 32, 32, 3] as [number, number, number, number],
      }));
      const data = batch[0].data;
      const minmax = await exportOnnxInt8(model, batch);
      const pct = await exportOnnxInt8(model, batch, {
        calibration: "percentile",
      });
      assert.deepEqual(pct.calibration, {
        method: "percentile",
        percentile: PERCENTILE,
        images: 32,
        tensors: minmax.calibration.tensors,
      });
      let narrower = 0;
      for (const [t, r] of pct.ranges) {
        const m = minmax.ranges.get(t)!;
        assert.ok(r.min >= m.min && r.max <= m.max, t);
        if (r.max < m.max || r.min > m.min) narrower++;
      }
      assert.ok(narrower > 0, "percentile clipped nothing");
      const engine = await createOnnxEngine(pct.bytes);
      const [y] = await engine.run(data, [8, 32, 32, 3]);
      await engine.dispose();
      assert.equal(y.data.length, 16);
    } finally {
      model.dispose();
    }
  },
});
