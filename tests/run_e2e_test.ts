/**
 * End to end on the `cpu` backend: the real training chain (loopback
 * download → unzip → decode → MobileNetV2 0.35 @ 32 px from a Keras `.h5` →
 * train → outputs) on the fixture dataset, with feature caching, fine-tuning,
 * augmentation, stop requests and non-finite losses. The `webgpu` run is in
 * train_e2e_webgpu_test.ts, the CLI in train_cli_test.ts.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "../src/deps/tf.ts";
import {
  prepareCaches,
  type RunOptions,
  type RunResult,
  runTraining,
} from "../src/run.ts";
import type { Config, ConfigInput } from "../src/config/types.ts";
import { buildClassifier } from "../src/model/classifier.ts";
import {
  checkCharts,
  checkConfigAndLabels,
  checkMetricsCsv,
  checkSavedModel,
  checkSummary,
  listFiles,
  maxAbsDiff,
  predict,
  quiet,
  RUN_FILES,
  tensorCounter,
  trainEnv,
  validationImages,
} from "./_helpers/train.ts";
import { createOnnxEngine } from "../src/engine/onnx_runtime.ts";
import { loadModel } from "../src/model/model_io.ts";
import { exists, listDir } from "./_helpers/data.ts";

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

/** A finished run, with its config and log lines. */
type Run = RunResult & { logs: string[]; config: Config };

/** Runs the chain quietly, collecting the log lines. */
async function run(
  overrides: ConfigInput,
  opts: RunOptions = {},
): Promise<Run> {
  const config = env.config(overrides);
  const logs: string[] = [];
  const result = await runTraining(config, {
    log: (l) => logs.push(l),
    progress: quiet,
    isTty: false,
    ...opts,
  });
  return { ...result, logs, config };
}

/** Equal within `rel` relative (and 1e-6 absolute) tolerance. */
function close(a: number, b: number, rel: number): boolean {
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) + 1e-6;
}

const EPOCHS = 6;
/** A fresh cache folder: the first run computes everything. */
const firstCache = join(env.dir, "cache-first");
let first: Promise<Run & { counts: number[] }> | null = null;
/** The reference run (cached features, adam 1e-2, 6 epochs), made once. */
function firstRun() {
  first ??= (async () => {
    const counter = tensorCounter();
    const progress: string[] = [];
    const r = await run(
      { data: { cacheDir: firstCache }, train: { epochs: EPOCHS } },
      {
        callbacks: [counter.callback],
        progress: { write: (t) => progress.push(t) },
      },
    );
    r.logs.push(...progress.join("").split("\n").map((l) => `progress: ${l}`));
    return { ...r, counts: counter.counts };
  })();
  return first;
}

