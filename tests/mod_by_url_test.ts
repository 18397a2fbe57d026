import assert from "node:assert/strict";
import { runScriptByUrl } from "./_helpers/by_url.ts";

Deno.test({
  name:
    "mod.ts imported by URL from a folder without deno.json resolves and runs",
  sanitizeResources: false,
  fn: async () => {
    const r = await runScriptByUrl(
      (origin) =>
        `import * as dt from "${origin}/mod.ts";
const config = await dt.loadConfig(null, ["train.epochs=3", "data.imageSize=[96,96]"]);
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

Deno.test({
  name:
    "each stage's mod.ts imported by URL resolves, with the same exports as locally",
  sanitizeResources: false,
  fn: async () => {
    // Every stage module of deno.json's `exports` map.
    const exportsMap = JSON.parse(
      await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
    ).exports as Record<string, string>;
    const stages = Object.values(exportsMap)
      .filter((p) => p.startsWith("./src/"))
      .map((p) => p.split("/")[2]);
    assert.equal(stages.length, 11);
    const r = await runScriptByUrl(
      (origin) =>
        `const out: Record<string, string[]> = {};
for (const stage of ${JSON.stringify(stages)}) {
  out[stage] = Object.keys(await import(\`${origin}/src/\${stage}/mod.ts\`)).sort();
}
console.log(JSON.stringify(out));
`,
      ["--allow-read", "--allow-env", "--allow-sys"],
    );
    assert.equal(r.code, 0, `script failed:\n${r.stderr}`);
    const byUrl = r.json as Record<string, string[]>;
    for (const stage of stages) {
      const local = Object.keys(await import(`../src/${stage}/mod.ts`)).sort();
      assert.ok(local.length > 0, stage);
      assert.deepEqual(byUrl[stage], local, `src/${stage}/mod.ts`);
    }
  },
});
