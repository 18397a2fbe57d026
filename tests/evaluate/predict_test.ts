import assert from "node:assert/strict";
import { DECODE_GOLDEN_DIR } from "../../fixtures/tf_decode/goldens.ts";
import { join } from "node:path";
import * as tf from "../../src/deps/tf.ts";
import { buildClassifier } from "../../src/model/classifier.ts";
import { loadModel, saveModel } from "../../src/model/model_io.ts";
import {
  collectImageFiles,
  evaluateFolder,
  predictFiles,
} from "../../src/evaluate/predict.ts";
import { decodeAndResize } from "../../src/data/resize.ts";
import { mobileNetV2Preprocess } from "../../src/data/batches.ts";
import { getFixtures } from "../_helpers/data.ts";
import { createOnnxEngine } from "../../src/engine/onnx_runtime.ts";

const CLASSES = ["cats", "dogs", "horses"];
const SIZE: [number, number] = [32, 32];

/** A tiny random-weight classifier saved into a temp "run" folder. */
async function savedRun(): Promise<{ runDir: string; model: tf.LayersModel }> {
  await tf.setBackend("cpu");
  const { model } = await buildClassifier({
    imageSize: SIZE,
    alpha: 0.35,
    weights: null,
    numClasses: CLASSES.length,
    seed: 7,
  });
  const runDir = await Deno.makeTempDir();
  await saveModel(model, join(runDir, "model"), {
    classNames: CLASSES,
    preprocessing: {
      imageSize: SIZE,
      interpolation: "bilinear",
      preprocess: "mobilenet_v2",
    },
  });
  return { runDir, model };
}

