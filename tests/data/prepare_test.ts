import assert from "node:assert/strict";
import { allPixels } from "../../src/data/image_set.ts";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { prepareData } from "../../src/data/prepare.ts";
import { FIXTURE_CLASSES } from "../../fixtures/make_fixtures.ts";
import { exists, getFixtures, serve } from "../_helpers/data.ts";
import { writeMessyTree } from "../_helpers/messy_tree.ts";
import { pngBomb } from "../_helpers/png_bomb.ts";

Deno.test("prepareData: URL -> cache -> unzip -> dataset -> decode, and a second run reuses everything", async () => {
  const fx = await getFixtures();
  const zip = await Deno.readFile(fx.zips.dataset);
  const server = serve({ "/mledu/tiny_filtered.zip": zip });
  const cacheDir = await Deno.makeTempDir();
  const opts = {
    url: `${server.url}/mledu/tiny_filtered.zip`,
    sha256: createHash("sha256").update(zip).digest("hex"),
    imageSize: [32, 24] as const,
    cacheDir,
    workers: 0,
    seed: 3,
    downloadProgress: () => () => {},
  };
  const nTrain = fx.images.filter((i) => i.split === "train").length;
  const nVal = fx.images.filter((i) => i.split === "validation").length;
  try {
    const warnings: string[] = [];
    const logs: string[] = [];
    const first = await prepareData({
      ...opts,
      warn: (m) => warnings.push(m),
      log: (l) => logs.push(l),
    });
    assert.deepEqual(first.classNames, [...FIXTURE_CLASSES]);
    assert.equal(first.source.kind, "url");
    assert.equal(first.source.cached, false);
    assert.equal(first.source.zipPath, join(cacheDir, "tiny_filtered.zip"));
    assert.equal(first.train.count, nTrain - 1, "corrupt file skipped");
    assert.equal(first.validation.count, nVal);
    assert.equal(first.train.height, 32);
    assert.equal(first.train.width, 24);
    assert.equal(allPixels(first.train).length, (nTrain - 1) * 32 * 24 * 3);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /corrupt\.jpg/);
    assert.equal(first.train.stats.decoded, nTrain - 1);
    assert.ok(
      logs.some((l) => l.includes("3 classes [cats, dogs, horses]")),
      logs.join("\n"),
    );
    assert.deepEqual(server.requests, ["/mledu/tiny_filtered.zip"]);
    assert.ok(
      await exists(join(cacheDir, "tiny_filtered", "tiny_filtered", "train")),
    );

    const second = await prepareData({
      ...opts,
      warn: () => {},
      log: () => {},
    });
    assert.equal(server.requests.length, 1, "no second download");
    assert.equal(second.source.cached, true);
    assert.equal(second.train.stats.decoded, 0, "no second decode");
    assert.equal(second.validation.stats.decoded, 0);
    assert.deepEqual(allPixels(second.train), allPixels(first.train));
    assert.deepEqual(second.train.paths, first.train.paths);
    assert.deepEqual(second.validation.labels, first.validation.labels);
    for (const stage of ["fetch", "unzip", "dataset", "decode"] as const) {
      assert.ok(second.seconds[stage] >= 0 && second.seconds[stage] < 60);
    }
  } finally {
    await server.close();
  }
});

Deno.test("prepareData: data.path as a folder or a local zip; validation split when no folder", async () => {
  const fx = await getFixtures();
  const cacheDir = await Deno.makeTempDir();
  const quiet = {
    log: () => {},
    warn: () => {},
    workers: 0,
    cacheDir,
    decodeCache: false,
  };
  const folder = await prepareData({
    ...quiet,
    path: fx.datasetDir,
    imageSize: [16, 16],
    validationDir: null,
    validationSplit: 0.5,
  });
  assert.equal(folder.source.kind, "folder");
  assert.equal(folder.dataset.validationSource, "split");
  const nTrain = fx.images.filter((i) => i.split === "train").length;
  assert.equal(folder.train.count + folder.validation.count, nTrain - 1);

  // A local zip whose single top folder holds train/ and validation/.
  const local = await prepareData({
    ...quiet,
    path: fx.zips.dataset,
    imageSize: [16, 16],
  });
  assert.equal(local.source.kind, "zip");
  assert.equal(local.dataset.validationSource, "folder");
  assert.ok(
    local.dataset.root.startsWith(join(cacheDir, "extracted")),
    local.dataset.root,
  );
  assert.deepEqual(local.classNames, [...FIXTURE_CLASSES]);

  await assert.rejects(
    prepareData({
      ...quiet,
      path: join(cacheDir, "nope"),
      imageSize: [16, 16],
    }),
    /data\.path not found/,
  );
  await assert.rejects(
    prepareData({ ...quiet, imageSize: [16, 16] }),
    /data\.url .*data\.path/,
  );
});

Deno.test("prepareData: a corrupt cached download is removed so the next run fetches it again", async () => {
  const fx = await getFixtures();
  const server = serve({ "/t.zip": await Deno.readFile(fx.zips.truncated) });
  const cacheDir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      prepareData({
        url: `${server.url}/t.zip`,
        imageSize: [8, 8],
        cacheDir,
        workers: 0,
        log: () => {},
        downloadProgress: () => () => {},
      }),
      /truncated .*was removed; run again/s,
    );
    assert.equal(await exists(join(cacheDir, "t.zip")), false);
    assert.equal(await exists(join(cacheDir, "t")), false);
  } finally {
    await server.close();
  }
});

