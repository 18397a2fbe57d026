/**
 * The decoded-image cache: keyed by cache version, decoder version, size and
 * interpolation; entries (and `.bad` markers) verified on read, damaged ones
 * decoded again with one summarised warning; two decodes of the same files
 * at once into one cache agree. Reference: the same images decoded without
 * a cache.
 */

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  DECODE_CACHE_VERSION,
  decodeCacheFolder,
  decodeCacheKey,
  decodeCachePath,
  parseDecodeCacheFolder,
} from "../../src/cache/_decoded_layout.ts";
import { DECODER_VERSION } from "../../src/deps/decoder_version.ts";
import { decodeImages } from "../../src/data/decode.ts";
import { allPixels } from "../../src/data/image_set.ts";
import { listClassFolder } from "../../src/data/dataset.ts";
import { readCacheFile } from "../../src/cache/cache_file.ts";
import { sha256Hex } from "../../src/util/hash.ts";
import { getFixtures } from "../_helpers/data.ts";
import { findLeftoverNames } from "../_helpers/cache.ts";

async function trainItems() {
  const fx = await getFixtures();
  return await listClassFolder(join(fx.datasetDir, "train"));
}

async function entriesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await entriesUnder(p));
    else out.push(p);
  }
  return out.sort();
}

Deno.test("decode cache: DECODER_VERSION names the codec versions pinned in src/deps/codecs.ts", async () => {
  const deps = await Deno.readTextFile(
    fileURLToPath(new URL("../../src/deps/codecs.ts", import.meta.url)),
  );
  const version = (pkg: string) => {
    const found = new Set(
      [...deps.matchAll(new RegExp(`npm:${pkg}@([^/"]+)`, "g"))].map((m) =>
        m[1]
      ),
    );
    assert.equal(found.size, 1, `one version of ${pkg}: ${[...found]}`);
    return [...found][0];
  };
  assert.equal(
    DECODER_VERSION,
    `imagescript@${version("imagescript")}+tiff@${version("tiff")}+jpeg-turbo@${
      version("@cwasm/jpeg-turbo")
    }+webp@${version("@cwasm/webp")}+nsbmp@${version("@cwasm/nsbmp")}`,
  );
  const folder = decodeCacheFolder(160, 128, "bilinear");
  assert.equal(
    folder,
    `v${DECODE_CACHE_VERSION}-160x128-bilinear-${DECODER_VERSION}`,
  );
  assert.deepEqual(parseDecodeCacheFolder(folder), {
    version: DECODE_CACHE_VERSION,
    height: 160,
    width: 128,
    interpolation: "bilinear",
    decoder: DECODER_VERSION,
  });
  // Decoding modes other than TF's (data.exifOrientation, data.bmp) get
  // folders of their own, still ours.
  assert.deepEqual(
    parseDecodeCacheFolder(decodeCacheFolder(160, 128, "bilinear+exif+bmp")),
    {
      version: DECODE_CACHE_VERSION,
      height: 160,
      width: 128,
      interpolation: "bilinear+exif+bmp",
      decoder: DECODER_VERSION,
    },
  );
  assert.deepEqual(parseDecodeCacheFolder("v1-160x160-nearest"), {
    version: 1,
    height: 160,
    width: 160,
    interpolation: "nearest",
    decoder: null,
  });
  assert.equal(parseDecodeCacheFolder("features"), null);
});

