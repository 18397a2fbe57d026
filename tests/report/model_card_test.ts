/**
 * `MODEL_CARD.md` and Teachable Machine's `model/metadata.json`, generated
 * by a real fixture run: every number in the card is the one in the run's
 * `summary.json` (counts per class and split, the skipped file, accuracy,
 * loss, per-class precision/recall/F1/support, each confusion-matrix row),
 * the files listed are the model folder's with their sizes; the metadata's
 * labels are `labels.json`'s. The Wilson interval is checked against the
 * interval's definition solved by bisection.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runTraining } from "../../src/run.ts";
import type { RunSummary } from "../../src/report/summary.ts";
import { wilsonInterval } from "../../src/report/model_card.ts";
import { teachableMachineMetadata } from "../../src/report/tm_metadata.ts";
import { quiet, SIZE, trainEnv } from "../_helpers/train.ts";

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

/** The table under `heading` in `md`, as rows of cells (header row first). */
function tableAfter(md: string, heading: string): string[][] {
  const start = md.indexOf(heading);
  assert.ok(start >= 0, `no "${heading}" in the card`);
  const lines = md.slice(start).split("\n");
  const first = lines.findIndex((l) => l.startsWith("|"));
  const rows: string[][] = [];
  for (const l of lines.slice(first)) {
    if (!l.startsWith("|")) break;
    rows.push(l.slice(1, -1).split("|").map((c) => c.trim()));
  }
  return rows.filter((r) => !r.every((c) => /^-+:?$/.test(c)));
}

