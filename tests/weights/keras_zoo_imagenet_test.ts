import assert from "node:assert/strict";
import {
  MOBILENET_V3_SIZE_WARNING,
  zooImagenetFile,
} from "../../src/weights/keras_zoo_imagenet.ts";
import { ARCHITECTURES } from "../../src/config/architecture.ts";

const read = async (name: string) =>
  JSON.parse(
    await Deno.readTextFile(
      new URL(`../../fixtures/keras/zoo/${name}`, import.meta.url),
    ),
  );
const weights = await read("imagenet_weights.json");
const facts = await read("keras_facts.json");

Deno.test("zooImagenetFile: every file Keras' source names (imagenet_weights.json), with and without the top", () => {
  const entries = Object.entries(weights.architectures) as [string, {
    kwargs: { alpha?: number; minimalistic?: boolean };
    no_top: { url: string; file_name: string; md5: string };
    top: { url: string; file_name: string; md5: string };
  }][];
  assert.equal(entries.length, 14);
  for (const [key, e] of entries) {
    const arch = ARCHITECTURES.find((a) =>
      key === a || key.startsWith(`${a}_`)
    );
    assert.ok(arch && arch !== "mobilenet_v2", key);
    for (const includeTop of [false, true]) {
      const want = includeTop ? e.top : e.no_top;
      assert.deepEqual(
        zooImagenetFile(arch, {
          ...e.kwargs,
          includeTop,
          rows: 224,
          warn: () => assert.fail("warned at 224"),
        }),
        { url: want.url, fileName: want.file_name, md5: want.md5 },
        `${key} top=${includeTop}`,
      );
    }
  }
});

Deno.test("zooImagenetFile: MobileNetV3 at other sizes loads the 224 file with Keras' warning; unpublished widths name model.alpha", () => {
  const kerasWarning = facts.cases.MobileNetV3Small.find((
    c: { warnings?: string[] },
  ) => c.warnings)
    .warnings[0].replace(/^UserWarning: /, "");
  assert.equal(MOBILENET_V3_SIZE_WARNING, kerasWarning);
  for (const [rows, cols] of [[96, 96], [160, 160], [96, 128], [null, null]]) {
    const warnings: string[] = [];
    const f = zooImagenetFile("mobilenet_v3_small", {
      rows,
      cols,
      warn: (m) => warnings.push(m),
    });
    assert.equal(
      f.fileName,
      "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
    );
    assert.deepEqual(warnings, [kerasWarning], `${rows}x${cols}`);
  }
  // EfficientNets' no-top files load at any size without a warning.
  zooImagenetFile("efficientnet_b1", {
    rows: 96,
    warn: () => assert.fail("warned"),
  });
  assert.throws(
    () =>
      zooImagenetFile("mobilenet_v3_large", {
        alpha: 0.75,
        minimalistic: true,
      }),
    /^RangeError: model\.alpha: If imagenet weights are being loaded/,
  );
  assert.throws(
    () => zooImagenetFile("mobilenet_v3_small", { alpha: 0.5 }),
    /model\.alpha/,
  );
});