async function runPredict(args: string[], extra: string[] = []) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      ...extra,
      new URL("../../tasks/predict.ts", import.meta.url).pathname,
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("saved model reloads (run folder or model folder) and predicts like the original", async () => {
  const fx = await getFixtures();
  const { runDir, model } = await savedRun();
  try {
    for (const dir of [runDir, join(runDir, "model")]) {
      const saved = await loadModel(dir);
      assert.deepEqual(saved.classNames, CLASSES);
      assert.deepEqual(saved.preprocessing.imageSize, SIZE);
      const files = await collectImageFiles([
        join(fx.datasetDir, "validation"),
      ]);
      assert.ok(files.length >= 3);
      const preds = await predictFiles(saved, files, { batchSize: 2 });
      assert.equal(preds.length, files.length);
      // Independent reference: decode + preprocess by hand, run the in-memory model.
      for (const [i, file] of files.entries()) {
        const p = preds[i];
        assert.ok(!("error" in p), `unexpected error for ${file}`);
        const pixels = await decodeAndResize(
          await Deno.readFile(file),
          ...SIZE,
        );
        const y = tf.tidy(() =>
          model.predict(
            mobileNetV2Preprocess(
              tf.tensor4d(pixels, [1, ...SIZE, 3], "float32"),
            ),
          ) as tf.Tensor2D
        );
        const expected = Array.from(await y.data());
        y.dispose();
        const got = CLASSES.map((c) => p.probabilities[c]);
        got.forEach((v, c) => assert.ok(Math.abs(v - expected[c]) < 1e-5));
        const top = expected.indexOf(Math.max(...expected));
        assert.equal(p.label, CLASSES[top]);
        assert.equal(p.probability, got[top]);
      }
      saved.model.dispose();
    }
  } finally {
    model.dispose();
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("predictFiles reports unreadable files without failing the others", async () => {
  const fx = await getFixtures();
  const { runDir, model } = await savedRun();
  try {
    const saved = await loadModel(runDir);
    const corrupt = fx.images.find((i) => i.kind === "corrupt")!;
    const good = fx.images.find((i) => i.kind === "jpeg")!;
    const res = await predictFiles(saved, [
      join(fx.datasetDir, corrupt.rel),
      join(fx.datasetDir, good.rel),
    ]);
    assert.ok("error" in res[0]);
    assert.ok(!("error" in res[1]));
    saved.model.dispose();
  } finally {
    model.dispose();
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("evaluateFolder matches per-image predictions", async () => {
  const fx = await getFixtures();
  const { runDir, model } = await savedRun();
  try {
    const saved = await loadModel(runDir);
    const folder = join(fx.datasetDir, "validation");
    const e = await evaluateFolder(saved, folder, { workers: 0 });
    const files = await collectImageFiles([folder]);
    const preds = await predictFiles(saved, files);
    let correct = 0;
    for (const p of preds) {
      if ("error" in p) continue;
      const truth = p.file.split("/").at(-2);
      if (p.label === truth) correct++;
    }
    assert.equal(e.count, files.length);
    assert.equal(e.accuracy, correct / files.length);
    assert.equal(
      e.matrix.flat().reduce((a, b) => a + b, 0),
      files.length,
    );
    await assert.rejects(
      evaluateFolder(saved, fx.datasetDir),
      /not among the model's classes/,
    );
    saved.model.dispose();
  } finally {
    model.dispose();
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("deno task predict: text, --json, --eval and usage errors", async () => {
  const fx = await getFixtures();
  const { runDir, model } = await savedRun();
  model.dispose();
  try {
    const folder = join(fx.datasetDir, "validation", "cats");
    const files = await collectImageFiles([folder]);

    const text = await runPredict(["--model", runDir, folder]);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trim().split("\n");
    assert.equal(lines.length, files.length);
    assert.match(
      lines[0],
      /: (cats|dogs|horses) \(0\.\d{4}\) {2}\[cats 0\.\d{4}, dogs/,
    );

    const json = await runPredict(["--model", runDir, "--json", folder]);
    assert.equal(json.code, 0, json.stderr);
    const objs = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(objs.map((o) => o.file), files);
    for (const o of objs) {
      const sum = Object.values(o.probabilities as Record<string, number>)
        .reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4);
    }
    assert.doesNotMatch(
      json.stderr,
      /looks like you are running TensorFlow\.js in Node/,
    );

    const ev = await runPredict([
      "--model",
      runDir,
      "--eval",
      join(fx.datasetDir, "validation"),
      "--json",
    ]);
    assert.equal(ev.code, 0, ev.stderr);
    const report = JSON.parse(ev.stdout);
    assert.deepEqual(report.classNames, CLASSES);
    assert.equal(report.matrix.length, 3);
    // The evaluation report, next to the model by default.
    const page = join(runDir, "model", "eval_report.html");
    assert.match(ev.stderr, new RegExp(`report: ${page}`));
    const html = await Deno.readTextFile(page);
    assert.match(html, /evaluation report/);
    assert.equal(
      (html.match(/<img src=/g) ?? []).length,
      Math.min(16, report.count),
      "top-loss thumbnails",
    );
    assert.equal(
      (html.match(/<img class="cam" src=/g) ?? []).length,
      2 * Math.min(16, report.count),
      "heatmaps of the true and the predicted class",
    );

    const noModel = await runPredict([folder]);
    assert.equal(noModel.code, 2);
    assert.match(noModel.stderr, /--model is required/);
    const badDir = await runPredict(["--model", folder, folder]);
    assert.equal(badDir.code, 1);
    assert.match(badDir.stderr, /No model\.json in/);
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("deno task predict: ONNX Runtime engine with --allow-ffi, TF.js fallback without, same predictions", async () => {
  const fx = await getFixtures();
  const { runDir, model } = await savedRun();
  model.dispose();
  try {
    const folder = join(fx.datasetDir, "validation");
    const parse = (stdout: string) =>
      stdout.trim().split("\n").map((l) => JSON.parse(l)) as {
        file: string;
        label: string;
        probabilities: Record<string, number>;
      }[];
    const tfjs = await runPredict(["--model", runDir, "--json", folder]);
    assert.equal(tfjs.code, 0, tfjs.stderr);
    assert.match(
      tfjs.stderr,
      /engine: tfjs-fused\.\d+@[\d.]+\/cpu \(auto: ONNX Runtime unavailable \(.*--allow-ffi/,
    );
    const ort = await runPredict(["--model", runDir, "--json", folder], [
      "--allow-ffi",
    ]);
    assert.equal(ort.code, 0, ort.stderr);
    assert.match(ort.stderr, /engine: onnxruntime-node@1\.30\.0 \(auto: /);
    const a = parse(tfjs.stdout);
    const b = parse(ort.stdout);
    assert.deepEqual(b.map((o) => o.file), a.map((o) => o.file));
    for (let i = 0; i < a.length; i++) {
      for (const c of CLASSES) {
        // Folded BatchNormalization in the ONNX graph: float32 rounding only.
        const d = Math.abs(a[i].probabilities[c] - b[i].probabilities[c]);
        assert.ok(d < 2.5e-4, `${a[i].file} ${c}: ${d}`);
      }
    }
    const forced = await runPredict(
      ["--model", runDir, "--engine", "onnxruntime", folder],
    );
    assert.equal(forced.code, 1);
    assert.match(
      forced.stderr,
      /engine\.frozen is "onnxruntime" but ONNX Runtime cannot load/,
    );
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test("deno task export-onnx: writes model.onnx next to model.json; ONNX Runtime matches TF.js", async () => {
  const { runDir, model } = await savedRun();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        new URL("../../tasks/export_onnx.ts", import.meta.url).pathname,
        "--model",
        runDir,
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const path = join(runDir, "model", "model.onnx");
    assert.match(stderr, new RegExp(`wrote ${path} \\(`));
    const x = tf.randomUniform([3, ...SIZE, 3], -1, 1, "float32", 5);
    const engine = await createOnnxEngine(await Deno.readFile(path));
    try {
      const [y] = await engine.run(await x.data() as Float32Array, x.shape);
      const expected = (model.predict(x) as tf.Tensor).dataSync();
      assert.deepEqual(y.shape, [3, CLASSES.length]);
      for (let i = 0; i < expected.length; i++) {
        assert.ok(Math.abs(y.data[i] - expected[i]) < 1e-4, `value ${i}`);
      }
    } finally {
      await engine.dispose();
      x.dispose();
    }
  } finally {
    model.dispose();
    await Deno.remove(runDir, { recursive: true });
  }
});

Deno.test('predict decodes as training did: a model trained with data.exifOrientation "apply" turns phone photos', async () => {
  await tf.setBackend("cpu");
  // A model whose output depends on every pixel's place (a random base's
  // pooled features hardly change when an image turns).
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [...SIZE, 3] }),
      tf.layers.dense({
        units: CLASSES.length,
        activation: "softmax",
        kernelInitializer: tf.initializers.randomNormal({ seed: 3 }),
      }),
    ],
  });
  const runDir = await Deno.makeTempDir();
  try {
    await saveModel(model, join(runDir, "model"), {
      classNames: CLASSES,
      preprocessing: {
        imageSize: SIZE,
        interpolation: "bilinear",
        preprocess: "mobilenet_v2",
        exifOrientation: "apply",
      },
    });
    const saved = await loadModel(runDir);
    assert.equal(saved.preprocessing.exifOrientation, "apply");
    // Stored 53 wide and 37 high, EXIF orientation 6.
    const file = join(DECODE_GOLDEN_DIR, "corpus/jpeg_exif_orient6_53x37.jpg");
    const [p] = await predictFiles(saved, [file]);
    assert.ok(!("error" in p));
    const probs = async (exifOrientation: "ignore" | "apply") => {
      const pixels = await decodeAndResize(
        await Deno.readFile(file),
        ...SIZE,
        "bilinear",
        { exifOrientation },
      );
      const y = tf.tidy(() =>
        model.predict(
          mobileNetV2Preprocess(
            tf.tensor4d(pixels, [1, ...SIZE, 3], "float32"),
          ),
        ) as tf.Tensor2D
      );
      const out = Array.from(await y.data());
      y.dispose();
      return out;
    };
    const applied = await probs("apply");
    const ignored = await probs("ignore");
    const got = CLASSES.map((c) => p.probabilities[c]);
    got.forEach((v, c) => assert.ok(Math.abs(v - applied[c]) < 1e-5));
    assert.ok(
      got.some((v, c) => Math.abs(v - ignored[c]) > 1e-3),
      `${got} vs ${ignored}`,
    );
  } finally {
    model.dispose();
    await Deno.remove(runDir, { recursive: true });
  }
});