Deno.test("model card and metadata.json of a real fixture run match its summary", async () => {
  const r = await runTraining(
    env.config({
      train: { epochs: 3 },
      output: { saveBest: true, topLosses: 0, demo: false },
    }),
    { log: () => {}, progress: quiet, isTty: false },
  );
  r.model.dispose();
  const s = JSON.parse(
    await Deno.readTextFile(join(r.dir, "summary.json")),
  ) as RunSummary;
  const card = await Deno.readTextFile(join(r.dir, "MODEL_CARD.md"));
  assert.match(card, /^# Model card: e2e\n/);
  assert.ok(
    card.includes(`An image classifier for ${s.classNames.length} classes`),
  );
  for (
    const h of [
      "## Intended use",
      "## Data",
      "## Model",
      "## Training",
      "## Validation metrics",
      "## Files",
      "## Known limits",
    ]
  ) {
    assert.ok(card.includes(`\n${h}\n`), h);
  }

  // Data: images per class and split, the skipped file with its reason.
  const data = tableAfter(card, "## Data");
  assert.deepEqual(data[0], ["class", "train images", "validation images"]);
  const train = s.data.splits.find((sp) => sp.name === "train")!;
  const val = s.data.splits.find((sp) => sp.name === "validation")!;
  s.classNames.forEach((c, i) => {
    assert.deepEqual(data[i + 1], [
      c,
      String(train.perClass![i]),
      String(val.perClass![i]),
    ]);
  });
  assert.deepEqual(data.at(-1), [
    "**all**",
    `**${s.images.train}**`,
    `**${s.images.validation}**`,
  ]);
  assert.ok(s.data.skipped.length > 0, "the fixture has a corrupt file");
  for (const f of s.data.skipped) {
    assert.ok(card.includes(`\`${f.path}\``), f.path);
    assert.ok(card.includes(f.reason), f.reason);
  }

  // Metrics.
  const ev = s.evaluation!;
  const n = s.evaluationLoss!.count;
  const correct = Math.round(ev.report.accuracy * n);
  assert.ok(
    card.includes(
      `- Accuracy: **${
        (100 * ev.report.accuracy).toFixed(1)
      } %** (${correct} of ${n};`,
    ),
  );
  assert.ok(
    card.includes(
      `- Loss (cross-entropy): ${s.evaluationLoss!.loss.toFixed(4)}`,
    ),
  );
  const [lo, hi] = wilsonInterval(correct, n)!;
  assert.ok(
    card.includes(
      `95% interval ${(100 * lo).toFixed(1)} % – ${(100 * hi).toFixed(1)} %`,
    ),
  );
  const perClass = tableAfter(card, "Per class:");
  assert.deepEqual(perClass[0], [
    "class",
    "precision",
    "recall",
    "F1",
    "support",
  ]);
  ev.report.classes.forEach((c, i) => {
    assert.deepEqual(perClass[i + 1], [
      c.name,
      c.precision.toFixed(4),
      c.recall.toFixed(4),
      c.f1.toFixed(4),
      String(c.support),
    ]);
  });
  const matrix = tableAfter(card, "Confusion matrix");
  assert.deepEqual(matrix[0], ["true \\ predicted", ...s.classNames]);
  ev.matrix.forEach((row, i) => {
    assert.deepEqual(matrix[i + 1], [s.classNames[i], ...row.map(String)]);
  });
  assert.ok(
    card.includes(
      `- Ran ${s.epochs} of ${s.totalEpochs} epochs; stopped: completed`,
    ),
  );

  // Files: the model folders' files with their sizes.
  const files = tableAfter(card, "## Files");
  const listed = files.slice(1).map((row) => row[0].replaceAll("`", ""));
  const want: string[] = [];
  for (const folder of ["best_model", "model"]) {
    for await (const e of Deno.readDir(join(r.dir, folder))) {
      want.push(`${folder}/${e.name}`);
    }
  }
  assert.deepEqual([...listed].sort(), want.sort());
  assert.ok(listed.includes("model/metadata.json"));
  const weights = (await Deno.stat(join(r.dir, "model", "weights.bin"))).size;
  assert.ok(
    card.includes(
      `| \`model/weights.bin\` | ${(weights / 1024 / 1024).toFixed(1)} MiB |`,
    ),
  );
  // demo: false writes no demo/.
  await assert.rejects(Deno.stat(join(r.dir, "demo")), Deno.errors.NotFound);

  // Teachable Machine's metadata, in model/ and best_model/.
  for (const folder of ["model", "best_model"]) {
    const meta = JSON.parse(
      await Deno.readTextFile(join(r.dir, folder, "metadata.json")),
    );
    const labels = JSON.parse(
      await Deno.readTextFile(join(r.dir, folder, "labels.json")),
    );
    assert.deepEqual(meta.labels, labels);
    assert.deepEqual(meta.labels, s.classNames);
    assert.equal(meta.imageSize, SIZE);
    assert.equal(meta.grayscale, false);
    assert.equal(meta.tfjsVersion, "4.22.0");
    assert.equal(meta.modelName, "e2e");
    assert.ok(!Number.isNaN(Date.parse(meta.timeStamp)));
  }
});

Deno.test("teachableMachineMetadata: square sizes only", () => {
  const base = {
    modelName: "m",
    classNames: ["a", "b"],
    interpolation: "bilinear",
    preprocess: "mobilenet_v2",
    timeStamp: "2026-12-03T00:00:00.000Z",
  };
  assert.equal(
    teachableMachineMetadata({ ...base, imageSize: [160, 160] })?.imageSize,
    160,
  );
  assert.equal(
    teachableMachineMetadata({ ...base, imageSize: [96, 128] }),
    null,
  );
});

Deno.test("wilsonInterval: the ends solve |k/n − p| = z·sqrt(p(1 − p)/n)", () => {
  const z = 1.959963984540054;
  const solve = (k: number, n: number, lower: boolean) => {
    // f(p) = (k/n − p)² − z²·p(1 − p)/n is ≤ 0 inside the interval.
    const f = (p: number) => (k / n - p) ** 2 - z * z * p * (1 - p) / n;
    let a = lower ? 0 : k / n, b = lower ? k / n : 1;
    if (lower && f(0) <= 0) return 0;
    if (!lower && f(1) <= 0) return 1;
    for (let i = 0; i < 200; i++) {
      const m = (a + b) / 2;
      if ((f(m) > 0) === lower) a = m;
      else b = m;
    }
    return (a + b) / 2;
  };
  for (const [k, n] of [[0, 10], [1, 10], [5, 9], [9, 9], [950, 1000]]) {
    const [lo, hi] = wilsonInterval(k, n)!;
    assert.ok(Math.abs(lo - solve(k, n, true)) < 1e-12, `${k}/${n} low`);
    assert.ok(Math.abs(hi - solve(k, n, false)) < 1e-12, `${k}/${n} high`);
  }
  assert.equal(wilsonInterval(0, 0), null);
});
