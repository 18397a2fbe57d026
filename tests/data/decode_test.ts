import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "../../src/deps/tf.ts";
import { decodeCacheFolder } from "../../src/cache/_decoded_layout.ts";
import type { ImageSet } from "../../src/data/image_set.ts";
import { BadImageError, decodeImages } from "../../src/data/decode.ts";
import { allPixels } from "../../src/data/image_set.ts";
import { decodePixels, type Pixels } from "../../src/data/codecs.ts";
import { DecodePool } from "../../src/data/decode_pool.ts";
import { resizeToRgb } from "../../src/data/resize.ts";
import { listClassFolder } from "../../src/data/dataset.ts";
import { gifPaletteColor } from "../../fixtures/make_fixtures.ts";
import { getFixtures } from "../_helpers/data.ts";

await tf.setBackend("cpu");

function rgbOf(rgba: Uint8Array): Uint8Array {
  const out = new Uint8Array((rgba.length / 4) * 3);
  for (let p = 0; p < rgba.length / 4; p++) {
    out.set(rgba.subarray(p * 4, p * 4 + 3), p * 3);
  }
  return out;
}

Deno.test("decode: JPEG, grayscale PNG, alpha PNG, GIF and TIFF become the right RGB", async () => {
  const fx = await getFixtures();
  const kinds = new Set<string>();
  for (const img of fx.images) {
    const bytes = await Deno.readFile(join(fx.datasetDir, img.rel));
    if (img.kind === "corrupt") {
      await assert.rejects(decodePixels(bytes), /corrupt or unsupported JPEG/);
      continue;
    }
    kinds.add(img.kind);
    const px = await decodePixels(bytes);
    assert.equal(px.width, img.width, img.rel);
    assert.equal(px.height, img.height, img.rel);
    const rgb = resizeToRgb(px, img.height, img.width); // same size: channel conversion only
    const source = rgbOf(img.rgba!);
    if (img.kind === "jpeg") {
      let err = 0;
      for (let i = 0; i < rgb.length; i++) err += Math.abs(rgb[i] - source[i]);
      assert.ok(
        err / rgb.length < 8,
        `${img.rel}: mean abs error ${err / rgb.length}`,
      );
    } else if (img.kind === "gif") {
      const snapped = source.slice();
      for (let i = 0; i < snapped.length; i += 3) {
        snapped.set(
          gifPaletteColor(snapped[i], snapped[i + 1], snapped[i + 2]),
          i,
        );
      }
      assert.deepEqual(rgb, snapped, img.rel);
    } else {
      // Lossless: gray is repeated into R, G and B; alpha is dropped, colour kept.
      assert.deepEqual(rgb, source, img.rel);
    }
  }
  assert.deepEqual([...kinds].sort(), [
    "gif",
    "jpeg",
    "png-alpha",
    "png-gray",
    "tiff",
  ]);
});

Deno.test("decode: unsupported or broken files are rejected with a reason", async () => {
  const fx = await getFixtures();
  const png = await Deno.readFile(
    join(fx.datasetDir, "train/cats/cat_gray.png"),
  );
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(0), /empty file/],
    [
      new TextEncoder().encode("BM\x00\x00\x00\x00"),
      /corrupt or unsupported BMP: incomplete BMP/,
    ],
    [
      new TextEncoder().encode("RIFF\x00\x00\x00\x00WEBPVP8 "),
      /corrupt or unsupported WebP/,
    ],
    [
      new TextEncoder().encode("print('hi')"),
      /not a JPEG, PNG, GIF, BMP, WebP or TIFF file \(starts with 70 72 69 6e\)/,
    ],
    [png.subarray(0, 60), /corrupt or unsupported PNG/],
    [new TextEncoder().encode("GIF89a\x01"), /corrupt or unsupported GIF/],
    [
      Uint8Array.from([0x49, 0x49, 42, 0, 8, 0, 0, 0, 0, 0]),
      /corrupt or unsupported TIFF/,
    ],
  ];
  for (const [bytes, reason] of cases) {
    await assert.rejects(decodePixels(bytes), reason);
  }
});

