/**
 * The WASM convolution gradient kernels (src/backend/wasm_grad_kernels.ts)
 * against the CPU backend's own kernels, on every convolution shape of
 * MobileNetV2 at alphas 0.35 and 1.0 and sizes 96, 160 and 224 and of
 * MobileNetV3 Small and Large at 96 (5×5 depthwise), plus odd
 * strides, paddings and channel multipliers, and end to end through `fit`.
 *
 * Tolerance: a kernel output `w` matches the CPU's `c` when
 * `max|w − c| ≤ 1e-4 · max|c|` (relative to the largest reference value; the
 * two backends sum in different orders in float32). End to end, gradients of
 * every weight match to 1e-3 and the losses of SGD steps to 1e-4 (relative).
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { selectBackend } from "../../src/backend/backend.ts";
import {
  BASE_GRADIENT_KERNELS,
  registerWasmGradientKernels,
} from "../../src/backend/wasm_grad_kernels.ts";
import { mobileNetV2 } from "../../src/model/mobilenet_v2.ts";
import { mobileNetV3 } from "../../src/model/mobilenet_v3.ts";
import { setBatchNormInference } from "../../src/model/batch_norm.ts";
import { mulberry32 } from "../../src/util/rng.ts";
import { calibrateBatchNorm } from "../_helpers/train.ts";

const TOLERANCE = 1e-4;
// End to end (measured here: gradients ≤ 3e-5, losses ≤ 1e-5 relative).
const E2E_GRAD_TOLERANCE = 1e-3;
const E2E_LOSS_TOLERANCE = 1e-4;
const opts = { sanitizeOps: false, sanitizeResources: false };

// Must run before anything loads the WASM backend (each test module gets its
// own isolate, so no other file can have loaded it).
Deno.test("registerWasmGradientKernels: fails clearly before the WASM backend is loaded", () => {
  assert.equal(tf.getKernel("Conv2D", "wasm"), undefined);
  assert.throws(
    () => registerWasmGradientKernels(),
    /WASM backend is not loaded; import @tensorflow\/tfjs-backend-wasm/,
  );
});

let ready: Promise<void> | null = null;
/** The WASM backend (single-threaded, as the other in-process tests) with the kernels. */
function wasmReady(): Promise<void> {
  ready ??= (async () => {
    await selectBackend("wasm", { wasmThreads: false });
    registerWasmGradientKernels();
  })();
  return ready;
}

type Pad =
  | "same"
  | "valid"
  | [[number, number], [number, number], [number, number], [number, number]];

/** One convolution to check: its input, filter and attributes. */
interface ConvCase {
  label: string;
  depthwise: boolean;
  inShape: [number, number, number, number];
  filterShape: [number, number, number, number];
  strides: [number, number];
  pad: Pad;
}

function values(size: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: size }, () => rand() * 2 - 1);
}

/** Runs `kernel` on `backend` with tensors made there from `inputs`' values. */
function runOn(
  backend: string,
  kernel: string,
  inputs: Record<string, { shape: number[]; data: Float32Array }>,
  attrs: Record<string, unknown>,
): Float32Array {
  tf.setBackend(backend);
  const made: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) {
    made[k] = tf.tensor(v.data, v.shape);
  }
  try {
    const out = tf.engine().runKernel(
      kernel,
      made as unknown as tf.NamedTensorMap,
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
    const data = out.dataSync() as Float32Array;
    out.dispose();
    return data;
  } finally {
    tf.dispose(Object.values(made));
  }
}

