/**
 * Test-time augmentation: the mean of the views' probabilities equals
 * averaging the predictions of the flipped (and cropped) images computed
 * separately; in a run (`train.tta`), on cached features (the mirror's
 * features through the feature cache) and on images (per-batch plan).
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import { buildClassifier } from "../../src/model/classifier.ts";
import { mobileNetV2Preprocess } from "../../src/data/batches.ts";
import {
  applyView,
  averageProbabilities,
  TTA_CROP_FRACTION,
  ttaEvaluation,
  ttaViews,
} from "../../src/evaluate/tta.ts";
import { evaluateProbabilities } from "../../src/evaluate/evaluate.ts";
import { prepareCaches, runTraining } from "../../src/run.ts";
import { loadModel, saveModel } from "../../src/model/model_io.ts";
import { predictFiles } from "../../src/evaluate/predict.ts";
import { encodePng } from "../../src/report/_thumbnails.ts";
import { join } from "node:path";
import type { ImageSet } from "../../src/data/image_set.ts";
import { prepareData } from "../../src/data/prepare.ts";
import { quiet, trainEnv } from "../_helpers/train.ts";
import { getFixtures } from "../_helpers/data.ts";

silenceNodeBanner();
await tf.setBackend("cpu");

/** Mirrors uint8 `[n, h, w, 3]` pixels left-right, by index arithmetic. */
function mirrorPixels(px: Uint8Array, n: number, h: number, w: number) {
  const out = new Uint8Array(px.length);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let c = 0; c < 3; c++) {
          out[((b * h + y) * w + x) * 3 + c] =
            px[((b * h + y) * w + (w - 1 - x)) * 3 + c];
        }
      }
    }
  }
  return out;
}

async function predictPixels(
  model: tf.LayersModel,
  px: Uint8Array,
  shape: [number, number, number, number],
): Promise<Float32Array> {
  const y = tf.tidy(() =>
    model.predict(
      mobileNetV2Preprocess(tf.tensor4d(px, shape, "float32")),
    ) as tf.Tensor
  );
  try {
    return await y.data() as Float32Array;
  } finally {
    y.dispose();
  }
}

Deno.test("ttaViews and applyView: the mirror and the four corner crops (tf.image.cropAndResize)", async () => {
  assert.deepEqual(ttaViews("none"), ["none"]);
  assert.equal(ttaViews("flip-crops").length, 6);
  assert.throws(() => ttaViews("x" as never), /"flip-crops"/);
  // x[i, j] = j: a crop from column x0 of 0.9 of the width samples
  // x0·(W − 1) + j·0.9·(W − 1)/(W − 1).
  const W = 11;
  const ramp = tf.tensor4d(
    Array.from({ length: 5 * W }, (_, k) => k % W),
    [1, 5, W, 1],
  );
  const f = TTA_CROP_FRACTION;
  for (const [view, x0] of [["crop-tl", 0], ["crop-br", 1 - f]] as const) {
    const v = applyView(ramp, view);
    const row = (await v.data()).slice(0, W);
    v.dispose();
    row.forEach((got, j) =>
      assert.ok(Math.abs(got - (x0 * (W - 1) + j * f)) < 1e-5, `${view} ${j}`)
    );
  }
  const h = applyView(ramp, "h");
  assert.deepEqual(Array.from((await h.data()).slice(0, 3)), [10, 9, 8]);
  tf.dispose([ramp, h]);
  assert.throws(
    () => averageProbabilities([new Float32Array(2), new Float32Array(3)]),
    /disagree/,
  );
});

Deno.test("TTA flip equals averaging the separately computed predictions of the mirrored images (1e-6)", async () => {
  const { model } = await buildClassifier({
    imageSize: [32, 32],
    alpha: 0.35,
    weights: null,
    numClasses: 3,
    seed: 5,
  });
  const n = 6;
  const px = Uint8Array.from(
    { length: n * 32 * 32 * 3 },
    (_, i) => (i * 97 + (i >> 7) * 13) % 256,
  );
  const labels = [0, 1, 2, 0, 1, 2];
  const classNames = ["a", "b", "c"];
  const shape: [number, number, number, number] = [n, 32, 32, 3];
  const plain = await predictPixels(model, px, shape);
  const mirrored = await predictPixels(
    model,
    mirrorPixels(px, n, 32, 32),
    shape,
  );
  const want = Float32Array.from(plain, (p, i) => (p + mirrored[i]) / 2);
  const { evaluation, tta } = await ttaEvaluation(
    "flip",
    async (view) => {
      const y = tf.tidy(() =>
        model.predict(
          applyView(
            mobileNetV2Preprocess(tf.tensor4d(px, shape, "float32")),
            view,
          ),
        ) as tf.Tensor
      );
      const d = await y.data() as Float32Array;
      y.dispose();
      return d;
    },
    labels,
    classNames,
  );
  let max = 0;
  want.forEach((v, i) =>
    max = Math.max(max, Math.abs(v - evaluation.probabilities[i]))
  );
  assert.ok(max <= 1e-6, `off by ${max}`);
  const ref = evaluateProbabilities(want, labels, classNames);
  assert.ok(Math.abs(tta.loss - ref.loss) <= 1e-6);
  assert.equal(tta.accuracy, ref.accuracy);
  assert.equal(
    tta.accuracyWithout,
    evaluateProbabilities(plain, labels, classNames).accuracy,
  );
  assert.deepEqual(tta.views, ["none", "h"]);
  model.dispose();
});

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

