/**
 * `deno task predict --engine onnxruntime-int8` (and `-fp16`): the run's
 * quantized ONNX file as written, in ONNX Runtime, gives the probabilities
 * that file gives when run directly on the same preprocessed images.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "../../src/deps/tf.ts";
import { buildClassifier } from "../../src/model/classifier.ts";
import { saveModel } from "../../src/model/model_io.ts";
import { exportOnnx } from "../../src/engine/onnx_export.ts";
import {
  exportOnnxFloat16,
  exportOnnxInt8,
} from "../../src/engine/onnx_quantize.ts";
import {
  createOnnxEngine,
  tryLoadOnnxRuntime,
} from "../../src/engine/onnx_runtime.ts";
import { collectImageFiles } from "../../src/evaluate/predict.ts";
import { decodeAndResize } from "../../src/data/resize.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import { getFixtures } from "../_helpers/data.ts";
import { calibratedH5 } from "../_helpers/train.ts";

const loaded = await tryLoadOnnxRuntime();
const CLASSES = ["cats", "dogs", "horses"];
const SIZE = 32;

async function predictTask(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      "--allow-ffi",
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

Deno.test({
  name:
    "deno task predict --engine onnxruntime-int8 / -fp16 runs model.int8.onnx / model.fp16.onnx as written",
  ignore: !loaded.ok,
  async fn() {
    silenceNodeBanner();
    await tf.setBackend("cpu");
    const fx = await getFixtures();
    const { model } = await buildClassifier({
      imageSize: [SIZE, SIZE],
      alpha: 0.35,
      weights: await calibratedH5(3),
      numClasses: CLASSES.length,
      seed: 5,
    });
    const runDir = await Deno.makeTempDir();
    const dir = join(runDir, "model");
    try {
      await saveModel(model, dir, {
        classNames: CLASSES,
        preprocessing: {
          imageSize: [SIZE, SIZE],
          interpolation: "bilinear",
          preprocess: "mobilenet_v2",
        },
      });
      const folder = join(fx.datasetDir, "validation");
      const files = await collectImageFiles([folder]);
      // The images as predict prepares them, for the direct run below.
      const pixels = await Promise.all(
        files.map(async (f) =>
          decodeAndResize(await Deno.readFile(f), SIZE, SIZE, "bilinear")
        ),
      );
      const input = new Float32Array(files.length * SIZE * SIZE * 3);
      pixels.forEach((p, i) =>
        p.forEach((v, j) => input[i * p.length + j] = v / 127.5 - 1)
      );
      await Deno.writeFile(join(dir, "model.onnx"), exportOnnx(model));
      const missing = await predictTask([
        "--model",
        runDir,
        "--engine",
        "onnxruntime-int8",
        folder,
      ]);
      assert.equal(missing.code, 1);
      assert.match(
        missing.stderr,
        /no .*model\.int8\.onnx: train with output\.onnxQuantize including "int8"/,
      );
      const int8 = await exportOnnxInt8(model, [{
        data: input,
        shape: [files.length, SIZE, SIZE, 3],
      }]);
      await Deno.writeFile(join(dir, "model.int8.onnx"), int8.bytes);
      await Deno.writeFile(
        join(dir, "model.fp16.onnx"),
        exportOnnxFloat16(model),
      );
      for (const kind of ["int8", "fp16"]) {
        const engine = await createOnnxEngine(
          await Deno.readFile(join(dir, `model.${kind}.onnx`)),
        );
        const [direct] = await engine.run(input, [files.length, SIZE, SIZE, 3]);
        await engine.dispose();
        const r = await predictTask([
          "--model",
          runDir,
          "--json",
          "--engine",
          `onnxruntime-${kind}`,
          folder,
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(
            `engine: onnxruntime-node@[\\d.]+/${kind} \\(model\\.${kind}\\.onnx as written`,
          ),
        );
        const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
        assert.equal(lines.length, files.length);
        lines.forEach((l, i) => {
          assert.equal(l.file, files[i]);
          CLASSES.forEach((c, k) => {
            const d = Math.abs(l.probabilities[c] - direct.data[i * 3 + k]);
            // Same file, same engine; other batch split: float rounding only.
            assert.ok(d <= 1e-6, `${kind} ${files[i]} ${c}: ${d}`);
          });
        });
      }
      const explain = await predictTask([
        "--model",
        runDir,
        "--engine",
        "onnxruntime-int8",
        "--explain",
        join(runDir, "cam"),
        folder,
      ]);
      assert.equal(explain.code, 2);
      assert.match(
        explain.stderr,
        /--explain: not with --engine onnxruntime-int8/,
      );
    } finally {
      model.dispose();
      await Deno.remove(runDir, { recursive: true });
    }
  },
});
