import assert from "node:assert/strict";
import * as tf from "../../src/deps/tf.ts";
import {
  batchCount,
  epochOrder,
  makeBatch,
  mobileNetV2Preprocess,
} from "../../src/data/batches.ts";
import type { ImageSet } from "../../src/data/image_set.ts";
import { imageSetFromPixels } from "../../src/data/image_set.ts";
import { imageSource } from "../../src/train/sources.ts";

await tf.setBackend("cpu");

/** An image batch as `imageSource` yields it. */
type XY = { xs: tf.Tensor4D; ys: tf.Tensor2D };

/** A synthetic set: image i is filled with value (i * 7) % 256, label i % classes. */
function syntheticSet(count: number, classes: number, h = 4, w = 5): ImageSet {
  const stride = h * w * 3;
  const pixels = new Uint8Array(count * stride);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    pixels.fill((i * 7) % 256, i * stride, (i + 1) * stride);
    labels[i] = i % classes;
  }
  return imageSetFromPixels({
    classNames: Array.from({ length: classes }, (_, c) => `class${c}`),
    height: h,
    width: w,
    pixels,
    labels,
    paths: Array.from({ length: count }, (_, i) => `img${i}.jpg`),
  });
}

/** Recovers image indices from a batch of the synthetic set (pixel value -> index). */
function indicesOf(
  xs: Float32Array | Int32Array | Uint8Array,
  n: number,
  stride: number,
): number[] {
  return Array.from({ length: n }, (_, b) => xs[b * stride] / 7);
}

Deno.test("batches: shapes, preprocessed values and one-hot labels", () => {
  const set = syntheticSet(10, 3);
  const stride = 4 * 5 * 3;
  assert.equal(batchCount(10, 4), 3);
  const sizes: number[] = [];
  const seen: number[] = [];
  const source = imageSource(set, {
    batchSize: 4,
    shuffle: true,
    seed: 1,
    preprocess: (x) => x,
  });
  assert.equal(source.numBatches, 3);
  for (const { xs, ys } of source.batches(0) as Iterable<XY>) {
    const n = xs.shape[0];
    sizes.push(n);
    assert.deepEqual(xs.shape, [n, 4, 5, 3]);
    assert.equal(xs.dtype, "float32");
    assert.deepEqual(ys.shape, [n, 3]);
    const x = xs.dataSync();
    const y = ys.dataSync();
    const idx = indicesOf(x, n, stride);
    seen.push(...idx);
    for (let b = 0; b < n; b++) {
      // every pixel of the image holds the same raw value (i * 7)
      assert.ok(
        x.subarray(b * stride, (b + 1) * stride).every((v) => v === idx[b] * 7),
      );
      const oneHot = Array.from(y.subarray(b * 3, b * 3 + 3));
      const expected = [0, 0, 0];
      expected[idx[b] % 3] = 1;
      assert.deepEqual(oneHot, expected);
    }
    tf.dispose([xs, ys]);
  }
  assert.deepEqual(sizes, [4, 4, 2]);
  assert.deepEqual(
    [...seen].sort((a, b) => a - b),
    [...Array(10).keys()],
    "each image once per epoch",
  );

  const { xs, ys } = makeBatch(set, [9, 0], mobileNetV2Preprocess);
  const v = xs.dataSync();
  assert.ok(Math.abs(v[0] - (63 / 127.5 - 1)) < 1e-6);
  assert.equal(v[stride], -1);
  assert.ok(v.every((x) => x >= -1 && x <= 1));
  assert.deepEqual(Array.from(ys.dataSync()), [1, 0, 0, 1, 0, 0]);
  tf.dispose([xs, ys]);
  assert.throws(() => makeBatch(set, [10]), RangeError);
});

Deno.test("batches: reshuffled every epoch, reproducibly from the seed", () => {
  const a0 = epochOrder(50, 0, { seed: 5 });
  const a1 = epochOrder(50, 1, { seed: 5 });
  assert.deepEqual(a0, epochOrder(50, 0, { seed: 5 }));
  assert.notDeepEqual(a0, a1);
  assert.notDeepEqual(a0, epochOrder(50, 0, { seed: 6 }));
  assert.deepEqual([...a1].sort((x, y) => x - y), [...Array(50).keys()]);
  assert.deepEqual(epochOrder(5, 3, { shuffle: false }), [0, 1, 2, 3, 4]);

  // The batches follow that order, epoch by epoch.
  const set = syntheticSet(12, 2);
  const stride = 4 * 5 * 3;
  const source = imageSource(set, {
    batchSize: 5,
    shuffle: true,
    seed: 5,
    preprocess: (x) => x,
  });
  for (const epoch of [0, 1]) {
    const got: number[] = [];
    for (const { xs, ys } of source.batches(epoch) as Iterable<XY>) {
      got.push(...indicesOf(xs.dataSync(), xs.shape[0], stride));
      tf.dispose([xs, ys]);
    }
    assert.deepEqual(got, epochOrder(12, epoch, { seed: 5 }));
  }
});

Deno.test("batches: no tensor leaks across epochs", () => {
  const set = syntheticSet(20, 2, 6, 6);
  const source = imageSource(set, {
    batchSize: 8,
    shuffle: true,
    seed: 3,
    preprocess: mobileNetV2Preprocess,
  });
  const before = tf.memory().numTensors;
  for (let epoch = 0; epoch < 3; epoch++) {
    for (const { xs, ys } of source.batches(epoch) as Iterable<XY>) {
      assert.equal(xs.rank, 4);
      tf.dispose([xs, ys]);
    }
    assert.equal(tf.memory().numTensors, before, `after epoch ${epoch}`);
  }
});
