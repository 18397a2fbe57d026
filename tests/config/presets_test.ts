import assert from "node:assert/strict";
import { loadConfig } from "../../src/config/load.ts";

const root = new URL("../../", import.meta.url);
const path = (p: string) => new URL(p, root).pathname;

Deno.test("presets: configs/seed.json is the reference job and train.config.json equals it", async () => {
  const seed = await loadConfig(path("configs/seed.json"));
  const main = await loadConfig(path("train.config.json"));
  const { $schema: _a, ...a } = seed;
  const { $schema: _b, ...b } = main;
  assert.deepEqual(a, b);
  assert.equal(seed.model.head.dropout, 0);
  assert.equal(seed.fineTune.enabled, false);
  assert.deepEqual(
    [seed.augment.flip, seed.augment.rotation, seed.augment.zoom],
    ["none", 0, 0],
  );
  assert.deepEqual(
    [seed.data.batchSize, seed.data.imageSize, seed.train.learningRate],
    [32, [160, 160], 1e-4],
  );
  assert.equal(seed.train.epochs, 10);
});

Deno.test("presets: configs/tutorial.json follows TensorFlow's transfer-learning tutorial", async () => {
  const t = await loadConfig(path("configs/tutorial.json"));
  assert.equal(t.model.head.dropout, 0.2);
  assert.equal(t.augment.flip, "horizontal");
  assert.equal(t.augment.rotation, 0.2);
  assert.equal(t.fineTune.enabled, true);
  assert.equal(t.fineTune.fromLayer, 100);
  assert.equal(t.fineTune.optimizer, "rmsprop");
  assert.equal(t.fineTune.learningRate, 1e-5);
  assert.equal(t.train.learningRate, 1e-4);
  // Its fine-tuning runs on the fastest engine there is (ONNX Runtime's
  // training graph without a GPU): within Keras' time only that way.
  assert.equal(t.engine.train, "auto");
});

/** A zoo preset without what makes it differ from seed.json: the base, its size and fromLayer. */
const strip = (c: Awaited<ReturnType<typeof loadConfig>>) => ({
  ...c,
  $schema: null,
  name: null,
  data: { ...c.data, imageSize: null },
  model: { ...c.model, architecture: null },
  fineTune: { ...c.fineTune, fromLayer: null },
});

Deno.test("presets: configs/mobilenet_v3_large.json is the reference job on MobileNetV3Large at 224 px (its ImageNet weights' size), fromLayer at Keras' expanded_conv_12_expand", async () => {
  const seed = await loadConfig(path("configs/seed.json"));
  const v3 = await loadConfig(path("configs/mobilenet_v3_large.json"));
  assert.equal(v3.model.architecture, "mobilenet_v3_large");
  assert.equal(v3.model.alpha, 1.0);
  assert.equal(v3.model.minimalistic, false);
  assert.equal(v3.model.weights, "imagenet");
  assert.deepEqual(v3.data.imageSize, [224, 224]);
  const { mobileNetV3, kerasLayerNames } = await import(
    "../../src/model/mobilenet_v3.ts"
  );
  const base = mobileNetV3({ variant: "large", inputShape: [224, 224, 3] });
  const names = kerasLayerNames(base);
  base.dispose();
  assert.equal(
    names[v3.fineTune.fromLayer as number],
    "expanded_conv_12_expand",
  );
  assert.ok((v3.fineTune.fromLayer as number) > (2 / 3) * names.length);
  // Everything else is the reference job.
  assert.deepEqual(strip(v3), strip(seed));
});

Deno.test("presets: configs/efficientnet_b0.json is the reference job on EfficientNetB0 at 224 px (Keras' default), fromLayer at Keras' block6a_expand_conv (ImageNet layout)", async () => {
  const seed = await loadConfig(path("configs/seed.json"));
  const b0 = await loadConfig(path("configs/efficientnet_b0.json"));
  assert.equal(b0.model.architecture, "efficientnet_b0");
  assert.equal(b0.model.alpha, 1.0);
  assert.equal(b0.model.weights, "imagenet");
  assert.deepEqual(b0.data.imageSize, [224, 224]);
  const { efficientNet } = await import("../../src/model/efficientnet.ts");
  const { kerasLayerNames } = await import("../../src/model/mobilenet_v3.ts");
  // With ImageNet weights Keras' model has rescaling_1: 238 layers.
  const base = efficientNet({
    variant: "b0",
    inputShape: [224, 224, 3],
    imagenetRescaling: true,
  });
  const names = kerasLayerNames(base);
  base.dispose();
  assert.equal(names.length, 238);
  assert.equal(names[b0.fineTune.fromLayer as number], "block6a_expand_conv");
  assert.ok((b0.fineTune.fromLayer as number) > (2 / 3) * names.length);
  assert.deepEqual(strip(b0), strip(seed));
});
