/**
 * `deno task predict --explain DIR`: one overlay PNG per image, equal to the
 * overlay of the in-process CAM (TF.js layers model), on ONNX Runtime (the
 * pre-pooling map as a second output) and on TF.js; never over existing
 * files unless `--overwrite`.
 */

import assert from "node:assert/strict";
import { basename, extname, join } from "node:path";
import * as tf from "../../src/deps/tf.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import { buildClassifier } from "../../src/model/classifier.ts";
import { loadModel, saveModel } from "../../src/model/model_io.ts";
import {
  camGraphOf,
  collectImageFiles,
  type Explanation,
  predictFiles,
} from "../../src/evaluate/mod.ts";
import { camOverlay } from "../../src/report/cam_overlay.ts";
import { explainOutputPaths } from "../../src/report/explain_files.ts";
import { decodePixels } from "../../src/data/codecs.ts";
import { getFixtures } from "../_helpers/data.ts";

silenceNodeBanner();
await tf.setBackend("cpu");

const CLASSES = ["cats", "dogs", "horses"];
const SIZE: [number, number] = [64, 64];

async function savedRun(): Promise<string> {
  const { model } = await buildClassifier({
    imageSize: SIZE,
    alpha: 0.35,
    weights: null,
    numClasses: CLASSES.length,
    seed: 11,
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
  model.dispose();
  return runDir;
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

async function rgbOf(path: string): Promise<Uint8Array> {
  const p = await decodePixels(await Deno.readFile(path));
  if (p.channels === 3) return Uint8Array.from(p.data);
  return Uint8Array.from(
    { length: p.width * p.height * 3 },
    (_, i) => p.data[Math.floor(i / 3) * 4 + (i % 3)],
  );
}

Deno.test("explainOutputPaths: names after the image, numbered on clashes, refuses existing files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = join(dir, "out");
    const paths = await explainOutputPaths(["a/x.jpg", "b/x.png", "y"], out);
    assert.deepEqual(paths, [
      join(out, "x.cam.png"),
      join(out, "x-2.cam.png"),
      join(out, "y.cam.png"),
    ]);
    await Deno.writeTextFile(paths[1], "keep");
    await assert.rejects(
      () => explainOutputPaths(["a/x.jpg", "b/x.png"], out),
      /x-2\.cam\.png exists; nothing was written \(pass --overwrite/,
    );
    assert.equal(await Deno.readTextFile(paths[1]), "keep");
    await explainOutputPaths(["a/x.jpg", "b/x.png"], out, { overwrite: true });
    await Deno.writeTextFile(join(dir, "file"), "");
    await assert.rejects(
      () => explainOutputPaths(["a.jpg"], join(dir, "file")),
      /not a folder/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task predict --explain: one overlay PNG per image on ONNX Runtime and TF.js, equal to the in-process CAM overlay", async () => {
  const fx = await getFixtures();
  const runDir = await savedRun();
  try {
    const folder = join(fx.datasetDir, "validation", "cats");
    const files = await collectImageFiles([folder]);
    // In process: the layers model's CAM of each predicted class.
    const saved = await loadModel(runDir);
    const graph = await camGraphOf(saved.model);
    assert.deepEqual(graph.mapShape.slice(0, 2), [2, 2]);
    const want = new Map<string, Explanation>();
    const preds = await predictFiles(saved, files, {
      explain: { graph, onImage: (e) => void want.set(e.prediction.file, e) },
    });
    assert.equal(want.size, files.length);
    // The explained predictions are the plain ones.
    const plain = await predictFiles(saved, files);
    assert.deepEqual(
      preds.map((p) => "label" in p && p.label),
      plain.map((p) => "label" in p && p.label),
    );
    saved.model.dispose();

    for (
      const [engine, extra] of [["onnxruntime", ["--allow-ffi"]], [
        "tfjs",
        [],
      ]] as const
    ) {
      const out = join(runDir, `explain-${engine}`);
      const r = await runPredict(
        ["--model", runDir, "--engine", engine, "--explain", out, folder],
        [...extra],
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `engine: ${engine === "tfjs" ? "tfjs-fused" : "onnxruntime"}`,
        ),
      );
      const written = [...Deno.readDirSync(out)].map((e) => e.name).sort();
      assert.equal(written.length, files.length);
      let maxDiff = 0;
      for (const f of files) {
        const e = want.get(f)!;
        const png = join(out, `${basename(f, extname(f))}.cam.png`);
        const got = await rgbOf(png);
        const ref = camOverlay(e.pixels, e.width, e.height, e.map, 2, 2);
        assert.equal(got.length, ref.length);
        for (let i = 0; i < ref.length; i++) {
          maxDiff = Math.max(maxDiff, Math.abs(got[i] - ref[i]));
        }
      }
      // Float32 drift between engines can move a map value across one of
      // jet's 256 levels: a few units of 255 after the 0.4 blend.
      assert.ok(maxDiff <= 3, `${engine}: overlay bytes off by ${maxDiff}`);
    }

    // A second run refuses to replace the files, then replaces them when asked.
    const out = join(runDir, "explain-tfjs");
    const first = join(out, `${basename(files[0], extname(files[0]))}.cam.png`);
    const before = await Deno.readFile(first);
    const again = await runPredict([
      "--model",
      runDir,
      "--explain",
      out,
      folder,
    ]);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /exists; nothing was written \(pass --overwrite/,
    );
    assert.deepEqual(await Deno.readFile(first), before);
    const forced = await runPredict(
      ["--model", runDir, "--explain", out, "--overwrite", folder],
    );
    assert.equal(forced.code, 0, forced.stderr);
    const usage = await runPredict(
      ["--model", runDir, "--explain", out, "--eval", folder],
    );
    assert.equal(usage.code, 2);
  } finally {
    await Deno.remove(runDir, { recursive: true });
  }
});
