import assert from "node:assert/strict";
import {
  architectureIssues,
  ARCHITECTURES,
  ConfigError,
  KERAS_APPLICATION_NAMES,
  parseConfig,
} from "../../src/config/mod.ts";

interface FactCase {
  kwargs: string;
  ok: boolean;
  error?: string;
}

const facts = JSON.parse(
  await Deno.readTextFile(
    new URL("../../fixtures/keras/zoo/keras_facts.json", import.meta.url),
  ),
) as { cases: Record<string, FactCase[]> };

const byKerasName = Object.fromEntries(
  ARCHITECTURES.map((a) => [KERAS_APPLICATION_NAMES[a], a]),
);

/** Reads the kwargs keras_facts.json records into config keys; null when the case has no config equivalent. */
function toConfig(kwargs: string) {
  const get = (key: string) =>
    kwargs.match(new RegExp(`${key}=([^,()]+|\\([^)]*\\))`))?.[1];
  if (
    get("include_top") !== "False" || get("include_preprocessing") !== undefined
  ) return null;
  const shape = get("input_shape");
  let imageSize: [number, number] = [224, 224];
  if (shape && shape !== "None") {
    const dims = shape.slice(1, -1).split(",").map((d) => Number(d));
    if (dims[2] !== 3) return null; // images are always decoded to RGB
    imageSize = [dims[0], dims[1]];
  }
  const weights = get("weights") === "'imagenet'" ? "imagenet" : null;
  const alpha = get("alpha");
  const minimalistic = get("minimalistic");
  return {
    imageSize,
    model: {
      weights,
      ...(alpha ? { alpha: Number(alpha) } : {}),
      ...(minimalistic ? { minimalistic: minimalistic === "True" } : {}),
    },
  };
}

Deno.test("model.architecture: every Keras case in keras_facts.json is accepted or rejected as Keras does, naming the key", () => {
  let checked = 0;
  for (const [kerasName, cases] of Object.entries(facts.cases)) {
    const architecture = byKerasName[kerasName];
    assert.ok(architecture, `no architecture for ${kerasName}`);
    for (const c of cases) {
      const conf = toConfig(c.kwargs);
      if (conf === null) continue;
      const raw = {
        data: { imageSize: conf.imageSize },
        model: { architecture, ...conf.model },
      };
      const where = `${kerasName}(${c.kwargs})`;
      if (c.ok) {
        const parsed = parseConfig(raw);
        assert.equal(parsed.model.architecture, architecture, where);
      } else {
        const kerasMessage = c.error!.replace(/^ValueError: /, "");
        const key = kerasMessage.startsWith("Input size")
          ? "data.imageSize"
          : "model.alpha";
        const head = kerasMessage.startsWith("Input size")
          ? "Input size must be at least 32x32"
          : kerasMessage;
        assert.throws(() => parseConfig(raw), (e: unknown) => {
          assert.ok(e instanceof ConfigError, where);
          assert.ok(
            e.message.includes(`${key}: ${head}`),
            `${where}: expected "${key}: ${head}" in ${e.message}`,
          );
          return true;
        });
      }
      checked++;
    }
  }
  assert.ok(checked >= 40, `only ${checked} cases checked`);
});

Deno.test("model.architecture: the defaults are MobileNetV2 alpha 1, not minimalistic", () => {
  const c = parseConfig({});
  assert.equal(c.model.architecture, "mobilenet_v2");
  assert.equal(c.model.alpha, 1);
  assert.equal(c.model.minimalistic, false);
});

Deno.test("model.architecture: unknown names, minimalistic outside MobileNetV3 and alpha on EfficientNets are rejected by key", () => {
  assert.throws(
    () => parseConfig({ model: { architecture: "resnet50" } }),
    /model\.architecture: expected one of "mobilenet_v2", "mobilenet_v3_small"/,
  );
  for (
    const architecture of [
      "mobilenet_v2",
      "efficientnet_b2",
      "efficientnet_v2_b3",
    ]
  ) {
    assert.throws(
      () => parseConfig({ model: { architecture, minimalistic: true } }),
      /model\.minimalistic: \w+ has no minimalistic variant/,
    );
  }
  assert.throws(
    () =>
      parseConfig({ model: { architecture: "efficientnet_b0", alpha: 0.75 } }),
    /model\.alpha: EfficientNetB0 has no width multiplier.*found 0\.75/,
  );
  assert.throws(
    () => parseConfig({ model: { architecture: "mobilenet_v2", alpha: 0.4 } }),
    /model\.alpha: expected one of 0\.35, 0\.5, 0\.75, 1, 1\.3, 1\.4, found 0\.4/,
  );
  // MobileNetV3 takes any width without ImageNet weights, as Keras does.
  assert.equal(
    parseConfig({
      model: { architecture: "mobilenet_v3_large", alpha: 0.6, weights: null },
    })
      .model.alpha,
    0.6,
  );
  assert.deepEqual(
    architectureIssues(
      {
        architecture: "mobilenet_v3_small",
        alpha: 1,
        minimalistic: true,
        weights: "imagenet",
      },
      [32, 32],
    ),
    [],
  );
});
