/**
 * End to end on the `webgpu` backend (CI has a software adapter, lavapipe):
 * the same chain and checks as train_e2e_test.ts, the cached and uncached
 * paths agreeing on WebGPU, and agreement with the `cpu` backend; a
 * MobileNetV3 and both EfficientNet families frozen and fine-tuned on the
 * GPU (issue 19). Ignored
 * when `navigator.gpu.requestAdapter()` gives no adapter.
 */

import assert from "node:assert/strict";
import * as tf from "../src/deps/tf.ts";
import { type RunResult, runTraining } from "../src/run.ts";
import type { ConfigInput } from "../src/config/types.ts";
import { loadModel } from "../src/model/model_io.ts";
import { quietMesaRuntimeDir } from "../src/backend/webgpu_probe.ts";
import { baseNetwork } from "../src/model/bases.ts";
import { kerasLayerNames } from "../src/model/mobilenet_v3.ts";
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
  SIZE,
  tensorCounter,
  type TrainEnv,
  trainEnv,
  validationImages,
} from "./_helpers/train.ts";

quietMesaRuntimeDir();
const adapter = await navigator.gpu?.requestAdapter() ?? null;
let env: TrainEnv | null = null;
if (adapter) {
  env = await trainEnv();
  Deno.test.afterAll(() => env!.close());
}

/** The WebGPU device TF.js creates lives for the whole process. */
const gpuTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({
    name,
    ignore: adapter === null,
    sanitizeResources: false,
    sanitizeOps: false,
    fn,
  });

const EPOCHS = 5;

async function run(
  overrides: ConfigInput,
  callbacks = [tensorCounter()],
): Promise<
  RunResult & { counts: number[]; config: ReturnType<TrainEnv["config"]> }
> {
  const config = env!.config(overrides);
  const result = await runTraining(config, {
    log: () => {},
    progress: quiet,
    isTty: false,
    callbacks: callbacks.map((c) => c.callback),
  });
  return { ...result, counts: callbacks[0].counts, config };
}

/**
 * The run's saved model reloads and predicts as the run's model did (within
 * 1e-5, on WebGPU), and the model trained on WebGPU predicts the same on cpu
 * (within 1e-4).
 */
async function savedModelAgreesOnCpu(
  r: Awaited<ReturnType<typeof run>>,
): Promise<void> {
  const gpuProbs = await checkSavedModel(r, r.config, 1e-5);
  await tf.setBackend("cpu");
  try {
    const saved = await loadModel(r.dir);
    const { xs } = await validationImages(r.config);
    const cpuProbs = await predict(saved.model, xs);
    xs.dispose();
    saved.model.dispose();
    assert.ok(
      maxAbsDiff(gpuProbs, cpuProbs) < 1e-4,
      `webgpu vs cpu: ${maxAbsDiff(gpuProbs, cpuProbs)}`,
    );
  } finally {
    await tf.setBackend("webgpu");
  }
}

let cachedRun: ReturnType<typeof run> | null = null;
/** Cached features on WebGPU, made once. */
const gpuRun = () =>
  cachedRun ??= run({ backend: "webgpu", train: { epochs: EPOCHS } });

gpuTest(
  "train e2e (webgpu): every output, summary, loss falls, tensors steady, reload predicts the same",
  async () => {
    const r = await gpuRun();
    assert.deepEqual(await listFiles(r.dir), RUN_FILES);
    await checkConfigAndLabels(r.dir, r.config);
    await checkMetricsCsv(r.dir, r.rows);
    await checkCharts(r.dir, EPOCHS);
    await checkSummary(r, { backend: "webgpu", featureCache: { used: true } });
    const losses = r.rows.map((row) => row.loss);
    assert.ok(Math.min(...losses.slice(-2)) < 0.5 * losses[0], `${losses}`);
    assert.ok(r.counts.every((c) => c === r.counts[0]), `${r.counts}`);
    await savedModelAgreesOnCpu(r);
  },
);