/** The fixture dataset without its third class, for the logit head. */
let twoClass: Promise<void> | null = null;
function twoClassData(): Promise<void> {
  twoClass ??= (async () => {
    const fx = await getFixtures();
    for (const split of ["train", "validation"]) {
      for (const cls of ["cats", "dogs"]) {
        const from = join(fx.datasetDir, split, cls);
        const to = join(env.dir, "two_class", split, cls);
        await Deno.mkdir(to, { recursive: true });
        for await (const e of Deno.readDir(from)) {
          if (e.isFile) {
            await Deno.copyFile(join(from, e.name), join(to, e.name));
          }
        }
      }
    }
  })();
  return twoClass;
}

/** The validation set of the env's config, and its TTA mean by hand. */
async function handTta(
  runDir: string,
  config: ReturnType<typeof env.config>,
) {
  const data = await prepareData({ ...config.data, log: () => {} });
  const set: ImageSet = data.validation;
  const saved = await loadModel(runDir);
  const n = set.count;
  const px = new Uint8Array(n * set.height * set.width * 3);
  for (let i = 0; i < n; i++) {
    px.set(set.pixelsOf(i), i * set.height * set.width * 3);
  }
  const shape: [number, number, number, number] = [n, set.height, set.width, 3];
  const plain = await predictPixels(saved.model, px, shape);
  const mirrored = await predictPixels(
    saved.model,
    mirrorPixels(px, n, set.height, set.width),
    shape,
  );
  saved.model.dispose();
  // The logit head's sigmoid [n, 1] → rows [1 − p, p].
  const rows = (p: Float32Array) =>
    p.length === n
      ? Float32Array.from(
        { length: 2 * n },
        (_, i) => i % 2 ? p[i >> 1] : 1 - p[i >> 1],
      )
      : p;
  const mean = Float32Array.from(
    rows(plain),
    (p, i) => (p + rows(mirrored)[i]) / 2,
  );
  return {
    plain: evaluateProbabilities(rows(plain), set.labels, data.classNames),
    tta: evaluateProbabilities(mean, set.labels, data.classNames),
  };
}

for (
  const [what, extra] of [
    ["cached features (flip augmentation: the mirrors' features cached)", {
      augment: { flip: "horizontal" },
    }],
    ["images (per-batch plan)", { augment: { rotation: 0.1 } }],
    ["a fine-tuned classifier (images)", {
      fineTune: { enabled: true, fromLayer: 140, epochs: 1 },
    }],
    ["cached features with the logit head (2 classes)", {
      model: { head: { output: "logit" as const } },
      data: { url: null, path: join(env.dir, "two_class") },
    }],
  ] as const
) {
  Deno.test(`train.tta "flip" on ${what}: summary.json and the report give accuracy with and without, as the hand-averaged predictions`, async () => {
    await twoClassData();
    const config = env.config({
      ...extra,
      train: { epochs: 2, tta: "flip" },
      engine: { frozen: "tfjs", fused: false },
      output: { topLosses: 2, onnx: false },
    });
    const r = await runTraining(config, { log: () => {}, progress: quiet });
    r.model.dispose();
    const summary = JSON.parse(
      await Deno.readTextFile(`${r.dir}/summary.json`),
    );
    const hand = await handTta(r.dir, config);
    assert.equal(summary.tta.mode, "flip");
    assert.deepEqual(summary.tta.views, ["none", "h"]);
    assert.ok(
      Math.abs(summary.tta.loss - hand.tta.loss) <= 1e-5,
      `${summary.tta.loss} vs ${hand.tta.loss}`,
    );
    assert.ok(Math.abs(summary.tta.lossWithout - hand.plain.loss) <= 1e-5);
    assert.equal(summary.tta.accuracy, hand.tta.accuracy);
    assert.equal(summary.tta.accuracyWithout, hand.plain.accuracy);
    // The run's evaluation is TTA's.
    assert.equal(summary.evaluation.report.accuracy, hand.tta.accuracy);
    const html = await Deno.readTextFile(`${r.dir}/report.html`);
    assert.match(html, /<table id="tta">/);
    assert.match(html, /without TTA<\/td><td class="num">[\d.]+</);
  });
}

