import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { shuffleInPlace } from "../../src/util/rng.ts";
import {
  DatasetError,
  formatIgnored,
  isImageFile,
  junkKind,
  listClassFolder,
  loadDataset,
  resolveDatasetRoot,
  splitPerClass,
} from "../../src/data/dataset.ts";
import { FIXTURE_CLASSES } from "../../fixtures/make_fixtures.ts";
import { getFixtures } from "../_helpers/data.ts";
import { writeMessyTree } from "../_helpers/messy_tree.ts";

const rel = (root: string, paths: { path: string }[]) =>
  paths.map((p) => relative(root, p.path));

Deno.test("dataset: classes are sorted folder names, labels their index, images by extension", async () => {
  const fx = await getFixtures();
  const folder = await listClassFolder(join(fx.datasetDir, "train"));
  assert.deepEqual(folder.classNames, [...FIXTURE_CLASSES]);
  const expected = fx.images.filter((i) => i.split === "train")
    .map((i) => i.rel.slice("train/".length))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  // Deterministic order: by class, then path; the .txt/.py files are ignored,
  // the upper-case .JPG is kept.
  assert.deepEqual(rel(folder.dir, folder.items), expected);
  assert.ok(expected.includes("cats/cat.upper.JPG"));
  for (const item of folder.items) {
    assert.equal(item.className, folder.classNames[item.label]);
    assert.ok(relative(folder.dir, item.path).startsWith(`${item.className}/`));
  }
  assert.ok(
    !folder.items.some((i) =>
      i.path.endsWith(".txt") || i.path.endsWith(".py")
    ),
  );
  for (
    const name of [
      "a.jpg",
      "b.JPEG",
      "c.Png",
      "d.gif",
      "e.tif",
      "f.TIFF",
      "g.BMP",
    ]
  ) {
    assert.ok(isImageFile(name), name);
  }
  for (
    const name of [
      "vectorize.py",
      "x.txt",
      "jpg",
      ".jpg",
      "x.webp",
      "x.jpg.bak",
    ]
  ) {
    assert.ok(!isImageFile(name), name);
  }
});

Deno.test("dataset: folders give train (seed-shuffled) and validation", async () => {
  const fx = await getFixtures();
  const a = await loadDataset({ root: fx.datasetDir, seed: 1 });
  const b = await loadDataset({ root: fx.datasetDir, seed: 1 });
  const c = await loadDataset({ root: fx.datasetDir, seed: 2 });
  assert.equal(a.validationSource, "folder");
  assert.equal(a.validationDir, join(fx.datasetDir, "validation"));
  assert.deepEqual(a.classNames, [...FIXTURE_CLASSES]);
  const trainFiles = fx.images.filter((i) => i.split === "train").length;
  assert.equal(a.train.length, trainFiles);
  assert.equal(
    a.validation.length,
    fx.images.filter((i) => i.split === "validation").length,
  );
  assert.deepEqual(a.train, b.train, "same seed, same order");
  assert.notDeepEqual(
    rel(fx.datasetDir, a.train),
    rel(fx.datasetDir, c.train),
    "another seed, another order",
  );
  assert.deepEqual(
    rel(fx.datasetDir, a.train).sort(),
    rel(fx.datasetDir, c.train).sort(),
    "same files either way",
  );
  assert.notDeepEqual(
    rel(fx.datasetDir, a.train),
    rel(fx.datasetDir, a.train).sort(),
    "shuffled, not sorted",
  );
  // Validation keeps the deterministic sorted order.
  assert.deepEqual(
    rel(fx.datasetDir, a.validation),
    fx.images.filter((i) => i.split === "validation").map((i) => i.rel).sort(),
  );
});