/** max|a − b| / max|b|. */
function relativeError(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Checks both gradient kernels of `c` on wasm against cpu; returns failures. */
function checkCase(c: ConvCase, seed: number): string[] {
  const attrs = {
    strides: c.strides,
    pad: c.pad,
    dilations: [1, 1],
    dataFormat: "NHWC",
  };
  const outShape = tf.backend_util.computeConv2DInfo(
    c.inShape,
    c.filterShape,
    c.strides,
    1,
    c.pad,
    undefined,
    c.depthwise,
  ).outShape;
  const x = {
    shape: c.inShape,
    data: values(c.inShape.reduce((a, b) => a * b), seed),
  };
  const filter = {
    shape: c.filterShape,
    data: values(c.filterShape.reduce((a, b) => a * b), seed + 1),
  };
  const dy = {
    shape: outShape,
    data: values(outShape.reduce((a, b) => a * b), seed + 2),
  };
  const [filterKernel, inputKernel] = c.depthwise
    ? [
      "DepthwiseConv2dNativeBackpropFilter",
      "DepthwiseConv2dNativeBackpropInput",
    ]
    : ["Conv2DBackpropFilter", "Conv2DBackpropInput"];
  const failures: string[] = [];
  const runs: [string, Record<string, typeof x>, Record<string, unknown>][] = [
    [filterKernel, { x, dy }, { ...attrs, filterShape: c.filterShape }],
    [inputKernel, { dy, filter }, { ...attrs, inputShape: c.inShape }],
  ];
  for (const [kernel, inputs, kernelAttrs] of runs) {
    const cpu = runOn("cpu", kernel, inputs, kernelAttrs);
    const backend = tf.findBackend("wasm") as unknown as {
      numDataIds(): number;
    };
    const before = backend.numDataIds();
    const wasm = runOn("wasm", kernel, inputs, kernelAttrs);
    const leaked = backend.numDataIds() - before;
    const err = relativeError(wasm, cpu);
    if (!(err <= TOLERANCE) || leaked !== 0) {
      failures.push(
        `${c.label} ${kernel}: relative error ${err.toExponential(2)}` +
          (leaked ? `, ${leaked} buffers leaked` : ""),
      );
    }
  }
  return failures;
}

/** Every distinct convolution of MobileNetV2(alpha) at size×size, batch `batch`. */
function mobileNetConvs(
  alpha: number,
  size: number,
  batch: number,
): ConvCase[] {
  const model = mobileNetV2({
    alpha,
    inputShape: [size, size, 3],
    includeTop: false,
    seed: 1,
  });
  return modelConvs(model, `MobileNetV2 ${alpha}@${size}`, batch);
}

/** Every distinct convolution of `model` (disposed here), batch `batch`. */
function modelConvs(
  model: tf.LayersModel,
  label: string,
  batch: number,
): ConvCase[] {
  const cases = new Map<string, ConvCase>();
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls !== "Conv2D" && cls !== "DepthwiseConv2D") continue;
    const config = layer.getConfig() as {
      strides: [number, number];
      padding: "same" | "valid";
    };
    const input = (layer.input as tf.SymbolicTensor).shape;
    const c: ConvCase = {
      label: `${label} ${layer.name}`,
      depthwise: cls === "DepthwiseConv2D",
      inShape: [batch, input[1]!, input[2]!, input[3]!],
      filterShape: layer.getWeights()[0].shape as ConvCase["filterShape"],
      strides: config.strides,
      pad: config.padding,
    };
    const key = JSON.stringify([
      c.depthwise,
      c.inShape,
      c.filterShape,
      c.strides,
      c.pad,
    ]);
    if (!cases.has(key)) cases.set(key, c);
  }
  model.dispose();
  return [...cases.values()];
}

for (const alpha of [0.35, 1.0]) {
  for (const size of [96, 160, 224]) {
    // Batch 2 where the CPU reference is quick, 1 at the larger sizes. The
    // CPU's reference kernels take seconds on alpha 1.0's wide 1×1
    // convolutions, so at 160 and 224 alpha 1.0 checks its depthwise and
    // strided ones (where the spatial size matters); the same 1×1 channel
    // shapes are checked at 96, and 1×1 convolutions at every spatial size
    // at alpha 0.35.
    const batch = size === 96 ? 2 : 1;
    const all = alpha !== 1.0 || size === 96;
    const which = all
      ? "every convolution"
      : "every depthwise and strided convolution";
    Deno.test(
      `${which} of MobileNetV2 ${alpha}@${size} (batch ${batch}): wasm gradient kernels = cpu`,
      opts,
      async () => {
        await wasmReady();
        const cases = mobileNetConvs(alpha, size, batch).filter((c) =>
          all || c.depthwise || c.strides[0] > 1
        );
        // Both kinds, both strides and both paddings are present.
        assert.ok(cases.some((c) => c.depthwise && c.strides[0] === 2));
        assert.ok(cases.some((c) => !c.depthwise && c.strides[0] === 2));
        assert.ok(cases.some((c) => c.depthwise && c.strides[0] === 1));
        assert.ok(cases.some((c) => c.pad === "valid"));
        if (all) {
          assert.ok(cases.some((c) => !c.depthwise && c.strides[0] === 1));
        }
        const failures = cases.flatMap((c, i) => checkCase(c, 1000 * i + size));
        assert.deepEqual(failures, []);
      },
    );
  }
}