Deno.test("predict --tta flip: predictFiles' mean equals averaging the predictions of mirrored image files; --eval --tta reports with and without", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { model } = await buildClassifier({
      imageSize: [32, 32],
      alpha: 0.35,
      weights: null,
      numClasses: 2,
      seed: 9,
    });
    await saveModel(model, join(dir, "run", "model"), {
      classNames: ["a", "b"],
      preprocessing: {
        imageSize: [32, 32],
        interpolation: "bilinear",
        preprocess: "mobilenet_v2",
      },
    });
    model.dispose();
    // 32×32 files: decoding them at the model's size resizes nothing.
    const originals: string[] = [], mirrors: string[] = [];
    for (let n = 0; n < 4; n++) {
      const cls = n % 2 === 0 ? "a" : "b";
      await Deno.mkdir(join(dir, "eval", cls), { recursive: true });
      const px = Uint8Array.from(
        { length: 32 * 32 * 3 },
        (_, i) => (i * (5 + n) + (i >> 5) * 31) % 256,
      );
      const file = join(dir, "eval", cls, `${n}.png`);
      const mirror = join(dir, `${n}-mirror.png`);
      await Deno.writeFile(
        file,
        await encodePng({ width: 32, height: 32, data: px }),
      );
      await Deno.writeFile(
        mirror,
        await encodePng({
          width: 32,
          height: 32,
          data: mirrorPixels(px, 1, 32, 32),
        }),
      );
      originals.push(file);
      mirrors.push(mirror);
    }
    const saved = await loadModel(join(dir, "run"));
    const probs = async (files: string[], tta?: "flip") =>
      (await predictFiles(saved, files, { tta })).map((p) => {
        assert.ok("probabilities" in p);
        return [p.probabilities.a, p.probabilities.b];
      });
    const plain = await probs(originals);
    const mirrored = await probs(mirrors);
    const tta = await probs(originals, "flip");
    let max = 0;
    tta.forEach((row, i) =>
      row.forEach((v, c) => {
        max = Math.max(max, Math.abs(v - (plain[i][c] + mirrored[i][c]) / 2));
      })
    );
    assert.ok(max <= 1e-6, `off by ${max}`);
    saved.model.dispose();

    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../tasks/predict.ts", import.meta.url).pathname,
        "--model",
        join(dir, "run"),
        "--eval",
        join(dir, "eval"),
        "--tta",
        "flip",
        "--json",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const ev = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.deepEqual(ev.tta.views, ["none", "h"]);
    assert.equal(ev.accuracy, ev.tta.accuracy);
    assert.ok(ev.tta.accuracyWithout >= 0 && ev.tta.accuracyWithout <= 1);
    const bad = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../tasks/predict.ts", import.meta.url).pathname,
        "--model",
        join(dir, "run"),
        "--tta",
        "rotate",
        originals[0],
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(bad.code, 2);
    assert.match(
      new TextDecoder().decode(bad.stderr),
      /--tta: expected none, flip or flip-crops/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("train.tta on cached features: the views' validation features are cached, and a later run reuses the mirror's (flip-crops adds the crops)", async () => {
  const base = {
    augment: { flip: "horizontal" as const },
    engine: { frozen: "tfjs" as const, fused: false },
    output: { topLosses: 0, onnx: false, saveModel: false },
  };
  const run = async (tta: "flip" | "flip-crops") => {
    const logs: string[] = [];
    const r = await runTraining(
      env.config({ ...base, name: `tta-${tta}`, train: { epochs: 1, tta } }),
      { log: (l) => logs.push(l), progress: quiet },
    );
    r.model.dispose();
    return { summary: r.summary, logs: logs.join("\n") };
  };
  // Each test of this file starts from the same env cache: the mirror may
  // already be cached by the run test above; "flip-crops" computes the crops.
  const crops = await run("flip-crops");
  assert.deepEqual(crops.summary.tta?.views, ttaViews("flip-crops"));
  for (const view of ["crop-tl", "crop-tr", "crop-bl", "crop-br"]) {
    assert.match(
      crops.logs,
      new RegExp(`features: validation \\(${view}\\) \\d+/\\d+`),
    );
  }
  assert.equal(
    crops.summary.evaluation?.report.accuracy,
    crops.summary.tta?.accuracy,
  );
  const again = await run("flip-crops");
  // Every view's features now come from the cache: none is computed.
  assert.doesNotMatch(again.logs, /features: validation \(/);
  assert.equal(again.summary.tta?.loss, crops.summary.tta?.loss);
  const flip = await run("flip");
  assert.doesNotMatch(flip.logs, /features: validation \(h\)/);
});

Deno.test("prepareCaches with train.tta warms the validation views' features: the run computes none", async () => {
  const config = env.config({
    name: "tta-prepare",
    // Other pixels (nearest resizing): nothing cached by the tests above.
    data: { interpolation: "nearest" },
    train: { epochs: 1, tta: "flip-crops" },
    engine: { frozen: "tfjs", fused: false },
    output: { topLosses: 0, onnx: false, saveModel: false },
  });
  const prepLogs: string[] = [];
  await prepareCaches(config, { log: (l) => prepLogs.push(l) });
  assert.match(prepLogs.join("\n"), /features: validation \(crop-br\) \d+/);
  const logs: string[] = [];
  const r = await runTraining(config, {
    log: (l) => logs.push(l),
    progress: quiet,
  });
  r.model.dispose();
  assert.doesNotMatch(logs.join("\n"), /features: validation \(/);
  assert.equal(r.summary.tta?.views.length, 6);
});
