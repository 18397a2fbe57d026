/**
 * Keras 3 weight formats: the paths deno-transfer gives a model's layers are
 * the ones real Keras 3.15 writes (checked against the layout of a
 * `.weights.h5` made by `fixtures/keras/make_goldens.py`); `.weights.h5` and
 * `.keras` files round-trip through loadKerasWeights, nested models and
 * matching by name included; files that do not fit name the first
 * mismatching layer or variable with both shapes and leave the model as it
 * was; broken archives and the wrong reader say what is wrong.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "../../src/deps/tf.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import { buildClassifier } from "../../src/model/classifier.ts";
import { mobileNetV2 } from "../../src/model/mobilenet_v2.ts";
import {
  KerasWeightsError,
  readKeras3Weights,
  readKerasWeights,
} from "../../src/weights/keras_h5.ts";
import { readKerasArchive } from "../../src/weights/_keras_archive.ts";
import { keras3Paths, kerasSnakeCase } from "../../src/weights/_keras_match.ts";
import { resolveWeightsSource } from "../../src/weights/keras_imagenet.ts";
import { loadKerasWeights } from "../../src/weights/keras_weights.ts";
import {
  saveKeras3Weights,
  saveKerasArchive,
  saveKerasWeights,
} from "../../fixtures/keras_h5_writer.ts";
import { randomizeWeights } from "../../fixtures/make_h5.ts";
import { goldenModelPath, readGoldens } from "../../fixtures/keras/goldens.ts";

await tf.setBackend("cpu");
silenceNodeBanner();
const { manifest } = await readGoldens();
const SIZE = manifest.model.size;
const ALPHA = manifest.model.alpha;

function base(alpha = ALPHA, size = SIZE, seed?: number) {
  return mobileNetV2({
    inputShape: [size, size, 3],
    alpha,
    includeTop: false,
    seed,
  });
}

/** Every weight's values by name (a frozen model lists its weights in another order). */
function values(model: tf.LayersModel): Map<string, Float32Array> {
  return new Map(
    model.weights.map((w) => [
      w.originalName,
      w.read().dataSync().slice() as Float32Array,
    ]),
  );
}

/** Same names, same values; names the first weight that differs (no huge diff). */
function assertSameValues(
  a: Map<string, Float32Array>,
  b: Map<string, Float32Array>,
) {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [name, v] of a) {
    const w = b.get(name)!;
    const i = v.findIndex((x, k) => !Object.is(x, w[k]));
    assert.ok(
      v.length === w.length && i < 0,
      `${name} differs at ${i}: ${v[i]} vs ${w[i]}`,
    );
  }
}

async function rejection(p: Promise<unknown>): Promise<KerasWeightsError> {
  const err = await p.then(
    () => assert.fail("expected a KerasWeightsError"),
    (e) => e,
  );
  assert.ok(err instanceof KerasWeightsError, String(err));
  return err;
}

Deno.test("kerasSnakeCase is Keras' naming.to_snake_case", () => {
  assert.deepEqual(
    [
      "Conv2D",
      "DepthwiseConv2D",
      "BatchNormalization",
      "ReLU",
      "ZeroPadding2D",
      "GlobalAveragePooling2D",
      "InputLayer",
      "Functional",
      "Dense",
      "Add",
    ].map(kerasSnakeCase),
    [
      "conv2d",
      "depthwise_conv2d",
      "batch_normalization",
      "re_lu",
      "zero_padding2d",
      "global_average_pooling2d",
      "input_layer",
      "functional",
      "dense",
      "add",
    ],
  );
});