Deno.test("train e2e (cpu): every output, CSV, charts, summary; loss falls; tensors steady", async () => {
  const before = tf.memory().numTensors;
  const r = await firstRun();
  assert.deepEqual(await listFiles(r.dir), RUN_FILES);
  assert.equal(r.dir, join(env.dir, "runs", r.dir.split("/").at(-1)!));
  assert.match(r.dir.split("/").at(-1)!, /^e2e-\d{8}T\d{6}Z/);
  await checkConfigAndLabels(r.dir, r.config);
  assert.equal(r.rows.length, EPOCHS);
  await checkMetricsCsv(r.dir, r.rows);
  await checkCharts(r.dir, EPOCHS);
  await checkSummary(r, {
    backend: "cpu",
    featureCache: { used: true, reused: false },
  });
  // Keras-like progress: an "Epoch i/n" line per epoch and the epoch's metrics.
  const progress = r.logs.filter((l) => l.startsWith("progress: "));
  for (let e = 1; e <= EPOCHS; e++) {
    assert.ok(
      progress.includes(`progress: Epoch ${e}/${EPOCHS}`),
      `epoch ${e}`,
    );
  }
  assert.ok(progress.some((l) => /val_loss: \d/.test(l)));

  // The easy task is learnt: loss falls well below chance (ln 3 ≈ 1.10).
  const losses = r.rows.map((row) => row.loss);
  assert.ok(losses.every(Number.isFinite));
  const tail = Math.min(...losses.slice(-2));
  assert.ok(tail < 0.5 * losses[0], `losses ${losses}`);
  assert.ok(tail < 0.5, `losses ${losses}`);
  assert.ok(
    r.rows.at(-1)!.accuracy >= 0.9,
    `accuracy ${r.rows.at(-1)!.accuracy}`,
  );
  // Better than chance on held-out images.
  assert.ok(r.summary.best!.val_accuracy > 0.34);

  // No tensor survives an epoch.
  assert.equal(r.counts.length, EPOCHS);
  assert.ok(r.counts.every((c) => c === r.counts[0]), `${r.counts}`);

  await checkSavedModel(r, r.config, 1e-6);
  // Disposing the returned model frees everything the run created.
  r.model.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("train e2e (cpu): a second run reuses the download, decoded images and features", async () => {
  const a = await firstRun();
  const downloads = env.server.requests.length;
  // Other head hyperparameters: the cached features still apply.
  const b = await run({
    data: { cacheDir: firstCache },
    train: { epochs: 2, optimizer: "sgd", learningRate: 0.05 },
  });
  try {
    assert.notEqual(b.dir, a.dir);
    assert.equal(env.server.requests.length, downloads, "no new download");
    assert.deepEqual(b.summary.featureCache, {
      used: true,
      reused: true,
      reason: "frozen base, no augmentation",
    });
    const logs = b.logs.join("\n");
    assert.match(logs, /data: using cached .*dataset\.zip/);
    assert.match(
      logs,
      /train: 23 images .*\(0 decoded, 24 from cache, 1 skipped\)/,
    );
    assert.match(logs, /validation: 9 images .*\(0 decoded, 9 from cache\)/);
    assert.match(logs, /features: reused train, reused validation/);
    assert.match(logs, /warning: Skipped 1 of 24 image files/);
    assert.doesNotMatch(a.logs.join("\n"), /features: reused/);
    assert.ok(b.summary.seconds.features < a.summary.seconds.features);
    await checkSummary(b, { backend: "cpu" });
    // The model saved from cached features is the full classifier.
    assert.deepEqual(b.model.inputs[0].shape, [null, 32, 32, 3]);
    await checkSavedModel(b, b.config, 1e-6);
  } finally {
    b.model.dispose();
  }
});

Deno.test("train e2e (cpu): cached features and images give the same per-epoch losses (issue 6)", async () => {
  const cached = await firstRun();
  const counter = tensorCounter();
  const uncached = await run({
    data: { cacheDir: firstCache },
    train: { epochs: EPOCHS, cacheFeatures: false },
  }, { callbacks: [counter.callback] });
  try {
    assert.deepEqual(uncached.summary.featureCache, {
      used: false,
      reused: false,
      reason: "train.cacheFeatures is false",
    });
    await checkSummary(uncached, { backend: "cpu" });
    assert.equal(uncached.rows.length, EPOCHS);
    for (const [i, u] of uncached.rows.entries()) {
      const c = cached.rows[i];
      for (
        const k of ["loss", "accuracy", "val_loss", "val_accuracy"] as const
      ) {
        assert.ok(
          close(u[k], c[k], 1e-6),
          `epoch ${i + 1} ${k}: uncached ${u[k]}, cached ${c[k]}`,
        );
      }
    }
    assert.deepEqual(
      uncached.summary.evaluation!.matrix,
      cached.summary.evaluation!.matrix,
    );
    assert.ok(counter.counts.every((c) => c === counter.counts[0]));
  } finally {
    uncached.model.dispose();
  }
});

Deno.test("train e2e (cpu): a stop request keeps finished epochs and still writes every output", async () => {
  for (const stopAt of [2, 0]) {
    const stop = new AbortController();
    let epoch = -1;
    const r = await run({ train: { epochs: 5 } }, {
      signal: stop.signal,
      callbacks: [{
        onEpochBegin: (e) => {
          epoch = e;
        },
        // Mid-epoch: after the first batch of epoch `stopAt` (0-based).
        onBatchEnd: (batch) => {
          if (epoch === stopAt && batch === 0) stop.abort();
        },
      }],
    });
    try {
      assert.equal(r.rows.length, stopAt);
      assert.equal(r.summary.stopReason, "interrupted");
      assert.match(
        r.logs.join("\n"),
        new RegExp(`stopped on request after ${stopAt} epochs`),
      );
      assert.deepEqual(await listFiles(r.dir), RUN_FILES);
      await checkMetricsCsv(r.dir, r.rows);
      await checkCharts(r.dir, stopAt);
      await checkSummary(r, { backend: "cpu", stopReason: "interrupted" });
      if (stopAt === 0) {
        assert.equal(r.summary.final, null);
        assert.equal(r.summary.best, null);
      }
    } finally {
      r.model.dispose();
    }
  }
});

Deno.test("train e2e (cpu): a stop request before training starts rejects with AbortError", async () => {
  const out = join(env.dir, "runs-aborted");
  await assert.rejects(
    runTraining(env.config({ output: { dir: out } }), {
      log: () => {},
      progress: quiet,
      signal: AbortSignal.abort(),
    }),
    (err: Error) => err instanceof DOMException && err.name === "AbortError",
  );
  // Nothing had been trained, so no run folder was made.
  assert.deepEqual((await exists(out)) ? await listDir(out) : [], []);
});

Deno.test("train e2e (cpu): a non-finite loss stops the run and keeps the epochs so far", async () => {
  // Two good frozen epochs, then fine-tuning with an absurd learning rate:
  // the base's weights overflow and the loss becomes NaN at epoch 3.
  const r = await run({
    train: { epochs: 2 },
    fineTune: {
      enabled: true,
      fromLayer: 140,
      epochs: 2,
      optimizer: "sgd",
      learningRate: 1e38,
    },
  });
  try {
    assert.equal(r.summary.stopReason, "non-finite-loss");
    assert.match(
      r.summary.stopDetail!,
      /^loss became (NaN|-?Infinity) at epoch 3, batch \d+\/3$/,
    );
    assert.match(
      r.logs.join("\n"),
      /training stopped: loss became .*the metrics so far are kept/,
    );
    assert.equal(r.rows.length, 2);
    assert.ok(r.rows.every((row) => Number.isFinite(row.loss)));
    await checkMetricsCsv(r.dir, r.rows, true);
    await checkCharts(r.dir, 2);
    await checkSummary(r, { backend: "cpu", stopReason: "non-finite-loss" });
    // No evaluation of a broken model; the outputs are still there.
    assert.equal(await exists(join(r.dir, "confusion.svg")), false);
    assert.deepEqual(
      await listFiles(r.dir),
      RUN_FILES.filter((f) => f !== "confusion.svg"),
    );
  } finally {
    r.model.dispose();
  }
  // The same with no epoch finished: head only, NaN at the second batch.
  const early = await run({
    train: { epochs: 2, optimizer: "sgd", learningRate: 1e38 },
  });
  try {
    assert.equal(early.summary.stopReason, "non-finite-loss");
    assert.match(early.summary.stopDetail!, /at epoch 1, batch 2\/3$/);
    assert.equal(early.rows.length, 0);
    await checkMetricsCsv(early.dir, []);
    await checkCharts(early.dir, 0);
    await checkSummary(early, {
      backend: "cpu",
      stopReason: "non-finite-loss",
    });
  } finally {
    early.model.dispose();
  }
});

/** Base layer `name` of `model` (the classifier's nested MobileNetV2). */
function baseOf(model: tf.LayersModel): tf.LayersModel {
  const base = model.layers.find((l) => l instanceof tf.LayersModel);
  assert.ok(base, "nested base model");
  return base as tf.LayersModel;
}

/** Which base layers' weights differ from the `.h5` they were loaded from. */
async function changedLayers(
  model: tf.LayersModel,
): Promise<
  { changed: Set<string>; bnStatsChanged: string[]; names: string[] }
> {
  const ref = await buildClassifier({
    imageSize: [32, 32],
    alpha: 0.35,
    weights: env.weights,
    numClasses: 3,
  });
  const refBase = baseOf(ref.model);
  const base = baseOf(model);
  const changed = new Set<string>();
  const bnStatsChanged: string[] = [];
  for (const [i, layer] of base.layers.entries()) {
    const refWeights = refBase.layers[i].getWeights();
    for (const [j, w] of layer.getWeights().entries()) {
      const a = await w.data();
      const b = await refWeights[j].data();
      if (a.some((v, k) => v !== b[k])) {
        changed.add(layer.name);
        if (/moving_(mean|variance)$/.test(layer.weights[j].originalName)) {
          bnStatsChanged.push(layer.weights[j].originalName);
        }
      }
    }
  }
  ref.model.dispose();
  return { changed, bnStatsChanged, names: base.layers.map((l) => l.name) };
}

for (const trainEngine of ["tfjs", "onnxruntime"] as const) {
  Deno.test(`train e2e (cpu): fine-tuning from a layer name (engine.train ${trainEngine}): stage column, continued epochs, only the top of the base changes`, async () => {
    const counter = tensorCounter();
    const r = await run({
      train: { epochs: 2 },
      fineTune: {
        enabled: true,
        fromLayer: "block_13_expand",
        epochs: 2,
        learningRate: 1e-3,
      },
      engine: { train: trainEngine },
    }, { callbacks: [counter.callback] });
    try {
      assert.equal(r.summary.trainEngine?.engine, trainEngine);
      assert.match(
        r.logs.join("\n"),
        new RegExp(
          `fine-tuning engine: ${trainEngine}.*\\(engine\\.train is ${trainEngine}\\)`,
        ),
      );
      assert.equal(r.summary.stopReason, "completed");
      assert.deepEqual(r.rows.map((row) => [row.epoch, row.stage]), [
        [1, "frozen"],
        [2, "frozen"],
        [3, "fine_tune"],
        [4, "fine_tune"],
      ]);
      await checkMetricsCsv(r.dir, r.rows, true);
      await checkCharts(r.dir, 4, 3);
      await checkSummary(r, {
        backend: "cpu",
        featureCache: { used: true },
      });
      assert.deepEqual(await listFiles(r.dir), RUN_FILES);
      // Tensors are steady within each stage (fine-tuning adds optimizer slots once).
      assert.equal(counter.counts[0], counter.counts[1]);
      assert.equal(counter.counts[2], counter.counts[3]);

      const { changed, bnStatsChanged, names } = await changedLayers(r.model);
      assert.equal(names.length, 154);
      const from = names.indexOf("block_13_expand");
      assert.match(
        r.logs.join("\n"),
        new RegExp(
          `unfroze base layers ${from}\\.\\.153 \\(from block_13_expand\\)`,
        ),
      );
      for (const name of changed) {
        assert.ok(names.indexOf(name) >= from, `${name} changed below ${from}`);
      }
      for (const name of ["block_13_expand", "block_16_project", "Conv_1"]) {
        assert.ok(changed.has(name), `${name} unchanged`);
      }
      // BatchNormalization stays in inference mode: statistics untouched.
      assert.deepEqual(bnStatsChanged, []);
      await checkSavedModel(r, r.config, 1e-6);
    } finally {
      r.model.dispose();
    }
  });
}

Deno.test("train e2e (cpu): fine-tuning from a layer index; a bad fromLayer fails before training", async () => {
  const r = await run({
    train: { epochs: 1 },
    fineTune: { enabled: true, fromLayer: 150, epochs: 1, learningRate: 1e-3 },
  });
  try {
    assert.deepEqual(r.rows.map((row) => row.stage), ["frozen", "fine_tune"]);
    const { changed, names } = await changedLayers(r.model);
    assert.match(
      r.logs.join("\n"),
      new RegExp(`unfroze base layers 150\\.\\.153 \\(from ${names[150]}\\)`),
    );
    assert.ok(changed.size > 0);
    for (const name of changed) assert.ok(names.indexOf(name) >= 150, name);
  } finally {
    r.model.dispose();
  }

  const before = tf.memory().numTensors;
  for (
    const [fromLayer, message] of [
      [
        "block_99_expand",
        /fineTune\.fromLayer: no layer named "block_99_expand"/,
      ],
      [
        154,
        /fineTune\.fromLayer: 154 is past the base's last layer \(it has 154 layers, 0\.\.153\)/,
      ],
    ] as const
  ) {
    const logs: string[] = [];
    await assert.rejects(
      runTraining(
        env.config({
          train: { epochs: 1 },
          fineTune: { enabled: true, fromLayer },
          output: { dir: join(env.dir, "runs-bad") },
        }),
        { log: (l) => logs.push(l), progress: quiet, isTty: false },
      ),
      (err: Error) => {
        assert.ok(err instanceof RangeError);
        assert.match(err.message, message);
        return true;
      },
    );
    // Nothing was trained.
    assert.ok(!logs.some((l) => l.startsWith("features:")), logs.join("\n"));
  }
  for (const d of await listDir(join(env.dir, "runs-bad"))) {
    assert.equal(
      await exists(join(env.dir, "runs-bad", d, "metrics.csv")),
      false,
    );
  }
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("train e2e (cpu): augmentation on trains on images, without the feature cache", async () => {
  const featureDir = join(env.dir, "cache", "features");
  const cachedBefore = await listDir(featureDir);
  const counter = tensorCounter();
  const r = await run({
    train: { epochs: 3 },
    augment: {
      flip: "horizontal",
      rotation: 0.05,
      zoom: 0.1,
      translation: 0.1,
    },
  }, { callbacks: [counter.callback] });
  try {
    assert.deepEqual(r.summary.featureCache, {
      used: false,
      reused: false,
      reason: "augmentation is on",
    });
    assert.deepEqual(await listDir(featureDir), cachedBefore);
    assert.ok(!r.logs.some((l) => l.startsWith("features:")));
    assert.equal(r.rows.length, 3);
    assert.ok(r.rows.every((row) => Number.isFinite(row.loss)));
    await checkMetricsCsv(r.dir, r.rows);
    await checkSummary(r, { backend: "cpu" });
    assert.ok(
      counter.counts.every((c) => c === counter.counts[0]),
      `${counter.counts}`,
    );
  } finally {
    r.model.dispose();
  }
});

Deno.test("prepare e2e (cpu): prepareCaches warms decode and features, then a run reuses them", async () => {
  const cacheDir = join(env.dir, "cache-prepare");
  const logs: string[] = [];
  const config = env.config({
    data: { cacheDir },
    train: { epochs: 1 },
    output: { dir: join(env.dir, "runs-prepare") },
  });
  const prepared = await prepareCaches(config, { log: (l) => logs.push(l) });
  assert.equal(prepared.plan.mode, "cached");
  assert.deepEqual(prepared.featureCache, {
    used: true,
    reused: false,
    reason: "frozen base, no augmentation",
  });
  assert.ok(prepared.images.train > 0 && prepared.images.validation > 0);
  assert.match(
    logs.join("\n"),
    /features: computed train, computed validation/,
  );
  // Preparing makes no run folder.
  assert.equal(await exists(join(env.dir, "runs-prepare")), false);

  const r = await run({
    data: { cacheDir },
    train: { epochs: 1 },
    output: { dir: join(env.dir, "runs-prepare") },
  });
  try {
    assert.equal(r.summary.featureCache.reused, true);
    assert.match(
      r.logs.join("\n"),
      /features: reused train, reused validation/,
    );
    assert.match(r.logs.join("\n"), /validation: \d+ images .*\(0 decoded/);
  } finally {
    r.model.dispose();
  }

  const augmented = await prepareCaches(
    env.config({
      data: { cacheDir },
      augment: { flip: "horizontal", rotation: 0.1 },
    }),
    { log: () => {} },
  );
  assert.equal(augmented.plan.mode, "per-batch");
  assert.equal(augmented.featureCache.used, false);
});

Deno.test("train e2e (cpu): a run that fails before training leaves no run folder", async () => {
  const outDir = join(env.dir, "runs-failing");
  await assert.rejects(
    runTraining(
      env.config({
        data: { url: `${env.url}.missing`, cacheDir: join(env.dir, "c-fail") },
        output: { dir: outDir },
      }),
      { log: () => {}, progress: quiet, isTty: false },
    ),
    /404|Not Found|Download failed/i,
  );
  assert.deepEqual(
    (await exists(outDir)) ? await listDir(outDir) : [],
    [],
    "no run folder for a run that never trained",
  );
});

Deno.test("train e2e (cpu): model/model.onnx in ONNX Runtime gives TF.js predict's probabilities on the fixture images", async () => {
  const r = await firstRun();
  const { xs } = await validationImages(r.config);
  const saved = await loadModel(r.dir);
  try {
    const expected = await predict(saved.model, xs);
    const engine = await createOnnxEngine(
      await Deno.readFile(join(r.dir, "model", "model.onnx")),
    );
    try {
      const [out] = await engine.run(
        await xs.data() as Float32Array,
        xs.shape,
      );
      const k = r.summary.classNames.length;
      assert.deepEqual(out.shape, [xs.shape[0], k]);
      // Tolerance: the ONNX graph has BatchNormalization folded into the
      // convolutions, which changes float32 rounding by ~4e-5 of the feature
      // range on this fixture (its calibrated BN drives features to ReLU6's
      // cap of 6); the head trained at lr 1e-2 amplifies that to ~1.2e-4 in
      // the probabilities. 2.5e-4 absolute leaves 2× headroom; the predicted
      // classes must agree exactly.
      const diff = maxAbsDiff(out.data, expected);
      assert.ok(diff <= 2.5e-4, `max |ONNX − TF.js| = ${diff}`);
      const argmax = (v: Float32Array, i: number) => {
        const row = Array.from(v.subarray(i * k, (i + 1) * k));
        return row.indexOf(Math.max(...row));
      };
      // Probabilities (every row sums to 1), and the same predicted class.
      for (let i = 0; i < xs.shape[0]; i++) {
        const row = out.data.subarray(i * k, (i + 1) * k);
        const sum = row.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - 1) < 1e-5, `row ${i} sums to ${sum}`);
        assert.equal(argmax(out.data, i), argmax(expected, i), `image ${i}`);
      }
    } finally {
      await engine.dispose();
    }
  } finally {
    xs.dispose();
    saved.model.dispose();
  }
});

Deno.test("train e2e (cpu): frozen-head training on ONNX Runtime features matches TF.js features per epoch (1e-4)", async () => {
  const cacheDir = join(env.dir, "cache-engines");
  const runs: Run[] = [];
  for (const frozen of ["tfjs", "onnxruntime"] as const) {
    runs.push(
      await run({
        data: { cacheDir },
        // The reference job's learning rate (the fixture's 1e-2 amplifies
        // float32 rounding differences of the features tenfold).
        train: { epochs: 4, learningRate: 1e-4 },
        engine: { frozen },
      }),
    );
  }
  const [tfjs, ort] = runs;
  try {
    assert.equal(tfjs.summary.frozenEngine?.engine, "tfjs");
    assert.equal(ort.summary.frozenEngine?.engine, "onnxruntime");
    // Each engine has its own feature-cache entry.
    assert.equal(ort.summary.featureCache.reused, false);
    for (let i = 0; i < 4; i++) {
      for (const k of ["loss", "val_loss"] as const) {
        const d = Math.abs(tfjs.rows[i][k] - ort.rows[i][k]);
        assert.ok(d <= 1e-4, `epoch ${i + 1} ${k}: |Δ| = ${d}`);
      }
    }
  } finally {
    runs.forEach((r) => r.model.dispose());
  }
});

Deno.test("train e2e (cpu): flip-only augmentation from cached mirror features equals augmenting every batch", async () => {
  const runs: Run[] = [];
  for (const flip of ["horizontal", "horizontal_and_vertical"] as const) {
    for (const cacheFeatures of [true, false]) {
      runs.push(
        await run({
          data: { cacheDir: join(env.dir, `cache-flips-${flip}`) },
          train: { epochs: 4, cacheFeatures },
          augment: { flip },
          engine: { frozen: "tfjs" },
        }),
      );
    }
  }
  try {
    for (let pair = 0; pair < 2; pair++) {
      const [cached, uncached] = [runs[2 * pair], runs[2 * pair + 1]];
      assert.equal(cached.summary.featureCache.used, true);
      assert.match(cached.summary.featureCache.reason, /flip-only/);
      assert.equal(uncached.summary.featureCache.used, false);
      const mirrors = pair === 0 ? ["h"] : ["h", "v", "hv"];
      for (const m of mirrors) {
        assert.match(
          cached.logs.join("\n"),
          new RegExp(`features: train \\(flip ${m}\\)`),
        );
      }
      for (const [i, u] of uncached.rows.entries()) {
        const c = cached.rows[i];
        for (const k of ["loss", "accuracy", "val_loss"] as const) {
          assert.ok(
            close(u[k], c[k], 1e-5),
            `${mirrors} epoch ${i + 1} ${k}: per batch ${u[k]}, cached ${c[k]}`,
          );
        }
      }
    }
    // The flips change the training: not the same as no augmentation.
    assert.notDeepEqual(
      runs[0].rows.map((r) => r.loss),
      runs[2].rows.map((r) => r.loss),
    );
  } finally {
    runs.forEach((r) => r.model.dispose());
  }
});

Deno.test("train e2e (cpu): fine-tuning on the cached frozen prefix equals running the frozen layers every batch (1e-5)", async () => {
  const cacheDir = join(env.dir, "cache-prefix");
  const runs: Run[] = [];
  for (const cacheFeatures of [true, false]) {
    runs.push(
      await run({
        data: { cacheDir },
        train: { epochs: 2, cacheFeatures },
        fineTune: { enabled: true, fromLayer: 100, epochs: 3 },
        // Like for like: the prefix from the same layers model the
        // image path runs (fused ops differ by float rounding, ~1e-6).
        engine: { frozen: "tfjs", fused: false },
      }),
    );
  }
  const [cached, images] = runs;
  try {
    const logs = cached.logs.join("\n");
    assert.match(
      logs,
      /prefix: computed train, computed validation — block_10_project_BN \+ block_11_expand_BN before layer 100/,
    );
    assert.match(logs, /fine-tuning: .*cached outputs of base layers 0\.\.99/);
    assert.doesNotMatch(images.logs.join("\n"), /prefix:/);
    assert.match(
      images.logs.join("\n"),
      /fine-tuning: .*base layers 0\.\.99 run per batch on tfjs@.*off the gradient tape/,
    );
    assert.equal(cached.rows.length, 5);
    for (const [i, u] of images.rows.entries()) {
      const c = cached.rows[i];
      assert.equal(c.stage, u.stage);
      for (
        const k of ["loss", "accuracy", "val_loss", "val_accuracy"] as const
      ) {
        assert.ok(
          close(u[k], c[k], 1e-5),
          `epoch ${i + 1} (${u.stage}) ${k}: images ${u[k]}, prefix ${c[k]}`,
        );
      }
    }
    // Fine-tuning changed the base's top layers in the classifier itself.
    assert.notDeepEqual(
      cached.rows[1].val_loss,
      cached.rows[4].val_loss,
    );
    assert.deepEqual(
      cached.summary.evaluation!.matrix,
      images.summary.evaluation!.matrix,
    );
    // The classifier saved after training its suffix reloads and predicts
    // like the trained one (the suffix's extra layer calls are not saved).
    const saved = await loadModel(cached.dir);
    const { xs } = await validationImages(cached.config);
    const d = maxAbsDiff(
      await predict(saved.model, xs),
      await predict(cached.model, xs),
    );
    xs.dispose();
    saved.model.dispose();
    assert.ok(d < 1e-6, `reloaded vs trained: ${d}`);
    // A second run reuses the prefix.
    const again = await run({
      data: { cacheDir },
      train: { epochs: 1 },
      fineTune: { enabled: true, fromLayer: 100, epochs: 1 },
      engine: { frozen: "tfjs", fused: false },
    });
    again.model.dispose();
    assert.match(
      again.logs.join("\n"),
      /prefix: reused train, reused validation/,
    );
  } finally {
    runs.forEach((r) => r.model.dispose());
  }
});

Deno.test("train e2e (cpu): engine.train onnxruntime fine-tunes like tfjs on the cached prefix and per (augmented) batch; summary.json and report.html say which engine ran; auto falls back to TF.js with the reason", async () => {
  const cacheDir = join(env.dir, "cache-train-engine");
  // SGD: its update is lr × gradient, so the runs differ only by the
  // gradients' float noise (Adam on this tiny, fast-moving job amplifies
  // noise-sign components to ~1 % of the loss within 6 steps in either
  // engine; tests/train/ort_fine_tune_test.ts compares Adam step by step).
  const base: ConfigInput = {
    data: { cacheDir },
    train: { epochs: 1 },
    fineTune: {
      enabled: true,
      fromLayer: 100,
      epochs: 2,
      learningRate: 1e-3,
      optimizer: "sgd",
    },
  };
  const augmented: ConfigInput = {
    ...base,
    augment: { flip: "horizontal", rotation: 0.05 },
  };
  const runs: Run[] = [];
  try {
    for (const overrides of [base, augmented]) {
      const pair: Run[] = [];
      for (const train of ["tfjs", "onnxruntime"] as const) {
        pair.push(await run({ ...overrides, engine: { train } }));
      }
      runs.push(...pair);
      const [tfjs, ort] = pair;
      assert.deepEqual(
        [tfjs.summary.trainEngine?.engine, ort.summary.trainEngine?.engine],
        ["tfjs", "onnxruntime"],
      );
      assert.match(ort.summary.trainEngine!.id, /^onnxruntime-node@/);
      const file = JSON.parse(
        await Deno.readTextFile(join(ort.dir, "summary.json")),
      );
      assert.equal(file.trainEngine.reason, "engine.train is onnxruntime");
      const html = await Deno.readTextFile(join(ort.dir, "report.html"));
      assert.match(
        html,
        /<th>Fine-tuning engine<\/th><td>onnxruntime-node@[^<]* \(engine\.train is onnxruntime\)<\/td>/,
      );
      assert.equal(ort.rows.length, 3);
      for (const [i, t] of tfjs.rows.entries()) {
        const o = ort.rows[i];
        for (
          const k of ["loss", "accuracy", "val_loss", "val_accuracy"] as const
        ) {
          assert.ok(
            close(o[k], t[k], 1e-4),
            `epoch ${i + 1} (${t.stage}) ${k}: tfjs ${t[k]}, onnxruntime ${
              o[k]
            }`,
          );
        }
      }
      assert.deepEqual(
        ort.summary.evaluation!.matrix,
        tfjs.summary.evaluation!.matrix,
      );
    }
    // The head's Dropout trains on the graph (masks from data.seed's
    // generator); batch-statistics BatchNormalization has no lowering: auto
    // says so and trains on TF.js; onnxruntime is rejected with the config.
    const dropout = await run({
      ...base,
      model: { head: { dropout: 0.2 } },
      engine: { train: "auto" },
    });
    runs.push(dropout);
    assert.equal(dropout.summary.trainEngine?.engine, "onnxruntime");
    assert.ok(dropout.rows.every((r) => Number.isFinite(r.loss)));
    const batchStats: ConfigInput = {
      ...base,
      fineTune: { ...base.fineTune, batchNorm: "batch-stats" },
    };
    const fallback = await run({ ...batchStats, engine: { train: "auto" } });
    runs.push(fallback);
    assert.equal(fallback.summary.trainEngine?.engine, "tfjs");
    const line = fallback.logs.filter((l) =>
      l.startsWith("fine-tuning engine:")
    );
    assert.equal(line.length, 1);
    assert.match(
      line[0],
      /^fine-tuning engine: tfjs@[^ ]+\/cpu \(auto: the suffix cannot train on the ONNX graph: layer "[^"]+" normalizes with batch statistics \(fineTune\.batchNorm "batch-stats"\).*; TF\.js cpu instead\)$/,
    );
    assert.throws(
      () => env.config({ ...batchStats, engine: { train: "onnxruntime" } }),
      /engine\.train.*"onnxruntime" cannot fine-tune with fineTune\.batchNorm "batch-stats"/,
    );
    // Dropout, class weights and label smoothing are accepted.
    env.config({
      ...base,
      model: { head: { dropout: 0.2 } },
      train: { epochs: 1, labelSmoothing: 0.1 },
      engine: { train: "onnxruntime" },
    });
  } finally {
    runs.forEach((r) => r.model.dispose());
  }
});

Deno.test("train e2e (cpu): engine.fused false (plain layers model) and true (fused ops) train alike (1e-5)", async () => {
  const cacheDir = join(env.dir, "cache-fused");
  const runs: Run[] = [];
  for (const fused of [false, true]) {
    runs.push(
      await run({
        data: { cacheDir },
        train: { epochs: 3, learningRate: 1e-4 },
        engine: { frozen: "tfjs", fused },
      }),
    );
  }
  const [plain, fused] = runs;
  try {
    assert.match(plain.summary.frozenEngine!.id, /^tfjs@/);
    assert.match(plain.summary.frozenEngine!.reason, /layers model/);
    assert.match(fused.summary.frozenEngine!.id, /^tfjs-fused\.\d+@/);
    assert.match(fused.summary.frozenEngine!.reason, /fused/);
    // Separate cache entries (the engine id is in the key).
    assert.equal(fused.summary.featureCache.reused, false);
    for (let i = 0; i < 3; i++) {
      for (const k of ["loss", "val_loss"] as const) {
        const d = Math.abs(plain.rows[i][k] - fused.rows[i][k]);
        assert.ok(d <= 1e-5, `epoch ${i + 1} ${k}: |Δ| = ${d}`);
      }
    }
  } finally {
    runs.forEach((r) => r.model.dispose());
  }
});

Deno.test("train e2e (cpu): Keras 3 .weights.h5 and .keras files made by real Keras train end to end through model.weights", async () => {
  const keras = new URL("../fixtures/keras/", import.meta.url);
  for (
    const file of [
      "mobilenet_v2_0.35_96.weights.h5",
      "mobilenet_v2_0.35_96.keras",
    ]
  ) {
    const r = await run({
      data: { imageSize: [96, 96] },
      model: { alpha: 0.35, weights: new URL(file, keras).pathname },
      train: { epochs: 2 },
    });
    try {
      assert.equal(r.rows.length, 2, file);
      assert.ok(r.rows.every((row) => Number.isFinite(row.loss)), file);
      assert.match(
        r.logs.join("\n"),
        new RegExp(`weights .*${file.replace(".", "\\.")}`),
      );
    } finally {
      r.model.dispose();
    }
  }
});
