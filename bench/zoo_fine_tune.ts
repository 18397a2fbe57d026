/**
 * Seconds per fine-tuning epoch of every base network (issue 19): the real
 * training chain (`runTraining`) on the reference-sized data (2,000 training
 * JPEGs, 1,000 validation, `.cache/bench/reference-3000`), 160×160, batch 32,
 * random weights (ImageNet's cannot be downloaded here; the compute is the
 * same), one frozen epoch, then `--epochs` fine-tuning epochs from
 * `floor(0.7 × Keras' layer count)` (a layer in the last third, as Keras
 * indexes `model.layers`), Adam 1e-5, BatchNormalization in inference,
 * `backend: "auto"` and `engine.train: "auto"` (what a user gets), prefix
 * cached.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-sys --allow-ffi \
 *   bench/zoo_fine_tune.ts [--architectures mobilenet_v3_small,…] \
 *   [--epochs 2] [--data DIR] [--size 160] [--json FILE] [--keep]
 * ```
 *
 * One run per architecture, one after another in this process, sharing one
 * fresh cache folder (the decoded images are made once and are the same for
 * every base; prefix and feature caches key on the architecture). Prints,
 * per architecture, the layer fine-tuning starts at, the training engine
 * `auto` picked, each fine-tuning epoch's seconds (metrics.csv's `seconds`)
 * and ms per step, and the load average before and after. Run folders and
 * the cache go to a new folder under `.cache/bench/`, removed at the end
 * unless `--keep`.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseConfig } from "../src/config/load.ts";
import { runTraining } from "../src/run.ts";
import { silenceNodeBanner } from "../src/backend/set_backend.ts";
import { baseNetwork } from "../src/model/bases.ts";
import { kerasLayerNames } from "../src/model/mobilenet_v3.ts";
import { architecturesArg } from "./_zoo.ts";
import { REFERENCE_DATASET_DIR } from "../fixtures/photos.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    architectures: { type: "string" },
    epochs: { type: "string", default: "2" },
    data: { type: "string", default: REFERENCE_DATASET_DIR },
    size: { type: "string", default: "160" },
    json: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const archs = architecturesArg(values.architectures);
const epochs = Number(values.epochs);
const size = Number(values.size);
try {
  await Deno.stat(join(values.data, "train"));
} catch {
  throw new Error(
    `${values.data}: no reference data; make it with \`deno run -A fixtures/photos.ts\``,
  );
}

silenceNodeBanner();
const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
const loadBefore = load();
const work = await Deno.makeTempDir({
  dir: join(REFERENCE_DATASET_DIR, ".."),
  prefix: "zoo-fine-tune-",
});
console.log(
  `${size} px, batch 32, 1 frozen + ${epochs} fine-tuning epochs each; ${navigator.hardwareConcurrency} CPUs; load ${loadBefore}; work folder ${work}`,
);

interface Row {
  architecture: string;
  fromLayer: number;
  layerName: string;
  trainEngine: string;
  backend: string;
  steps: number;
  secondsPerEpoch: number[];
}
const rows: Row[] = [];
try {
  for (const architecture of archs) {
    const base = baseNetwork({ architecture, inputShape: [size, size, 3] });
    const names = kerasLayerNames(base);
    base.dispose();
    const fromLayer = Math.floor(names.length * 0.7);
    const config = parseConfig({
      name: `zoo-fine-tune-${architecture}`,
      data: {
        url: null,
        path: values.data,
        cacheDir: join(work, "cache"),
        imageSize: [size, size],
        batchSize: 32,
      },
      model: { architecture, alpha: 1.0, weights: null },
      train: { epochs: 1 },
      fineTune: {
        enabled: true,
        fromLayer,
        epochs,
        optimizer: "adam",
        learningRate: 1e-5,
      },
      engine: { frozen: "auto", train: "auto" },
      output: { dir: join(work, "runs"), onnx: false, topLosses: 0 },
    });
    const { summary, model, rows: metrics } = await runTraining(config, {
      log: () => {},
      progress: { write: () => {} },
      isTty: false,
    });
    model.dispose();
    const fine = metrics.filter((r) => r.stage === "fine_tune");
    const steps = Math.ceil(summary.images.train / 32);
    const row: Row = {
      architecture,
      fromLayer,
      layerName: names[fromLayer],
      trainEngine: summary.trainEngine?.engine ?? "tfjs",
      backend: summary.backend,
      steps,
      secondsPerEpoch: fine.map((r) => r.seconds),
    };
    rows.push(row);
    console.log(
      `${architecture} from ${fromLayer} (${row.layerName}), ${row.trainEngine} on ${row.backend}: ${
        row.secondsPerEpoch.map((s) =>
          `${s.toFixed(1)} s (${(1000 * s / steps).toFixed(0)} ms/step)`
        ).join(", ")
      }; load ${load()}`,
    );
  }
} finally {
  if (!values.keep) await Deno.remove(work, { recursive: true });
}
console.log(`load average before / after: ${loadBefore} / ${load()}`);
console.log(
  "| architecture | fine-tuned from (Keras index, layer) | engine | s per epoch | ms per step |",
);
console.log("| --- | --- | --- | ---: | ---: |");
for (const r of rows) {
  const s = r.secondsPerEpoch;
  const range = (xs: number[], d: number) =>
    Math.min(...xs) === Math.max(...xs)
      ? xs[0].toFixed(d)
      : `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;
  console.log(
    `| \`${r.architecture}\` | ${r.fromLayer} \`${r.layerName}\` | ${r.trainEngine} | ${
      range(s, 1)
    } | ${range(s.map((x) => 1000 * x / r.steps), 0)} |`,
  );
}
if (values.json) {
  await Deno.writeTextFile(values.json, JSON.stringify(rows, null, 2));
}
