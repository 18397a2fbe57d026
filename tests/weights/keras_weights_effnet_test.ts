/**
 * Keras weights into the EfficientNet bases by layer name and by order,
 * legacy and Keras 3 layouts, with files made here in Keras' layout: V1's
 * `normalization` stores mean, variance and count (count skipped), V2's
 * stores nothing (its constants stay).
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { efficientNet } from "../../src/model/efficientnet.ts";
import { loadKerasWeights } from "../../src/weights/keras_weights.ts";
import type {
  Keras3WeightsFile,
  KerasWeight,
  KerasWeightsFile,
} from "../../src/weights/keras_h5.ts";
import {
  keras3Paths,
  kerasWeightOrder,
} from "../../src/weights/_keras_match.ts";

await tf.setBackend("cpu");
const SHAPE: [number, number, number] = [32, 32, 3];

/** `model`'s weights as Keras stores them: V1's Normalization gets a count. */
function kerasWeights(
  layer: tf.LayersModel["layers"][number],
  v2: boolean,
): KerasWeight[] {
  const out = kerasWeightOrder(layer).map((v) => ({
    name: `${layer.name}/${
      layer.name === "normalization"
        ? v.name.includes("mean") ? "mean" : "variance"
        : v.originalName.split("/").pop()
    }:0`,
    shape: v.shape as number[],
    values: v.read().dataSync() as Float32Array,
  }));
  if (layer.name !== "normalization") return out;
  if (v2) return [];
  return [...out, {
    name: "normalization/count:0",
    shape: [],
    values: new Float32Array([1000]),
  }];
}

function legacyFile(model: tf.LayersModel, v2: boolean): KerasWeightsFile {
  return {
    layerNames: model.layers.map((l) => l.name),
    layers: new Map(model.layers.map((l) => [l.name, kerasWeights(l, v2)])),
    backend: "tensorflow",
    kerasVersion: "2.15.0",
  };
}

function keras3File(model: tf.LayersModel, v2: boolean): Keras3WeightsFile {
  return {
    format: "keras3",
    kerasVersion: "3.15.1",
    vars: new Map(
      keras3Paths(model).map(({ path, layer }) => [path, {
        path,
        name: layer.name,
        weights: kerasWeights(layer, v2).map((w, i) => ({
          ...w,
          name: String(i),
        })),
      }]),
    ),
  };
}

function sameWeights(a: tf.LayersModel, b: tf.LayersModel) {
  a.weights.forEach((w, i) => {
    const x = w.read().dataSync();
    const y = b.weights[i].read().dataSync();
    assert.deepEqual(Array.from(y), Array.from(x), w.name);
  });
}

for (const v2 of [false, true]) {
  const what = v2 ? "EfficientNetV2B0" : "EfficientNetB0";
  Deno.test(`loadKerasWeights: ${what} from Keras-layout legacy and Keras 3 files, by order and by name`, async () => {
    const source = efficientNet({
      variant: "b0",
      v2,
      inputShape: SHAPE,
      seed: 5,
    });
    const norm = source.getLayer("normalization");
    norm.setWeights([tf.tensor1d([0.1, 0.2, 0.3]), tf.tensor1d([2, 3, 4])]);
    try {
      for (const make of [legacyFile, keras3File]) {
        for (const byName of [false, true]) {
          const target = efficientNet({
            variant: "b0",
            v2,
            inputShape: SHAPE,
            seed: 9,
          });
          try {
            await loadKerasWeights(target, make(source, v2), { byName });
            if (v2) {
              // Keras stores no Normalization weights: the constants stay.
              const [m, v] = target.getLayer("normalization").getWeights();
              assert.ok(Math.abs(m.dataSync()[0] - 0.485) < 1e-7);
              assert.ok(Math.abs(v.dataSync()[2] - 0.225 ** 2) < 1e-7);
              norm.setWeights(target.getLayer("normalization").getWeights());
            }
            sameWeights(source, target);
          } finally {
            target.dispose();
          }
        }
      }
    } finally {
      source.dispose();
    }
  });
}

Deno.test("loadKerasWeights: an EfficientNet weight of the wrong shape names the layer and both shapes", async () => {
  const source = efficientNet({ variant: "b0", inputShape: SHAPE, seed: 5 });
  const file = legacyFile(source, false);
  const w = file.layers.get("block1a_se_reduce")!;
  w[0] = { ...w[0], shape: [1, 1, 32, 9], values: new Float32Array(32 * 9) };
  const target = efficientNet({ variant: "b0", inputShape: SHAPE });
  try {
    await assert.rejects(
      loadKerasWeights(target, file),
      /block1a_se_reduce.*expected shape \[1, 1, 32, 8\], found \[1, 1, 32, 9\]/s,
    );
  } finally {
    source.dispose();
    target.dispose();
  }
});
