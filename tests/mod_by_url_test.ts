import assert from "node:assert/strict";
import { runScriptByUrl } from "./by_url_helpers.ts";

Deno.test({
  name:
    "mod.ts imported by URL from a folder without deno.json resolves and runs",
  sanitizeResources: false,
  fn: async () => {
    const r = await runScriptByUrl(
      (origin) =>
        `import * as dt from "${origin}/mod.ts";
const config = await dt.loadConfig(null, ["train.epochs=3", "data.imageSize=[96,96]"]);
dt.silenceNodeBanner();
await dt.selectBackend("cpu");
const { model } = await dt.buildClassifier({ imageSize: [32, 32], alpha: 0.35, weights: null, numClasses: 2, seed: 1 });
const p = model.predict(dt.mobileNetV2Preprocess(dt.tf.zeros([1, 32, 32, 3]))) as dt.tf.Tensor;
console.log(JSON.stringify({
  outputShape: p.shape,
  epochs: config.train.epochs,
  imageSize: config.data.imageSize,
  exports: Object.keys(dt).sort(),
}));
`,
      ["--allow-read", "--allow-env", "--allow-sys"],
    );
    assert.equal(r.code, 0, `script failed:\n${r.stderr}`);
    const result = r.json as Record<string, unknown>;
    assert.equal(result.epochs, 3);
    assert.deepEqual(result.outputShape, [1, 2]);
    assert.deepEqual(result.imageSize, [96, 96]);
    const local = Object.keys(await import("../mod.ts")).sort();
    assert.deepEqual(result.exports, local, "same exports by URL as locally");
  },
});
