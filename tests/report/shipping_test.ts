/**
 * `output.quantize` end to end on the cpu backend: a real fixture run
 * writes model/float16/, model/uint8/ and model/uint16/, and its
 * `summary.json` and `report.html` give each one's measured costs. The
 * numbers are checked against an independent measurement (each folder
 * loaded with plain tf.loadLayersModel, predicted with TF.js) and against
 * bounds computed from the float32 model's own margins.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { loadModel } from "../../src/model/model_io.ts";
import type { RunSummary } from "../../src/report/summary.ts";
import { createOnnxEngine } from "../../src/engine/onnx_runtime.ts";
import { exists } from "../_helpers/data.ts";
import { predict, trainEnv, validationImages } from "../_helpers/train.ts";

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

/** Rows of a `[n, k]` probability array. */
function rowsOf(p: Float32Array, k: number): number[][] {
  return Array.from(
    { length: p.length / k },
    (_, i) => Array.from(p.subarray(i * k, (i + 1) * k)),
  );
}
/** MODEL_CARD.md lists every measured variant with the summary's numbers. */
async function assertModelCardVariants(
  dir: string,
  variants: readonly {
    variant: string;
    path: string;
    agreement: number;
    accuracy: number;
    written: boolean;
  }[],
): Promise<void> {
  const card = await Deno.readTextFile(join(dir, "MODEL_CARD.md"));
  const at = card.indexOf("## Quantized variants");
  assert.ok(at >= 0, "MODEL_CARD.md has a Quantized variants section");
  const section = card.slice(at, card.indexOf("\n## ", at + 1));
  for (const v of variants) {
    const row = section.split("\n").find((l) => l.includes(`\`${v.path}\``));
    assert.ok(row, `model card row for ${v.path}`);
    const cells = row.split("|").map((c) => c.trim());
    assert.equal(cells[2], v.variant);
    assert.equal(cells[6], `${(100 * v.agreement).toFixed(1)} %`);
    assert.equal(cells[8], `${(100 * v.accuracy).toFixed(1)} %`);
    assert.ok(cells[9].startsWith(v.written ? "yes" : "no"), row);
  }
}
const argmax = (r: number[]) => r.indexOf(Math.max(...r));
/** Top probability minus the second: how far an image is from flipping. */
function margin(r: number[]): number {
  const s = [...r].sort((a, b) => b - a);
  return s[0] - s[1];
}

