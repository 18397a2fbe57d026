import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.ts";
import { ARCHITECTURES } from "../../src/config/architecture.ts";
import {
  buildModel,
  checkArchitectureBuilt,
  disposeModel,
  resolveFromLayer,
} from "../../src/model/build.ts";
import {
  BUILT_ARCHITECTURES,
  isBuiltArchitecture,
} from "../../src/model/bases.ts";
import { kerasLayerNames } from "../../src/model/mobilenet_v3.ts";
import * as tf from "../../src/deps/tf.ts";
import { buildClassifier } from "../../src/model/classifier.ts";

await tf.setBackend("cpu");

Deno.test("buildModel: every model.architecture has a builder", () => {
  assert.deepEqual(ARCHITECTURES.filter((a) => !isBuiltArchitecture(a)), []);
  assert.deepEqual([...BUILT_ARCHITECTURES].sort(), [...ARCHITECTURES].sort());
  for (const architecture of BUILT_ARCHITECTURES) {
    checkArchitectureBuilt(parseConfig({ model: { architecture } }).model);
  }
});

Deno.test("buildClassifier: Keras' ImageNet weights give EfficientNet V1 (only) its per-channel Rescaling, as Keras", async () => {
  for (
    const [architecture, imagenet, has] of [
      ["efficientnet_b0", true, true],
      ["efficientnet_b0", false, false],
      ["efficientnet_v2_b0", true, false],
    ] as const
  ) {
    const clf = await buildClassifier({
      imageSize: [32, 32],
      architecture,
      imagenet,
      numClasses: 2,
    });
    try {
      const names = clf.base.layers.map((l) => l.name);
      assert.equal(
        names.includes("rescaling_1"),
        has,
        `${architecture} ${imagenet}`,
      );
      if (has) assert.equal(names.indexOf("rescaling_1"), 3);
    } finally {
      disposeModel(clf);
    }
  }
});

Deno.test("buildModel: EfficientNet B0 / V2 B0 with random weights; Keras' layer counts; fineTune.fromLayer as Keras' index in the last third", async () => {
  const cases = [
    // Keras 3.15 at 96 px (issue 19's table); params less V1's Normalization
    // count / plus V2's Normalization constants (see efficientnet.ts).
    { architecture: "efficientnet_b0", layers: 237, params: 4049571 - 1 },
    { architecture: "efficientnet_v2_b0", layers: 270, params: 5919312 + 6 },
  ] as const;
  for (const c of cases) {
    const config = parseConfig({
      data: { imageSize: [96, 96] },
      model: { architecture: c.architecture, weights: null },
      fineTune: { enabled: true, fromLayer: 200 },
    });
    const built = await buildModel(config, {
      classNames: ["a", "b", "c"],
      cacheDir: "/nonexistent",
      initSeed: 3,
    });
    try {
      const names = kerasLayerNames(built.base);
      assert.equal(names.length, c.layers);
      assert.equal(built.base.countParams(), c.params);
      assert.equal(built.featureSize, 1280);
      assert.equal(built.base.layers[built.fineTuneFrom].name, names[200]);
      assert.deepEqual(built.model.outputs[0].shape, [null, 3]);
    } finally {
      disposeModel(built);
    }
  }
});

Deno.test("buildModel: MobileNetV3 Small/Large (and minimalistic) with random weights; Keras' counts; fineTune.fromLayer as Keras' index or name", async () => {
  const cases = [
    // Keras 3.15 at 96 px, include_top=False (issue 19's table, keras_facts).
    {
      architecture: "mobilenet_v3_small",
      minimalistic: false,
      layers: 157,
      params: 939120,
      features: 576,
    },
    {
      architecture: "mobilenet_v3_large",
      minimalistic: false,
      layers: 187,
      params: 2996352,
      features: 960,
    },
    {
      architecture: "mobilenet_v3_small",
      minimalistic: true,
      layers: null,
      params: null,
      features: 576,
    },
  ] as const;
  for (const c of cases) {
    const config = parseConfig({
      data: { imageSize: [96, 96] },
      model: {
        architecture: c.architecture,
        minimalistic: c.minimalistic,
        weights: null,
      },
      fineTune: { enabled: true, fromLayer: 90 },
    });
    const built = await buildModel(config, {
      classNames: ["a", "b", "c"],
      cacheDir: "/nonexistent",
      initSeed: 3,
    });
    try {
      const names = kerasLayerNames(built.base);
      if (c.layers != null) assert.equal(names.length, c.layers);
      if (c.params != null) assert.equal(built.base.countParams(), c.params);
      assert.equal(built.featureSize, c.features);
      assert.equal(
        built.base.name,
        c.architecture === "mobilenet_v3_small"
          ? "MobileNetV3Small"
          : "MobileNetV3Large",
      );
      assert.deepEqual(built.model.outputs[0].shape, [null, 3]);
      // Keras index 90 → the first of our layers making up Keras' layer 90.
      const at = built.base.layers[built.fineTuneFrom].name;
      assert.ok(
        at === names[90] || at.startsWith(`${names[90]}__`),
        `${at} vs ${names[90]}`,
      );
      // Everything before it is Keras' layers 0..89 (plus composing parts).
      const before = kerasLayerNames(
        { layers: built.base.layers.slice(0, built.fineTuneFrom) } as never,
      );
      assert.deepEqual(before, names.slice(0, 90));
      assert.equal(
        resolveFromLayer(built.base, names[90]),
        built.fineTuneFrom,
      );
      assert.throws(
        () => resolveFromLayer(built.base, names.length),
        new RegExp(
          `fineTune\\.fromLayer: ${names.length} is past the base's last layer \\(it has ${names.length} layers, 0\\.\\.${
            names.length - 1
          }\\), counting Keras' model\\.layers`,
        ),
      );
      // A composing part is not a Keras layer name.
      const part = built.base.layers.find((l) => l.name.includes("__"));
      if (part) {
        assert.throws(
          () => resolveFromLayer(built.base, part.name),
          /no layer named .* \(Keras' layer names, e\.g\. /,
        );
      }
    } finally {
      disposeModel(built);
    }
  }
});
