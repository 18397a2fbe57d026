import assert from "node:assert/strict";
import { join } from "node:path";
import { loadLabelsDataset } from "../../src/data/_labels_dataset.ts";
import { DatasetError, loadDataset } from "../../src/data/dataset.ts";
import { prepareData } from "../../src/data/prepare.ts";
import { allPixels } from "../../src/data/image_set.ts";
import { sha256Hex } from "../../src/util/hash.ts";
import { getFixtures } from "../_helpers/data.ts";

const csvOf = (rows: string[][]) =>
  rows.map((r) => r.map((f) => /[",\n]/.test(f) ? `"${f}"` : f).join(","))
    .join("\r\n") + "\r\n";

/** The fixture images as CSV rows (`file,label,split`), in a given order. */
async function fixtureRows(): Promise<string[][]> {
  const fx = await getFixtures();
  return fx.images.map((i) => [i.rel, i.className, i.split]);
}

Deno.test("labels CSV with a split column lists exactly what the class folders list (classes, labels, seeded train order, validation)", async () => {
  const fx = await getFixtures();
  const rows = await fixtureRows();
  const dir = await Deno.makeTempDir();
  try {
    const csv = join(dir, "labels.csv");
    // Reversed rows: row order must not matter.
    const text = csvOf([["file", "label", "split"], ...rows.toReversed()]);
    await Deno.writeTextFile(csv, text);
    const folders = await loadDataset({ root: fx.datasetDir, seed: 5 });
    const fromCsv = await loadLabelsDataset({
      root: fx.datasetDir,
      labels: csv,
      seed: 5,
    });
    assert.deepEqual(fromCsv.classNames, folders.classNames);
    assert.deepEqual(fromCsv.train, folders.train);
    assert.deepEqual(fromCsv.validation, folders.validation);
    assert.equal(fromCsv.validationSource, "csv");
    assert.deepEqual(fromCsv.labels, {
      csv,
      sha256: sha256Hex(text),
      rows: rows.length,
      split: "column",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("labels CSV without a split column: data.validationSplit's seeded per-class split, as for folders; sorted labels", async () => {
  const fx = await getFixtures();
  const train = (await fixtureRows()).filter((r) => r[2] === "train");
  const root = join(fx.datasetDir, "train");
  // Files relative to the root; a relative data.labels is resolved there too.
  await Deno.writeTextFile(
    join(root, "labels.csv"),
    csvOf([
      ["file", "label"],
      ...train.map((r) => [r[0].slice("train/".length), r[1]]),
    ]),
  );
  try {
    const folders = await loadDataset({
      root,
      trainDir: ".",
      validationDir: null,
      validationSplit: 0.3,
      seed: 9,
    });
    const fromCsv = await loadLabelsDataset({
      root,
      labels: "labels.csv",
      validationSplit: 0.3,
      seed: 9,
    });
    assert.deepEqual(fromCsv.classNames, ["cats", "dogs", "horses"]);
    assert.deepEqual(fromCsv.train, folders.train);
    assert.deepEqual(fromCsv.validation, folders.validation);
    assert.equal(fromCsv.validationSource, "split");
    assert.equal(fromCsv.labels?.split, "validationSplit");
    assert.equal(fromCsv.labels?.csv, join(root, "labels.csv"));
  } finally {
    await Deno.remove(join(root, "labels.csv"));
  }
});

Deno.test("labels CSV errors name the CSV (and line) and what was expected", async () => {
  const fx = await getFixtures();
  const [a, b] = (await fixtureRows()).filter((r) => r[2] === "train");
  const dir = await Deno.makeTempDir();
  const csv = join(dir, "l.csv");
  const load = () => loadLabelsDataset({ root: fx.datasetDir, labels: csv });
  try {
    await assert.rejects(
      () => loadLabelsDataset({ root: fx.datasetDir, labels: "nope.csv" }),
      (e: Error) =>
        e instanceof DatasetError && e.message.includes("data.labels") &&
        e.message.includes(join(fx.datasetDir, "nope.csv")) &&
        /resolved in the dataset root/.test(e.message) &&
        /file,label\[,split\]/.test(e.message),
    );
    await Deno.writeTextFile(
      csv,
      csvOf([["file", "label"], [a[0], "cat"], [b[0], "cat"]]),
    );
    await assert.rejects(
      load,
      (e: Error) =>
        e.message.startsWith(csv) && /at least 2 classes/.test(e.message),
    );
    await Deno.writeTextFile(
      csv,
      csvOf([["file", "label", "split"], [a[0], "cat", "train"], [
        b[0],
        "dog",
        "validation",
      ]]),
    );
    await assert.rejects(
      load,
      (e: Error) =>
        e.message.startsWith(
          `${csv}:3: class "dog" has no row with the split train`,
        ),
    );
    await Deno.writeTextFile(
      csv,
      csvOf([["file", "label"], [a[0], "cat"], ["gone.jpg", "dog"]]),
    );
    await assert.rejects(
      load,
      (e: Error) => e.message.startsWith(`${csv}:3: file not found: gone.jpg`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("prepareData with data.labels (relative, in the dataset folder) decodes the same images and labels as the class folders", async () => {
  const fx = await getFixtures();
  const rows = await fixtureRows();
  const text = csvOf([["file", "label", "split"], ...rows]);
  await Deno.writeTextFile(join(fx.datasetDir, "labels.csv"), text);
  const cacheDir = await Deno.makeTempDir();
  const logs: string[] = [];
  const base = {
    imageSize: [16, 16] as const,
    cacheDir,
    workers: 0,
    seed: 2,
    warn: () => {},
  };
  try {
    const folders = await prepareData({
      ...base,
      path: fx.datasetDir,
      log: () => {},
    });
    const fromCsv = await prepareData({
      ...base,
      path: fx.datasetDir,
      labels: "labels.csv",
      log: (l) => logs.push(l),
    });
    assert.deepEqual(fromCsv.classNames, folders.classNames);
    assert.deepEqual(fromCsv.train.paths, folders.train.paths);
    assert.deepEqual(fromCsv.train.labels, folders.train.labels);
    assert.deepEqual(allPixels(fromCsv.train), allPixels(folders.train));
    assert.deepEqual(fromCsv.validation.labels, folders.validation.labels);
    assert.equal(fromCsv.train.stats.decoded, 0, "decode cache shared");
    assert.equal(fromCsv.dataset.labels?.sha256, sha256Hex(text));
    assert.ok(
      logs.some((l) =>
        l.startsWith(
          `data: labels from ${
            join(fx.datasetDir, "labels.csv")
          } (${rows.length} rows`,
        ) && l.includes("split from its split column")
      ),
      logs.join("\n"),
    );
  } finally {
    await Deno.remove(join(fx.datasetDir, "labels.csv"));
    await Deno.remove(cacheDir, { recursive: true });
  }
});
