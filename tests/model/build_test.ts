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

await tf.setBackend("cpu");

Deno.test("buildModel: architectures without a builder yet fail before any download, naming model.architecture", async () => {
  const unbuilt = ARCHITECTURES.filter((a) => !isBuiltArchitecture(a));
  assert.deepEqual(
    unbuilt,
    ARCHITECTURES.filter((a) => a.startsWith("efficientnet")),
  );
  for (const architecture of unbuilt) {
    const config = parseConfig({
      data: { imageSize: [64, 64] },
      model: { architecture, weights: "http://127.0.0.1:9/never-fetched.h5" },
    });
    assert.throws(
      () => checkArchitectureBuilt(config.model),
      new RegExp(
        `^Error: model\\.architecture "${architecture}": this version builds only "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"`,
      ),
    );
    await assert.rejects(
      buildModel(config, {
        classNames: ["a", "b"],
        cacheDir: "/nonexistent",
        initSeed: 1,
      }),
      /model\.architecture/,
    );
  }
  for (const architecture of BUILT_ARCHITECTURES) {
    checkArchitectureBuilt(parseConfig({ model: { architecture } }).model);
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
