/**
 * Teachable Machine compatibility: `@teachablemachine/image` 0.8.5 (with
 * TF.js 1.3.1, the version it is built for), loaded in real headless
 * Chromium from a real fixture run served by `serveRun`, loads the run's
 * `model/model.json` with `model/metadata.json` (`tmImage.load`), reports
 * the run's labels, and predicts an image: the probabilities it gives equal
 * the run's model in Deno on the same pixels prepared Teachable Machine's
 * way (its centre crop is the whole image here, then x / 127 − 1), within
 * 1e-4, with no console errors.
 *
 * Skipped, with a message, only without a Chromium binary.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "../../src/deps/tf.ts";
import { runTraining } from "../../src/run.ts";
import { loadModel } from "../../src/model/model_io.ts";
import { serveRun } from "../../src/report/run_server.ts";
import { photo } from "../../fixtures/photos.ts";
import { TFJS_1_3_1_SCRIPT, TM_IMAGE_SCRIPT } from "../../fixtures/deps_dev.ts";
import { quiet, SIZE, trainEnv } from "../_helpers/train.ts";
import { findChromium, launchChromium } from "../_helpers/browser.ts";

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

const chromium = findChromium();
if (!chromium) {
  console.warn(
    "tm metadata: no Chromium binary (apt-get install chromium); the Teachable Machine check is skipped.",
  );
}

Deno.test({
  name:
    "Teachable Machine's library loads a run's model with its metadata.json and predicts as the model does",
  ignore: !chromium,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const r = await runTraining(
    env.config({ train: { epochs: 2 }, output: { topLosses: 0, demo: false } }),
    { log: () => {}, progress: quiet, isTty: false },
  );
  r.model.dispose();
  // The test's own page, inside the served run folder.
  const dir = join(r.dir, "tm-check");
  await Deno.mkdir(dir);
  await Deno.copyFile(new URL(TFJS_1_3_1_SCRIPT.url), join(dir, "tf.min.js"));
  await Deno.copyFile(new URL(TM_IMAGE_SCRIPT.url), join(dir, "tm.min.js"));
  await Deno.writeTextFile(
    join(dir, "index.html"),
    `<!DOCTYPE html><html><head><link rel="icon" href="data:,">
<script src="tf.min.js"></script><script src="tm.min.js"></script></head>
<body><canvas id="c" width="${SIZE}" height="${SIZE}"></canvas></body></html>`,
  );
  const rgba = photo(5, { width: SIZE, height: SIZE });

  // Deno: the same pixels, Teachable Machine's scaling.
  const previous = tf.getBackend();
  await tf.setBackend("cpu");
  const saved = await loadModel(r.dir);
  const rgb = rgba.filter((_, i) => i % 4 !== 3);
  const y = tf.tidy(() =>
    saved.model.predict(
      tf.sub(tf.div(tf.tensor4d(rgb, [1, SIZE, SIZE, 3], "float32"), 127), 1),
    ) as tf.Tensor
  );
  const want = Array.from(await y.data());
  y.dispose();
  saved.model.dispose();
  if (previous) await tf.setBackend(previous);

  const server = await serveRun(r.dir);
  const browser = await launchChromium(chromium!);
  try {
    const page = await browser.openPage();
    await page.goto(`${server.url}tm-check/`);
    const got = await page.evaluate<{
      version: string;
      backend: string;
      labels: string[];
      total: number;
      imageSize: number;
      predictions: { className: string; probability: number }[];
    }>(`(async () => {
      await tf.setBackend("cpu");
      const canvas = document.getElementById("c");
      const ctx = canvas.getContext("2d");
      const img = ctx.createImageData(${SIZE}, ${SIZE});
      img.data.set(${JSON.stringify(Array.from(rgba))});
      ctx.putImageData(img, 0, 0);
      const model = await tmImage.load("../model/model.json", "../model/metadata.json");
      return {
        version: tf.version.tfjs,
        backend: tf.getBackend(),
        labels: model.getClassLabels(),
        total: model.getTotalClasses(),
        imageSize: model.getMetadata().imageSize,
        predictions: await model.predict(canvas),
      };
    })()`);
    assert.equal(got.version, TFJS_1_3_1_SCRIPT.version);
    assert.equal(got.backend, "cpu");
    assert.deepEqual(got.labels, r.summary.classNames);
    assert.equal(got.total, r.summary.classNames.length);
    assert.equal(got.imageSize, SIZE);
    assert.deepEqual(got.predictions.map((p) => p.className), got.labels);
    const diff = Math.max(
      ...got.predictions.map((p, i) => Math.abs(p.probability - want[i])),
    );
    assert.ok(diff <= 1e-4, `max |Δp| ${diff}`);
    console.log(
      `@teachablemachine/image ${TM_IMAGE_SCRIPT.version} on TF.js ${got.version}: max |Δp| ${
        diff.toExponential(2)
      }`,
    );
    assert.deepEqual(page.log.consoleErrors, []);
    assert.deepEqual(page.log.exceptions, []);
    assert.deepEqual(page.log.logErrors, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
