/**
 * Shared setup of the end-to-end training tests: one fixture dataset served
 * over loopback HTTP, one tiny MobileNetV2 `.h5` (alpha 0.35 at 32 px), and a
 * config builder that points every run at temp folders.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "../../src/deps/tf.ts";
import type { Config, ConfigInput } from "../../src/config/types.ts";
import { parseConfig } from "../../src/config/load.ts";
import { type RunResult, runTraining } from "../../src/run.ts";
import type { FitCallbacks } from "../../src/train/fit.ts";
import type { MetricsRow } from "../../src/train/fit.ts";
import { readMetricsCsv } from "../../src/report/metrics.ts";
import { prepareData } from "../../src/data/prepare.ts";
import { makeBatch, mobileNetV2Preprocess } from "../../src/data/batches.ts";
import { loadModel } from "../../src/model/model_io.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import { FIXTURE_CLASSES } from "../../fixtures/make_fixtures.ts";
import { mobileNetV2 } from "../../src/model/mobilenet_v2.ts";
import { saveKerasWeights } from "../../fixtures/keras_h5_writer.ts";
import { randomizeWeights } from "../../fixtures/make_h5.ts";
import type { ProgressWriter } from "../../src/report/progbar.ts";
import { getFixtures, serve, type TestServer } from "./data.ts";

/** Input size of the tiny model. */
export const SIZE = 32;

/**
 * MobileNetV2 (alpha 0.35, `SIZE` px, no top) with seeded random weights
 * whose BatchNormalization moving statistics are then calibrated on random
 * inputs, layer by layer (what training does to real weights), as Keras
 * `.h5` bytes.
 *
 * Plain random statistics (`makeMobileNetV2H5`) wash the input out: after 50
 * layers every image gives nearly the same pooled features (class means
 * ~0.05 apart at norm ~8), so the head has almost nothing to learn from.
 * Calibrated statistics keep the activations at unit scale, and the fixture
 * classes' colours stay separable in the features.
 */
export async function calibratedH5(seed = 1): Promise<Uint8Array> {
  const model = mobileNetV2({
    inputShape: [SIZE, SIZE, 3],
    alpha: 0.35,
    includeTop: false,
  });
  randomizeWeights(model, seed);
  const x = tf.randomUniform([16, SIZE, SIZE, 3], -1, 1, "float32", seed);
  calibrateBatchNorm(model, x);
  x.dispose();
  const bytes = await saveKerasWeights(model);
  model.dispose();
  return bytes;
}

/**
 * Sets every BatchNormalization layer's moving mean and variance of `base`,
 * in order, to the moments of its input when `x` runs through the layers
 * before it (inference mode), so activations stay at unit scale through a
 * network with random weights. `x` stays the caller's.
 */
export function calibrateBatchNorm(base: tf.LayersModel, x: tf.Tensor): void {
  const values = new Map<number, tf.Tensor>([[base.inputs[0].id, x]]);
  for (const layer of base.layers) {
    if (layer.getClassName() === "InputLayer") continue;
    const node = (layer as unknown as {
      inboundNodes: { inputTensors: tf.SymbolicTensor[] }[];
    }).inboundNodes[0];
    const ins = node.inputTensors.map((t) => values.get(t.id)!);
    if (layer.getClassName() === "BatchNormalization") {
      tf.tidy(() => {
        const { mean, variance } = tf.moments(ins[0], [0, 1, 2]);
        const weight = (name: string) =>
          layer.weights.find((v) => v.originalName.endsWith(`/${name}`))!;
        weight("moving_mean").write(mean);
        weight("moving_variance").write(variance);
      });
    }
    const out = layer.apply(ins.length === 1 ? ins[0] : ins) as tf.Tensor;
    values.set((layer.output as tf.SymbolicTensor).id, out);
  }
  values.delete(base.inputs[0].id);
  tf.dispose([...values.values()]);
}

/** Everything the end-to-end tests share. */
export interface TrainEnv {
  /** Temp folder holding the weights, caches and runs. */
  dir: string;
  /** The `.h5` weights file. */
  weights: string;
  /** Loopback server with `/dataset.zip`. */
  server: TestServer;
  /** `data.url` of the served dataset. */
  url: string;
  /** Builds a config: tiny model, served data, temp cache and output folders. */
  config(overrides?: ConfigInput): Config;
  /**
   * Runs the chain on {@link TrainEnv.config}`(overrides)` without a
   * progress bar, collecting the log lines.
   */
  run(overrides?: ConfigInput): Promise<QuietRun>;
  /**
   * Writes a config file for the command-line tests and returns its path:
   * the served dataset (the data section of {@link TrainEnv.config}) and
   * backend "cpu", then `sections`, each replacing a whole top-level key.
   */
  configFile(sections: Record<string, unknown>): Promise<string>;
  /** Stops the server and removes the temp folder. */
  close(): Promise<void>;
}