Deno.test("keras3Paths: a classifier (nested base) gets every path, name and shape real Keras 3.15 wrote", async () => {
  const clf = await buildClassifier({
    imageSize: [SIZE, SIZE],
    alpha: ALPHA,
    numClasses: 2,
    seed: 1,
  });
  try {
    const layout = manifest.classifier_weights_layout;
    // Keras' `vars` groups of layers (not of the two models) and their names.
    const named = layout.filter((e): e is { path: string; name: string } =>
      "name" in e
    );
    const containers = new Set(
      named.map((e) => e.path).filter((p) =>
        named.some((o) =>
          o.path !== p && o.path.startsWith(p.replace(/vars$/, "layers/"))
        )
      ),
    );
    containers.add("vars");
    // Input layers' names are Keras' auto-generated ones (input_layer_2).
    const label = (path: string, name: string) =>
      `${path} ${path.endsWith("/input_layer") ? "(input)" : name}`;
    const kerasLeaves = named.filter((e) => !containers.has(e.path))
      .map((e) => label(e.path.replace(/\/vars$/, ""), e.name)).sort();
    const slots = keras3Paths(clf.model);
    const ours = slots.map((s) => label(s.path, s.layer.name)).sort();
    assert.equal(ours.length, 158);
    assert.deepEqual(ours, kerasLeaves);

    // Datasets: <path>/vars/<i> with Keras' shapes, our weights in that order.
    const kerasData = layout.filter((e): e is {
      path: string;
      shape: number[];
    } => "shape" in e).map((e) => `${e.path} [${e.shape}]`).sort();
    const written = await readKeras3Weights(await saveKeras3Weights(clf.model));
    const ourData = [...written.vars.values()].flatMap((v) =>
      v.weights.map((w) => `${v.path}/vars/${w.name} [${w.shape}]`)
    ).sort();
    assert.equal(ourData.length, 262);
    assert.deepEqual(ourData, kerasData);
  } finally {
    clf.head.dispose();
    clf.model.dispose();
  }
});

Deno.test("the golden .weights.h5 reads as Keras wrote it: 154 layers' vars, names stored, no optimizer", async () => {
  const file = await readKeras3Weights(
    goldenModelPath(manifest, "weights.h5"),
  );
  assert.equal(file.vars.size, 154);
  assert.equal(file.vars.get("layers/conv2d")?.name, "Conv1");
  assert.deepEqual(file.vars.get("layers/conv2d")?.weights[0].shape, [
    3,
    3,
    3,
    16,
  ]);
  assert.equal(file.vars.get("layers/re_lu_34")?.name, "out_relu");
  const archive = await readKerasArchive(goldenModelPath(manifest, "keras"));
  assert.equal(archive.metadata.keras_version, "3.15.1");
  assert.equal(archive.weights.kerasVersion, "3.15.1");
  assert.equal(archive.config.class_name, "Functional");
  assert.deepEqual(
    [...archive.weights.vars.keys()],
    [...file.vars.keys()],
  );
});

Deno.test(".weights.h5 and .keras written here round-trip: base, classifier (nested, frozen or not, functional into sequential), by name", async () => {
  const src = await buildClassifier({
    imageSize: [32, 32],
    alpha: 0.35,
    numClasses: 3,
    seed: 1,
  });
  randomizeWeights(src.model, 5);
  const dst = await buildClassifier({
    imageSize: [32, 32],
    alpha: 0.35,
    numClasses: 3,
    trainable: true,
    seed: 2,
  });
  const seq = await buildClassifier({
    imageSize: [32, 32],
    alpha: 0.35,
    numClasses: 3,
    api: "sequential",
    seed: 3,
  });
  try {
    const bytes = await saveKeras3Weights(src.model);
    const expected = values(src.model);
    const r = await loadKerasWeights(dst.model, bytes);
    assert.equal(r.format, "weights.h5");
    assert.equal(r.weights, 262);
    assertSameValues(values(dst.model), expected);
    assert.ok(
      r.layers.some((l) => l.file === "layers/functional/layers/conv2d"),
    );

    // A Sequential has no InputLayer in Keras 3's `layers`; the paths agree.
    const rs = await loadKerasWeights(seq.model, bytes);
    assert.equal(rs.weights, 262);
    assertSameValues(values(seq.model), expected);

    const archive = await saveKerasArchive(bytes);
    const ra = await loadKerasWeights(dst.model, archive);
    assert.equal(ra.format, "keras");

    // By name (the `name` attribute of each vars group): the base alone.
    const b = base(0.35, 32, 9);
    try {
      const rn = await loadKerasWeights(b, bytes, { byName: true });
      assert.equal(rn.weights, 260);
      assertSameValues(values(b), values(src.base));
    } finally {
      b.dispose();
    }
  } finally {
    for (const c of [src, dst, seq]) {
      c.head.dispose();
      c.model.dispose();
    }
  }
});