function randomPixels(
  width: number,
  height: number,
  channels: 3 | 4,
  seed: number,
): Pixels {
  const data = new Uint8Array(width * height * channels);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return { width, height, data, channels };
}

Deno.test("decode: bilinear and nearest resizing match tf.image.resize (half-pixel centres)", () => {
  // Hand-computed: [0, 100] stretched to 4 pixels.
  const line: Pixels = {
    width: 2,
    height: 1,
    data: Uint8Array.of(0, 0, 0, 100, 100, 100),
    channels: 3,
  };
  assert.deepEqual(
    [...resizeToRgb(line, 1, 4, "bilinear")].filter((_, i) => i % 3 === 0),
    [0, 25, 75, 100],
  );
  assert.deepEqual(
    [...resizeToRgb(line, 1, 4, "nearest")].filter((_, i) => i % 3 === 0),
    [0, 0, 100, 100],
  );

  for (
    const [w, h, ch, outH, outW] of [
      [37, 23, 4, 16, 20],
      [23, 37, 3, 50, 61],
      [500, 375, 4, 160, 160],
    ] as const
  ) {
    const px = randomPixels(w, h, ch, w * h);
    const rgb = new Float32Array(rgbOf4or3(px));
    const input = tf.tensor4d(rgb, [1, h, w, 3]);
    const bilinear = tf.image.resizeBilinear(input, [outH, outW], false, true);
    const nearest = tf.image.resizeNearestNeighbor(
      input,
      [outH, outW],
      false,
      true,
    );
    const expectedB = bilinear.dataSync();
    const expectedN = nearest.dataSync();
    tf.dispose([input, bilinear, nearest]);
    const ours = resizeToRgb(px, outH, outW, "bilinear");
    let maxDiff = 0;
    for (let i = 0; i < ours.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(ours[i] - expectedB[i]));
    }
    assert.ok(
      maxDiff <= 0.5 + 1e-3,
      `bilinear ${w}x${h}->${outW}x${outH}: max diff ${maxDiff}`,
    );
    assert.deepEqual(
      Array.from(resizeToRgb(px, outH, outW, "nearest")),
      Array.from(expectedN, Math.round),
    );
  }
});

function rgbOf4or3(px: Pixels): Uint8Array {
  return px.channels === 3
    ? Uint8Array.from(px.data)
    : rgbOf(Uint8Array.from(px.data));
}

async function trainItems() {
  const fx = await getFixtures();
  const folder = await listClassFolder(join(fx.datasetDir, "train"));
  return { fx, folder };
}

Deno.test("decode: a corrupt file is skipped with one warning, or fails the run on request", async () => {
  const { folder } = await trainItems();
  const warnings: string[] = [];
  const set = await decodeImages(folder.items, {
    imageSize: [24, 32],
    classNames: folder.classNames,
    workers: 0,
    warn: (m) => warnings.push(m),
  });
  const corrupt = folder.items.find((i) => i.path.endsWith("corrupt.jpg"))!;
  assert.equal(set.count, folder.items.length - 1);
  assert.equal(allPixels(set).length, set.count * 24 * 32 * 3);
  assert.deepEqual(set.skipped.map((b) => b.path), [corrupt.path]);
  assert.match(set.skipped[0].reason, /corrupt or unsupported JPEG/);
  assert.equal(warnings.length, 1);
  assert.ok(warnings[0].includes(corrupt.path));
  assert.match(warnings[0], /Skipped 1 of \d+ image files/);
  assert.ok(!set.paths.includes(corrupt.path));
  // Labels and pixels stay aligned with their files after the skip.
  for (let i = 0; i < set.count; i++) {
    const item = folder.items.find((it) => it.path === set.paths[i])!;
    assert.equal(set.labels[i], item.label);
  }
  const k = set.paths.findIndex((p) => p.endsWith("cat_gray.png"));
  const expected = resizeToRgb(
    await decodePixels(await Deno.readFile(set.paths[k])),
    24,
    32,
  );
  assert.deepEqual(set.pixelsOf(k), expected);

  const err = await decodeImages(folder.items, {
    imageSize: [24, 32],
    classNames: folder.classNames,
    workers: 0,
    onBadImage: "error",
  }).then(() => assert.fail("should fail"), (e) => e);
  assert.ok(err instanceof BadImageError);
  assert.deepEqual(err.bad.map((b: { path: string }) => b.path), [
    corrupt.path,
  ]);
  assert.ok(err.message.includes(corrupt.path));
  assert.match(err.message, /data\.onBadImage/);
});

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await listFiles(p));
    else out.push(p);
  }
  return out.sort();
}