/** Progress writer that swallows the progress bar. */
export const quiet: ProgressWriter = { write: () => {} };

/** A run of {@link TrainEnv.run}: its result, log lines and config. */
export type QuietRun = RunResult & { logs: string[]; config: Config };

/** Deep-merges plain objects (`b` wins). */
function merge(a: Record<string, unknown>, b: Record<string, unknown>) {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = v && typeof v === "object" && !Array.isArray(v) &&
        prev && typeof prev === "object" && !Array.isArray(prev)
      ? merge(prev as Record<string, unknown>, v as Record<string, unknown>)
      : v;
  }
  return out;
}

/** Sets up fixtures, weights and the server (backend: cpu while building). */
export async function trainEnv(): Promise<TrainEnv> {
  const fixtures = await getFixtures();
  const dir = await Deno.makeTempDir({ prefix: "deno-transfer-e2e-" });
  silenceNodeBanner();
  const previous = tf.getBackend();
  await tf.setBackend("cpu");
  const weights = join(
    dir,
    `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_${SIZE}_no_top.h5`,
  );
  await Deno.writeFile(weights, await calibratedH5(1));
  if (previous && previous !== "cpu") await tf.setBackend(previous);
  const server = serve({
    "/dataset.zip": await Deno.readFile(fixtures.zips.dataset),
  });
  const url = `${server.url}/dataset.zip`;
  const data = {
    url,
    cacheDir: join(dir, "cache"),
    imageSize: [SIZE, SIZE],
    batchSize: 8,
    workers: 1,
  };
  const config = (overrides: ConfigInput = {}) =>
    parseConfig(merge({
      name: "e2e",
      data,
      model: { alpha: 0.35, weights },
      train: { epochs: 4, learningRate: 1e-2 },
      backend: "cpu",
      output: { dir: join(dir, "runs") },
    }, overrides as Record<string, unknown>));
  return {
    dir,
    weights,
    server,
    url,
    config,
    configFile: async (sections) => {
      const path = join(dir, `config-${crypto.randomUUID()}.json`);
      await Deno.writeTextFile(
        path,
        JSON.stringify({ data, backend: "cpu", ...sections }),
      );
      return path;
    },
    run: async (overrides = {}) => {
      const c = config(overrides);
      const logs: string[] = [];
      const result = await runTraining(c, {
        log: (l) => logs.push(l),
        progress: quiet,
        isTty: false,
      });
      return { ...result, logs, config: c };
    },
    close: async () => {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

// ---------------------------------------------------------------------------
// Checks shared by the cpu and webgpu end-to-end tests.

import { all, byClass, parseSvg } from "./svg.ts";

/** The files every completed run writes. */
export const RUN_FILES = [
  "MODEL_CARD.md",
  "charts.svg",
  "config.json",
  "confusion.svg",
  "demo/app.js",
  "demo/index.html",
  "demo/style.css",
  "demo/vendor/jpeg-turbo.wasm",
  "demo/vendor/tf-backend-cpu.min.js",
  "demo/vendor/tf-backend-wasm.min.js",
  "demo/vendor/tf-backend-webgl.min.js",
  "demo/vendor/tf-backend-webgpu.min.js",
  "demo/vendor/tf-core.min.js",
  "demo/vendor/tf-layers.min.js",
  "demo/vendor/tfjs-backend-wasm-simd.wasm",
  "demo/vendor/tfjs-backend-wasm.wasm",
  "metrics.csv",
  "model/labels.json",
  "model/metadata.json",
  "model/model.json",
  "model/model.onnx",
  "model/preprocessing.json",
  "model/weights.bin",
  "report.html",
  "summary.json",
];

/** Paths of the files under `dir` (relative, sorted). */
export async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await listFiles(join(dir, e.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

/** Epoch-end hook recording `tf.memory().numTensors`. */
export function tensorCounter(): { counts: number[]; callback: FitCallbacks } {
  const counts: number[] = [];
  return {
    counts,
    callback: {
      onEpochEnd: () => {
        counts.push(tf.memory().numTensors);
      },
    },
  };
}

/**
 * Checks `metrics.csv` against the rows: the exact header, one line per
 * epoch, values as written (shortest round-trip form).
 */
export async function checkMetricsCsv(
  dir: string,
  rows: MetricsRow[],
  withStage = false,
): Promise<void> {
  const text = await Deno.readTextFile(join(dir, "metrics.csv"));
  const lines = text.split("\n");
  assert.equal(
    lines[0],
    "epoch,loss,accuracy,val_loss,val_accuracy,seconds,lr" +
      (withStage ? ",stage" : ""),
  );
  assert.equal(lines.at(-1), "", "ends with a newline");
  assert.equal(lines.length - 2, rows.length, text);
  assert.deepEqual(await readMetricsCsv(join(dir, "metrics.csv")), rows);
  rows.forEach((r, i) => assert.equal(r.epoch, i + 1));
}

/** Checks charts.svg: XML, accuracy panel above loss panel, four series of `epochs` points. */
export async function checkCharts(
  dir: string,
  epochs: number,
  fineTuneStart: number | null = null,
): Promise<void> {
  const root = parseSvg(await Deno.readTextFile(join(dir, "charts.svg")));
  const panels = byClass(root, "g", "panel");
  assert.deepEqual(panels.map((p) => p.getAttribute("data-panel")), [
    "accuracy",
    "loss",
  ]);
  const series = byClass(root, "g", "series");
  assert.deepEqual(series.map((s) => s.getAttribute("data-series")), [
    "accuracy",
    "val_accuracy",
    "loss",
    "val_loss",
  ]);
  for (const s of series) assert.equal(all(s, "circle").length, epochs);
  const markers = byClass(root, "g", "fine-tune-marker");
  if (fineTuneStart === null) assert.equal(markers.length, 0);
  else {
    assert.equal(markers.length, 2);
    assert.equal(markers[0].getAttribute("data-epoch"), String(fineTuneStart));
  }
}

/** Best epoch by the run's rule: highest val_accuracy, ties to lower val_loss. */
export function expectedBest(rows: MetricsRow[]): MetricsRow | null {
  const sorted = [...rows].sort((a, b) =>
    b.val_accuracy - a.val_accuracy || a.val_loss - b.val_loss ||
    a.epoch - b.epoch
  );
  return sorted[0] ?? null;
}

/** Writes NaN/±Infinity as null, as summary.json does. */
export function asJson<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(
      value,
      (_k, v) => typeof v === "number" && !Number.isFinite(v) ? null : v,
    ),
  );
}

/**
 * Checks summary.json of a run on the fixture dataset against the result
 * and the rows: fields, counts, best/final, seconds, evaluation.
 */
export async function checkSummary(
  result: RunResult,
  expect: {
    backend: string;
    stopReason?: string;
    featureCache?: Partial<RunResult["summary"]["featureCache"]>;
  },
): Promise<void> {
  const file = JSON.parse(
    await Deno.readTextFile(join(result.dir, "summary.json")),
  );
  const s = result.summary;
  assert.deepEqual(file, asJson(s));
  assert.equal(s.dir, result.dir);
  assert.equal(s.name, "e2e");
  assert.equal(s.backend, expect.backend);
  assert.equal(tf.getBackend(), expect.backend);
  if (expect.backend === "webgpu") {
    assert.equal(typeof s.adapter, "string");
    assert.ok(s.adapter!.length > 0);
  } else assert.equal(s.adapter, null);
  assert.ok(s.backendReason.length > 0);
  assert.deepEqual(s.classNames, [...FIXTURE_CLASSES]);
  // Train: 6 JPEGs per class + 5 other formats, one corrupt file skipped;
  // validation: 3 per class.
  // The fixture tree's non-image file in a class folder is counted.
  assert.deepEqual(s.images, {
    train: 23,
    validation: 9,
    skipped: 1,
    ignored: { junk: {}, other: { txt: 1 } },
  });
  assert.equal(s.epochs, result.rows.length);
  assert.equal(s.stopReason, expect.stopReason ?? "completed");
  assert.deepEqual(s.final, result.rows.at(-1) ?? null);
  assert.deepEqual(s.best, expectedBest(result.rows));
  for (const [k, v] of Object.entries(expect.featureCache ?? {})) {
    assert.equal(s.featureCache[k as "used"], v, `featureCache.${k}`);
  }
  const stages = [
    "fetch",
    "unzip",
    "decode",
    "build",
    "features",
    "train",
    "evaluate",
    "save",
    "total",
  ];
  assert.deepEqual(Object.keys(s.seconds).sort(), [...stages].sort());
  let sum = 0;
  for (const k of stages) {
    const v = s.seconds[k as "total"];
    assert.ok(Number.isFinite(v) && v >= 0, `seconds.${k} = ${v}`);
    if (k !== "total") sum += v;
  }
  assert.ok(s.seconds.train > 0);
  assert.ok(sum <= s.seconds.total + 1e-3, `${sum} > ${s.seconds.total}`);
  if (s.stopReason !== "non-finite-loss") {
    const e = s.evaluation!;
    assert.equal(e.matrix.length, 3);
    e.matrix.forEach((row) => assert.equal(row.reduce((a, b) => a + b), 3));
    assert.deepEqual(
      e.report.classes.map((c) => [c.name, c.support]),
      FIXTURE_CLASSES.map((c) => [c, 3]),
    );
    const correct = e.matrix.reduce((a, row, i) => a + row[i], 0);
    assert.ok(Math.abs(e.report.accuracy - correct / 9) < 1e-12);
    for (const c of e.report.classes) {
      for (const k of ["precision", "recall", "f1"] as const) {
        assert.ok(c[k] >= 0 && c[k] <= 1, `${c.name} ${k} = ${c[k]}`);
      }
    }
  } else assert.equal(s.evaluation, null);
}

/** Checks config.json, labels.json and preprocessing.json. */
export async function checkConfigAndLabels(
  dir: string,
  config: Config,
): Promise<void> {
  assert.deepEqual(
    JSON.parse(await Deno.readTextFile(join(dir, "config.json"))),
    asJson(config),
  );
  assert.deepEqual(
    JSON.parse(await Deno.readTextFile(join(dir, "model/labels.json"))),
    [...FIXTURE_CLASSES],
  );
  assert.deepEqual(
    JSON.parse(
      await Deno.readTextFile(join(dir, "model/preprocessing.json")),
    ),
    {
      imageSize: [SIZE, SIZE],
      interpolation: config.data.interpolation,
      preprocess: "mobilenet_v2",
    },
  );
}

/**
 * The fixture's validation images (from the decode cache) with their labels
 * and files: preprocessed as MobileNetV2's x / 127.5 − 1, or with
 * `{ raw: true }` as raw 0–255 float32 pixels (what bases that carry their
 * own scaling take).
 */
export async function validationImages(
  config: Config,
  opts: { raw?: boolean } = {},
): Promise<{ xs: tf.Tensor4D; labels: Int32Array; paths: string[] }> {
  const data = await prepareData({
    ...config.data,
    log: () => {},
    warn: () => {},
    downloadProgress: () => () => {},
  });
  const idx = Array.from({ length: data.validation.count }, (_, i) => i);
  const { xs, ys } = opts.raw
    ? makeBatch(data.validation, idx)
    : makeBatch(data.validation, idx, mobileNetV2Preprocess);
  ys.dispose();
  return {
    xs: xs as tf.Tensor4D,
    labels: data.validation.labels,
    paths: [...data.validation.paths],
  };
}

/** `model.predict(xs)` as an array (works on webgpu, where dataSync does not). */
export async function predict(
  model: tf.LayersModel,
  xs: tf.Tensor,
): Promise<Float32Array> {
  const y = model.predict(xs) as tf.Tensor;
  const out = await y.data() as Float32Array;
  y.dispose();
  return out;
}

/** Largest |a − b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Confusion matrix of `probs` (`[n, k]` row-major) against `labels`. */
export function confusion(
  probs: Float32Array,
  labels: Int32Array,
  k: number,
): number[][] {
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  labels.forEach((label, i) => {
    const row = probs.subarray(i * k, (i + 1) * k);
    m[label][row.indexOf(Math.max(...row))]++;
  });
  return m;
}

/**
 * Loads the run's saved model three ways (the in-process model, `loadModel`,
 * plain `tf.loadLayersModel` over HTTP as a browser would) and checks they
 * predict the same on the validation images, and that the predictions give
 * the confusion matrix in summary.json. Returns the predictions.
 */
export async function checkSavedModel(
  result: RunResult,
  config: Config,
  tolerance: number,
): Promise<Float32Array> {
  const { xs, labels } = await validationImages(config);
  const modelDir = join(result.dir, "model");
  const files: Record<string, Uint8Array> = {};
  for (const name of ["model.json", "weights.bin"]) {
    files[`/${name}`] = await Deno.readFile(join(modelDir, name));
  }
  const server = serve(files);
  try {
    const inProcess = await predict(result.model, xs);
    const saved = await loadModel(result.dir);
    assert.deepEqual(saved.classNames, [...FIXTURE_CLASSES]);
    assert.equal(saved.dir, modelDir);
    assert.deepEqual(saved.preprocessing.imageSize, [SIZE, SIZE]);
    const fromDisk = await predict(saved.model, xs);
    const plain = await tf.loadLayersModel(`${server.url}/model.json`);
    const fromHttp = await predict(plain, xs);
    assert.deepEqual(
      plain.outputs[0].shape,
      [null, FIXTURE_CLASSES.length],
    );
    assert.ok(
      maxAbsDiff(inProcess, fromDisk) <= tolerance,
      `loadModel: ${maxAbsDiff(inProcess, fromDisk)}`,
    );
    assert.ok(
      maxAbsDiff(inProcess, fromHttp) <= tolerance,
      `tf.loadLayersModel: ${maxAbsDiff(inProcess, fromHttp)}`,
    );
    saved.model.dispose();
    plain.dispose();
    if (result.summary.evaluation) {
      assert.deepEqual(
        confusion(inProcess, labels, FIXTURE_CLASSES.length),
        result.summary.evaluation.matrix,
      );
    }
    return inProcess;
  } finally {
    xs.dispose();
    await server.close();
  }
}
