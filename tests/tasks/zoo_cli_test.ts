/**
 * Every `model.architecture` through the command line (issue 19's "done
 * when"): `deno task train --set model.architecture=<value>` as a
 * subprocess with the task's own permission flags, on the fixture dataset
 * served over loopback at 32 px from random weights (`model.weights: null`;
 * Keras' ImageNet files cannot be downloaded here), one frozen epoch then
 * one fine-tuning epoch from Keras' layer index `floor(0.7 × layers)`, both
 * engines on `auto`. Then `deno task predict` on the validation files, once
 * on ONNX Runtime and once on TF.js, and the checks:
 *
 * - exit 0, the metrics (a frozen and a fine-tuning row, finite losses),
 *   `report.html` naming the base, `model/model.onnx`, and
 *   `preprocessing.json` saying how pixels go in (raw 0–255 for every base
 *   but MobileNetV2);
 * - the fine-tuning log line starting at Keras' layer `floor(0.7 × layers)`;
 * - `predict` on ONNX Runtime equal to `predict` on TF.js within 1e-4 for
 *   every image and class, each row a distribution.
 *
 * MobileNetV3 minimalistic (Small) runs too. The layer-by-layer exactness of
 * each base is the goldens' job (tests/model/); this proves the chain.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Architecture,
  ARCHITECTURES,
} from "../../src/config/architecture.ts";
import { baseNetwork } from "../../src/model/bases.ts";
import { kerasLayerNames } from "../../src/model/mobilenet_v3.ts";
import { readMetricsCsv } from "../../src/report/metrics.ts";
import { FIXTURE_CLASSES } from "../../fixtures/make_fixtures.ts";
import { getFixtures, listDir } from "../_helpers/data.ts";
import { SIZE, trainEnv } from "../_helpers/train.ts";
import { runTask } from "../_helpers/tasks.ts";

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

const config = await env.configFile({
  name: "zoo",
  model: { weights: null, alpha: 1 },
  train: { epochs: 1, learningRate: 0.01 },
  fineTune: { enabled: true, epochs: 1, learningRate: 1e-3 },
  engine: { frozen: "auto", train: "auto" },
  output: { topLosses: 4 },
});

const { datasetDir } = await getFixtures();
const validation = (await Promise.all(
  FIXTURE_CLASSES.map(async (c) =>
    (await listDir(join(datasetDir, "validation", c)))
      .filter((f) => f.endsWith(".jpg"))
      .map((f) => join(datasetDir, "validation", c, f))
  ),
)).flat();
assert.ok(validation.length >= FIXTURE_CLASSES.length, `${validation}`);

const cases: { architecture: Architecture; minimalistic?: boolean }[] = [
  ...ARCHITECTURES.map((architecture) => ({ architecture })),
  { architecture: "mobilenet_v3_small", minimalistic: true },
];

for (const { architecture, minimalistic } of cases) {
  const label = `${architecture}${minimalistic ? " (minimalistic)" : ""}`;
  Deno.test(`deno task train --set model.architecture=${label}: frozen + fine-tuned from Keras' floor(0.7 × layers), report, model.onnx; deno task predict on ONNX Runtime = on TF.js`, async () => {
    const base = baseNetwork({
      architecture,
      minimalistic,
      inputShape: [SIZE, SIZE, 3],
    });
    const names = kerasLayerNames(base);
    base.dispose();
    const fromLayer = Math.floor(names.length * 0.7);
    const out = join(env.dir, `runs-${label.replace(/\W+/g, "-")}`);
    const train = await runTask("train", "tasks/train.ts", [
      "--config",
      config,
      "--set",
      `model.architecture=${architecture}`,
      "--set",
      `model.minimalistic=${minimalistic ?? false}`,
      "--set",
      `fineTune.fromLayer=${fromLayer}`,
      "--set",
      `output.dir=${out}`,
    ]);
    assert.equal(train.code, 0, train.stderr + train.stdout);
    const [stamp] = await listDir(out);
    const run = join(out, stamp);
    const log = train.stdout + train.stderr;
    const from = /fine-tuning: unfroze .*\(from (\S+)\)/.exec(log)?.[1];
    assert.ok(
      from === names[fromLayer] || from?.startsWith(`${names[fromLayer]}__`),
      `fine-tuning started at ${from}, Keras' layer ${fromLayer} is ${
        names[fromLayer]
      }\n${log}`,
    );
    const rows = await readMetricsCsv(join(run, "metrics.csv"));
    assert.deepEqual(rows.map((r) => r.stage), ["frozen", "fine_tune"]);
    assert.ok(rows.every((r) => Number.isFinite(r.loss)), JSON.stringify(rows));
    const summary = JSON.parse(
      await Deno.readTextFile(join(run, "summary.json")),
    );
    const report = await Deno.readTextFile(join(run, "report.html"));
    assert.ok(
      report.includes(summary.model.split(",")[0]),
      `report.html does not name ${summary.model}`,
    );
    assert.ok((await Deno.stat(join(run, "model", "model.onnx"))).size > 1e5);
    const preprocessing = JSON.parse(
      await Deno.readTextFile(join(run, "model", "preprocessing.json")),
    );
    assert.equal(
      preprocessing.preprocess,
      architecture === "mobilenet_v2" ? "mobilenet_v2" : "identity",
    );

    const predictions: Record<string, number[]>[] = [];
    for (const engine of ["onnxruntime", "tfjs"]) {
      const p = await runTask("predict", "tasks/predict.ts", [
        "--model",
        run,
        "--json",
        "--engine",
        engine,
        ...validation,
      ]);
      assert.equal(p.code, 0, `${engine}: ${p.stderr}`);
      assert.match(p.stderr, new RegExp(`^engine: ${engine}`, "m"));
      const byFile: Record<string, number[]> = {};
      for (const line of p.stdout.trim().split("\n")) {
        const row = JSON.parse(line);
        const probs = FIXTURE_CLASSES.map((c) => row.probabilities[c]);
        const sum = probs.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - 1) < 1e-5, `${engine} ${row.file}: ${probs}`);
        byFile[row.file] = probs;
      }
      assert.equal(Object.keys(byFile).length, validation.length, engine);
      predictions.push(byFile);
    }
    const [ort, tfjs] = predictions;
    for (const [file, probs] of Object.entries(ort)) {
      const diff = Math.max(
        ...probs.map((v, k) => Math.abs(v - tfjs[file][k])),
      );
      assert.ok(diff <= 1e-4, `${file}: |ONNX Runtime − TF.js| = ${diff}`);
    }
  });
}
