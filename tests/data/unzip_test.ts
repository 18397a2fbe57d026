import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { UNZIP_MARKER } from "../../src/cache/_unzip_marker.ts";
import {
  defaultUnzipDest,
  unsafeEntryReason,
  unzip,
  UnzipError,
} from "../../src/data/unzip.ts";
import { FIXTURE_TOP } from "../../fixtures/make_fixtures.ts";
import { exists, getFixtures, listDir } from "../_helpers/data.ts";

async function copyToTemp(path: string, name = "archive.zip"): Promise<string> {
  const dir = await Deno.makeTempDir();
  const dest = join(dir, name);
  await Deno.copyFile(path, dest);
  return dest;
}

Deno.test("unzip: extracts every file, marks completion, and skips a re-run", async () => {
  const fx = await getFixtures();
  const zip = await copyToTemp(fx.zips.dataset, "tiny.zip");
  const progress: number[] = [];
  const first = await unzip(zip, {
    onProgress: (p) => progress.push(p.entries),
  });
  assert.equal(first.dir, join(dirname(zip), "tiny"));
  assert.equal(first.dir, defaultUnzipDest(zip));
  assert.equal(first.extracted, true);
  assert.equal(
    first.root,
    join(first.dir, FIXTURE_TOP),
    "single top folder is the root",
  );
  const expected = fx.images.length + fx.nonImages.length;
  assert.equal(first.files, expected);
  assert.equal(progress.length, expected);
  assert.equal(progress.at(-1), expected);
  for (const img of fx.images) {
    assert.deepEqual(
      await Deno.readFile(join(first.root, img.rel)),
      await Deno.readFile(join(fx.datasetDir, img.rel)),
      img.rel,
    );
  }
  assert.ok(await exists(join(first.dir, UNZIP_MARKER)));
  assert.deepEqual(
    await listDir(dirname(zip)),
    ["tiny", "tiny.zip"],
    "no partial folder left",
  );

  // A re-run reuses the extraction: a file added since survives, nothing is rewritten.
  const sentinel = join(first.root, "sentinel.txt");
  await Deno.writeTextFile(sentinel, "still here");
  const before = (await Deno.stat(join(first.root, fx.images[0].rel))).mtime;
  const again = await unzip(zip);
  assert.equal(again.extracted, false);
  assert.equal(again.root, first.root);
  assert.equal(again.files, expected);
  assert.equal(await Deno.readTextFile(sentinel), "still here");
  assert.deepEqual(
    (await Deno.stat(join(first.root, fx.images[0].rel))).mtime,
    before,
  );

  // A different archive at the same path is extracted again.
  await Deno.copyFile(fx.zips.flat, zip);
  const changed = await unzip(zip);
  assert.equal(changed.extracted, true);
  assert.equal(
    changed.root,
    changed.dir,
    "no single top folder: root is the destination",
  );
  assert.equal(await exists(sentinel), false);
  assert.ok(await exists(join(changed.root, "train", "cats", "cat.0.jpg")));
});

Deno.test("unzip: zip-slip entries are refused before anything is written", async () => {
  const fx = await getFixtures();
  for (
    const [fixture, entry] of [
      [fx.zips.slip, "../evil.txt"],
      [fx.zips.absolute, "/tmp/evil-absolute.txt"],
    ] as const
  ) {
    const zip = await copyToTemp(fixture);
    const parent = dirname(zip);
    const err = await unzip(zip, { dest: join(parent, "out", "x") }).then(
      () => assert.fail(`${entry} should be refused`),
      (e) => e,
    );
    assert.ok(err instanceof UnzipError, String(err));
    assert.equal(err.kind, "unsafe");
    assert.equal(err.entry, entry);
    assert.ok(err.message.includes(`"${entry}"`), err.message);
    assert.ok(err.message.includes(zip));
    assert.equal(await exists(join(parent, "out", "x")), false);
    assert.equal(await exists(join(parent, "out", "evil.txt")), false);
    assert.equal(await exists(join(parent, "evil.txt")), false);
    assert.deepEqual(
      await listDir(join(parent, "out")),
      [],
      "no partial folder left",
    );
  }
  assert.equal(
    unsafeEntryReason("a/../../b"),
    'has a ".." component that escapes the destination folder',
  );
  assert.equal(
    unsafeEntryReason("..\\win.txt"),
    'has a ".." component that escapes the destination folder',
  );
  assert.equal(unsafeEntryReason("C:/x.txt"), "is an absolute path");
  assert.equal(unsafeEntryReason("a/..b/c..d.txt"), null);
  assert.equal(unsafeEntryReason("train/cats/cat.1.jpg"), null);
});

Deno.test("unzip: a truncated zip fails clearly and leaves nothing marked complete", async () => {
  const fx = await getFixtures();
  const zip = await copyToTemp(fx.zips.truncated);
  const err = await unzip(zip).then(() => assert.fail("should fail"), (e) => e);
  assert.ok(err instanceof UnzipError, String(err));
  assert.equal(err.kind, "corrupt");
  assert.ok(err.message.includes(zip));
  assert.match(err.message, /truncated or not a zip/);
  assert.deepEqual(await listDir(dirname(zip)), ["archive.zip"]);
});

Deno.test("unzip: a corrupt entry names the entry and leaves nothing behind", async () => {
  const fx = await getFixtures();
  const zip = await copyToTemp(fx.zips.corrupt);
  const err = await unzip(zip).then(() => assert.fail("should fail"), (e) => e);
  assert.ok(err instanceof UnzipError, String(err));
  assert.equal(err.kind, "corrupt");
  assert.equal(err.entry, "data/big.txt");
  assert.match(err.message, /"data\/big\.txt"/);
  assert.deepEqual(await listDir(dirname(zip)), ["archive.zip"]);
  // A later good archive at the same path extracts fine (no stale state).
  await Deno.copyFile(fx.zips.flat, zip);
  const ok = await unzip(zip);
  assert.equal(ok.extracted, true);
});

Deno.test("unzip: refuses to overwrite a folder it did not create", async () => {
  const fx = await getFixtures();
  const zip = await copyToTemp(fx.zips.dataset);
  const dest = join(dirname(zip), "mine");
  await Deno.mkdir(dest);
  await Deno.writeTextFile(join(dest, "precious.txt"), "keep");
  const err = await unzip(zip, { dest }).then(
    () => assert.fail("should fail"),
    (e) => e,
  );
  assert.ok(err instanceof UnzipError);
  assert.equal(err.kind, "exists");
  assert.equal(await Deno.readTextFile(join(dest, "precious.txt")), "keep");
});
