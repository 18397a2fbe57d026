/**
 * ONNX Runtime images/s of the fp32, fp16 and int8 models side by side in
 * one run (issue 22: int8 ≥ 1.5× fp32 at 160 px).
 *
 * ```sh
 * # a run's own files (model/model.onnx, model.fp16.onnx, model.int8.onnx;
 * # train it with output.onnxQuantize ["fp16", "int8"]):
 * deno run --allow-read --allow-write --allow-env --allow-sys --allow-ffi \
 *   bench/onnx_quantized.ts --model runs/cats_vs_dogs-… [--threads 2] \
 *   [--batch 32] [--warmup 2] [--iterations 8] [--json FILE]
 * # or the reference classifier's compute with random weights (MobileNetV2
 * # 1.0 + pooling + Dense(2, softmax), seed 1), int8 calibrated on 32 random
 * # images in [-1, 1] (ranges do not change the speed):
 * deno run … bench/onnx_quantized.ts --size 160 [--alpha 1.0]
 * ```
 *
 * One pass = `engine.run` of one NHWC float32 batch (input → probabilities),
 * with `onnx_runtime.ts`' session options and `--threads` intra-op threads.
 * Passes are interleaved (one of each model in turn), so load from other
 * processes hits them alike. Reported per model: images/s over the timed
 * passes, median and best pass, process CPU ms per image, file size, and
 * the ratio to fp32. Also the top-1 agreement and max |Δp| with fp32 on the
 * timed batch (random images: a consistency check, not the accuracy cost,
 * which is the run's `summary.json` `shipping`).
 *
 * @module
 */

import process from "node:process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as tf from "../src/deps/tf.ts";
import { buildClassifier } from "../src/model/classifier.ts";
import { exportOnnx } from "../src/engine/onnx_export.ts";
import {
  exportOnnxFloat16,
  exportOnnxInt8,
} from "../src/engine/onnx_quantize.ts";
import {
  createOnnxEngine,
  type OnnxEngine,
  tryLoadOnnxRuntime,
} from "../src/engine/onnx_runtime.ts";
import { silenceNodeBanner } from "../src/backend/set_backend.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    model: { type: "string" },
    size: { type: "string", default: "160" },
    alpha: { type: "string", default: "1.0" },
    threads: { type: "string", default: "2" },
    batch: { type: "string", default: "32" },
    warmup: { type: "string", default: "2" },
    iterations: { type: "string", default: "8" },
    json: { type: "string" },
  },
});
const threads = Number(values.threads);
const batch = Number(values.batch);
const warmup = Number(values.warmup);
const iterations = Number(values.iterations);

const loaded = await tryLoadOnnxRuntime();
if (!loaded.ok) {
  console.error(`ONNX Runtime unavailable: ${loaded.reason}`);
  Deno.exit(1);
}
silenceNodeBanner();
await tf.setBackend("cpu");

/** The three models' bytes, and the input size. */
async function models(): Promise<
  { size: number; files: { label: string; bytes: Uint8Array }[] }
> {
  if (values.model) {
    const dir = (await Deno.stat(join(values.model, "model"))
        .then((s) => s.isDirectory).catch(() => false))
      ? join(values.model, "model")
      : values.model;
    const pre = JSON.parse(
      await Deno.readTextFile(join(dir, "preprocessing.json")),
    );
    const files = [];
    for (
      const [label, name] of [
        ["fp32", "model.onnx"],
        ["fp16", "model.fp16.onnx"],
        ["int8", "model.int8.onnx"],
      ]
    ) {
      try {
        files.push({ label, bytes: await Deno.readFile(join(dir, name)) });
      } catch {
        console.error(`${join(dir, name)}: missing, left out`);
      }
    }
    return { size: pre.imageSize[0], files };
  }
  const size = Number(values.size);
  const { model } = await buildClassifier({
    imageSize: [size, size],
    alpha: Number(values.alpha),
    weights: null,
    numClasses: 2,
    seed: 1,
  });
  const calib = tf.randomUniform([32, size, size, 3], -1, 1, "float32", 3);
  const data = await calib.data() as Float32Array;
  calib.dispose();
  const per = size * size * 3;
  const int8 = await exportOnnxInt8(
    model,
    [0, 1, 2, 3].map((i) => ({
      data: data.subarray(i * 8 * per, (i + 1) * 8 * per),
      shape: [8, size, size, 3] as [number, number, number, number],
    })),
    { ort: loaded.ok ? loaded.ort : undefined, threads },
  );
  const files = [
    { label: "fp32", bytes: exportOnnx(model) },
    { label: "fp16", bytes: exportOnnxFloat16(model) },
    { label: "int8", bytes: int8.bytes },
  ];
  model.dispose();
  return { size, files };
}

