/**
 * Top losses: ranking by per-example cross-entropy (Keras' rescaling and
 * clipping) against hand-computed values, input shapes and errors, and the
 * gallery built from an image set.
 *
 * @module
 */

import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import { silenceNodeBanner } from "../../src/backend/set_backend.ts";
import { buildClassifier } from "../../src/model/classifier.ts";
import { camGraphOf, classActivationMap } from "../../src/evaluate/cam.ts";
import { camOverlay } from "../../src/report/cam_overlay.ts";
import { imageThumbnail } from "../../src/report/_thumbnails.ts";
import { mobileNetV2Preprocess } from "../../src/data/batches.ts";
import { imagescriptPng } from "../../src/deps/codecs.ts";
import {
  DEFAULT_TOP_LOSSES,
  topLosses,
  topLossGallery,
} from "../../src/report/top_losses.ts";

const close = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

Deno.test("topLosses: ranked by −log p(true), highest first", () => {
  const labels = [0, 1, 1, 0];
  const probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.5, 0.5]];
  const top = topLosses(labels, probs, ["a", "b", "c", "d"]);
  // −ln 0.2 = 1.609, −ln 0.5 = 0.693, −ln 0.7 = 0.357, −ln 0.9 = 0.105.
  assert.deepEqual(top.map((t) => t.item), ["b", "d", "c", "a"]);
  close(top[0].loss, 1.6094379124341003);
  close(top[1].loss, Math.LN2);
  assert.deepEqual(top.map((t) => t.predicted), [0, 0, 1, 0], "tie → first");
  assert.deepEqual(top.map((t) => t.probability), [0.8, 0.5, 0.7, 0.9]);
  assert.deepEqual(top.map((t) => t.trueProbability), [0.2, 0.5, 0.7, 0.9]);
  assert.deepEqual(top.map((t) => t.index), [1, 3, 2, 0]);
  assert.deepEqual(
    topLosses(labels, probs, labels, { count: 2 }).map((t) => t.index),
    [1, 3],
  );
  assert.deepEqual(topLosses(labels, probs, labels, { count: 0 }), []);
});

Deno.test("topLosses: flat probabilities, rescaled rows, clipping, ties by index, NaN first", () => {
  const flat = new Float32Array([2, 2, 0, 1, 1, 0, 0.25, 0.75, 0.25, 0.75]);
  const top = topLosses([0, 0, 0, 1, 1], flat, [0, 1, 2, 3, 4]);
  // Row 1: p(true) = 0 → clipped to 1e-7 → 16.118; row 0 rescaled to .5.
  assert.equal(top[0].index, 1);
  close(top[0].loss, -Math.log(1e-7));
  assert.equal(top[1].index, 0);
  close(top[1].loss, Math.LN2);
  assert.equal(top[1].probability, 0.5);
  // Rows 3 and 4 are identical: index order is kept.
  assert.deepEqual(top.slice(2, 4).map((t) => t.index), [3, 4]);
  assert.equal(top[4].index, 2);
  close(top[4].loss, -Math.log(1 - 1e-7));
  const nan = topLosses([0, 0], [[0.1, 0.9], [NaN, NaN]], ["ok", "nan"]);
  assert.deepEqual(nan.map((t) => t.item), ["nan", "ok"]);
  assert.equal(DEFAULT_TOP_LOSSES, 16);
  const many = Array.from({ length: 20 }, (_, i) => i);
  assert.equal(
    topLosses(many.map(() => 0), many.map(() => [0.5, 0.5]), many).length,
    16,
  );
});

Deno.test("topLosses: errors name what does not fit", () => {
  assert.throws(
    () => topLosses([0, 1], [[1, 0]], [0, 1]),
    /2 labels but 1 probability rows/,
  );
  assert.throws(() => topLosses([0], [[1, 0]], []), /1 labels but 0 items/);
  assert.throws(
    () => topLosses([0, 1], [1, 0, 1], [0, 1]),
    /3 probabilities do not split into 2 rows/,
  );
  assert.throws(
    () => topLosses([0, 1], [[1, 0], [1]], [0, 1]),
    /row 1 has 1 values, row 0 has 2/,
  );
  assert.throws(
    () => topLosses([2], [[1, 0]], [0]),
    /labels\[0\] = 2 is not a class index in \[0, 2\)/,
  );
  assert.throws(() => topLosses([0], [[1, 0]], [0], { count: -1 }), /count/);
});

