import assert from "node:assert/strict";
import { join } from "node:path";
import { type ImageSet, imageSetFromPixels } from "../../src/data/image_set.ts";
import {
  mergeShards,
  type MergeShardsOptions,
  shardFileName,
  shardIdentity,
  subsetOf,
} from "../../src/train/feature_shards.ts";
import { featureCacheKey } from "../../src/train/features.ts";
import { writeCacheFile } from "../../src/cache/cache_file.ts";
import { shardKeyOfFile, shardOfKey } from "../../src/data/_shard.ts";

const F = 3; // floats per image

/** 20 one-pixel images of distinct colours, two classes, under /root. */
function set(relabel = -1): ImageSet {
  const n = 20;
  const pixels = Uint8Array.from({ length: n * 3 }, (_, i) => (i * 37) % 251);
  return imageSetFromPixels({
    classNames: ["a", "b"],
    height: 1,
    width: 1,
    pixels,
    labels: Int32Array.from(
      { length: n },
      (_, i) => (i % 2) ^ (i === relabel ? 1 : 0),
    ),
    paths: Array.from({ length: n }, (_, i) => `/root/img${i}.png`),
  });
}

/** A stand-in frozen base: the pixel's channels scaled, per image. */
function extract(s: ImageSet): Promise<Float32Array> {
  const out = new Float32Array(s.count * F);
  for (let i = 0; i < s.count; i++) {
    s.pixelsOf(i).forEach((v, c) => out[i * F + c] = v / 255 + c);
  }
  return Promise.resolve(out);
}

const identity = { weights: "w", engine: "test" };
const fileKey = (p: string) => shardKeyOfFile("/root", p);

function options(dir: string, logs: string[], warns: string[]) {
  return {
    dir,
    version: 2,
    identity: shardIdentity(identity),
    featureSize: F,
    shards: { fileKey, write: null, label: "train" },
    keyOf: (s: ImageSet) => featureCacheKey(identity, s),
    extract,
    log: (l: string) => logs.push(l),
    warn: (m: string) => warns.push(m),
  } satisfies MergeShardsOptions;
}

/** Writes shard `index` of `count` as its prepare process would. */
async function writeShard(
  dir: string,
  full: ImageSet,
  index: number,
  count: number,
) {
  const idx = [...Array(full.count).keys()].filter((i) =>
    shardOfKey(fileKey(full.paths[i]), count) === index
  );
  const sub = subsetOf(full, idx);
  const key = featureCacheKey(identity, sub);
  const f = await extract(sub);
  const path = join(
    dir,
    shardFileName(2, shardIdentity(identity), { index, count }, key),
  );
  await writeCacheFile(path, key, new Uint8Array(f.buffer));
  return path;
}

Deno.test("subsetOf: the chosen images in order, pixels and digests read through the set", () => {
  const full = set();
  const sub = subsetOf(full, [5, 2, 9]);
  assert.equal(sub.count, 3);
  assert.deepEqual([...sub.labels], [1, 0, 1]);
  assert.deepEqual(sub.paths, [
    "/root/img5.png",
    "/root/img2.png",
    "/root/img9.png",
  ]);
  assert.deepEqual(sub.pixelsOf(1), full.pixelsOf(2));
  assert.equal(sub.digestOf(2), full.digestOf(9));
  const out = new Uint8Array(3);
  sub.readImage(0, out);
  assert.deepEqual(out, full.pixelsOf(5));
  assert.throws(() => sub.pixelsOf(3), RangeError);
});

Deno.test("mergeShards: all shards give the whole set's features; a missing or damaged shard is computed, with one line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const full = set();
    const expected = await extract(full);
    const logs: string[] = [], warns: string[] = [];
    assert.equal(await mergeShards(full, options(dir, logs, warns)), null);
    const paths = [];
    for (let s = 0; s < 3; s++) paths.push(await writeShard(dir, full, s, 3));
    const all = await mergeShards(full, options(dir, logs, warns));
    assert.deepEqual(all?.features, expected);
    assert.deepEqual(all?.record, {
      count: 3,
      merged: [0, 1, 2],
      computed: [],
    });
    assert.deepEqual(logs, [
      `features: train: merged 3 of 3 shards from ${dir}`,
    ]);

    // Shard 1 gone, shard 2 damaged (one byte flipped in its data).
    await Deno.remove(paths[1]);
    const bytes = await Deno.readFile(paths[2]);
    bytes[bytes.length - 1] ^= 1;
    await Deno.writeFile(paths[2], bytes);
    logs.length = 0;
    const some = await mergeShards(full, options(dir, logs, warns));
    assert.deepEqual(some?.features, expected);
    assert.deepEqual(some?.record, { count: 3, merged: [0], computed: [1, 2] });
    assert.equal(warns.length, 1);
    assert.match(
      warns[0],
      /feature shard 2\/3 rejected \(.*checksum mismatch\)/,
    );
    assert.match(
      logs[0],
      /^features: train: shards 1\/3, 2\/3 not in the cache .*; computing their \d+ images here$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mergeShards: shards of other images, or of another model, are not used", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const full = set();
    for (let s = 0; s < 2; s++) await writeShard(dir, full, s, 2);
    // The same files with one label changed: every shard key differs.
    const relabelled = set(0);
    const logs: string[] = [];
    const other = await mergeShards(relabelled, options(dir, logs, []));
    const s0 = `${shardOfKey(fileKey(full.paths[0]), 2)}/2`;
    assert.ok(other, "the shard without image 0 still matches");
    assert.deepEqual(other.features, await extract(relabelled));
    assert.match(logs[0], new RegExp(`shard ${s0} not in the cache`));
    // Another identity (another engine or weights): no shard is looked at.
    const elsewhere = await mergeShards(full, {
      ...options(dir, [], []),
      identity: shardIdentity({ ...identity, engine: "other" }),
    });
    assert.equal(elsewhere, null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
