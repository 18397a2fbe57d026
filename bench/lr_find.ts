/**
 * `deno task lr-find` at the reference size: how long the LR finder takes
 * once the features are cached, and the cold run that caches them (issue 21:
 * "With cached features it should take seconds").
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-sys --allow-ffi \
 *   bench/lr_find.ts [--data DIR] [--train-per-class 1000] \
 *   [--validation-per-class 500] [--image-size 160] [--alpha 1.0] \
 *   [--backend auto] [--runs 3] [--keep]
 * ```
 *
 * - Data: the generated reference-sized dataset of `bench/reference_job.ts`
 *   (2,000 train / 1,000 validation 500×375 JPEGs, `.cache/bench/
 *   reference-3000`, written once and reused), read from the local folder.
 * - Model: MobileNetV2 1.0 @160 without top, random weights (the compute of
 *   ImageNet's), frozen, GAP + Dense; batch 32, Adam (the reference job's
 *   config); fastai's sweep defaults (1e-7 → 10, 100 iterations, stop on
 *   divergence).
 * - Run 1 uses a fresh cache folder: it decodes the JPEGs and computes the
 *   features, then sweeps. Runs 2.. reuse both: the time a user waits for
 *   `deno task lr-find` after `deno task train` or `prepare` (module loading
 *   excluded: all runs share this process; time the task itself for that,
 *   `time deno task lr-find --set data.path=… --set data.cacheDir=…`).
 *
 * Prints one row per run: seconds before the sweep (backend, data, model,
 * features), seconds of the sweep, iterations, why it stopped, the
 * suggestions. Caches and outputs go to a new folder under `.cache/bench/`,
 * removed at the end unless `--keep`.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseConfig } from "../src/config/load.ts";
import { runLrFind } from "../src/run_lr_find.ts";
import { formatLr } from "../src/report/lr_find_chart.ts";
import {
  REFERENCE_DATASET_DIR,
  writeReferenceDataset,
} from "../fixtures/photos.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    data: { type: "string", default: REFERENCE_DATASET_DIR },
    "train-per-class": { type: "string", default: "1000" },
    "validation-per-class": { type: "string", default: "500" },
    "image-size": { type: "string", default: "160" },
    alpha: { type: "string", default: "1.0" },
    backend: { type: "string", default: "auto" },
    runs: { type: "string", default: "3" },
    keep: { type: "boolean", default: false },
  },
  strict: true,
});

const ds = await writeReferenceDataset(args.data, {
  trainPerClass: Number(args["train-per-class"]),
  validationPerClass: Number(args["validation-per-class"]),
  onProgress: (done, total) => {
    if (done % 250 === 0) console.error(`generated ${done}/${total} JPEGs`);
  },
});
console.error(`data: ${ds.images} JPEGs in ${ds.root}`);
const benchDir = fileURLToPath(new URL("../.cache/bench", import.meta.url));
await Deno.mkdir(benchDir, { recursive: true });
const work = await Deno.makeTempDir({ dir: benchDir, prefix: "lr-find-" });
const size = Number(args["image-size"]);
const config = parseConfig({
  name: "bench-lr-find",
  data: {
    url: null,
    path: args.data,
    cacheDir: join(work, "cache"),
    imageSize: [size, size],
    batchSize: 32,
  },
  model: { weights: null, alpha: Number(args.alpha), trainable: false },
  backend: args.backend,
  output: { dir: join(work, "runs") },
});

const enc = new TextEncoder();
const rows: string[][] = [];
try {
  for (let run = 1; run <= Number(args.runs); run++) {
    const t = performance.now();
    const r = await runLrFind(config, {
      log: (l) => console.error(l),
      progress: { write: (t) => void Deno.stderr.writeSync(enc.encode(t)) },
      isTty: false,
    });
    const wall = (performance.now() - t) / 1000;
    for (const line of r.summary) console.error(line);
    const s = r.suggestions;
    const lr = (x: { lr: number } | null) => (x ? formatLr(x.lr) : "—");
    rows.push([
      run === 1 ? "1 (cold cache)" : `${run} (features cached)`,
      r.facts.backend,
      r.facts.seconds.prepare.toFixed(1),
      r.facts.seconds.sweep.toFixed(2),
      wall.toFixed(1),
      String(r.records.length),
      r.stopReason,
      `${lr(s.valley)} / ${lr(s.minimum)} / ${lr(s.steep)}`,
    ]);
  }
} finally {
  if (!args.keep) await Deno.remove(work, { recursive: true });
  else console.error(`kept ${work}`);
}

const head = [
  "run",
  "backend",
  "before sweep s",
  "sweep s",
  "wall s",
  "iterations",
  "stop",
  "valley / minimum / steep",
];
console.log(`| ${head.join(" | ")} |`);
console.log(`| ${head.map(() => "---").join(" | ")} |`);
for (const row of rows) console.log(`| ${row.join(" | ")} |`);