for (const variant of ["small", "large"] as const) {
  Deno.test(
    `every convolution of MobileNetV3 ${variant} @96 (batch 2; 5×5 depthwise at strides 1 and 2, the SE gate's 1×1 convolutions with bias on 1×1 maps): wasm gradient kernels = cpu`,
    opts,
    async () => {
      await wasmReady();
      const model = mobileNetV3({ variant, inputShape: [96, 96, 3], seed: 1 });
      const cases = modelConvs(model, `MobileNetV3 ${variant}@96`, 2);
      assert.ok(
        cases.some((c) =>
          c.depthwise && c.filterShape[0] === 5 && c.strides[0] === 2
        ),
      );
      assert.ok(
        cases.some((c) =>
          c.depthwise && c.filterShape[0] === 5 && c.strides[0] === 1
        ),
      );
      assert.ok(cases.some((c) => !c.depthwise && c.inShape[1] === 1));
      const failures = cases.flatMap((c, i) => checkCase(c, 1000 * i + 7));
      assert.deepEqual(failures, []);
    },
  );
}

Deno.test(
  "wasm gradient kernels = cpu on other strides, paddings, kernel sizes and channel multipliers",
  opts,
  async () => {
    await wasmReady();
    const cases: ConvCase[] = [];
    const shapes: [number[], number, number, number, Pad][] = [
      // inShape, kernel, Cout (or multiplier), stride, pad
      [[2, 9, 9, 3], 3, 4, 2, "same"],
      [[2, 8, 8, 3], 3, 40, 2, "valid"],
      [[1, 7, 8, 6], 3, 2, 1, "valid"],
      [[1, 7, 8, 6], 1, 2, 2, "valid"],
      [[1, 7, 8, 6], 1, 5, 1, [[0, 0], [1, 0], [0, 2], [0, 0]]],
      [[1, 7, 8, 6], 3, 5, 2, [[0, 0], [0, 1], [2, 1], [0, 0]]],
      [[1, 6, 6, 4], 2, 3, 3, "same"],
      [[1, 10, 10, 4], 5, 3, 3, [[0, 0], [3, 0], [0, 4], [0, 0]]],
      // EfficientNetV2's 5×5 stride-2 "same": pads 1/2 (even), 2/2 (odd).
      [[2, 12, 12, 4], 5, 3, 2, "same"],
      [[1, 11, 9, 4], 5, 3, 2, "same"],
    ];
    for (const [inShape, k, n, s, pad] of shapes) {
      const label = `[${inShape}] ${k}×${k} stride ${s} ${JSON.stringify(pad)}`;
      cases.push({
        label: `conv ${label} → ${n}`,
        depthwise: false,
        inShape: inShape as ConvCase["inShape"],
        filterShape: [k, k, inShape[3], n],
        strides: [s, s],
        pad,
      });
      for (const mult of [1, 2]) {
        cases.push({
          label: `depthwise ${label} ×${mult}`,
          depthwise: true,
          inShape: inShape as ConvCase["inShape"],
          filterShape: [k, k, inShape[3], mult],
          strides: [s, s],
          pad,
        });
      }
    }
    assert.deepEqual(cases.flatMap((c, i) => checkCase(c, 7 * i)), []);
  },
);

Deno.test(
  "Conv2DBackpropInput in NCHW still runs the backend's own kernel, = cpu",
  opts,
  async () => {
    await wasmReady();
    const dy = { shape: [1, 4, 3, 3], data: values(36, 21) };
    const filter = { shape: [3, 3, 3, 4], data: values(108, 22) };
    const attrs = {
      strides: [2, 2],
      pad: "same",
      dataFormat: "NCHW",
      inputShape: [1, 3, 6, 6],
    };
    const cpu = runOn("cpu", "Conv2DBackpropInput", { dy, filter }, attrs);
    const wasm = runOn("wasm", "Conv2DBackpropInput", { dy, filter }, attrs);
    assert.ok(relativeError(wasm, cpu) <= TOLERANCE);
  },
);

