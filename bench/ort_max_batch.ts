/**
 * The frozen-forward engine's runs of at most `ORT_MAX_BATCH` images against
 * one run of the whole batch (`createOnnxEngine`'s `maxBatch`), side by side
 * in one process: each architecture without top + global average pooling,
 * random weights (seed 1), raw 0–255 pixels, a batch of `--batch` images
 * (default 32, the reference job's), ONNX Runtime with 2 threads.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-sys --allow-ffi \
 *   bench/ort_max_batch.ts [--architectures mobilenet_v3_large,…] \
 *   [--sizes 160,224] [--batch 32] [--warmup 3] [--passes 6]
 * ```
 *
 * Both sessions get `--warmup` untimed batches (ONNX Runtime's arena
 * settles on the third run), then `--passes` timed batches each,
 * interleaved, so other load hits both alike. Prints images/s of each and
 * their ratio, and checks that the two give the same bits.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { silenceNodeBanner } from "../src/backend/set_backend.ts";
import * as tf from "../src/deps/tf.ts";
import { architecturesArg, pooledBase } from "./_zoo.ts";
import { exportOnnx } from "../src/engine/onnx_export.ts";
import {
  createOnnxEngine,
  ORT_MAX_BATCH,
  tryLoadOnnxRuntime,
} from "../src/engine/onnx_runtime.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    architectures: {
      type: "string",
      default: "mobilenet_v2,mobilenet_v3_large,efficientnet_b0",
    },
    sizes: { type: "string", default: "160,224" },
    batch: { type: "string", default: "32" },
    warmup: { type: "string", default: "3" },
    passes: { type: "string", default: "6" },
  },
});
const archs = architecturesArg(values.architectures);
const sizes = values.sizes.split(",").map(Number);
const batch = Number(values.batch);
const warmup = Number(values.warmup);
const passes = Number(values.passes);

const loaded = await tryLoadOnnxRuntime();
if (!loaded.ok) throw new Error(`ONNX Runtime unavailable: ${loaded.reason}`);
silenceNodeBanner();
await tf.setBackend("cpu");
const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
const loadBefore = load();
console.log(
  `batch ${batch}: one run against runs of ≤ ${ORT_MAX_BATCH}; ${warmup} warm-up + ${passes} timed batches each, interleaved; load ${loadBefore}`,
);
const table: string[] = [];
for (const architecture of archs) {
  for (const size of sizes) {
    const model = pooledBase(architecture, size);
    const bytes = exportOnnx(model);
    model.dispose();
    const shape = [batch, size, size, 3];
    const input = new Float32Array(batch * size * size * 3).map((_, i) =>
      (i * 7919) % 256
    );
    const engines = {
      whole: await createOnnxEngine(bytes, { ort: loaded.ort, threads: 2 }),
      split: await createOnnxEngine(bytes, {
        ort: loaded.ort,
        threads: 2,
        maxBatch: ORT_MAX_BATCH,
      }),
    };
    const ms = { whole: 0, split: 0 };
    let same = true;
    for (let i = 0; i < warmup + passes; i++) {
      const outs: Float32Array[] = [];
      for (const key of ["whole", "split"] as const) {
        const t = performance.now();
        const [out] = await engines[key].run(input, shape);
        if (i >= warmup) ms[key] += performance.now() - t;
        outs.push(out.data);
      }
      same &&= outs[0].every((v, j) => v === outs[1][j]);
    }
    await engines.whole.dispose();
    await engines.split.dispose();
    const ips = (t: number) => batch * passes / (t / 1000);
    const row = `| \`${architecture}\` | ${size} | ${
      ips(ms.whole).toFixed(0)
    } | ${ips(ms.split).toFixed(0)} | ${(ms.whole / ms.split).toFixed(2)}× | ${
      same ? "yes" : "NO"
    } |`;
    console.log(row);
    table.push(row);
  }
}
console.log(`\nload average before / after: ${loadBefore} / ${load()}\n`);
console.log(
  `| architecture | px | one run of ${batch} (img/s) | runs of ≤ ${ORT_MAX_BATCH} (img/s) | speed-up | same bits |`,
);
console.log("| --- | ---: | ---: | ---: | ---: | --- |");
for (const row of table) console.log(row);