gpuTest(
  "train e2e (webgpu): cached features and images give the same per-epoch losses; cpu agrees",
  async () => {
    const cached = await gpuRun();
    const uncached = await run({
      backend: "webgpu",
      train: { epochs: EPOCHS, cacheFeatures: false },
    });
    const cpu = await run({ backend: "cpu", train: { epochs: EPOCHS } });
    try {
      assert.equal(uncached.summary.featureCache.used, false);
      assert.equal(uncached.summary.backend, "webgpu");
      assert.equal(cpu.summary.backend, "cpu");
      assert.ok(uncached.counts.every((c) => c === uncached.counts[0]));
      const keys = ["loss", "accuracy", "val_loss", "val_accuracy"] as const;
      for (const [other, rel] of [[uncached, 1e-4], [cpu, 1e-3]] as const) {
        for (const [i, row] of other.rows.entries()) {
          for (const k of keys) {
            const a = row[k];
            const b = cached.rows[i][k];
            assert.ok(
              Math.abs(a - b) <=
                rel * Math.max(Math.abs(a), Math.abs(b)) + 1e-6,
              `${other.summary.backend}, cached features: ${other.summary.featureCache.used}: epoch ${
                i + 1
              } ${k} ${a} vs ${b}`,
            );
          }
        }
      }
    } finally {
      uncached.model.dispose();
      cpu.model.dispose();
    }
  },
);

gpuTest(
  "train e2e (webgpu): fine-tuning with augmentation on the GPU",
  async () => {
    const r = await run({
      backend: "webgpu",
      train: { epochs: 2 },
      fineTune: {
        enabled: true,
        fromLayer: 150,
        epochs: 2,
        learningRate: 1e-3,
      },
      augment: { flip: "horizontal", rotation: 0.05, zoom: 0.1 },
    });
    try {
      assert.equal(r.summary.featureCache.used, false);
      assert.deepEqual(r.rows.map((row) => [row.epoch, row.stage]), [
        [1, "frozen"],
        [2, "frozen"],
        [3, "fine_tune"],
        [4, "fine_tune"],
      ]);
      assert.ok(r.rows.every((row) => Number.isFinite(row.loss)));
      await checkMetricsCsv(r.dir, r.rows, true);
      await checkCharts(r.dir, 4, 3);
      await checkSummary(r, { backend: "webgpu" });
      assert.equal(r.counts[0], r.counts[1]);
      assert.equal(r.counts[2], r.counts[3]);
    } finally {
      r.model.dispose();
    }
  },
);

for (
  const architecture of [
    "mobilenet_v3_small",
    "efficientnet_b0",
    "efficientnet_v2_b0",
  ] as const
) {
  gpuTest(
    `train e2e (webgpu): ${architecture} from random weights, the base on the GPU (engine.frozen "tfjs"), then fine-tuned from a Keras index in the last third; the saved model predicts the same on cpu`,
    async () => {
      const base = baseNetwork({ architecture, inputShape: [SIZE, SIZE, 3] });
      const fromLayer = Math.floor(kerasLayerNames(base).length * 0.7);
      base.dispose();
      const r = await run({
        backend: "webgpu",
        model: { architecture, alpha: 1, weights: null },
        engine: { frozen: "tfjs", train: "tfjs" },
        output: { onnx: false },
        train: { epochs: 1 },
        fineTune: { enabled: true, fromLayer, epochs: 1, learningRate: 1e-3 },
      });
      try {
        assert.deepEqual(r.rows.map((row) => row.stage), [
          "frozen",
          "fine_tune",
        ]);
        assert.ok(
          r.rows.every((row) => Number.isFinite(row.loss)),
          JSON.stringify(r.rows),
        );
        assert.equal(r.summary.backend, "webgpu");
        assert.equal(r.summary.frozenEngine?.engine, "tfjs");
        assert.match(r.summary.model, new RegExp(`layer ${fromLayer}`));
        await savedModelAgreesOnCpu(r);
      } finally {
        r.model.dispose();
      }
    },
  );
}
