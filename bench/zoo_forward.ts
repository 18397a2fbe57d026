/**
 * Frozen forward images/s of every base network (issue 19), ONNX Runtime
 * against TF.js WASM, side by side in one run: each architecture without
 * top + global average pooling, random weights (seed 1: the same compute as
 * ImageNet's, which cannot be downloaded here), raw 0–255 pixels (V3 and
 * the EfficientNets rescale inside; MobileNetV2's x/127.5 − 1 is not timed),
 * at each `--sizes`.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-sys --allow-ffi \
 *   bench/zoo_forward.ts [--sizes 160,224] [--batch 16] [--warmup 3] [--passes 3] \
 *   [--architectures mobilenet_v2,…] [--json FILE]
 * ```
 *
 * - ONNX Runtime: the graph `onnx_export.ts` writes, with the session
 *   options of `onnx_runtime.ts`, 2 intra-op threads; one pass = one batch.
 * - TF.js: the WASM backend (SIMD, 2 threads) in this process, the layers
 *   model's `predict` + reading the features back.
 * - `--warmup` untimed passes each (default 3: ONNX Runtime's memory
 *   pattern allocates its planned block on the second run, whose first
 *   touches cost up to 40 % of that run; from the third on the arena is
 *   reused, as in a job's hundreds of batches), then `--passes` timed passes,
 *   interleaved (one pass of each engine in turn), so other load hits both
 *   alike; images/s from the mean pass. The load average is printed before
 *   and after.
 *
 * @module
 */

import { parseArgs } from "node:util";
import * as tf from "../src/deps/tf.ts";
import { silenceNodeBanner } from "../src/backend/set_backend.ts";
import { selectBackend } from "../src/backend/backend.ts";
import { architecturesArg, pooledBase } from "./_zoo.ts";
import { exportOnnx } from "../src/engine/onnx_export.ts";
import {
  createOnnxEngine,
  tryLoadOnnxRuntime,
} from "../src/engine/onnx_runtime.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sizes: { type: "string", default: "160,224" },
    batch: { type: "string", default: "16" },
    warmup: { type: "string", default: "3" },
    passes: { type: "string", default: "3" },
    architectures: { type: "string" },
    json: { type: "string" },
  },
});
const sizes = values.sizes.split(",").map(Number);
const batch = Number(values.batch);
const passes = Number(values.passes);
const warmup = Number(values.warmup);
for (
  const [key, n, min] of [["passes", passes, 1], ["warmup", warmup, 0]] as const
) {
  if (!(Number.isInteger(n) && n >= min)) {
    throw new Error(
      `--${key}: expected an integer ≥ ${min}, got ${values[key]}`,
    );
  }
}
const archs = architecturesArg(values.architectures);

const loaded = await tryLoadOnnxRuntime();
if (!loaded.ok) throw new Error(`ONNX Runtime unavailable: ${loaded.reason}`);
silenceNodeBanner();
const backend = await selectBackend("wasm");
const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
const loadBefore = load();
console.log(`TF.js: ${backend.backend} (${tf.getBackend()})`);
console.log(
  `batch ${batch}, ${warmup} warm-up + ${passes} timed passes each, interleaved; ${navigator.hardwareConcurrency} CPUs; load ${loadBefore}`,
);

interface Row {
  architecture: string;
  size: number;
  params: number;
  ort: number;
  wasm: number;
  ratio: number;
}
const rows: Row[] = [];
for (const architecture of archs) {
  for (const size of sizes) {
    const model = pooledBase(architecture, size);
    const engine = await createOnnxEngine(
      exportOnnx(model, { inputLayout: "nhwc" }),
      { ort: loaded.ort, threads: 2 },
    );
    const x = tf.randomUniform([batch, size, size, 3], 0, 255, "float32", 2);
    const pixels = x.dataSync() as Float32Array;
    const ms = { ort: [] as number[], wasm: [] as number[] };
    for (let i = 0; i < warmup + passes; i++) {
      let t = performance.now();
      await engine.run(pixels, [batch, size, size, 3]);
      if (i >= warmup) ms.ort.push(performance.now() - t);
      t = performance.now();
      const y = model.predict(x) as tf.Tensor;
      await y.data();
      y.dispose();
      if (i >= warmup) ms.wasm.push(performance.now() - t);
    }
    const ips = (a: number[]) =>
      (batch * a.length) / (a.reduce((s, v) => s + v, 0) / 1000);
    const row = {
      architecture,
      size,
      params: model.countParams(),
      ort: ips(ms.ort),
      wasm: ips(ms.wasm),
      ratio: ips(ms.ort) / ips(ms.wasm),
    };
    rows.push(row);
    console.log(
      `${architecture} @${size}: ORT ${row.ort.toFixed(1)} img/s, WASM ${
        row.wasm.toFixed(1)
      } img/s, ${row.ratio.toFixed(1)}×`,
    );
    x.dispose();
    await engine.dispose();
    model.dispose();
  }
}
const loadAfter = load();
console.log(`\nload average before / after: ${loadBefore} / ${loadAfter}\n`);
console.log(
  `| architecture | ${
    sizes.map((s) => `ORT @${s} | WASM @${s} | ratio @${s}`).join(" | ")
  } |`,
);
console.log(`| --- |${sizes.map(() => " ---: | ---: | ---: ").join("|")}|`);
for (const a of archs) {
  const cells = sizes.map((s) => {
    const r = rows.find((x) => x.architecture === a && x.size === s)!;
    return `${r.ort.toFixed(0)} | ${r.wasm.toFixed(1)} | ${
      r.ratio.toFixed(1)
    }×`;
  });
  console.log(`| \`${a}\` | ${cells.join(" | ")} |`);
}
if (values.json) {
  await Deno.writeTextFile(
    values.json,
    JSON.stringify(
      { loadBefore, loadAfter, batch, warmup, passes, rows },
      null,
      2,
    ),
  );
}
