/**
 * `runLrFind` end to end on the `cpu` backend: the real chain (loopback
 * download → unzip → decode → MobileNetV2 0.35 @ 32 px from a Keras `.h5` →
 * cached features) on the fixture dataset (3 classes, 23 training images),
 * then fastai's sweep of the head: the loss falls then diverges, the
 * suggestions lie inside the sweep, the folder holds the figure, the JSON
 * and the config, a second sweep reuses the features and writes a new
 * folder without touching the first, and a stop request ends the sweep with
 * its outputs written. The CLI is in tests/tasks/lr_find_cli_test.ts.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "../src/deps/tf.ts";
import { runLrFind } from "../src/run_lr_find.ts";
import { listFiles, trainEnv } from "./_helpers/train.ts";
import { byClass, parseSvg } from "./_helpers/svg.ts";
import { listDir } from "./_helpers/data.ts";
import { contradictoryDataset, DIVERGING_SWEEP } from "./_helpers/lr_find.ts";

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

const dataPath = await contradictoryDataset(env.dir);

const LR_FIND_FILES = ["config.json", "lr_find.json", "lr_find.svg"];

async function sweep(
  overrides: Parameters<typeof env.config>[0] = {},
  opts: Parameters<typeof runLrFind>[1] = {},
) {
  const logs: string[] = [];
  const progress: string[] = [];
  const r = await runLrFind(
    env.config({ data: { path: dataPath }, ...overrides }),
    {
      log: (l) => logs.push(l),
      progress: { write: (t) => progress.push(t) },
      isTty: false,
      ...opts,
    },
  );
  return { ...r, logs, progress: progress.join("") };
}

Deno.test("lr-find e2e (cpu): loss falls then diverges; suggestions inside the sweep; files; a second sweep writes a new folder", async () => {
  const before = tf.memory().numTensors;
  const out = join(env.dir, "lr-runs");
  const a = await sweep({ output: { dir: out } }, {
    finder: DIVERGING_SWEEP,
  });
  assert.equal(tf.memory().numTensors, before, "no tensor left");
  assert.match(a.dir.split("/").at(-1)!, /^e2e-lr-find-\d{8}T\d{6}Z/);
  assert.deepEqual(await listFiles(a.dir), LR_FIND_FILES);
  assert.equal(a.facts.features.mode, "cached");
  assert.equal(
    a.facts.train.batchesPerEpoch,
    Math.ceil(a.facts.train.images / 8),
  );
  assert.ok(a.logs.some((l) => l.startsWith("features: computed train")));

  // The sweep (300 iterations up to lr 1e3, so that the smoothed loss can
  // follow the fall and the rise on 30 images): fastai's schedule from 1e-7;
  // the loss falls well below its plateau and then diverges past 4x its best.
  const smooth = a.records.map((r) => r.smoothLoss);
  assert.equal(a.records[0].lr, 1e-7);
  assert.equal(a.stopReason, "diverged");
  assert.ok(a.records.length > 150 && a.records.length < 300);
  const plateau = smooth.slice(5, 30).reduce((x, y) => x + y) / 25;
  const best = Math.min(...smooth);
  const bestAt = smooth.indexOf(best);
  assert.ok(best < 0.6 * plateau, `best ${best}, plateau ${plateau}`);
  assert.ok(bestAt > 30 && bestAt < a.records.length - 20, `best at ${bestAt}`);
  assert.ok(smooth.at(-1)! > 4 * best);
  assert.ok(smooth.at(-2)! <= 4 * best);

  const { valley, minimum, steep, window } = a.suggestions;
  const lo = a.records[window.start].lr;
  const hi = a.records[window.end - 1].lr;
  for (const [name, s] of [["valley", valley], ["steep", steep]] as const) {
    assert.ok(
      s && s.lr >= lo && s.lr <= hi,
      `${name} ${s?.lr} in [${lo}, ${hi}]`,
    );
  }
  assert.ok(minimum && minimum.lr * 10 >= lo && minimum.lr * 10 <= hi);
  assert.match(
    a.summary.join("\n"),
    /suggested learning rates: valley \d\.?\d*e-?\d+ \(fastai's default\), minimum /,
  );

  // Progress: plain lines (not a TTY), about one per tenth of the sweep.
  assert.ok(!a.progress.includes("\r"));
  const lines = a.progress.trim().split("\n");
  assert.ok(lines.length >= 3 && lines.length <= 12, a.progress);
  assert.match(lines[0], /^lr-find +30\/300 \[[=>.]+\] lr \S+ +loss \d/);

  // lr_find.json holds every record and the suggestions; the SVG marks them.
  const json = JSON.parse(await Deno.readTextFile(join(a.dir, "lr_find.json")));
  assert.equal(json.version, 1);
  assert.equal(json.stopReason, "diverged");
  assert.equal(json.records.length, a.records.length);
  assert.deepEqual(json.suggestions, JSON.parse(JSON.stringify(a.suggestions)));
  assert.deepEqual(json.options, {
    startLr: 1e-7,
    endLr: 1e3,
    numIt: 300,
    stopDiv: true,
    beta: 0.98,
  });
  const svg = parseSvg(await Deno.readTextFile(join(a.dir, "lr_find.svg")));
  const marks = byClass(svg, "g", "suggestion").map((g) =>
    g.getAttribute("data-suggestion")
  );
  assert.deepEqual(marks, ["valley", "minimum", "steep"]);
  const config = JSON.parse(
    await Deno.readTextFile(join(a.dir, "config.json")),
  );
  assert.equal(config.name, "e2e");

  // A second sweep: features reused, a new folder, the first left as it was.
  const first = await Deno.readFile(join(a.dir, "lr_find.json"));
  const b = await sweep({ output: { dir: out } }, { finder: { numIt: 40 } });
  assert.notEqual(b.dir, a.dir);
  assert.ok(
    b.logs.some((l) =>
      l.startsWith("features: reused train, reused validation")
    ),
  );
  assert.equal(b.facts.features.cacheReused, true);
  assert.deepEqual(
    await listDir(out),
    [a.dir, b.dir].map((d) => d.split("/").at(-1)!).sort(),
  );
  assert.deepEqual(await Deno.readFile(join(a.dir, "lr_find.json")), first);
  assert.ok(b.records.length <= 40);
  assert.equal(b.options.numIt, 40);
});

Deno.test("lr-find e2e (cpu): a stop request ends the sweep and still writes the folder", async () => {
  const stop = new AbortController();
  const r = await sweep({ output: { dir: join(env.dir, "lr-stop") } }, {
    signal: stop.signal,
    progress: {
      write: (t) => {
        if (t.includes(" 10/100 ")) stop.abort();
      },
    },
  });
  assert.equal(r.stopReason, "interrupted");
  assert.equal(r.records.length, 10);
  assert.deepEqual(await listFiles(r.dir), LR_FIND_FILES);
  // Too few iterations for fastai's window: no suggestion, and it says so.
  assert.equal(r.suggestions.valley, null);
  assert.match(r.summary.join("\n"), /no suggestion: fastai's window/);
});

Deno.test("lr-find e2e (cpu): with augmentation the base runs per batch; fineTune is ignored", async () => {
  const r = await sweep({
    output: { dir: join(env.dir, "lr-aug") },
    augment: { rotation: 0.1 },
    fineTune: { enabled: true, fromLayer: 100, epochs: 1 },
  }, { finder: { numIt: 12 } });
  assert.equal(r.facts.features.mode, "per-batch");
  assert.ok(
    r.logs.some((l) =>
      /^lr-find: sweeping the learning rate of the head \(per-batch: augmentation is on\)/
        .test(l)
    ),
    r.logs.join("\n"),
  );
  // No prefix was computed for fine-tuning.
  assert.ok(!r.logs.some((l) => l.startsWith("prefix:")), r.logs.join("\n"));
  assert.equal(r.stopReason, "completed");
  assert.equal(r.records.length, 12);
  assert.ok(r.records.every((x) => Number.isFinite(x.loss)));
  // The folder's config is the one given (fineTune as the user set it).
  const config = JSON.parse(
    await Deno.readTextFile(join(r.dir, "config.json")),
  );
  assert.equal(config.fineTune.enabled, true);
});