Deno.test("a .weights.h5 whose shapes do not fit names the layer, its Keras path, the variable and both shapes; the model is untouched", async () => {
  // The Keras path of block_1_project, from the layout real Keras wrote.
  const entry = manifest.classifier_weights_layout.find((e) =>
    "name" in e && e.name === "block_1_project"
  );
  assert.ok(entry);
  const path = entry.path.replace(/^layers\/functional\//, "")
    .replace(/\/vars$/, "");
  assert.equal(path, "layers/conv2d_3");

  const src = base(ALPHA, SIZE, 3);
  const target = base(ALPHA, SIZE, 4);
  try {
    const bytes = await saveKeras3Weights(src, {
      reshape: { [`${path}/vars/0`]: [1, 1, 48, 16] },
    });
    const before = values(target);
    const err = await rejection(loadKerasWeights(target, bytes));
    assert.equal(err.problems.length, 1, err.message);
    assert.equal(
      err.problems[0],
      `layer #16 "block_1_project" (Conv2D, ${path}): variable 0 (kernel) expected shape [1, 1, 48, 8], found [1, 1, 48, 16]`,
    );
    assert.match(
      err.message,
      /^Keras 3 \.weights\.h5 weights do not fit model "mobilenetv2_0\.35_96" \(1 problem\):/,
    );
    assertSameValues(values(target), before);

    // The golden file into a wider base: many problems, the first one first.
    const wide = base(0.5, SIZE);
    try {
      const path05 = join(
        await Deno.makeTempDir(),
        "mobilenet_v2_0.35_96.weights.h5",
      );
      await Deno.copyFile(goldenModelPath(manifest, "weights.h5"), path05);
      const e2 = await rejection(loadKerasWeights(wide, path05));
      assert.ok(e2.message.startsWith(`${path05}: Keras 3 .weights.h5`));
      assert.ok(e2.problems.length > 10);
      // alpha 0.5 first differs at block_1_project: 16 filters, not 8.
      assert.equal(
        e2.problems[0],
        `layer #16 "block_1_project" (Conv2D, ${path}): variable 0 (kernel) expected shape [1, 1, 48, 16], found [1, 1, 48, 8]`,
      );
    } finally {
      wide.dispose();
    }
  } finally {
    src.dispose();
    target.dispose();
  }
});

Deno.test("layers missing from, extra in, or short of variables in a Keras 3 file are each named; byName needs stored names", async () => {
  const small = base(0.35, 32, 1);
  const top = mobileNetV2({ inputShape: [32, 32, 3], alpha: 0.35, seed: 2 });
  try {
    // The file of a model with a top, into one without: an extra entry.
    const withTop = await saveKeras3Weights(top);
    const extra = await rejection(loadKerasWeights(small, withTop));
    assert.deepEqual(extra.problems, [
      'file layers/dense/vars ("predictions"): 2 variables [1280, 1000] [1000] that no layer of the model takes',
    ]);
    // The other way round: the model's top finds nothing.
    const noTop = await saveKeras3Weights(small);
    const missing = await rejection(loadKerasWeights(top, noTop));
    assert.deepEqual(missing.problems, [
      'layer #155 "predictions" (Dense, layers/dense): expected 2 variables [1280, 1000] [1000], the file has none at layers/dense/vars',
    ]);
    // By name the top is skipped and the rest loads.
    const r = await loadKerasWeights(top, noTop, { byName: true });
    assert.deepEqual(r.skipped, ["predictions"]);
    assert.equal(r.weights, 260);
    // A file without the names recent Keras stores cannot be matched by name.
    const unnamed = await saveKeras3Weights(small, { names: false });
    const noNames = await rejection(
      loadKerasWeights(small, unnamed, { byName: true }),
    );
    assert.match(
      noNames.message,
      /this file has none \(match in model order instead\)/,
    );
    assert.equal((await loadKerasWeights(small, unnamed)).weights, 260);
    // A Dense with a bias into one without: the variable count differs.
    const dense = (useBias: boolean) =>
      tf.sequential({
        layers: [
          tf.layers.dense({
            units: 2,
            inputShape: [3],
            useBias,
            name: useBias ? "with_bias" : "no_bias",
          }),
        ],
      });
    const [withBias, noBias] = [dense(true), dense(false)];
    const count = await rejection(
      loadKerasWeights(noBias, await saveKeras3Weights(withBias)),
    );
    assert.deepEqual(count.problems, [
      'layer #0 "no_bias" (Dense, layers/dense, named "with_bias" in the file): expected 1 variables [3, 2], found 2 [3, 2] [2]',
    ]);
    withBias.dispose();
    noBias.dispose();
  } finally {
    small.dispose();
    top.dispose();
  }
});

Deno.test("broken .keras archives, non-Keras files and the wrong reader say what is wrong", async () => {
  const small = base(0.35, 32, 1);
  try {
    const weights = await saveKeras3Weights(small);
    const enc = new TextEncoder();
    const noWeights = await saveKerasArchive(weights, {
      entries: { "model.weights.h5": null },
    });
    assert.match(
      (await rejection(loadKerasWeights(small, noWeights))).message,
      /^Not a Keras archive: expected config\.json and model\.weights\.h5, found metadata\.json, config\.json$/,
    );
    const sharded = await saveKerasArchive(weights, {
      entries: {
        "model.weights.h5": null,
        "model.weights.json": enc.encode("{}"),
      },
    });
    assert.match(
      (await rejection(loadKerasWeights(small, sharded))).message,
      /sharded weights, model\.weights\.json, are not supported/,
    );
    const badJson = await saveKerasArchive(weights, {
      entries: { "config.json": enc.encode("{nope") },
    });
    assert.match(
      (await rejection(readKerasArchive(badJson))).message,
      /^Not a Keras archive: config\.json is not JSON/,
    );
    const badH5 = await saveKerasArchive(enc.encode("not hdf5"));
    assert.match(
      (await rejection(loadKerasWeights(small, badH5))).message,
      /^model\.weights\.h5: Not an HDF5 file/,
    );
    const truncated = (await saveKerasArchive(weights)).slice(0, 5000);
    assert.match(
      (await rejection(loadKerasWeights(small, truncated))).message,
      /^Not a Keras archive: the zip cannot be read/,
    );
    const dir = await Deno.makeTempDir();
    const text = join(dir, "weights.keras");
    await Deno.writeTextFile(text, "hello");
    assert.equal(
      (await rejection(loadKerasWeights(small, text))).message,
      `${text}: Not an HDF5 file (no HDF5 signature); expected a Keras .h5, .weights.h5 or .keras (zip) file`,
    );

    // Each reader points at the other.
    assert.match(
      (await rejection(readKerasWeights(weights))).message,
      /Keras 3 `\.weights\.h5` file, not the legacy layout: read it with readKeras3Weights/,
    );
    assert.match(
      (await rejection(readKeras3Weights(await saveKerasWeights(small))))
        .message,
      /legacy Keras \.h5: read it with readKerasWeights/,
    );
  } finally {
    small.dispose();
  }
});

Deno.test("model.weights may name a .weights.h5 or a .keras: resolveWeightsSource passes it on and buildClassifier loads it", async () => {
  const h5 = goldenModelPath(manifest, "h5");
  for (const kind of ["weights.h5", "keras"] as const) {
    const path = await resolveWeightsSource(goldenModelPath(manifest, kind), {
      alpha: ALPHA,
      rows: SIZE,
      cacheDir: "/nonexistent",
    });
    assert.equal(path, goldenModelPath(manifest, kind));
    const clf = await buildClassifier({
      imageSize: [SIZE, SIZE],
      alpha: ALPHA,
      weights: path,
      numClasses: 2,
    });
    const legacy = base();
    try {
      await loadKerasWeights(legacy, h5);
      assertSameValues(values(clf.base), values(legacy));
    } finally {
      legacy.dispose();
      clf.head.dispose();
      clf.model.dispose();
    }
  }
  await assert.rejects(
    () =>
      resolveWeightsSource("/nonexistent/w.keras", {
        alpha: ALPHA,
        rows: SIZE,
        cacheDir: "/nonexistent",
      }),
    /no such file: \/nonexistent\/w\.keras \(expected "imagenet", a URL or a path to a Keras \.h5, \.weights\.h5 or \.keras file, or null\)/,
  );
});
