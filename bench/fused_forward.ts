/**
 * Frozen forward pass on one TF.js backend, the fused executor of the frozen
 * graph (`src/engine/fused_graph.ts`) against the plain layers model's
 * `predict`, side by side in one run: MobileNetV2 1.0 @160×160 without top
 * + global average pooling (the part feature caching and a frozen base run),
 * random weights with randomised BatchNormalization statistics (seed 1; the
 * same compute as ImageNet's), batch 32, images in [-1, 1].
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-sys \
 *   bench/fused_forward.ts [--backend wasm|webgpu|cpu] [--threads 2] \
 *   [--batch 32] [--size 160] [--alpha 1.0] [--warmup 2] [--iterations 8] \
 *   [--pads auto,explicit,pad-op] [--json FILE]
 * ```
 *
 * - Both contenders run in this process on the same backend (`--threads`
 *   WASM threads), on the same input tensor; one pass = the forward pass +
 *   reading the features back (`await data()`), as feature extraction does.
 * - Passes are interleaved (one pass of each contender in turn, the order
 *   alternating every round), so that load from other processes on a shared
 *   machine hits both alike. Reported per contender: images/s over the timed
 *   passes, the median and best pass, process CPU milliseconds per image
 *   (all threads, `process.cpuUsage` around each pass; other processes'
 *   load barely changes it) and the ratio fused / layers of each; also the
 *   load average before and after.
 * - `--pads` adds contenders with other pad forms of the executor (see
 *   `FusedGraphOptions.pads`); the ratio line uses the first.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import * as tf from "../src/deps/tf.ts";
import { type BackendName, selectBackend } from "../src/backend/backend.ts";
import { mobileNetV2 } from "../src/model/mobilenet_v2.ts";
import {
  type FusedGraphOptions,
  fusedModelOf,
} from "../src/engine/fused_graph.ts";
import { randomizeWeights } from "../fixtures/make_h5.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string", default: "wasm" },
    threads: { type: "string", default: "2" },
    batch: { type: "string", default: "32" },
    size: { type: "string", default: "160" },
    alpha: { type: "string", default: "1.0" },
    warmup: { type: "string", default: "2" },
    iterations: { type: "string", default: "8" },
    pads: { type: "string", default: "auto" },
    json: { type: "string" },
  },
});
const backend = values.backend as BackendName;
const threads = Number(values.threads);
const batch = Number(values.batch);
const size = Number(values.size);
const alpha = Number(values.alpha);
const warmup = Number(values.warmup);
const iterations = Number(values.iterations);
const padForms = values.pads.split(",") as NonNullable<
  FusedGraphOptions["pads"]
>[];

/** One contender: a label and one timed pass. */
interface Contender {
  label: string;
  setupSeconds: number;
  pass: () => Promise<void>;
  close: () => void;
  ms: number[];
  /** Process CPU seconds (all threads) of each timed pass. */
  cpu: number[];
}

const loadBefore = Deno.loadavg();
const sel = await selectBackend(backend, { wasmThreads: threads });
const where = sel.backend === "wasm"
  ? `wasm, ${sel.threads} thread${sel.threads === 1 ? "" : "s"}`
  : sel.backend === "webgpu"
  ? `webgpu (${sel.adapter}${sel.fallbackAdapter ? ", software" : ""})`
  : sel.backend;
console.log(
  `MobileNetV2 ${alpha} @${size} + avg pooling, batch ${batch}, ${where}, ` +
    `${warmup} warm-up + ${iterations} timed passes each, interleaved; ` +
    `${navigator.hardwareConcurrency} CPUs, load average ${
      loadBefore.map((l) => l.toFixed(2)).join(" ")
    }`,
);

const model = mobileNetV2({
  inputShape: [size, size, 3],
  alpha,
  includeTop: false,
  pooling: "avg",
  seed: 1,
});
randomizeWeights(model, 1);
const input = tf.randomUniform(
  [batch, size, size, 3],
  -1,
  1,
  "float32",
  2,
) as tf.Tensor4D;

const contenders: Contender[] = [];
const features = (t: tf.Tensor) => {
  if (t.shape[1] !== model.outputs[0].shape[1]) {
    throw new Error(`features [${t.shape}]`);
  }
};
contenders.push({
  label: `layers model predict`,
  setupSeconds: 0,
  pass: async () => {
    const y = model.predict(input) as tf.Tensor;
    await y.data();
    features(y);
    y.dispose();
  },
  close: () => {},
  ms: [],
  cpu: [],
});
for (const pads of padForms) {
  const start = performance.now();
  const fused = await fusedModelOf(model, {}, { pads });
  contenders.push({
    label: `fused graph (pads ${pads})`,
    setupSeconds: (performance.now() - start) / 1000,
    pass: async () => {
      const y = fused.predict(input) as tf.Tensor;
      await y.data();
      features(y);
      y.dispose();
    },
    close: () => fused.dispose(),
    ms: [],
    cpu: [],
  });
}

try {
  for (let i = 0; i < warmup + iterations; i++) {
    const order = i % 2 ? [...contenders].reverse() : contenders;
    for (const c of order) {
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
  for (const c of contenders) c.close();
  input.dispose();
  model.dispose();
}
const loadAfter = Deno.loadavg();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? s[(s.length - 1) / 2]
    : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rows = contenders.map((c) => ({
  label: c.label,
  imagesPerSecond: (batch * c.ms.length) /
    (c.ms.reduce((a, b) => a + b, 0) / 1000),
  medianImagesPerSecond: batch / (median(c.ms) / 1000),
  bestImagesPerSecond: batch / (Math.min(...c.ms) / 1000),
  cpuMsPerImage: (c.cpu.reduce((a, b) => a + b, 0) * 1000) /
    (batch * c.cpu.length),
  ms: c.ms,
  setupSeconds: c.setupSeconds,
}));
const fmt = (n: number) => n.toFixed(1);
console.log();
console.log(
  "| forward | images/s | median pass images/s | best pass images/s | CPU ms per image | ms per pass | setup s |",
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
const [layers, fusedRow] = rows;
const ratio = fusedRow.imagesPerSecond / layers.imagesPerSecond;
const medianRatio = fusedRow.medianImagesPerSecond /
  layers.medianImagesPerSecond;
const bestRatio = fusedRow.bestImagesPerSecond / layers.bestImagesPerSecond;
const cpuRatio = layers.cpuMsPerImage / fusedRow.cpuMsPerImage;
console.log(
  `\nfused / layers (${where}): ${ratio.toFixed(2)}× (median passes: ${
    medianRatio.toFixed(2)
  }×, best passes: ${bestRatio.toFixed(2)}×; target ≥ 1.3×); ` +
    `CPU time per image: layers / fused = ${cpuRatio.toFixed(2)}×; ` +
    `load average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, ` +
    `after ${loadAfter.map((l) => l.toFixed(2)).join(" ")}`,
);
if (values.json) {
  await Deno.writeTextFile(
    values.json,
    JSON.stringify(
      {
        backend: where,
        batch,
        size,
        alpha,
        rows,
        ratio,
        medianRatio,
        bestRatio,
        cpuRatio,
        loadBefore,
        loadAfter,
      },
      null,
      2,
    ) + "\n",
  );
}
