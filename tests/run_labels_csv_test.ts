/**
 * `data.labels` end to end on the `cpu` backend: a run from a labels CSV
 * naming the fixture's files trains exactly like the run from its class
 * folders (same losses, the feature cache reused: same pixels and labels),
 * a changed label gives other cache keys, and summary.json / report.html
 * say where the labels came from.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runTraining } from "../src/run.ts";
import type { ConfigInput } from "../src/config/types.ts";
import { sha256Hex } from "../src/util/hash.ts";
import { quiet, trainEnv } from "./_helpers/train.ts";
import { getFixtures } from "./_helpers/data.ts";

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

async function run(overrides: ConfigInput) {
  const logs: string[] = [];
  const result = await runTraining(env.config(overrides), {
    log: (l) => logs.push(l),
    progress: quiet,
    isTty: false,
  });
  result.model.dispose();
  return { ...result, logs };
}

Deno.test("train with data.labels: same losses as the class folders, features reused; a changed label recomputes them; summary and report name the CSV", async () => {
  const fx = await getFixtures();
  const csv = join(env.dir, "labels.csv");
  const rows = fx.images.map((i) => `${i.rel},${i.className},${i.split}`);
  const text = `file,label,split\n${rows.join("\n")}\n`;
  await Deno.writeTextFile(csv, text);
  const data = { path: fx.datasetDir, cacheDir: join(env.dir, "cache-csv") };
  const train = { epochs: 2 };
  const folders = await run({ data, train });
  const fromCsv = await run({ data: { ...data, labels: csv }, train });
  assert.deepEqual(fromCsv.summary.classNames, folders.summary.classNames);
  assert.equal(fromCsv.summary.featureCache.reused, true, "same features key");
  assert.deepEqual(
    fromCsv.rows.map((r) => [r.loss, r.val_loss]),
    folders.rows.map((r) => [r.loss, r.val_loss]),
  );
  assert.deepEqual(fromCsv.summary.data.labels, {
    csv,
    sha256: sha256Hex(text),
    rows: rows.length,
    split: "column",
  });
  assert.equal(folders.summary.data.labels, undefined);
  const summary = JSON.parse(
    await Deno.readTextFile(join(fromCsv.dir, "summary.json")),
  );
  assert.equal(summary.data.labels.csv, csv);
  const html = await Deno.readTextFile(join(fromCsv.dir, "report.html"));
  assert.match(
    html,
    /<p id="data-labels">Labels: <code>[^<]*labels\.csv<\/code> \(33 rows/,
  );

  // One training image relabelled: other labels, other feature key.
  const moved = fx.images.find((i) =>
    i.split === "train" && i.className === "cats" && i.kind !== "corrupt"
  )!;
  await Deno.writeTextFile(
    csv,
    text.replace(`${moved.rel},cats,`, `${moved.rel},dogs,`),
  );
  const changed = await run({ data: { ...data, labels: csv }, train });
  assert.equal(changed.summary.featureCache.reused, false);
  assert.notEqual(changed.summary.data.labels?.sha256, sha256Hex(text));
  assert.match(
    changed.logs.join("\n"),
    /features: computed train, reused validation/,
  );
});