Deno.test(
  "Tile on wasm (used by FusedBatchNorm's gradient) = cpu",
  opts,
  async () => {
    await wasmReady();
    const cases: [number[], number[]][] = [
      [[1, 1, 1, 5], [2, 3, 4, 1]],
      [[2, 3], [3, 2]],
      [[4], [3]],
      [[2, 1, 3], [1, 4, 2]],
      [[3, 2, 1, 2], [2, 1, 3, 2]],
    ];
    for (const [shape, reps] of cases) {
      const x = { shape, data: values(shape.reduce((a, b) => a * b), 5) };
      const cpu = runOn("cpu", "Tile", { x }, { reps });
      const wasm = runOn("wasm", "Tile", { x }, { reps });
      assert.deepEqual(wasm, cpu, `Tile [${shape}] × [${reps}]`);
    }
    tf.setBackend("wasm");
    const ints = tf.tile(tf.tensor([[1, 2], [3, 4]], undefined, "int32"), [
      2,
      2,
    ]);
    assert.equal(ints.dtype, "int32");
    assert.deepEqual(ints.arraySync(), [
      [1, 2, 1, 2],
      [3, 4, 3, 4],
      [1, 2, 1, 2],
      [3, 4, 3, 4],
    ]);
    ints.dispose();
  },
);

Deno.test(
  "registerWasmGradientKernels: idempotent, registers its kernels for wasm only",
  opts,
  async () => {
    await wasmReady();
    const before = BASE_GRADIENT_KERNELS.map((k) => tf.getKernel(k, "wasm"));
    assert.ok(before.every((k) => k != null));
    registerWasmGradientKernels();
    const after = BASE_GRADIENT_KERNELS.map((k) => tf.getKernel(k, "wasm"));
    after.forEach((k, i) => assert.equal(k!.kernelFunc, before[i]!.kernelFunc));
    // The CPU backend keeps its own kernels.
    assert.notEqual(
      tf.getKernel("Conv2DBackpropFilter", "cpu")!.kernelFunc,
      after[0]!.kernelFunc,
    );
  },
);

Deno.test(
  "wasm gradient kernels: unsupported attributes fail with the kernel and the attribute named",
  opts,
  async () => {
    await wasmReady();
    tf.setBackend("wasm");
    const x = tf.ones([1, 6, 6, 2]);
    const dy = tf.ones([1, 6, 6, 2]);
    const f = tf.ones([3, 3, 2, 1]);
    try {
      assert.throws(
        () =>
          tf.engine().runKernel("DepthwiseConv2dNativeBackpropFilter", {
            x,
            dy,
          }, {
            strides: [1, 1],
            pad: "same",
            dilations: [2, 2],
            filterShape: [3, 3, 2, 1],
          }),
        /DepthwiseConv2dNativeBackpropFilter \(wasm gradient kernels\): dilations \[2,2\] are not supported/,
      );
      assert.throws(
        () =>
          tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
            strides: [1, 1],
            pad: "same",
            dataFormat: "NCHW",
            filterShape: [1, 1, 2, 2],
          }),
        /Conv2DBackpropFilter \(wasm gradient kernels\): dataFormat "NCHW" is not supported; only "NHWC"/,
      );
      assert.throws(
        () =>
          tf.engine().runKernel("DepthwiseConv2dNativeBackpropInput", {
            dy: tf.cast(dy, "int32"),
            filter: f,
          }, {
            strides: [1, 1],
            pad: "same",
            dilations: [1, 1],
            inputShape: [1, 6, 6, 2],
          }),
        /DepthwiseConv2dNativeBackpropInput \(wasm gradient kernels\): expected float32 tensors, got int32/,
      );
    } finally {
      tf.dispose([x, dy, f]);
    }
  },
);

/**
 * A small MobileNetV2 classifier, every layer trainable, its base's
 * BatchNormalization in inference mode as for fine-tuning (Keras'
 * `base(x, training=False)`); seeded.
 */
