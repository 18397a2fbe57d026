/**
 * Image sets backed by the decode cache (`src/data/image_set.ts`): a decode
 * with a cache folder holds no pixels (checked on the result's own fields
 * and by memory accounting in a child process), and everything read
 * through it — batches, epochs of shuffled batches, feature cache keys,
 * top-loss thumbnails — equals what the in-memory set of the same files
 * gives.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "../../src/deps/tf.ts";
import { makeBatch, mobileNetV2Preprocess } from "../../src/data/batches.ts";
import { listClassFolder } from "../../src/data/dataset.ts";
import {
  decodeCacheKey,
  decodeCachePath,
} from "../../src/cache/_decoded_layout.ts";
import type { ImageSet } from "../../src/data/image_set.ts";
import { decodeImages } from "../../src/data/decode.ts";
import {
  allPixels,
  imageSetDigest,
  imageSetFromPixels,
} from "../../src/data/image_set.ts";
import { featureCacheKey } from "../../src/train/features.ts";
import { imageSource } from "../../src/train/sources.ts";
import { topLossGallery } from "../../src/report/top_losses.ts";
import { evaluateFolder } from "../../src/evaluate/predict.ts";
import { sha256Hex } from "../../src/util/hash.ts";
import { writeReferenceDataset } from "../../fixtures/photos.ts";
import { getFixtures } from "../_helpers/data.ts";

await tf.setBackend("cpu");

const SIZE = [20, 24] as const;
const STRIDE = SIZE[0] * SIZE[1] * 3;

/** The fixture's training files decoded with and without a cache folder. */
async function bothSets(cacheDir: string) {
  const fx = await getFixtures();
  const folder = await listClassFolder(join(fx.datasetDir, "train"));
  const opts = {
    imageSize: SIZE,
    classNames: folder.classNames,
    workers: 0,
    warn: () => {},
  };
  const memory = await decodeImages(folder.items, { ...opts, cacheDir: null });
  const cached = await decodeImages(folder.items, { ...opts, cacheDir });
  return { folder, memory, cached };
}

/** Every typed array or ArrayBuffer reachable from `value`'s fields (functions not entered). */
function buffersIn(value: unknown, seen = new Set<unknown>()): number[] {
  if (value === null || typeof value !== "object" || seen.has(value)) {
    return [];
  }
  seen.add(value);
  if (ArrayBuffer.isView(value)) return [value.byteLength];
  if (value instanceof ArrayBuffer) return [value.byteLength];
  return Object.values(value).flatMap((v) => buffersIn(v, seen));
}

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "image-set-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("decodeImages: with a cache folder the set holds no pixels, without one it holds them all", async () => {
  await withTempDir(async (cacheDir) => {
    const { memory, cached } = await bothSets(cacheDir);
    assert.ok(cached.count >= 4, `fixture has ${cached.count} good images`);
    assert.equal(memory.storage, "memory");
    assert.equal(cached.storage, "cache");
    assert.ok(!("pixels" in cached), "no pixels field");
    // Not even one image's worth of bytes in any buffer it holds (its
    // labels are count × 4 bytes).
    const held = buffersIn(cached);
    assert.ok(
      held.every((n) => n < STRIDE),
      `buffers held: ${held.join(", ")}`,
    );
    // The walk does find the in-memory set's buffer.
    assert.ok(buffersIn(memory).includes(memory.count * STRIDE));
  });
});

