/**
 * Frozen forward pass, ONNX Runtime against TF.js WASM, side by side in one
 * run: MobileNetV2 1.0 @160×160 without top + global average pooling (the
 * part feature caching and a frozen base run), random weights (seed 1, the
 * same compute as ImageNet's), batch 32, images in [-1, 1].
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-sys --allow-ffi \
 *   bench/onnx_forward.ts [--threads 2] [--batch 32] [--size 160] \
 *   [--warmup 2] [--iterations 8] [--nchw] [--spin] [--json FILE]
 * ```
 *
 * - TF.js WASM runs in its own worker with `--threads` threads
 *   (`forward.ts`); one pass = `predict` + reading back the features.
 * - ONNX Runtime runs the graph exported by `onnx_export.ts` (BatchNorm
 *   folded, ReLU6 as Clip, explicit pads; NHWC input with one Transpose)
 *   with the session options of `onnx_runtime.ts` and `--threads` intra-op
 *   threads; one pass = `engine.run` of the NHWC batch. `--nchw` adds the
 *   same graph taking NCHW input (no Transpose); `--spin` adds NHWC with
 *   `allowSpinning: true` (ONNX Runtime's own default).
 * - Passes are interleaved (one pass of each engine in turn, never two at
 *   once), so that load from other processes on a shared machine hits every
 *   engine alike. Reported: images/s over the timed passes, the median and
 *   best pass, and ORT (NHWC) / WASM; also process CPU milliseconds per
 *   image (all threads; `process.cpuUsage` around each pass), which other
 *   processes' load barely changes, so its ratio estimates the speed-up on
 *   an idle machine when the wall-clock figures cannot.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import * as tf from "../src/deps/tf.ts";
import { mobileNetV2 } from "../src/model/mobilenet_v2.ts";
import { exportOnnx } from "../src/engine/onnx_export.ts";
import {
  createOnnxEngine,
  type OnnxEngine,
  tryLoadOnnxRuntime,
} from "../src/engine/onnx_runtime.ts";
import { forwardLabel, ForwardWorker } from "./forward.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    threads: { type: "string", default: "2" },
    batch: { type: "string", default: "32" },
    size: { type: "string", default: "160" },
    warmup: { type: "string", default: "2" },
    iterations: { type: "string", default: "8" },
    nchw: { type: "boolean", default: false },
    spin: { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const threads = Number(values.threads);
const batch = Number(values.batch);
const size = Number(values.size);
const warmup = Number(values.warmup);
const iterations = Number(values.iterations);

/** One engine under test: a label and one timed pass. */
interface Contender {
  label: string;
  setupSeconds: number;
  pass: () => Promise<void>;
  close: () => Promise<void> | void;
  ms: number[];
  /** Process CPU seconds (all threads) of each timed pass. */
  cpu: number[];
}

console.log(
  `MobileNetV2 1.0 @${size} + avg pooling, batch ${batch}, ${threads} threads, ` +
    `${warmup} warm-up + ${iterations} timed passes each, interleaved; ` +
    `${navigator.hardwareConcurrency} CPUs`,
);

const loaded = await tryLoadOnnxRuntime();
if (!loaded.ok) {
  console.error(`ONNX Runtime unavailable: ${loaded.reason}`);
  Deno.exit(1);
}
await tf.setBackend("cpu");
const model = mobileNetV2({
  inputShape: [size, size, 3],
  alpha: 1.0,
  includeTop: false,
  pooling: "avg",
  seed: 1,
});
const exportStart = performance.now();
const onnx = {
  nhwc: exportOnnx(model, { inputLayout: "nhwc" }),
  nchw: exportOnnx(model, { inputLayout: "nchw" }),
};
console.log(
  `exported to ONNX (${(onnx.nhwc.length / 1e6).toFixed(1)} MB) in ${
    ((performance.now() - exportStart) / 2000).toFixed(2)
  } s`,
);
model.dispose();
const nhwc = tf.randomUniform([batch, size, size, 3], -1, 1, "float32", 2);
const nchw = tf.transpose(nhwc, [0, 3, 1, 2]);
const pixels = {
  nhwc: nhwc.dataSync() as Float32Array,
  nchw: nchw.dataSync() as Float32Array,
};
const shapes = {
  nhwc: [batch, size, size, 3],
  nchw: [batch, 3, size, size],
};
tf.dispose([nhwc, nchw]);