function smallClassifier(
  v3 = false,
): { model: tf.LayersModel; base: tf.LayersModel } {
  const base = v3
    ? mobileNetV3({
      variant: "small",
      inputShape: [E2E_SIZE, E2E_SIZE, 3],
      seed: 3,
    })
    : mobileNetV2({
      alpha: 0.35,
      inputShape: [E2E_SIZE, E2E_SIZE, 3],
      includeTop: false,
      seed: 3,
    });
  setBatchNormInference(base, true);
  const input = tf.input({ shape: [E2E_SIZE, E2E_SIZE, 3] });
  let y = base.apply(input) as tf.SymbolicTensor;
  y = tf.layers.globalAveragePooling2d({}).apply(y) as tf.SymbolicTensor;
  y = tf.layers.dense({
    units: 3,
    activation: "softmax",
    kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }),
  }).apply(y) as tf.SymbolicTensor;
  return { model: tf.model({ inputs: input, outputs: y }), base };
}

const E2E_SIZE = 64;

Deno.test(
  "end to end: fine-tuning steps of a whole MobileNetV2 on wasm give the cpu's gradients and losses",
  opts,
  async () => {
    await wasmReady();
    const steps = 3;
    const images = values(4 * E2E_SIZE * E2E_SIZE * 3, 11);
    const labels = [0, 1, 2, 1];
    // Calibrated starting weights, made once (on cpu) for both runs.
    tf.setBackend("cpu");
    const start = smallClassifier();
    // Statistics from 16 other images: from the 4 training images alone, the
    // last layers' (2×2 px) variances degenerate and the network turns chaotic
    // (a 1e-6 change of the input then moves gradients by 10%).
    const calibration = tf.tensor4d(
      values(16 * E2E_SIZE * E2E_SIZE * 3, 99),
      [16, E2E_SIZE, E2E_SIZE, 3],
    );
    calibrateBatchNorm(start.base, calibration);
    const initial = start.model.getWeights().map((w) => ({
      shape: w.shape,
      data: w.dataSync() as Float32Array,
    }));
    calibration.dispose();
    start.model.dispose();

    const run = async (backend: string) => {
      tf.setBackend(backend);
      const { model } = smallClassifier();
      model.setWeights(initial.map((w) => tf.tensor(w.data, w.shape)));
      model.compile({
        optimizer: tf.train.sgd(1e-4),
        loss: "categoricalCrossentropy",
      });
      const x = tf.tensor4d(images, [4, E2E_SIZE, E2E_SIZE, 3]);
      const y = tf.oneHot(tf.tensor1d(labels, "int32"), 3);
      const { grads } = tf.variableGrads(() =>
        tf.losses.logLoss(y, model.apply(x, { training: true }) as tf.Tensor)
      );
      const gradValues = Object.entries(grads).map(([name, g]) =>
        [name, g.dataSync() as Float32Array] as const
      );
      tf.dispose(Object.values(grads));
      const losses: number[] = [];
      for (let i = 0; i < steps; i++) {
        losses.push(await model.trainOnBatch(x, y) as number);
      }
      tf.dispose([x, y]);
      model.dispose();
      return { losses, gradValues };
    };
    const cpu = await run("cpu");
    const wasm = await run("wasm");
    assert.equal(wasm.gradValues.length, cpu.gradValues.length);
    // Every convolution of the base is trained.
    assert.equal(
      cpu.gradValues.filter(([n]) => /\/kernel(_\d+)?$/.test(n)).length,
      36,
    );
    assert.equal(
      cpu.gradValues.filter(([n]) => /depthwise_kernel(_\d+)?$/.test(n)).length,
      17,
    );
    for (let i = 0; i < cpu.gradValues.length; i++) {
      const [name, ref] = cpu.gradValues[i];
      const err = relativeError(wasm.gradValues[i][1], ref);
      assert.ok(
        err <= E2E_GRAD_TOLERANCE,
        `gradient of ${name}: relative error ${err}`,
      );
    }
    for (let i = 0; i < steps; i++) {
      const rel = Math.abs(wasm.losses[i] - cpu.losses[i]) / cpu.losses[i];
      assert.ok(
        rel <= E2E_LOSS_TOLERANCE,
        `step ${i}: wasm loss ${wasm.losses[i]} vs cpu ${cpu.losses[i]}`,
      );
    }
    // The steps trained: the first one lowered the loss well beyond the tolerance.
    assert.ok(cpu.losses[1] < cpu.losses[0] - 0.1, `losses ${cpu.losses}`);
  },
);

