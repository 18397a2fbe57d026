import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "../../src/deps/tf.ts";
import { buildClassifier } from "../../src/model/classifier.ts";
import { saveModel } from "../../src/model/model_io.ts";
import {
  affineQuantize,
  quantizeWeightData,
  roundHalfEven,
  saveQuantizedModel,
  shardWeights,
  WEIGHT_SHARD_BYTES,
  type WeightQuantization,
} from "../../src/model/quantized_weights.ts";

Deno.test("roundHalfEven rounds ties to the even integer", () => {
  const cases: [number, number][] = [
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [-0.5, -0],
    [-1.5, -2],
    [-2.5, -2],
    [2.4999, 2],
    [2.5001, 3],
  ];
  for (const [x, want] of cases) assert.equal(roundHalfEven(x), want, `${x}`);
});

Deno.test("affineQuantize: tfjs-converter's nudged range, clipping, constant tensors", () => {
  // min -0.1, max 1.2 (the converter's docstring example): 0 → 20, -0.1 → 0, 1.2 → 255.
  const q = affineQuantize(new Float32Array([0, -0.1, 1.2]), "uint8");
  const scale = (Math.fround(1.2) - Math.fround(-0.1)) / 255;
  assert.equal(q.scale, scale);
  const zero = roundHalfEven(-Math.fround(-0.1) / scale);
  assert.equal(q.min, -zero * scale);
  assert.deepEqual([...q.data], [20, 0, 255]);
  assert.equal(q.data[0] * q.scale + q.min, 0);
  // A range without 0 is not nudged.
  const pos = affineQuantize(new Float32Array([1, 2, 3]), "uint16");
  assert.equal(pos.min, 1);
  assert.equal(pos.scale, 2 / 65535);
  assert.deepEqual([...pos.data], [0, 32768, 65535]); // 32767.5 → even
  const flat = affineQuantize(new Float32Array([0.25, 0.25]), "uint8");
  assert.deepEqual({ min: flat.min, scale: flat.scale, data: [...flat.data] }, {
    min: 0.25,
    scale: 1,
    data: [0, 0],
  });
  assert.throws(
    () => affineQuantize(new Float32Array([0, NaN]), "uint8"),
    /non-finite/,
  );
});

Deno.test("quantizeWeightData refuses data that does not match the manifest", () => {
  const specs = [{ name: "w", shape: [2], dtype: "float32" as const }];
  assert.throws(
    () => quantizeWeightData(specs, new Uint8Array(4), "uint8"),
    /does not fit/,
  );
  assert.throws(
    () => quantizeWeightData(specs, new Uint8Array(12), "uint8"),
    /describes 8/,
  );
});

Deno.test("shardWeights: 4 MiB shards named as tfjs-converter names them", () => {
  const data = new Uint8Array(WEIGHT_SHARD_BYTES * 2 + 3);
  const shards = shardWeights(data);
  assert.deepEqual(shards.map((s) => [s.name, s.bytes.length]), [
    ["group1-shard1of3.bin", WEIGHT_SHARD_BYTES],
    ["group1-shard2of3.bin", WEIGHT_SHARD_BYTES],
    ["group1-shard3of3.bin", 3],
  ]);
});