const contenders: Contender[] = [];
async function addOrt(layout: "nhwc" | "nchw", spin: boolean) {
  const start = performance.now();
  const engine: OnnxEngine = await createOnnxEngine(onnx[layout], {
    ort: loaded.ok ? loaded.ort : undefined,
    threads,
    allowSpinning: spin,
  });
  contenders.push({
    label: `onnxruntime (${layout} input${
      spin ? ", spinning" : ""
    }), ${threads} threads`,
    setupSeconds: (performance.now() - start) / 1000,
    pass: async () => {
      const [out] = await engine.run(pixels[layout], shapes[layout]);
      if (out.shape[1] !== 1280) throw new Error(`features [${out.shape}]`);
    },
    close: () => engine.dispose(),
    ms: [],
    cpu: [],
  });
}
await addOrt("nhwc", false);
if (values.nchw) await addOrt("nchw", false);
if (values.spin) await addOrt("nhwc", true);

const wasmStart = performance.now();
const wasm = await ForwardWorker.start({
  backend: "wasm",
  threads,
  batch,
  size,
  alpha: 1.0,
});
contenders.push({
  label: `tfjs ${forwardLabel(wasm.info)}`,
  setupSeconds: (performance.now() - wasmStart) / 1000,
  pass: async () => {
    await wasm.step();
  },
  close: () => wasm.close(),
  ms: [],
  cpu: [],
});

try {
  for (let i = 0; i < warmup + iterations; i++) {
    for (const c of contenders) {
      const t = performance.now();
      const cpu = process.cpuUsage();
      await c.pass();
      const used = process.cpuUsage(cpu);
      if (i >= warmup) {
        c.ms.push(performance.now() - t);
        c.cpu.push((used.user + used.system) / 1e6);
      }
    }
  }
} finally {
  for (const c of contenders) await c.close();
}

const rows = contenders.map((c) => {
  const total = c.ms.reduce((a, b) => a + b, 0);
  const sorted = [...c.ms].sort((a, b) => a - b);
  const median = sorted.length % 2
    ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return {
    label: c.label,
    imagesPerSecond: (batch * c.ms.length) / (total / 1000),
    medianImagesPerSecond: batch / (median / 1000),
    bestImagesPerSecond: batch / (Math.min(...c.ms) / 1000),
    ms: c.ms,
    setupSeconds: c.setupSeconds,
    cpuMsPerImage: (c.cpu.reduce((a, b) => a + b, 0) * 1000) /
      (batch * c.cpu.length),
  };
});
const fmt = (n: number) => n.toFixed(1);
console.log();
console.log(
  "| engine | images/s | median pass images/s | best pass images/s | CPU ms per image | ms per pass | setup s |",
);
console.log("| --- | ---: | ---: | ---: | ---: | --- | ---: |");
for (const r of rows) {
  console.log(
    `| ${r.label} | ${fmt(r.imagesPerSecond)} | ${
      fmt(r.medianImagesPerSecond)
    } | ${fmt(r.bestImagesPerSecond)} | ${r.cpuMsPerImage.toFixed(2)} | ${
      r.ms.map((m) => m.toFixed(0)).join(", ")
    } | ${r.setupSeconds.toFixed(2)} |`,
  );
}
const ort = rows[0];
const wasmRow = rows.at(-1)!;
const ratio = ort.imagesPerSecond / wasmRow.imagesPerSecond;
const medianRatio = ort.medianImagesPerSecond /
  wasmRow.medianImagesPerSecond;
const bestRatio = ort.bestImagesPerSecond / wasmRow.bestImagesPerSecond;
const cpuRatio = wasmRow.cpuMsPerImage / ort.cpuMsPerImage;
console.log(
  `\nONNX Runtime / WASM: ${ratio.toFixed(1)}× (median passes: ${
    medianRatio.toFixed(1)
  }×, best passes: ${bestRatio.toFixed(1)}×; target ≥ 8×); ` +
    `CPU time per image: WASM / ONNX Runtime = ${cpuRatio.toFixed(1)}×`,
);
if (values.json) {
  await Deno.writeTextFile(
    values.json,
    JSON.stringify(
      { batch, size, threads, rows, ratio, medianRatio, bestRatio, cpuRatio },
      null,
      2,
    ) +
      "\n",
  );
}