Deno.test("output.quantize: every variant written, loadable, and measured against float32 in summary.json and report.html", async () => {
  const r = await env.run({
    train: { epochs: 3 },
    output: { quantize: ["float16", "uint8", "uint16"] },
  });
  try {
    const summary = JSON.parse(
      await Deno.readTextFile(join(r.dir, "summary.json")),
    ) as RunSummary;
    const shipping = summary.shipping!;
    assert.ok(shipping, "summary.json has shipping");
    assert.deepEqual(shipping.tfjs.map((v) => v.variant), [
      "float32",
      "float16",
      "uint8",
      "uint16",
    ]);
    const { xs, labels } = await validationImages(r.config);
    const k = summary.classNames.length;
    assert.equal(shipping.images, labels.length);
    const float = rowsOf(await predict(r.model, xs), k);
    const floatBytes =
      (await Deno.stat(join(r.dir, "model", "weights.bin"))).size;
    for (const v of shipping.tfjs) {
      assert.equal(v.count, labels.length);
      assert.ok(v.written);
      if (v.variant === "float32") {
        assert.deepEqual(
          [v.agreement, v.maxAbsDiff, v.sizeRatio],
          [1, 0, 1],
        );
        assert.equal(v.bytes, floatBytes);
      }
      // Independent measurement: the folder through tf.loadLayersModel, on TF.js.
      const saved = await loadModel(join(r.dir, v.path));
      const probs = rowsOf(await predict(saved.model, xs), k);
      saved.model.dispose();
      let bytes = 0;
      for await (const e of Deno.readDir(join(r.dir, v.path))) {
        if (e.name.endsWith(".bin")) {
          bytes += (await Deno.stat(join(r.dir, v.path, e.name))).size;
        }
      }
      assert.equal(v.bytes, bytes, `${v.variant} bytes`);
      const ratio = { float32: 1, float16: 0.5, uint16: 0.5, uint8: 0.25 }[
        v.variant
      ];
      assert.equal(v.sizeRatio, ratio, `${v.variant} size ratio`);
      let diff = 0, agree = 0, correct = 0, near = 0, sure = 0;
      probs.forEach((p, i) => {
        p.forEach((x, c) => diff = Math.max(diff, Math.abs(x - float[i][c])));
        if (argmax(p) === argmax(float[i])) agree++;
        if (argmax(p) === labels[i]) correct++;
      });
      // ONNX Runtime (which measured the summary) and TF.js differ by float
      // rounding (≤ 2.5e-4 on this fixture, see run_e2e_test.ts): only
      // images within that of a tie may be counted differently.
      const engineTol = 2.5e-4;
      float.forEach((p) => {
        if (margin(p) <= 2 * (diff + engineTol)) near++;
        if (margin(p) > 2 * (v.maxAbsDiff + engineTol)) sure++;
      });
      const n = labels.length;
      assert.ok(
        Math.abs(v.maxAbsDiff - diff) <= engineTol * 2,
        `${v.variant}: summary max |Δp| ${v.maxAbsDiff}, TF.js ${diff}`,
      );
      assert.ok(
        Math.abs(v.agreement - agree / n) <= near / n,
        `${v.variant}: agreement ${v.agreement} vs TF.js ${agree / n}`,
      );
      assert.ok(
        Math.abs(v.accuracy - correct / n) <= near / n,
        `${v.variant}: accuracy ${v.accuracy} vs TF.js ${correct / n}`,
      );
      // Every image whose float32 margin exceeds twice the largest change
      // must keep its class: a bound from the float model itself.
      assert.ok(
        v.agreement >= sure / n,
        `${v.variant}: agreement ${v.agreement} < ${sure}/${n} images with margin > 2·max|Δp|`,
      );
    }
    // float16 changes probabilities less than uint8 (≥ 8 more mantissa bits).
    const by = Object.fromEntries(shipping.tfjs.map((v) => [v.variant, v]));
    assert.ok(by.float16.maxAbsDiff < by.uint8.maxAbsDiff);
    assert.ok(by.uint16.maxAbsDiff < by.uint8.maxAbsDiff);
    xs.dispose();
    const html = await Deno.readTextFile(join(r.dir, "report.html"));
    assert.match(html, /<section id="quantized"/);
    for (const v of shipping.tfjs) {
      assert.ok(html.includes(`<code>${v.path}</code>`), v.path);
    }
    assert.ok(r.logs.some((l) => /^quantized uint8: model\/uint8\//.test(l)));
    await assertModelCardVariants(r.dir, shipping.tfjs);
  } finally {
    r.model.dispose();
  }
});

Deno.test("output.quantize off (default): no variant folders, no shipping record", async () => {
  const r = await env.run({ train: { epochs: 1 } });
  try {
    const summary = JSON.parse(
      await Deno.readTextFile(join(r.dir, "summary.json")),
    );
    assert.equal("shipping" in summary, false);
    const entries: string[] = [];
    for await (const e of Deno.readDir(join(r.dir, "model"))) {
      entries.push(e.name);
    }
    assert.deepEqual(entries.sort(), [
      "labels.json",
      "metadata.json",
      "model.json",
      "model.onnx",
      "preprocessing.json",
      "weights.bin",
    ]);
    assert.ok(
      !(await Deno.readTextFile(join(r.dir, "report.html"))).includes(
        'id="quantized"',
      ),
    );
  } finally {
    r.model.dispose();
  }
});

Deno.test("output.onnxQuantize: model.fp16.onnx and model.int8.onnx written, run in ONNX Runtime, measured against model.onnx", async () => {
  const r = await env.run({
    train: { epochs: 3 },
    output: {
      onnxQuantize: ["fp16", "int8"],
      onnxInt8MinAgreement: 0,
      onnxInt8CalibrationImages: 16,
    },
  });
  try {
    const summary = JSON.parse(
      await Deno.readTextFile(join(r.dir, "summary.json")),
    ) as RunSummary;
    const shipping = summary.shipping!;
    assert.deepEqual(shipping.tfjs, []);
    const onnx = shipping.onnx!;
    assert.deepEqual(onnx.map((v) => v.variant), ["fp32", "fp16", "int8"]);
    await assertModelCardVariants(r.dir, onnx);
    assert.deepEqual(shipping.calibration, {
      method: "minmax",
      images: Math.min(16, summary.images.train),
      tensors: shipping.calibration!.tensors,
    });
    assert.ok(shipping.calibration!.tensors > 50); // every Conv output and Add
    const { xs, labels } = await validationImages(r.config);
    const k = summary.classNames.length;
    const n = labels.length;
    const input = await xs.data() as Float32Array;
    const runFile = async (path: string) => {
      const engine = await createOnnxEngine(
        await Deno.readFile(join(r.dir, path)),
      );
      try {
        return rowsOf((await engine.run(input, xs.shape))[0].data, k);
      } finally {
        await engine.dispose();
      }
    };
    const float = await runFile("model/model.onnx");
    const fp32Bytes = (await Deno.stat(join(r.dir, "model/model.onnx"))).size;
    for (const v of onnx) {
      assert.ok(v.written, `${v.variant} written (min agreement 0)`);
      const bytes = (await Deno.stat(join(r.dir, v.path))).size;
      assert.equal(v.bytes, bytes);
      assert.equal(v.sizeRatio, bytes / fp32Bytes);
      const probs = await runFile(v.path);
      let diff = 0, agree = 0, correct = 0, near = 0, sure = 0;
      probs.forEach((p, i) => {
        p.forEach((x, c) => diff = Math.max(diff, Math.abs(x - float[i][c])));
        if (argmax(p) === argmax(float[i])) agree++;
        if (argmax(p) === labels[i]) correct++;
      });
      // Same engine and images, other batch sizes: equal to float rounding.
      const tol = 1e-5;
      float.forEach((p) => {
        if (margin(p) <= 2 * (diff + tol)) near++;
        if (margin(p) > 2 * (v.maxAbsDiff + tol)) sure++;
      });
      assert.ok(
        Math.abs(v.maxAbsDiff - diff) <= tol,
        `${v.variant}: ${v.maxAbsDiff} vs ${diff}`,
      );
      assert.ok(
        Math.abs(v.agreement - agree / n) <= near / n,
        `${v.variant} agreement`,
      );
      assert.ok(
        Math.abs(v.accuracy - correct / n) <= near / n,
        `${v.variant} accuracy`,
      );
      assert.ok(
        v.agreement >= sure / n,
        `${v.variant}: agreement below the margin bound`,
      );
      if (v.variant !== "fp32") {
        assert.ok(v.maxAbsDiff > 0, `${v.variant} changed nothing`);
      }
    }
    assert.ok(onnx[1].sizeRatio < 0.55, `fp16 ${onnx[1].sizeRatio}`);
    assert.ok(onnx[2].sizeRatio < 0.4, `int8 ${onnx[2].sizeRatio}`);
    xs.dispose();
    const html = await Deno.readTextFile(join(r.dir, "report.html"));
    assert.ok(html.includes("<code>model/model.int8.onnx</code>"));
    assert.match(html, /int8 activations calibrated minmax/);
  } finally {
    r.model.dispose();
  }
});

Deno.test("output.onnxInt8MinAgreement: model.int8.onnx (percentile-calibrated) is kept exactly when its measured agreement reaches the threshold", async () => {
  const r = await env.run({
    train: { epochs: 2 },
    output: {
      onnxQuantize: "int8",
      onnxInt8MinAgreement: 1,
      onnxInt8CalibrationImages: 8,
      onnxInt8Calibration: "percentile",
    },
  });
  try {
    const summary = JSON.parse(
      await Deno.readTextFile(join(r.dir, "summary.json")),
    ) as RunSummary;
    const int8 = summary.shipping!.onnx!.find((v) => v.variant === "int8")!;
    assert.equal(summary.shipping!.calibration!.method, "percentile");
    const kept = int8.agreement >= 1;
    assert.equal(int8.written, kept);
    assert.equal(await exists(join(r.dir, "model", "model.int8.onnx")), kept);
    assert.ok(await exists(join(r.dir, "model", "model.onnx")));
    assert.equal(
      r.logs.some((l) =>
        /^warning: model\.int8\.onnx not written: .* below output\.onnxInt8MinAgreement \(1\)/
          .test(l)
      ),
      !kept,
    );
    if (!kept) assert.match(int8.note!, /< output\.onnxInt8MinAgreement 1/);
  } finally {
    r.model.dispose();
  }
});

Deno.test("engine.frozenInt8: features from the int8 frozen base, cached under their own key, with their accuracy cost against float32", async () => {
  const cacheDir = join(env.dir, "cache-int8");
  const r = await env.run({
    data: { cacheDir },
    train: { epochs: 3 },
    engine: { frozenInt8: true },
    output: { onnxInt8CalibrationImages: 16 },
  });
  try {
    const summary = JSON.parse(
      await Deno.readTextFile(join(r.dir, "summary.json")),
    ) as RunSummary;
    assert.match(
      summary.frozenEngine!.id,
      /^onnxruntime-node@[\d.]+\/int8-minmax-16-seed\d+-[0-9a-f]{12}$/,
    );
    assert.match(
      summary.frozenEngine!.reason,
      /^engine\.frozenInt8: static int8 QDQ/,
    );
    const cost = summary.frozenInt8Cost!;
    // The int8 side is the run's own evaluation.
    assert.equal(cost.accuracy, summary.evaluation!.report.accuracy);
    // The float side, measured independently with TF.js.
    const { xs, labels } = await validationImages(r.config);
    const k = summary.classNames.length;
    const float = rowsOf(await predict(r.model, xs), k);
    xs.dispose();
    const n = labels.length;
    const engineTol = 2.5e-4; // ONNX Runtime vs TF.js, see run_e2e_test.ts
    const near = float.filter((p) => margin(p) <= 2 * engineTol).length;
    const correct = float.filter((p, i) => argmax(p) === labels[i]).length;
    assert.equal(cost.count, n);
    assert.ok(Math.abs(cost.floatAccuracy - correct / n) <= near / n);
    const sure = float.filter((p) =>
      margin(p) > 2 * (cost.maxAbsDiff + engineTol)
    ).length;
    assert.ok(cost.agreement >= sure / n - near / n);
    const html = await Deno.readTextFile(join(r.dir, "report.html"));
    assert.match(html, /<p id="frozen-int8">/);
    assert.ok(r.logs.some((l) =>
      l.startsWith("engine.frozenInt8: validation accuracy")
    ));
    // A float run on the same cache computes its own features.
    const f = await env.run({ data: { cacheDir }, train: { epochs: 1 } });
    try {
      const fs = JSON.parse(
        await Deno.readTextFile(join(f.dir, "summary.json")),
      ) as RunSummary;
      assert.equal(fs.featureCache.reused, false);
      assert.ok(!fs.frozenEngine!.id.includes("int8"));
      assert.equal("frozenInt8Cost" in fs, false);
    } finally {
      f.model.dispose();
    }
  } finally {
    r.model.dispose();
  }
});
