import assert from "node:assert/strict";
import { allPixels } from "../../src/data/image_set.ts";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { prepareData } from "../../src/data/prepare.ts";
import { FIXTURE_CLASSES } from "../../fixtures/make_fixtures.ts";
import { exists, getFixtures, serve } from "../_helpers/data.ts";

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