Deno.test("topLossGallery: entries carry names, paths and PNG thumbnails of the right images", async () => {
  const h = 4, w = 6, n = 3;
  const pixels = new Uint8Array(n * h * w * 3);
  for (let i = 0; i < n; i++) {
    pixels.fill(40 + 80 * i, i * h * w * 3, (i + 1) * h * w * 3);
  }
  const set = {
    count: n,
    height: h,
    width: w,
    pixels,
    labels: new Int32Array([0, 1, 1]),
    paths: ["v/cats/0.jpg", "v/dogs/1.jpg", "v/dogs/2.jpg"],
  };
  const g = await topLossGallery(set, [[0.6, 0.4], [0.7, 0.3], [0.1, 0.9]], [
    "cats",
    "dogs",
  ], { count: 2, size: 3 });
  assert.deepEqual(
    g.map((e) => [e.path, e.trueClass, e.predictedClass]),
    [["v/dogs/1.jpg", "dogs", "cats"], ["v/cats/0.jpg", "cats", "cats"]],
  );
  close(g[0].probability, 0.7);
  close(g[0].trueProbability, 0.3);
  for (const e of g) {
    assert.match(e.image!, /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
  }
  // Image 1 is uniformly 120 and image 0 uniformly 40: each entry shows its own.
  const png = await imagescriptPng.init();
  const decoded = g.map((e) =>
    png.decode(
      Uint8Array.from(atob(e.image!.split(",")[1]), (c) => c.charCodeAt(0)),
    )
  );
  assert.deepEqual(decoded.map((d) => [d.width, d.height]), [[3, 2], [3, 2]]);
  assert.deepEqual(new Set(decoded[0].framebuffer), new Set([120, 255]));
  assert.deepEqual(new Set(decoded[1].framebuffer), new Set([40, 255]));
  await assert.rejects(
    () => topLossGallery(set, [[1, 0], [1, 0], [1, 0]], ["cats"]),
    /class index 1 has no name \(1 class names\)/,
  );
});

Deno.test("topLossGallery with a CAM graph: heatmap PNGs of the true and the predicted class, the overlays of the classifier's own maps", async () => {
  silenceNodeBanner();
  await tf.setBackend("cpu");
  const { model } = await buildClassifier({
    imageSize: [64, 64],
    alpha: 0.35,
    weights: null,
    numClasses: 3,
    seed: 4,
  });
  const graph = await camGraphOf(model);
  const n = 3;
  const pixels = Uint8Array.from(
    { length: n * 64 * 64 * 3 },
    (_, i) => (i * 31 + (i >> 9)) % 256,
  );
  const set = {
    count: n,
    height: 64,
    width: 64,
    labels: [0, 1, 2],
    paths: ["a.png", "b.png", "c.png"],
    pixels,
  };
  const probs = tf.tidy(() =>
    (model.predict(
      mobileNetV2Preprocess(tf.tensor4d(pixels, [n, 64, 64, 3], "float32")),
    ) as tf.Tensor).dataSync()
  ) as Float32Array;
  const entries = await topLossGallery(set, probs, ["x", "y", "z"], {
    cam: { graph },
    count: 3,
  });
  assert.equal(entries.length, 3);
  const maps = tf.tidy(() =>
    (graph.model.predict(
      mobileNetV2Preprocess(tf.tensor4d(pixels, [n, 64, 64, 3], "float32")),
    ) as tf.Tensor[])[1].dataSync()
  ) as Float32Array;
  for (const e of entries) {
    const i = set.paths.indexOf(e.path);
    assert.ok(e.heatmaps);
    const map = maps.subarray(i * 2 * 2 * 1280, (i + 1) * 2 * 2 * 1280);
    const want = async (cls: number) =>
      await imageThumbnail(
        camOverlay(
          pixels.subarray(i * 64 * 64 * 3, (i + 1) * 64 * 64 * 3),
          64,
          64,
          classActivationMap(map, graph, cls),
          2,
          2,
        ),
        64,
        64,
      );
    const t = ["x", "y", "z"].indexOf(e.trueClass);
    const p = ["x", "y", "z"].indexOf(e.predictedClass);
    assert.equal(e.heatmaps.trueClass, await want(t));
    assert.equal(e.heatmaps.predictedClass, await want(p));
    if (t === p) assert.equal(e.heatmaps.trueClass, e.heatmaps.predictedClass);
  }
  const plain = await topLossGallery(set, probs, ["x", "y", "z"], { count: 1 });
  assert.equal(plain[0].heatmaps, undefined);
  model.dispose();
});
