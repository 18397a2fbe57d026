/**
 * `deno task lr-find` as a subprocess, with the task's own permission flags
 * (read from deno.json): a sweep with `--config`, `--set` and the sweep's
 * flags prints the suggestions and the folder, a second one writes a new
 * folder; bad flags and bad `--set` values exit 2 naming them, before any
 * work; `--help`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runTask, taskFlags } from "../_helpers/tasks.ts";
import { listDir } from "../_helpers/data.ts";
import { listFiles, trainEnv } from "../_helpers/train.ts";
import { contradictoryDataset, DIVERGING_SWEEP } from "../_helpers/lr_find.ts";

const env = await trainEnv();
Deno.test.afterAll(() => env.close());
const dataPath = await contradictoryDataset(env.dir);

/** A config file for the fixture data, outputs into `outDir`. */
const writeConfig = (outDir: string) =>
  env.configFile({
    name: "cli",
    model: { alpha: 0.35, weights: env.weights },
    output: { dir: outDir },
  });

const lrFind = (args: string[]) => runTask("lr-find", "tasks/lr_find.ts", args);

Deno.test("deno task lr-find: the same permissions as train", async () => {
  assert.deepEqual(
    await taskFlags("lr-find", "tasks/lr_find.ts"),
    await taskFlags("train", "tasks/train.ts"),
  );
});

Deno.test("deno task lr-find: --config, --set and sweep flags; suggestions printed; a second sweep writes a new folder", async () => {
  const out = join(env.dir, "cli-lr");
  const config = await writeConfig(out);
  const args = [
    "--config",
    config,
    "--set",
    `data.path=${dataPath}`,
    "--num-it",
    String(DIVERGING_SWEEP.numIt),
    "--end-lr",
    String(DIVERGING_SWEEP.endLr),
  ];
  const a = await lrFind(args);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stderr, /^backend: cpu$/m);
  assert.match(
    a.stderr,
    /^lr-find: sweeping the learning rate of the head \(cached: /m,
  );
  assert.match(
    a.stdout,
    /^lr-find: \d+ iterations, learning rates 1e-7 to \S+ \(diverged: /m,
  );
  const valley = a.stdout.match(
    /^suggested learning rates: valley (\S+) \(fastai's default\), minimum (\S+), steep (\S+)$/m,
  );
  assert.ok(valley, a.stdout);
  assert.ok(Number(valley[1]) > 1e-7 && Number(valley[1]) < 1e3);
  // Piped: plain progress lines, no carriage returns or colour.
  assert.ok(!a.stdout.includes("\r") && !a.stdout.includes("\u001b["));
  assert.match(a.stdout, /^lr-find +30\/300 \[/m);
  const [first] = await listDir(out);
  assert.match(first, /^cli-lr-find-\d{8}T\d{6}Z/);
  assert.ok(
    a.stdout.includes(
      `outputs: ${join(out, first)} (lr_find.svg, lr_find.json)`,
    ),
  );
  assert.deepEqual(await listFiles(join(out, first)), [
    "config.json",
    "lr_find.json",
    "lr_find.svg",
  ]);
  const json = JSON.parse(
    await Deno.readTextFile(join(out, first, "lr_find.json")),
  );
  assert.equal(
    Number(valley[1]),
    Number(json.suggestions.valley.lr.toExponential(2)),
  );

  const b = await lrFind([...args, "--no-stop-div", "--num-it", "20"]);
  assert.equal(b.code, 0, b.stderr);
  const runs = await listDir(out);
  assert.equal(runs.length, 2);
  assert.ok(runs.includes(first));
  const second = runs.find((r) => r !== first)!;
  const json2 = JSON.parse(
    await Deno.readTextFile(join(out, second, "lr_find.json")),
  );
  assert.deepEqual(json2.options, {
    startLr: 1e-7,
    endLr: 1e3,
    numIt: 20,
    stopDiv: false,
    beta: 0.98,
  });
  assert.equal(json2.stopReason, "completed");
  assert.equal(json2.records.length, 20);
  assert.equal(json2.features.cacheReused, true);
});

Deno.test("deno task lr-find: bad flags and --set values exit 2, naming them, before any work", async () => {
  const out = join(env.dir, "cli-lr-bad");
  const config = await writeConfig(out);
  const cases: [string[], RegExp][] = [
    [["--num-it", "ten"], /--num-it: expected an integer >= 1, found "ten"/],
    [["--start-lr=0"], /--start-lr: expected a positive number/],
    [
      ["--end-lr", "1e-9"],
      /--end-lr \(1e-9\) must be greater than the default --start-lr \(1e-7\)/,
    ],
    [["--num-its", "5"], /Unknown option '--num-its'/],
    [["--set", "train.optimizer=lion"], /train\.optimizer: expected one of/],
  ];
  const results = await Promise.all(
    cases.map(([args]) => lrFind(["--config", config, ...args])),
  );
  for (const [i, [args, message]] of cases.entries()) {
    const r = results[i];
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
    assert.doesNotMatch(r.stderr, /^backend:/m);
  }
  assert.deepEqual(await listDir(out).catch(() => []), [], "no folder");
  const help = await lrFind(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task lr-find /);
  assert.match(
    help.stdout,
    /--start-lr X +first learning rate \(default 1e-7\)/,
  );
});