Deno.test(
  "end to end: a fine-tuning step of a whole MobileNetV3 Small (raw 0–255 pixels; Rescaling, hard_silu, SE, 5×5 depthwise) on wasm gives the cpu's gradients and loss",
  opts,
  async () => {
    await wasmReady();
    const pixels = (n: number, seed: number) =>
      values(n * E2E_SIZE * E2E_SIZE * 3, seed).map((v) => (v + 1) * 127.5);
    const images = pixels(4, 12);
    const labels = [0, 1, 2, 1];
    tf.setBackend("cpu");
    const start = smallClassifier(true);
    const calibration = tf.tensor4d(pixels(16, 98), [
      16,
      E2E_SIZE,
      E2E_SIZE,
      3,
    ]);
    calibrateBatchNorm(start.base, calibration);
    const initial = start.model.getWeights().map((w) => ({
      shape: w.shape,
      data: w.dataSync() as Float32Array,
    }));
    calibration.dispose();
    start.model.dispose();
    const run = (backend: string) => {
      tf.setBackend(backend);
      const { model } = smallClassifier(true);
      model.setWeights(initial.map((w) => tf.tensor(w.data, w.shape)));
      const x = tf.tensor4d(images, [4, E2E_SIZE, E2E_SIZE, 3]);
      const y = tf.oneHot(tf.tensor1d(labels, "int32"), 3);
      const { value, grads } = tf.variableGrads(() =>
        tf.losses.logLoss(y, model.apply(x, { training: true }) as tf.Tensor)
      );
      const gradValues = Object.entries(grads).map(([name, g]) =>
        [name, g.dataSync() as Float32Array] as const
      );
      const loss = value.dataSync()[0];
      tf.dispose([x, y, value, ...Object.values(grads)]);
      model.dispose();
      return { loss, gradValues };
    };
    const cpu = run("cpu");
    const wasm = run("wasm");
    assert.equal(wasm.gradValues.length, cpu.gradValues.length);
    assert.ok(
      cpu.gradValues.filter(([n]) => /depthwise_kernel(_\d+)?$/.test(n))
        .length === 11,
    );
    for (let i = 0; i < cpu.gradValues.length; i++) {
      const [name, ref] = cpu.gradValues[i];
      const err = relativeError(wasm.gradValues[i][1], ref);
      assert.ok(
        err <= E2E_GRAD_TOLERANCE,
        `gradient of ${name}: relative error ${err}`,
      );
    }
    const rel = Math.abs(wasm.loss - cpu.loss) / cpu.loss;
    assert.ok(rel <= E2E_LOSS_TOLERANCE, `loss ${wasm.loss} vs ${cpu.loss}`);
  },
);

Deno.test(
  'swish and sigmoid gradients (EfficientNet\'s activations, a 5×5 stride-2 "same" depthwise Conv2D with swish, an SE sigmoid gate) on wasm = cpu within 1e-4',
  opts,
  async () => {
    await wasmReady();
    const x = { shape: [2, 10, 10, 4], data: values(800, 41) };
    const k = { shape: [5, 5, 4, 1], data: values(100, 42) };
    const grads = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => {
        const xt = tf.tensor4d(
          x.data,
          x.shape as [number, number, number, number],
        );
        const kt = tf.tensor4d(
          k.data,
          k.shape as [number, number, number, number],
        );
        const f = (a: tf.Tensor4D, w: tf.Tensor4D) => {
          const y = tf.depthwiseConv2d(a, w, 2, "same");
          const s = tf.mul(tf.sigmoid(y), y); // TF.js' swish
          const gate = tf.sigmoid(tf.mean(s, [1, 2], true));
          return tf.sum(tf.mul(s, gate));
        };
        const [dx, dw] = tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)([
          xt,
          kt,
        ]);
        return [dx.dataSync() as Float32Array, dw.dataSync() as Float32Array];
      });
    };
    const [cx, cw] = grads("cpu");
    const [wx, ww] = grads("wasm");
    const ex = relativeError(wx, cx), ew = relativeError(ww, cw);
    console.log(`  dx ${ex.toExponential(1)}, dW ${ew.toExponential(1)}`);
    assert.ok(ex <= TOLERANCE, `dx: ${ex}`);
    assert.ok(ew <= TOLERANCE, `dW: ${ew}`);
  },
);