const { size, files } = await models();
console.log(
  `${
    values.model ?? `MobileNetV2 ${values.alpha} classifier, random weights`
  } @${size}, ` +
    `batch ${batch}, ${threads} threads, ${warmup} warm-up + ${iterations} timed passes each, interleaved; ` +
    `${navigator.hardwareConcurrency} CPUs`,
);
const x = tf.randomUniform([batch, size, size, 3], -1, 1, "float32", 2);
const input = await x.data() as Float32Array;
x.dispose();
const shape = [batch, size, size, 3];

interface Contender {
  label: string;
  bytes: number;
  engine: OnnxEngine;
  ms: number[];
  cpu: number[];
  out: Float32Array | null;
}
const contenders: Contender[] = [];
for (const f of files) {
  contenders.push({
    label: f.label,
    bytes: f.bytes.length,
    engine: await createOnnxEngine(f.bytes, {
      ort: loaded.ok ? loaded.ort : undefined,
      threads,
    }),
    ms: [],
    cpu: [],
    out: null,
  });
}
try {
  for (let i = 0; i < warmup + iterations; i++) {
    for (const c of contenders) {
      const t = performance.now();
      const cpu = process.cpuUsage();
      const [out] = await c.engine.run(input, shape);
      const used = process.cpuUsage(cpu);
      c.out = out.data;
      if (i >= warmup) {
        c.ms.push(performance.now() - t);
        c.cpu.push((used.user + used.system) / 1e6);
      }
    }
  }
} finally {
  for (const c of contenders) await c.engine.dispose();
}

const ref = contenders.find((c) => c.label === "fp32") ?? contenders[0];
const k = ref.out!.length / batch;
const rows = contenders.map((c) => {
  const total = c.ms.reduce((a, b) => a + b, 0);
  const sorted = [...c.ms].sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  let agree = 0, maxAbsDiff = 0;
  for (let i = 0; i < batch; i++) {
    const a = Array.from(c.out!.subarray(i * k, (i + 1) * k));
    const b = Array.from(ref.out!.subarray(i * k, (i + 1) * k));
    if (a.indexOf(Math.max(...a)) === b.indexOf(Math.max(...b))) agree++;
    a.forEach((v, j) => maxAbsDiff = Math.max(maxAbsDiff, Math.abs(v - b[j])));
  }
  return {
    model: c.label,
    megabytes: c.bytes / 1e6,
    imagesPerSecond: (batch * c.ms.length) / (total / 1000),
    medianImagesPerSecond: batch / (median / 1000),
    bestImagesPerSecond: batch / (Math.min(...c.ms) / 1000),
    cpuMsPerImage: (c.cpu.reduce((a, b) => a + b, 0) * 1000) /
      (batch * c.cpu.length),
    agreement: agree / batch,
    maxAbsDiff,
    ms: c.ms,
  };
});
const base = rows.find((r) => r.model === "fp32") ?? rows[0];
console.log();
console.log(
  "| model | MB | images/s | × fp32 | median pass images/s | best pass images/s | CPU ms per image | agreement | max abs Δp |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) {
  console.log(
    `| ${r.model} | ${r.megabytes.toFixed(2)} | ${
      r.imagesPerSecond.toFixed(1)
    } | ${(r.imagesPerSecond / base.imagesPerSecond).toFixed(2)} | ${
      r.medianImagesPerSecond.toFixed(1)
    } | ${r.bestImagesPerSecond.toFixed(1)} | ${r.cpuMsPerImage.toFixed(2)} | ${
      r.agreement.toFixed(3)
    } | ${r.maxAbsDiff.toExponential(2)} |`,
  );
}
if (values.json) {
  await Deno.writeTextFile(
    values.json,
    JSON.stringify(
      { model: values.model ?? null, size, batch, threads, rows },
      null,
      2,
    ) +
      "\n",
  );
}