Deno.test("decodeImages: a cache-backed set keeps no decoded set alive (memory accounting after GC)", async () => {
  await withTempDir(async (dir) => {
    // 200 photo-like JPEGs, decoded to 96×96: 5.5 MB of pixels.
    const ds = await writeReferenceDataset(join(dir, "data"), {
      trainPerClass: 100,
      validationPerClass: 0,
      width: 80,
      height: 60,
    });
    const child = fileURLToPath(
      new URL("./_image_set_memory_child.ts", import.meta.url),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--v8-flags=--expose-gc",
        "-A",
        child,
        join(ds.root, "train"),
        join(dir, "cache"),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, stderr);
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(r.count, 200);
    assert.deepEqual(r.storage, ["cache", "memory"]);
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`;
    const detail = `set ${mb(r.setBytes)}, kept with a cache ${
      mb(r.withCache)
    }, in memory ${mb(r.inMemory)}`;
    // Bookkeeping (entry names, digests, paths) is ~1 kB per image at most,
    // under a fifth of a 96×96 image (27 kB).
    assert.ok(r.withCache < 0.2 * r.setBytes, detail);
    assert.ok(r.inMemory >= 0.9 * r.setBytes, detail);
  });
});

Deno.test("cache-backed sets: same images, labels, digests and feature cache key as in memory", async () => {
  await withTempDir(async (cacheDir) => {
    const { memory, cached } = await bothSets(cacheDir);
    assert.equal(cached.count, memory.count);
    assert.deepEqual(cached.labels, memory.labels);
    assert.deepEqual(cached.paths, memory.paths);
    assert.deepEqual(cached.skipped, memory.skipped);
    assert.deepEqual(allPixels(cached), allPixels(memory));
    for (let i = 0; i < cached.count; i++) {
      assert.equal(cached.digestOf(i), sha256Hex(memory.pixelsOf(i)));
      assert.equal(memory.digestOf(i), sha256Hex(memory.pixelsOf(i)));
    }
    assert.equal(imageSetDigest(cached), imageSetDigest(memory));
    const identity = { weights: "w", imageSize: SIZE };
    assert.equal(
      featureCacheKey(identity, cached),
      featureCacheKey(identity, memory),
    );
    // The key still follows the pixels: one changed pixel changes it.
    const px = allPixels(memory);
    px[STRIDE + 5] ^= 1;
    const changed = imageSetFromPixels({ ...memory, pixels: px });
    assert.notEqual(
      featureCacheKey(identity, changed),
      featureCacheKey(identity, memory),
    );
  });
});

async function batchValues(
  set: ImageSet,
  epochs: number,
): Promise<{ xs: number[]; ys: number[] }[]> {
  const source = imageSource(set, {
    batchSize: 3,
    shuffle: true,
    seed: 7,
    preprocess: mobileNetV2Preprocess,
  });
  const out = [];
  for (let e = 0; e < epochs; e++) {
    for await (const { xs, ys } of source.batches(e)) {
      out.push({
        xs: Array.from(await (xs as tf.Tensor).data()),
        ys: Array.from(await ys.data()),
      });
      tf.dispose([xs, ys]);
    }
  }
  return out;
}

Deno.test("cache-backed sets: batches read from disk equal batches from memory", async () => {
  await withTempDir(async (cacheDir) => {
    const { memory, cached } = await bothSets(cacheDir);
    const idx = [memory.count - 1, 0, 2, 2];
    const a = makeBatch(memory, idx);
    const b = makeBatch(cached, idx);
    assert.deepEqual(b.xs.shape, [4, SIZE[0], SIZE[1], 3]);
    assert.deepEqual(await b.xs.data(), await a.xs.data());
    assert.deepEqual(await b.ys.data(), await a.ys.data());
    tf.dispose([a.xs, a.ys, b.xs, b.ys]);
    // Two shuffled epochs through the training source, preprocessed.
    const fromMemory = await batchValues(memory, 2);
    const fromDisk = await batchValues(cached, 2);
    assert.equal(fromDisk.length, 2 * Math.ceil(memory.count / 3));
    assert.deepEqual(fromDisk, fromMemory);
    assert.throws(() => makeBatch(cached, [cached.count]), RangeError);
  });
});

Deno.test("cache-backed sets: an entry removed or changed during the run fails naming the image and the entry", async () => {
  await withTempDir(async (cacheDir) => {
    const { folder, cached } = await bothSets(cacheDir);
    const entryOf = async (i: number) => {
      const sha = sha256Hex(await Deno.readFile(cached.paths[i]));
      return {
        path: decodeCachePath(cacheDir, sha, SIZE[0], SIZE[1], "bilinear"),
        key: decodeCacheKey(sha, SIZE[0], SIZE[1], "bilinear"),
      };
    };
    assert.ok(folder.items.length > cached.count, "the fixture's bad file");
    const gone = await entryOf(0);
    await Deno.remove(gone.path);
    assert.throws(
      () => cached.pixelsOf(0),
      (e: Error) =>
        e.message.includes(cached.paths[0]) &&
        e.message.includes(`${gone.path} is gone`) &&
        /cleared or changed during the run/.test(e.message),
    );
    const changed = await entryOf(1);
    const bytes = await Deno.readFile(changed.path);
    bytes[bytes.length - 1] ^= 0x40;
    await Deno.writeFile(changed.path, bytes);
    assert.throws(
      () => cached.pixelsOf(1),
      new RegExp(
        `${changed.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}.*checksum`,
      ),
    );
    assert.throws(() => cached.pixelsOf(-1), RangeError);
    assert.throws(() => cached.pixelsOf(1.5), RangeError);
    // The others still read.
    assert.equal(cached.pixelsOf(2).length, STRIDE);
  });
});

Deno.test("cache-backed sets: the top-loss gallery shows the same thumbnails", async () => {
  await withTempDir(async (cacheDir) => {
    const { memory, cached } = await bothSets(cacheDir);
    const k = memory.classNames.length;
    const probs = Array.from(
      { length: memory.count },
      (_, i) =>
        Array.from(
          { length: k },
          (_, c) => (c === i % k ? 0.2 : 0.8 / (k - 1)),
        ),
    );
    const a = await topLossGallery(memory, probs, memory.classNames, {
      count: 3,
    });
    const b = await topLossGallery(cached, probs, cached.classNames, {
      count: 3,
    });
    assert.equal(b.length, 3);
    assert.deepEqual(b, a);
  });
});

Deno.test("evaluateFolder with a cache folder: a cache-backed set, the same evaluation", async () => {
  await withTempDir(async (cacheDir) => {
    const fx = await getFixtures();
    const folder = join(fx.datasetDir, "validation");
    const classNames = (await listClassFolder(folder)).classNames;
    // A small seeded classifier on the raw images: GAP + Dense(softmax).
    const model = tf.sequential({
      layers: [
        tf.layers.globalAveragePooling2d({
          inputShape: [SIZE[0], SIZE[1], 3],
          dataFormat: "channelsLast",
        }),
        tf.layers.dense({
          units: classNames.length,
          activation: "softmax",
          kernelInitializer: tf.initializers.randomNormal({ seed: 3 }),
        }),
      ],
    });
    const saved = {
      model,
      classNames,
      preprocessing: {
        imageSize: [SIZE[0], SIZE[1]] as [number, number],
        interpolation: "bilinear" as const,
        preprocess: "mobilenet_v2" as const,
      },
      dir: "",
    };
    try {
      const inMemory = await evaluateFolder(saved, folder, { workers: 0 });
      const fromCache = await evaluateFolder(saved, folder, {
        workers: 0,
        cacheDir,
      });
      assert.equal(inMemory.set.storage, "memory");
      assert.equal(fromCache.set.storage, "cache");
      assert.ok(fromCache.count > 0);
      assert.deepEqual(fromCache.probabilities, inMemory.probabilities);
      assert.deepEqual(fromCache.matrix, inMemory.matrix);
      assert.equal(fromCache.loss, inMemory.loss);
    } finally {
      model.dispose();
    }
  });
});