Deno.test("dataset: without a validation folder, validationSplit splits each class reproducibly", async () => {
  const fx = await getFixtures();
  const opts = {
    root: fx.datasetDir,
    validationDir: null,
    validationSplit: 0.25,
    seed: 7,
  };
  const a = await loadDataset(opts);
  const b = await loadDataset(opts);
  const c = await loadDataset({ ...opts, seed: 8 });
  assert.equal(a.validationSource, "split");
  assert.equal(a.validationDir, null);
  assert.deepEqual(a.validation, b.validation);
  assert.deepEqual(a.train, b.train);
  assert.notDeepEqual(
    a.validation,
    c.validation,
    "another seed picks other images",
  );
  const all = await listClassFolder(join(fx.datasetDir, "train"));
  for (let label = 0; label < all.classNames.length; label++) {
    const n = all.items.filter((i) => i.label === label).length;
    const nVal = a.validation.filter((i) => i.label === label).length;
    assert.equal(nVal, Math.round(n * 0.25), `class ${all.classNames[label]}`);
  }
  const union = [...a.train, ...a.validation].map((i) => i.path).sort();
  assert.deepEqual(
    union,
    all.items.map((i) => i.path).sort(),
    "disjoint and complete",
  );
  assert.equal(new Set(union).size, union.length);

  // A named validation folder that does not exist also falls back to the split.
  const missing = await loadDataset({ ...opts, validationDir: "val" });
  assert.equal(missing.validationSource, "split");
  assert.deepEqual(missing.validation, a.validation);

  // Small classes keep at least one image on each side.
  const tiny = splitPerClass(
    [0, 0, 1, 1].map((label, i) => ({
      path: `p${i}`,
      label,
      className: `c${label}`,
    })),
    0.1,
    1,
  );
  assert.equal(tiny.train.length, 2);
  assert.equal(tiny.validation.length, 2);
});

async function makeTree(files: string[]): Promise<string> {
  const root = await Deno.makeTempDir();
  for (const f of files) {
    const path = join(root, f);
    if (f.endsWith("/")) {
      await Deno.mkdir(path, { recursive: true });
    } else {
      await Deno.mkdir(join(path, ".."), { recursive: true });
      await Deno.writeFile(path, new Uint8Array([1]));
    }
  }
  return root;
}

Deno.test("dataset: empty classes, a single class and mismatched classes are clear errors", async () => {
  const empty = await makeTree([
    "train/cats/a.jpg",
    "train/dogs/readme.txt",
    "train/birds/",
  ]);
  await assert.rejects(
    loadDataset({ root: empty }),
    (e: Error) =>
      e instanceof DatasetError &&
      e.message.includes(join(empty, "train", "dogs")) &&
      e.message.includes(join(empty, "train", "birds")) &&
      /no images/.test(e.message),
  );

  const single = await makeTree(["train/cats/a.jpg", "validation/cats/b.jpg"]);
  await assert.rejects(
    loadDataset({ root: single }),
    (e: Error) =>
      e instanceof DatasetError && /at least 2 classes/.test(e.message) &&
      /"cats"/.test(e.message),
  );

  const mismatch = await makeTree([
    "train/cats/a.jpg",
    "train/dogs/b.jpg",
    "validation/cats/c.jpg",
    "validation/wolves/d.jpg",
  ]);
  await assert.rejects(
    loadDataset({ root: mismatch }),
    (e: Error) =>
      e instanceof DatasetError && /different classes/.test(e.message) &&
      /only in training: dogs/.test(e.message) &&
      /only in validation: wolves/.test(e.message),
  );

  const noTrain = await makeTree([
    "training/cats/a.jpg",
    "training/dogs/b.jpg",
  ]);
  await assert.rejects(
    loadDataset({ root: noTrain }),
    (e: Error) =>
      e instanceof DatasetError && e.message.includes(join(noTrain, "train")) &&
      /holds: training/.test(e.message) && /data\.trainDir/.test(e.message),
  );
  // ...and trainDir "." reads class folders at the root.
  const flat = await makeTree([
    "cats/a.jpg",
    "cats/b.png",
    "dogs/c.jpg",
    "dogs/d.jpg",
  ]);
  const ds = await loadDataset({
    root: flat,
    trainDir: ".",
    validationDir: null,
    validationSplit: 0.5,
  });
  assert.deepEqual(ds.classNames, ["cats", "dogs"]);
  assert.equal(ds.train.length + ds.validation.length, 4);

  await assert.rejects(
    loadDataset({ root: flat, trainDir: "../etc" }),
    /outside the dataset root/,
  );
});