Deno.test("decode cache: damaged entries are decoded again, with one warning for all", async () => {
  const folder = await trainItems();
  const cacheDir = await Deno.makeTempDir();
  const warnings: string[] = [];
  const opts = {
    imageSize: [20, 20] as const,
    classNames: folder.classNames,
    workers: 0,
    cacheDir,
    warn: (m: string) => warnings.push(m),
  };
  const reference = await decodeImages(folder.items, {
    ...opts,
    cacheDir: null,
  });
  const first = await decodeImages(folder.items, opts);
  assert.deepEqual(allPixels(first), allPixels(reference));
  assert.equal(first.stats.rejected, 0);

  // Every good entry is a verified cache file under its key.
  const good = folder.items.filter((i) => !i.path.endsWith("corrupt.jpg"));
  for (const item of good) {
    const sha = sha256Hex(await Deno.readFile(item.path));
    const path = decodeCachePath(cacheDir, sha, 20, 20, "bilinear");
    const read = await readCacheFile(
      path,
      decodeCacheKey(sha, 20, 20, "bilinear"),
    );
    assert.ok(read.ok, item.path);
    assert.equal(read.data.length, 20 * 20 * 3);
  }

  // Damage four entries in four ways, and the bad-file marker.
  const entries = (await entriesUnder(cacheDir)).filter((p) =>
    p.endsWith(".rgb")
  );
  const badMarker = (await entriesUnder(cacheDir)).find((p) =>
    p.endsWith(".bad")
  )!;
  assert.equal(entries.length, good.length);
  const flip = await Deno.readFile(entries[0]);
  flip[flip.length - 7] ^= 0x10; // one bit of the pixels
  await Deno.writeFile(entries[0], flip);
  const cut = await Deno.readFile(entries[1]);
  await Deno.writeFile(entries[1], cut.subarray(0, cut.length - 100));
  await Deno.copyFile(entries[3], entries[2]); // another entry's bytes
  await Deno.writeFile(entries[3], new Uint8Array(20 * 20 * 3)); // old raw format
  const marker = await Deno.readFile(badMarker);
  marker[marker.length - 1] ^= 1;
  await Deno.writeFile(badMarker, marker);

  warnings.length = 0;
  const second = await decodeImages(folder.items, opts);
  assert.deepEqual(allPixels(second), allPixels(reference));
  assert.deepEqual(second.skipped, reference.skipped);
  assert.equal(second.stats.decoded, 4, "the four damaged entries");
  assert.equal(second.stats.rejected, 5, "four entries and the marker");
  const rejections = warnings.filter((w) => w.startsWith("decode cache:"));
  assert.equal(rejections.length, 1, warnings.join("\n"));
  assert.match(rejections[0], /^decode cache: 5 entries failed verification/);
  for (
    const kind of [
      "checksum mismatch: 2",
      "another key: 1",
      "wrong length: 1",
      "not a cache file of this version: 1",
    ]
  ) {
    assert.ok(rejections[0].includes(kind), `${kind} in ${rejections[0]}`);
  }
  assert.ok(!rejections[0].includes("\n"), "one line");

  // Repaired: a third run reads everything from the cache, silently.
  warnings.length = 0;
  const third = await decodeImages(folder.items, opts);
  assert.equal(third.stats.decoded, 0);
  assert.equal(third.stats.rejected, 0);
  assert.deepEqual(allPixels(third), allPixels(reference));
  assert.equal(warnings.filter((w) => w.startsWith("decode cache:")).length, 0);
  await Deno.remove(cacheDir, { recursive: true });
});

Deno.test("decode cache: entries of another cache or decoder version are not read", async () => {
  const folder = await trainItems();
  const cacheDir = await Deno.makeTempDir();
  // What version 1 wrote: raw bytes (here: black) under v1-<size>-<interp>.
  for (const item of folder.items) {
    const sha = sha256Hex(await Deno.readFile(item.path));
    for (
      const dir of [
        "v1-20x20-bilinear",
        `v${DECODE_CACHE_VERSION}-20x20-bilinear-imagescript@0.0.1+tiff@0.0.1`,
      ]
    ) {
      const path = join(cacheDir, dir, sha.slice(0, 2), `${sha}.rgb`);
      await Deno.mkdir(dirname(path), { recursive: true });
      await Deno.writeFile(path, new Uint8Array(20 * 20 * 3));
    }
  }
  const set = await decodeImages(folder.items, {
    imageSize: [20, 20],
    classNames: folder.classNames,
    workers: 0,
    cacheDir,
    warn: () => {},
  });
  assert.equal(set.stats.cached, 0);
  assert.equal(set.stats.decoded, folder.items.length - 1);
  assert.ok(
    allPixels(set).some((v) => v > 0),
    "decoded, not the black entries",
  );
  await Deno.remove(cacheDir, { recursive: true });
});

Deno.test("decode cache: two decodes of the same files at once into one cache agree", async () => {
  const folder = await trainItems();
  const cacheDir = await Deno.makeTempDir();
  const opts = {
    imageSize: [16, 24] as const,
    classNames: folder.classNames,
    workers: 0,
    cacheDir,
    warn: () => {},
  };
  const [a, b] = await Promise.all([
    decodeImages(folder.items, opts),
    decodeImages(folder.items, opts),
  ]);
  assert.deepEqual(allPixels(a), allPixels(b));
  assert.deepEqual(a.skipped, b.skipped);
  const again = await decodeImages(folder.items, opts);
  assert.equal(again.stats.decoded, 0);
  assert.equal(again.stats.rejected, 0);
  assert.deepEqual(allPixels(again), allPixels(a));
  assert.deepEqual(await findLeftoverNames(cacheDir), []);
  await Deno.remove(cacheDir, { recursive: true });
});