Deno.test("decode: a second run reads the cache; damaged or unfinished entries are redone", async () => {
  const { folder } = await trainItems();
  const cacheDir = await Deno.makeTempDir();
  const opts = {
    imageSize: [20, 20] as const,
    classNames: folder.classNames,
    workers: 0,
    cacheDir,
    warn: () => {},
  };
  const first = await decodeImages(folder.items, opts);
  assert.equal(first.stats.decoded, folder.items.length - 1);
  assert.equal(first.stats.cached, 0);
  const second = await decodeImages(folder.items, opts);
  assert.equal(second.stats.decoded, 0, "nothing decoded again");
  assert.equal(
    second.stats.cached,
    folder.items.length,
    "all answered by the cache, the bad file too",
  );
  assert.deepEqual(allPixels(second), allPixels(first));
  assert.deepEqual(second.skipped, first.skipped);

  // Another size or interpolation is another cache key.
  const nearest = await decodeImages(folder.items, {
    ...opts,
    interpolation: "nearest",
  });
  assert.equal(nearest.stats.decoded, folder.items.length - 1);

  // Simulate an interrupted run: a half-written entry and a stray temp file.
  const entries = (await listFiles(cacheDir)).filter((p) =>
    p.includes(decodeCacheFolder(20, 20, "bilinear")) && p.endsWith(".rgb")
  );
  assert.equal(entries.length, folder.items.length - 1);
  const victim = entries[0];
  const full = await Deno.readFile(victim);
  await Deno.writeFile(victim, full.subarray(0, 100));
  await Deno.writeFile(`${victim}.abcd1234.tmp`, full.subarray(0, 50));
  const third = await decodeImages(folder.items, opts);
  assert.equal(
    third.stats.decoded,
    1,
    "only the damaged entry is decoded again",
  );
  assert.deepEqual(allPixels(third), allPixels(first));
  assert.deepEqual(await Deno.readFile(victim), full, "entry repaired");
});

Deno.test("decode: Web Workers give the same result as the main thread", async () => {
  const { folder } = await trainItems();
  const opts = {
    imageSize: [28, 28] as const,
    classNames: folder.classNames,
    warn: () => {},
  };
  const main: ImageSet = await decodeImages(folder.items, {
    ...opts,
    workers: 0,
  });
  using pool = new DecodePool(2);
  assert.equal(pool.started, 0, "workers start lazily");
  const workers = await decodeImages(folder.items, { ...opts, pool });
  assert.equal(pool.started, 2);
  assert.deepEqual(allPixels(workers), allPixels(main));
  assert.deepEqual(workers.labels, main.labels);
  assert.deepEqual(workers.paths, main.paths);
  assert.deepEqual(workers.skipped, main.skipped);
  // The pool is reusable and rejects bad files with a DecodeFailure.
  await assert.rejects(
    pool.decode(new Uint8Array([1, 2, 3]), 4, 4),
    /not a JPEG/,
  );
  pool.close();
  await assert.rejects(pool.decode(new Uint8Array([1]), 4, 4), /closed/);
});