Deno.test("prepareData: a scraped tree — junk and other files in one line each, BMP/WebP/CMYK read as TF, bombs and TF's refusals named, EXIF modes cached apart", async () => {
  const dir = await writeMessyTree(await Deno.makeTempDir());
  const cacheDir = await Deno.makeTempDir();
  try {
    // 10000x10000: 100 M pixels, past PIL's 89,478,485.
    await Deno.writeFile(
      join(dir, "train/dogs/bomb.png"),
      pngBomb(10000, 10000),
    );
    const lines: string[] = [];
    const base = {
      path: dir,
      imageSize: [16, 16] as [number, number],
      validationDir: null,
      validationSplit: 0.01,
      cacheDir,
      workers: 1,
      warn: () => {},
      log: (l: string) => lines.push(l),
    };
    const data = await prepareData({ ...base, includeWebp: true });
    assert.ok(
      lines.includes(
        "data: ignored 8 junk entries (__MACOSX/: 2, hidden: 2, .DS_Store: 1, ._* (AppleDouble): 1, Thumbs.db: 1, desktop.ini: 1)",
      ),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) =>
        l.startsWith("data: skipped 4 files in class folders") &&
        l.endsWith("by extension (txt: 2, (none): 1, csv: 1)")
      ),
      lines.join("\n"),
    );
    const skipped = [...data.train.skipped, ...data.validation.skipped]
      .map((s) => `${s.path.slice(dir.length + 1)}: ${s.reason}`).sort();
    assert.equal(skipped.length, 3, skipped.join("\n"));
    assert.match(
      skipped[0],
      /^train\/cats\/e\.webp: corrupt or unsupported WebP: WebP with alpha/,
    );
    assert.match(
      skipped[1],
      /^train\/dogs\/bomb\.png: PNG of 10000×10000 = 100,000,000 pixels exceeds data\.maxImagePixels \(89,478,485\)/,
    );
    assert.match(skipped[2], /^train\/dogs\/i\.bmp: .*1-bit BMP/);
    const kept = [...data.train.paths, ...data.validation.paths]
      .map((p) => p.slice(dir.length + 1)).sort();
    assert.deepEqual(kept, [
      "train/cats/a.jpg",
      "train/cats/b.JPEG",
      "train/cats/c.bmp",
      "train/cats/d.webp",
      "train/cats/f.jpg",
      "train/dogs/g.png",
      "train/dogs/h.gif",
    ]);
    // The Adobe CMYK JPEG is not black (it was, before TF's conversion).
    const set = data.train.paths.some((p) => p.endsWith("b.JPEG"))
      ? data.train
      : data.validation;
    const px = set.pixelsOf(set.paths.findIndex((p) => p.endsWith("b.JPEG")));
    assert.ok(px.reduce((a, b) => a + b, 0) / px.length > 50);

    // The bomb left no ".bad" entry: the limit is read from the header on
    // every run, so lowering it refuses cached images too.
    const folders = [...Deno.readDirSync(join(cacheDir, "decoded"))].map((e) =>
      e.name
    );
    assert.equal(folders.length, 1);
    const bads: string[] = [];
    for (
      const shard of Deno.readDirSync(join(cacheDir, "decoded", folders[0]))
    ) {
      for (
        const e of Deno.readDirSync(
          join(cacheDir, "decoded", folders[0], shard.name),
        )
      ) {
        if (e.name.endsWith(".bad")) bads.push(e.name);
      }
    }
    assert.equal(bads.length, 2); // e.webp and i.bmp
    await assert.rejects(
      prepareData({ ...base, maxImagePixels: 1000, onBadImage: "error" }),
      (e: Error) => {
        const n = Number(/^(\d+) image files/.exec(e.message)?.[1]);
        const named = e.message.match(
          /exceeds data\.maxImagePixels \(1,000\)/g,
        );
        return n >= 5 && named?.length === n;
      },
    );

    // "apply" decodes into a folder of its own; f.jpg (orientation 6) turns.
    const applied = await prepareData({ ...base, exifOrientation: "apply" });
    const after = [...Deno.readDirSync(join(cacheDir, "decoded"))].map((e) =>
      e.name
    ).sort();
    assert.equal(after.length, 2);
    assert.ok(
      after.some((n) => /^v\d+-16x16-bilinear\+exif-/.test(n)),
      after.join(),
    );
    const pick = (d: typeof data, name: string) => {
      for (const s of [d.train, d.validation]) {
        const i = s.paths.findIndex((p) => p.endsWith(name));
        if (i >= 0) return s.pixelsOf(i);
      }
      throw new Error(name);
    };
    assert.notDeepEqual(pick(applied, "f.jpg"), pick(data, "f.jpg"));
    assert.deepEqual(pick(applied, "a.jpg"), pick(data, "a.jpg"));
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(cacheDir, { recursive: true });
  }
});
