/**
 * End to end on the `cpu` backend with the training recipes of issue 21: a
 * run with `train.lrSchedule: "cosine"`, `classWeight: "balanced"`,
 * `labelSmoothing: 0.1` and an exponential schedule in fine-tuning writes
 * the `lr` column (each epoch's end rate of its stage's schedule) and the
 * learning-rate chart, which headless Chromium shows; a wrong class name in
 * `train.classWeight` fails before any run folder exists.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { runTraining } from "../src/run.ts";
import { lrSchedule } from "../src/train/lr_schedule.ts";
import { readMetricsCsv } from "../src/report/metrics.ts";
import { checkMetricsCsv, quiet, trainEnv } from "./_helpers/train.ts";
import { findChromium, launchChromium } from "./_helpers/browser.ts";
import { exists } from "./_helpers/data.ts";

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

Deno.test("train e2e (cpu): cosine + balanced class weights + label smoothing, exponential fine-tuning: lr column and chart", async () => {
  const logs: string[] = [];
  const config = env.config({
    train: {
      epochs: 3,
      lrSchedule: "cosine",
      classWeight: "balanced",
      labelSmoothing: 0.1,
    },
    fineTune: {
      enabled: true,
      fromLayer: 140,
      epochs: 2,
      learningRate: 1e-4,
      lrSchedule: { type: "exponential", decayRate: 0.5 },
    },
    output: { topLosses: 2, onnx: false },
  });
  const r = await runTraining(config, {
    log: (l) => logs.push(l),
    progress: quiet,
    isTty: false,
  });
  try {
    assert.equal(r.summary.stopReason, "completed");
    await checkMetricsCsv(r.dir, r.rows, true);
    const steps = Math.ceil(r.summary.images.train / config.data.batchSize);
    const frozen = lrSchedule("cosine", {
      learningRate: config.train.learningRate,
      totalSteps: 3 * steps,
      stepsPerEpoch: steps,
    });
    const ft = lrSchedule(config.fineTune.lrSchedule, {
      learningRate: 1e-4,
      totalSteps: 2 * steps,
      stepsPerEpoch: steps,
    });
    // Each row: the rate its stage's optimizer holds after the epoch.
    const want = [
      ...[1, 2, 3].map((e) => frozen.lrAt(e * steps)),
      ...[1, 2].map((e) => ft.lrAt(e * steps)),
    ];
    const csv = await readMetricsCsv(join(r.dir, "metrics.csv"));
    assert.deepEqual(csv.map((row) => row.lr), want);
    // Cosine to 0 over the stage (alpha 0), then 1e-4 halved each epoch.
    assert.equal(want[2], 0);
    assert.deepEqual(want.slice(3), [5e-5, 2.5e-5]);
    assert.ok(csv.every((row) => Number.isFinite(row.loss)));
    const text = logs.join("\n");
    assert.match(text, /class weights: \S+ [\d.]+, \S+ [\d.]+, \S+ [\d.]+/);
    assert.match(
      text,
      /learning rate: cosine schedule from 0\.01 over \d+ steps/,
    );
    assert.match(text, /learning rate: exponential schedule from 0\.0001/);

    const summary = JSON.parse(
      await Deno.readTextFile(join(r.dir, "summary.json")),
    );
    assert.deepEqual(summary.learningRate, [
      {
        stage: "frozen",
        learningRate: 1e-2,
        schedule: "cosine",
        params: frozen.params,
        reductions: [],
      },
      {
        stage: "fine_tune",
        learningRate: 1e-4,
        schedule: "exponential",
        params: { decaySteps: steps, decayRate: 0.5, staircase: false },
        reductions: [],
      },
    ]);
    const html = await Deno.readTextFile(join(r.dir, "report.html"));
    assert.match(html, /<div class="figure" id="lr-chart"><svg /);
    await checkInChromium(join(r.dir, "report.html"), r.rows.length);
  } finally {
    r.model.dispose();
  }
});

Deno.test("train e2e (cpu): an unknown class in train.classWeight fails before a run folder exists", async () => {
  const out = join(env.dir, "runs-bad-weight");
  await assert.rejects(
    runTraining(
      env.config({
        train: { classWeight: { zebra: 2 } },
        output: { dir: out },
      }),
      { log: () => {}, progress: quiet, isTty: false },
    ),
    /train\.classWeight\.zebra: no class named "zebra" \(the classes are /,
  );
  assert.equal(await exists(out) ? [...Deno.readDirSync(out)].length : 0, 0);
});

const chromium = findChromium();
if (!chromium) {
  console.warn(
    "run recipes e2e: no Chromium binary (apt-get install chromium); the browser check is skipped.",
  );
}

async function checkInChromium(path: string, epochs: number): Promise<void> {
  if (!chromium) return;
  const browser = await launchChromium(chromium);
  try {
    const page = await browser.openPage();
    const url = pathToFileURL(path).href;
    await page.goto(url);
    const facts = await page.evaluate<
      { dots: number; height: number; path: boolean }
    >(`(() => {
      const svg = document.querySelector("#lr-chart svg");
      return {
        dots: svg.querySelectorAll("circle").length,
        height: svg.getBoundingClientRect().height,
        path: (svg.querySelector("path.line")?.getAttribute("d") ?? "").length > 0,
      };
    })()`);
    assert.deepEqual(page.log.consoleErrors, []);
    assert.deepEqual(page.log.exceptions, []);
    assert.equal(facts.dots, epochs);
    assert.ok(facts.height > 100, `lr chart height ${facts.height}`);
    assert.ok(facts.path);
  } finally {
    await browser.close();
  }
}
