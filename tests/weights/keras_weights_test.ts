import { createHash } from "node:crypto";
/**
 * Keras `.h5` weights: files generated in Keras' legacy layout (by the
 * fixture generator, and one written by hand here with h5wasm directly) load
 * into MobileNetV2 and give the source model's weights and predictions;
 * mismatches fail with one error naming every layer and shape; the ImageNet
 * URL and the `model.weights` resolution follow Keras.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as tf from "../../src/deps/tf.ts";
import { importH5wasm } from "../../src/deps/hdf5.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import type { FetchOptions, FetchResult } from "../../src/data/fetch.ts";
import { buildClassifier } from "../../src/model/classifier.ts";
import {
  KerasWeightsError,
  readKerasWeights,
} from "../../src/weights/keras_h5.ts";
import { kerasWeightOrder } from "../../src/weights/_keras_match.ts";
import {
  imagenetWeightsUrl,
  resolveImagenetRows,
  resolveWeightsSource,
} from "../../src/weights/keras_imagenet.ts";
import { loadKerasWeights } from "../../src/weights/keras_weights.ts";
import { saveKerasWeights } from "../../fixtures/keras_h5_writer.ts";
import { mobileNetV2 } from "../../src/model/mobilenet_v2.ts";
import { makeMobileNetV2H5, randomizeWeights } from "../../fixtures/make_h5.ts";

await tf.setBackend("cpu");
silenceNodeBanner();

function assertSameWeights(a: tf.LayersModel, b: tf.LayersModel) {
  // By name: a frozen model lists its weights in another order.
  const byName = new Map(b.weights.map((v) => [v.originalName, v]));
  assert.equal(a.weights.length, b.weights.length);
  for (const w of a.weights) {
    const v = byName.get(w.originalName);
    assert.ok(v, w.originalName);
    assert.deepEqual(w.shape, v.shape);
    assert.deepEqual(w.read().dataSync(), v.read().dataSync(), w.originalName);
  }
}

function predictions(m: tf.LayersModel, size: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.randomUniform([2, size, size, 3], -1, 1, "float32", 11);
    return (m.predict(x) as tf.Tensor).dataSync() as Float32Array;
  });
}

async function h5Attrs(bytes: Uint8Array, path: string) {
  const h5 = await importH5wasm();
  const mod = await h5.ready;
  const name = `/inspect_${crypto.randomUUID()}.h5`;
  mod.FS.writeFile(name, bytes);
  const f = new h5.File(name, "r");
  try {
    const obj = path === "/" ? f : f.get(path);
    // deno-lint-ignore no-explicit-any
    const attrs = (obj as any).attrs as Record<string, any>;
    return Object.fromEntries(
      Object.keys(attrs).map((k) => [k, {
        value: attrs[k].value,
        vlen: attrs[k].metadata.vlen as boolean,
      }]),
    );
  } finally {
    f.close();
    mod.FS.unlink(name);
  }
}

for (const strings of ["fixed", "vlen"] as const) {
  Deno.test(`.h5 with ${strings}-length names: every weight and prediction equals the source model's`, async () => {
    const { model: source, bytes } = await makeMobileNetV2H5({
      alpha: 0.35,
      rows: 32,
      includeTop: true,
      classes: 10,
      strings,
      seed: 3,
    });
    const target = mobileNetV2({
      inputShape: [32, 32, 3],
      alpha: 0.35,
      classes: 10,
    });
    try {
      const before = predictions(target, 32);
      const report = await loadKerasWeights(target, bytes);
      assert.equal(report.layers.length, 105);
      assert.equal(report.weights, 262);
      assert.deepEqual(report.skipped, []);
      assertSameWeights(source, target);
      const want = predictions(source, 32);
      assert.deepEqual(predictions(target, 32), want);
      assert.notDeepEqual(before, want);

      // The Keras layout, as h5py writes it.
      const root = await h5Attrs(bytes, "/");
      assert.equal(root.layer_names.vlen, strings === "vlen");
      assert.deepEqual(
        root.layer_names.value,
        source.layers.map((l) => l.name),
      );
      assert.equal(root.backend.value, "tensorflow");
      const bn = await h5Attrs(bytes, "bn_Conv1");
      assert.deepEqual(bn.weight_names.value, [
        "bn_Conv1/gamma:0",
        "bn_Conv1/beta:0",
        "bn_Conv1/moving_mean:0",
        "bn_Conv1/moving_variance:0",
      ]);
      const relu = await h5Attrs(bytes, "Conv1_relu");
      assert.equal(relu.weight_names.value.length, 0);
      const file = await readKerasWeights(bytes);
      const k = file.layers.get("Conv1")![0];
      assert.equal(k.name, "Conv1/kernel:0");
      assert.deepEqual(k.shape, [3, 3, 3, 16]);
      assert.deepEqual(
        file.layers.get("predictions")!.map((w) => w.name),
        ["predictions/kernel:0", "predictions/bias:0"],
      );
    } finally {
      source.dispose();
      target.dispose();
    }
  });
}

Deno.test("a hand-written Keras full-model file (model_weights, chunked names, float64) loads", async () => {
  // A small Keras-like model, written with h5wasm directly (not saveKerasWeights).
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [4, 4, 2],
        filters: 3,
        kernelSize: 2,
        name: "conv",
      }),
      tf.layers.batchNormalization({ name: "bn" }),
      tf.layers.flatten({ name: "flatten" }),
      tf.layers.dense({ units: 2, name: "fc" }),
    ],
  });
  const rnd = (shape: number[], seed: number) =>
    tf.tidy(() =>
      tf.randomUniform(shape, 0.5, 1.5, "float32", seed)
        .dataSync() as Float32Array
    );
  const values: Record<string, [number[], Float32Array]> = {
    "conv/kernel:0": [[2, 2, 2, 3], rnd([2, 2, 2, 3], 1)],
    "conv/bias:0": [[3], rnd([3], 2)],
    "bn/gamma:0": [[3], rnd([3], 3)],
    "bn/beta:0": [[3], rnd([3], 4)],
    "bn/moving_mean:0": [[3], rnd([3], 5)],
    "bn/moving_variance:0": [[3], rnd([3], 6)],
    "fc/kernel:0": [[27, 2], rnd([27, 2], 7)],
    "fc/bias:0": [[2], rnd([2], 8)],
  };
  const h5 = await importH5wasm();
  const mod = await h5.ready;
  const name = `/hand_${crypto.randomUUID()}.h5`;
  const f = new h5.File(name, "w");
  f.create_attribute("model_config", "{}", null, "S");
  const mw = f.create_group("model_weights");
  // layer_names split in two chunks, as Keras does for long lists.
  mw.create_attribute("layer_names0", ["conv", "bn"], [2], "A4");
  mw.create_attribute("layer_names1", ["flatten", "fc"], [2], "A7");
  const layerWeights: Record<string, string[]> = {
    conv: ["conv/kernel:0", "conv/bias:0"],
    bn: ["bn/gamma:0", "bn/beta:0", "bn/moving_mean:0", "bn/moving_variance:0"],
    flatten: [],
    fc: ["fc/kernel:0", "fc/bias:0"],
  };
  for (const [layer, names] of Object.entries(layerWeights)) {
    const g = mw.create_group(layer);
    if (names.length === 0) {
      g.create_attribute("weight_names", new Float64Array(0), [0], "<d");
    } else if (layer === "bn") {
      g.create_attribute("weight_names", names, [names.length], "S");
    } else g.create_attribute("weight_names", names, [names.length], "A20");
    const sub = g.create_group(layer);
    // Datasets created in reverse: weight_names, not file order, decides.
    for (const wn of [...names].reverse()) {
      const [shape, data] = values[wn];
      const short = wn.split("/")[1];
      if (wn === "fc/kernel:0") {
        sub.create_dataset({
          name: short,
          data: Float64Array.from(data),
          shape,
          dtype: "<d",
        });
      } else sub.create_dataset({ name: short, data, shape, dtype: "<f" });
    }
  }
  f.close();
  const bytes = new Uint8Array(mod.FS.readFile(name));
  mod.FS.unlink(name);
  try {
    const report = await loadKerasWeights(model, bytes);
    assert.deepEqual(report.layers.map((l) => l.file), ["conv", "bn", "fc"]);
    for (const layer of model.layers) {
      kerasWeightOrder(layer).forEach((v) => {
        const [shape, data] = values[`${v.originalName}:0`];
        assert.deepEqual(v.shape, shape);
        assert.deepEqual(v.read().dataSync(), data, v.originalName);
      });
    }
  } finally {
    model.dispose();
  }
});

Deno.test("mismatched files fail with one error listing every layer and shape; the model is untouched", async () => {
  const { model: src05, bytes: b05 } = await makeMobileNetV2H5({
    alpha: 0.5,
    rows: 32,
  });
  const { model: srcTop, bytes: bTop } = await makeMobileNetV2H5({
    alpha: 0.35,
    rows: 32,
    includeTop: true,
  });
  const target = mobileNetV2({
    inputShape: [32, 32, 3],
    alpha: 0.35,
    includeTop: false,
    seed: 1,
  });
  try {
    const before = target.weights.map((w) => w.read().dataSync().slice());
    const err = await loadKerasWeights(target, b05).then(
      () => assert.fail("expected an error"),
      (e) => e,
    );
    assert.ok(err instanceof KerasWeightsError);
    assert.ok(err.problems.length > 10, err.message);
    assert.match(
      err.message,
      /layer #\d+ "block_1_project": weight "block_1_project\/kernel:0" expected shape \[1, 1, 48, 8\], found \[1, 1, 48, 16\]/,
    );
    assert.match(
      err.message,
      /"Conv_1": weight "Conv_1\/kernel:0" expected shape \[1, 1, 112, 1280\], found \[1, 1, 160, 1280\]/,
    );
    target.weights.forEach((w, i) =>
      assert.deepEqual(w.read().dataSync(), before[i])
    );

    await assert.rejects(
      () => loadKerasWeights(target, bTop),
      (e: Error) => {
        assert.ok(e instanceof KerasWeightsError);
        assert.match(
          e.message,
          /the model has 104 layers with weights, the file has 105/,
        );
        assert.match(e.message, /file "predictions"/);
        return true;
      },
    );
    // By name, the extra `predictions` layer is ignored (and a missing one skipped).
    const r = await loadKerasWeights(target, bTop, { byName: true });
    assert.equal(r.layers.length, 104);
    const top = mobileNetV2({ inputShape: [32, 32, 3], alpha: 0.35 });
    try {
      const { bytes: bNoTop } = await makeMobileNetV2H5({
        alpha: 0.35,
        rows: 32,
        seed: 9,
      });
      const r2 = await loadKerasWeights(top, bNoTop, { byName: true });
      assert.deepEqual(r2.skipped, ["predictions"]);
    } finally {
      top.dispose();
    }
  } finally {
    for (const m of [src05, srcTop, target]) m.dispose();
  }
});

Deno.test("not a Keras file, not an HDF5 file, missing file: clear errors", async () => {
  await assert.rejects(
    () => readKerasWeights(new TextEncoder().encode("not hdf5 at all")),
    /Not an HDF5 file/,
  );
  await assert.rejects(
    () => readKerasWeights("/nonexistent/w.h5"),
    /not found: \/nonexistent\/w\.h5/,
  );
  const h5 = await importH5wasm();
  const mod = await h5.ready;
  const f = new h5.File("/empty_keras.h5", "w");
  f.create_group("x");
  f.close();
  const bytes = new Uint8Array(mod.FS.readFile("/empty_keras.h5"));
  mod.FS.unlink("/empty_keras.h5");
  await assert.rejects(
    () => readKerasWeights(bytes),
    /no "layer_names" attribute/,
  );
});

Deno.test("nested bases: classifier weights round-trip, frozen or not, functional into sequential", async () => {
  const a = await buildClassifier({
    imageSize: [32, 32],
    alpha: 0.35,
    numClasses: 3,
    seed: 1,
  });
  randomizeWeights(a.model, 5);
  const bytes = await saveKerasWeights(a.model);
  const b = await buildClassifier({
    imageSize: [32, 32],
    alpha: 0.35,
    numClasses: 3,
    trainable: true,
    api: "sequential",
    seed: 2,
  });
  try {
    const file = await readKerasWeights(bytes);
    assert.deepEqual(file.layerNames, [
      "image",
      "mobilenetv2_0.35_32",
      "global_average_pooling2d",
      "dropout",
      "predictions",
    ]);
    await loadKerasWeights(b.model, bytes);
    assertSameWeights(a.base, b.base);
    assert.deepEqual(predictions(b.model, 32), predictions(a.model, 32));
  } finally {
    a.model.dispose();
    b.model.dispose();
  }
});

Deno.test("imagenetWeightsUrl: Keras' file names, Python float formatting, 224 fallback with a warning", () => {
  const base =
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/";
  assert.equal(
    imagenetWeightsUrl(1.0, 160, false),
    base + "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5",
  );
  assert.equal(
    imagenetWeightsUrl(1.0, 224, true),
    base + "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
  );
  const alphas: [number, string][] = [
    [0.35, "0.35"],
    [0.5, "0.5"],
    [0.75, "0.75"],
    [1, "1.0"],
    [1.3, "1.3"],
    [1.4, "1.4"],
  ];
  for (const [alpha, s] of alphas) {
    for (const rows of [96, 128, 160, 192, 224]) {
      const warnings: string[] = [];
      const url = imagenetWeightsUrl(alpha, rows, false, {
        warn: (m) => warnings.push(m),
      });
      const expectRows = alpha > 1 ? 224 : rows;
      assert.equal(
        url,
        `${base}mobilenet_v2_weights_tf_dim_ordering_tf_kernels_${s}_${expectRows}_no_top.h5`,
      );
      assert.equal(warnings.length, expectRows === rows ? 0 : 1);
    }
  }
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  assert.match(
    imagenetWeightsUrl(0.5, 150, false, { warn }),
    /_0\.5_224_no_top\.h5$/,
  );
  assert.match(
    imagenetWeightsUrl(0.5, 160, false, { cols: 128, warn }),
    /_0\.5_224_no_top\.h5$/,
  );
  assert.match(imagenetWeightsUrl(0.5, null, true, { warn }), /_0\.5_224\.h5$/);
  assert.equal(warnings.length, 3);
  assert.match(warnings[0], /224, 224/);
  assert.deepEqual(resolveImagenetRows(0.75, 192), {
    rows: 192,
    warning: null,
  });
  assert.throws(
    () => imagenetWeightsUrl(0.6, 160, false),
    /alpha in \{0\.35, 0\.5, 0\.75, 1\.0, 1\.3, 1\.4\}/,
  );
});

Deno.test("resolveWeightsSource: null, paths, file URLs, 'imagenet' and http(s) through the fetch step", async () => {
  const dir = await Deno.makeTempDir({ prefix: "models-weights-" });
  const { model, bytes, fileName } = await makeMobileNetV2H5({
    alpha: 0.35,
    rows: 32,
    strings: "vlen",
  });
  model.dispose();
  const local = join(dir, fileName);
  await Deno.writeFile(local, bytes);
  const opts = { alpha: 1.0, rows: 160, cacheDir: join(dir, "cache") };
  try {
    assert.equal(await resolveWeightsSource(null, opts), null);
    assert.equal(await resolveWeightsSource(local, opts), local);
    assert.equal(
      await resolveWeightsSource(pathToFileURL(local).href, opts),
      local,
    );
    await assert.rejects(
      () => resolveWeightsSource(join(dir, "nope.h5"), opts),
      /no such file/,
    );
    await assert.rejects(() => resolveWeightsSource(dir, opts), /not a file/);

    const asked: [string, FetchOptions][] = [];
    const fakeFetch = (url: string, o: FetchOptions): Promise<FetchResult> => {
      asked.push([url, o]);
      return Promise.resolve({
        path: join(o.cacheDir, o.fileName ?? "x"),
        cached: false,
        bytes: 1,
      });
    };
    const warnings: string[] = [];
    const p = await resolveWeightsSource("imagenet", {
      ...opts,
      rows: 150,
      fetchFile: fakeFetch,
      warn: (m) => warnings.push(m),
    });
    assert.equal(
      asked[0][0],
      "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
    );
    // Downloads go to <cacheDir>/weights/, one file per URL.
    assert.equal(asked[0][1].cacheDir, join(opts.cacheDir, "weights"));
    assert.match(
      p!,
      new RegExp(
        `^${
          join(opts.cacheDir, "weights")
        }/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1\\.0_224_no_top-[0-9a-f]{8}\\.h5$`,
      ),
    );
    assert.equal(warnings.length, 1);

    // A URL, downloaded once by the real fetch step from a loopback server.
    let hits = 0;
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
    }, () => {
      hits++;
      return new Response(bytes);
    });
    try {
      const url = `http://127.0.0.1:${server.addr.port}/weights/${fileName}`;
      const got = await resolveWeightsSource(url, opts);
      assert.ok(got?.startsWith(opts.cacheDir));
      assert.deepEqual(await Deno.readFile(got!), bytes);
      assert.equal(await resolveWeightsSource(url, opts), got);
      assert.equal(hits, 1);
      // Another URL ending in the same file name gets its own file.
      const other =
        `http://127.0.0.1:${server.addr.port}/elsewhere/${fileName}`;
      const got2 = await resolveWeightsSource(other, opts);
      assert.notEqual(got2, got);
      assert.equal(hits, 2);
      // model.sha256: checked for downloads and local files alike.
      const sha = createHash("sha256").update(bytes).digest("hex");
      assert.equal(
        await resolveWeightsSource(local, { ...opts, sha256: sha }),
        local,
      );
      await assert.rejects(
        () => resolveWeightsSource(local, { ...opts, sha256: "0".repeat(64) }),
        /model\.sha256: .* has SHA-256 [0-9a-f]{64}, expected 0{64}/,
      );
      await assert.rejects(
        () =>
          resolveWeightsSource(`${url}?v=2`, {
            ...opts,
            sha256: "0".repeat(64),
          }),
        /model\.sha256/,
      );
      const m = mobileNetV2({
        inputShape: [32, 32, 3],
        alpha: 0.35,
        includeTop: false,
      });
      try {
        assert.equal((await loadKerasWeights(m, got!)).weights, 260);
      } finally {
        m.dispose();
      }
    } finally {
      await server.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("full size: MobileNetV2 1.0 @160 without top (the reference base, ~9 MB .h5) loads all 260 weights", async () => {
  const t0 = performance.now();
  const { model: source, bytes } = await makeMobileNetV2H5({
    alpha: 1.0,
    rows: 160,
    seed: 5,
  });
  const t1 = performance.now();
  const target = mobileNetV2({
    inputShape: [160, 160, 3],
    alpha: 1.0,
    includeTop: false,
  });
  try {
    const t2 = performance.now();
    const report = await loadKerasWeights(target, bytes);
    const t3 = performance.now();
    console.log(
      `${(bytes.length / 1e6).toFixed(1)} MB: generate+save ${
        (t1 - t0).toFixed(0)
      } ms, ` +
        `read+load ${(t3 - t2).toFixed(0)} ms`,
    );
    assert.equal(report.weights, 260);
    assert.equal(target.countParams(), 2_257_984);
    assertSameWeights(source, target);
  } finally {
    source.dispose();
    target.dispose();
  }
});