Deno.test("dataset: hidden files and folders are ignored; a single top folder is the root", async () => {
  const root = await makeTree([
    "top/train/cats/a.jpg",
    "top/train/cats/._a.jpg",
    "top/train/.git/x.jpg",
    "top/train/dogs/sub/b.jpg",
    "__MACOSX/top/._x",
    ".DS_Store",
  ]);
  assert.equal(await resolveDatasetRoot(root, "train"), join(root, "top"));
  const folder = await listClassFolder(join(root, "top", "train"));
  assert.deepEqual(folder.classNames, ["cats", "dogs"]);
  assert.deepEqual(rel(folder.dir, folder.items), [
    "cats/a.jpg",
    "dogs/sub/b.jpg",
  ]);
  const direct = await makeTree(["train/cats/a.jpg", "other/x.jpg"]);
  assert.equal(await resolveDatasetRoot(direct, "train"), direct);
});

Deno.test("dataset: the seeded shuffle is a reproducible permutation", () => {
  const base = Array.from({ length: 50 }, (_, i) => i);
  const a = shuffleInPlace([...base], 3);
  assert.deepEqual(a, shuffleInPlace([...base], 3));
  assert.notDeepEqual(a, shuffleInPlace([...base], 4));
  assert.notDeepEqual(a, base);
  assert.deepEqual([...a].sort((x, y) => x - y), base);
});

Deno.test("dataset: junk is ignored and counted by kind, other files by extension, .webp only on request", async () => {
  const dir = await writeMessyTree(await Deno.makeTempDir());
  try {
    const folder = await listClassFolder(join(dir, "train"));
    // Keras' allowlist (.bmp included) and TIFF; junk never, whatever its
    // extension; .webp not by default.
    assert.deepEqual(folder.classNames, ["cats", "dogs"]);
    assert.deepEqual(rel(folder.dir, folder.items), [
      "cats/a.jpg",
      "cats/b.JPEG",
      "cats/c.bmp",
      "cats/f.jpg",
      "dogs/g.png",
      "dogs/h.gif",
      "dogs/i.bmp",
    ]);
    assert.deepEqual(folder.ignored, {
      junk: {
        "._* (AppleDouble)": 1,
        ".DS_Store": 1,
        "__MACOSX/": 2,
        "Thumbs.db": 1,
        "desktop.ini": 1,
        "hidden": 2,
      },
      other: { txt: 2, "(none)": 1, webp: 2, csv: 1 },
    });
    assert.deepEqual(formatIgnored(folder.ignored), [
      "data: ignored 8 junk entries (__MACOSX/: 2, hidden: 2, .DS_Store: 1, ._* (AppleDouble): 1, Thumbs.db: 1, desktop.ini: 1)",
      "data: skipped 6 files in class folders that are not .jpg/.jpeg/.png/.gif/.bmp/.tif/.tiff images, by extension (txt: 2, webp: 2, (none): 1, csv: 1); .webp is not in Keras' list, set data.includeWebp to read it",
    ]);
    const withWebp = await listClassFolder(join(dir, "train"), {
      includeWebp: true,
    });
    assert.deepEqual(
      rel(withWebp.dir, withWebp.items).filter((p) => p.endsWith(".webp")),
      ["cats/d.webp", "cats/e.webp"],
    );
    assert.deepEqual(withWebp.ignored.other, {
      txt: 2,
      "(none)": 1,
      csv: 1,
    });
    assert.deepEqual(formatIgnored({ junk: {}, other: {} }), []);
    // A split dataset carries the counts; the root resolution skips junk.
    const ds = await loadDataset({ root: dir, validationDir: null });
    assert.equal(ds.ignored.junk["__MACOSX/"], 2);
    await Deno.writeTextFile(join(dir, "Thumbs.db"), "x");
    assert.equal(await resolveDatasetRoot(dir), join(dir, "train"));
    assert.equal(junkKind("._x.png", false), "._* (AppleDouble)");
    assert.equal(junkKind("__MACOSX", false), null);
    assert.equal(junkKind("DESKTOP.INI", false), "desktop.ini");
    assert.equal(junkKind("cat.jpg", false), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