/** Every weight of `model`, by manifest name, as float32. */
async function weightsByName(
  model: tf.LayersModel,
): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  await model.save(tf.io.withSaveHandler((a) => {
    const data = new Uint8Array(a.weightData as ArrayBuffer);
    let offset = 0;
    for (const s of a.weightSpecs ?? []) {
      const n = s.shape.reduce((x, y) => x * y, 1);
      out.set(
        s.name,
        new Float32Array(data.slice(offset, offset + 4 * n).buffer),
      );
      offset += 4 * n;
    }
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  return out;
}

Deno.test("quantized models load with stock tf.loadLayersModel over HTTP, dequantized by the manifest's formula", async () => {
  await tf.setBackend("cpu");
  const { model } = await buildClassifier({
    imageSize: [32, 32],
    alpha: 0.35,
    weights: null,
    numClasses: 3,
    seed: 3,
  });
  const dir = await Deno.makeTempDir();
  const server = serveDir(dir);
  try {
    await saveModel(model, join(dir, "model"), {
      classNames: ["a", "b", "c"],
      preprocessing: {
        imageSize: [32, 32],
        interpolation: "bilinear",
        preprocess: "mobilenet_v2",
      },
    });
    const original = await weightsByName(model);
    const float32Bytes = (await Deno.stat(join(dir, "model", "weights.bin")))
      .size;
    const x = tf.randomUniform([2, 32, 32, 3], -1, 1, "float32", 5);
    const want = await (model.predict(x) as tf.Tensor).data();
    // Small shards, so that weights span shard boundaries.
    const shardBytes = 50_000;
    for (
      const dtype of ["uint8", "uint16", "float16"] as WeightQuantization[]
    ) {
      const files = await saveQuantizedModel(
        join(dir, "model"),
        dtype,
        join(dir, dtype),
        { shardBytes },
      );
      const ratio = files.weightBytes / float32Bytes;
      assert.equal(ratio, dtype === "uint8" ? 0.25 : 0.5);
      assert.equal(
        files.shards.length,
        Math.ceil(files.weightBytes / shardBytes),
      );
      for (const name of ["labels.json", "preprocessing.json"]) {
        assert.deepEqual(
          await Deno.readFile(join(dir, dtype, name)),
          await Deno.readFile(join(dir, "model", name)),
        );
      }
      // The manifest and shards, read back independently.
      const json = JSON.parse(
        await Deno.readTextFile(join(dir, dtype, "model.json")),
      );
      const [group] = json.weightsManifest;
      assert.deepEqual(group.paths, files.shards);
      const shards = await Promise.all(
        group.paths.map((p: string) => Deno.readFile(join(dir, dtype, p))),
      );
      const bytes = new Uint8Array(
        shards.reduce((a: number, s: Uint8Array) => a + s.length, 0),
      );
      let at = 0;
      for (const s of shards) {
        bytes.set(s, at);
        at += s.length;
      }
      assert.ok(shards.slice(0, -1).every((s) => s.length === shardBytes));

      const loaded = await tf.loadLayersModel(
        `${server.url}/${dtype}/model.json`,
      );
      const loadedWeights = await weightsByName(loaded);
      let offset = 0;
      let worst = 0;
      for (const spec of group.weights) {
        const n = spec.shape.reduce((a: number, b: number) => a * b, 1);
        const orig = original.get(spec.name)!;
        const got = loadedWeights.get(spec.name)!;
        assert.equal(spec.dtype, "float32");
        assert.equal(spec.quantization.dtype, dtype);
        assert.equal(spec.quantization.original_dtype, "float32");
        if (dtype === "float16") {
          const half = new Uint16Array(
            bytes.slice(offset, offset + 2 * n).buffer,
          );
          offset += 2 * n;
          for (let i = 0; i < n; i++) {
            // Formula: IEEE half → float; bound: half an ulp of float16.
            assert.equal(got[i], new Float16Array(half.buffer)[i]);
            const bound = Math.max(Math.abs(orig[i]) * 2 ** -11, 2 ** -25);
            assert.ok(Math.abs(got[i] - orig[i]) <= bound, spec.name);
            worst = Math.max(worst, Math.abs(got[i] - orig[i]));
          }
        } else {
          const width = dtype === "uint8" ? 1 : 2;
          const raw = bytes.slice(offset, offset + width * n);
          offset += width * n;
          const q = width === 1 ? raw : new Uint16Array(raw.buffer);
          const { scale, min } = spec.quantization;
          for (let i = 0; i < n; i++) {
            assert.equal(got[i], Math.fround(q[i] * scale + min), spec.name);
            // Bound: half a step, plus float32 rounding of the result.
            const bound = scale / 2 + Math.abs(orig[i]) * 2 ** -23 + 1e-12;
            assert.ok(
              Math.abs(got[i] - orig[i]) <= bound,
              `${spec.name}[${i}]: ${got[i]} vs ${orig[i]} (scale ${scale})`,
            );
            worst = Math.max(worst, Math.abs(got[i] - orig[i]));
          }
        }
      }
      assert.equal(offset, bytes.length);
      assert.ok(worst > 0, `${dtype} changed no weight`);
      const y = await (loaded.predict(x) as tf.Tensor).data();
      assert.equal(y.length, want.length);
      loaded.dispose();
    }
  } finally {
    await server.close();
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Serves the files under `root` on 127.0.0.1 (port chosen by the OS). */
function serveDir(root: string) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname);
      if (path.includes("..")) return new Response("bad", { status: 400 });
      try {
        return new Response(await Deno.readFile(join(root, path)));
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}
