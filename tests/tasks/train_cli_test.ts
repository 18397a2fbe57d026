/**
 * `deno task train` as a subprocess, with the task's own permission flags
 * (read from deno.json): a run with `--config` and `--set` overrides, bad
 * `--set` values (exit 2, the key named), and Ctrl-C (SIGINT) stopping after
 * the current batch with the outputs written (exit 130).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { readMetricsCsv } from "../../src/report/metrics.ts";
import { listDir } from "../_helpers/data.ts";
import {
  finished,
  spawnTask,
  taskFlags as runFlags,
} from "../_helpers/tasks.ts";
import { listFiles, RUN_FILES, trainEnv } from "../_helpers/train.ts";

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

/** `deno run <flags>` of the train task, e.g. `["--allow-read", …]`. */
const taskFlags = () => runFlags("train", "tasks/train.ts");

/** A config file for the served fixture dataset, runs into `outDir`. */
const writeConfig = (outDir: string, extra: object = {}) =>
  env.configFile({
    name: "e2e",
    model: { alpha: 0.35, weights: env.weights },
    train: { epochs: 10, learningRate: 0.01 },
    output: { dir: outDir },
    ...extra,
  });

const train = (args: string[], flags: string[]) =>
  spawnTask("tasks/train.ts", flags, args);
const finish = finished;

Deno.test("deno task train: --config and --set run the chain and write the run folder", async () => {
  const out = join(env.dir, "cli-runs");
  const config = await writeConfig(out);
  const r = await finish(train([
    "--config",
    config,
    "--set",
    "train.epochs=2",
    "--set",
    "name=cli-run",
    "--set",
    "data.imageSize=[32,32]",
  ], await taskFlags()));
  assert.equal(r.code, 0, r.stderr);
  const runs = await listDir(out);
  assert.equal(runs.length, 1);
  assert.match(runs[0], /^cli-run-\d{8}T\d{6}Z/);
  const dir = join(out, runs[0]);
  assert.deepEqual(await listFiles(dir), RUN_FILES);
  assert.match(r.stderr, /^backend: cpu$/m);
  assert.match(r.stderr, /done in [\d.]+ s: 2 epochs, best val_accuracy /);
  assert.ok(r.stderr.includes(`outputs: ${dir}`), r.stderr);
  assert.match(r.stdout, /^Epoch 1\/2$/m);
  assert.match(r.stdout, /^Epoch 2\/2$/m);
  // Piped (no TTY): plain lines only, no carriage-return frames, no colour,
  // a few lines per epoch, and no "error" from a healthy run.
  const printed = r.stdout + r.stderr;
  assert.ok(!printed.includes("\r") && !printed.includes("\u001b["), printed);
  assert.ok(r.stdout.split("\n").length <= 2 * 6, r.stdout);
  assert.doesNotMatch(r.stderr, /^error/im);
  const summary = JSON.parse(
    await Deno.readTextFile(join(dir, "summary.json")),
  );
  assert.equal(summary.epochs, 2);
  assert.equal(summary.stopReason, "completed");
  assert.equal(summary.name, "cli-run");
  const resolved = JSON.parse(
    await Deno.readTextFile(join(dir, "config.json")),
  );
  assert.equal(resolved.train.epochs, 2);
  assert.equal(resolved.train.learningRate, 0.01);
  assert.equal((await readMetricsCsv(join(dir, "metrics.csv"))).length, 2);
});

Deno.test("deno task train: a bad --set exits 2 and names the key", async () => {
  const out = join(env.dir, "cli-bad");
  const config = await writeConfig(out);
  const flags = await taskFlags();
  const cases: [string, RegExp][] = [
    ["train.epochs=0", /train\.epochs: expected .*>= ?1, found 0/],
    ["train.epoch=3", /train\.epoch: unknown key \(did you mean "epochs"\?\)/],
    ["backend=tpu", /backend: expected one of .*"webgpu"/],
    ["train.epochs", /"train\.epochs": expected dotted\.key=value/],
  ];
  const results = await Promise.all(
    cases.map(([set]) =>
      finish(train(["--config", config, "--set", set], flags))
    ),
  );
  for (const [i, [set, message]] of cases.entries()) {
    const r = results[i];
    assert.equal(r.code, 2, `--set ${set}: ${r.stderr}`);
    assert.match(r.stderr, message, `--set ${set}`);
  }
  assert.deepEqual(await listDir(out), [], "no run folder");
});

Deno.test("deno task train: SIGINT stops after the current batch, writes the outputs, exits 130", async () => {
  const out = join(env.dir, "cli-sigint");
  // Images every epoch (no feature cache) and many epochs: still running when interrupted.
  const config = await writeConfig(out, {
    train: { epochs: 200, learningRate: 0.01, cacheFeatures: false },
  });
  const child = train(["--config", config], await taskFlags());
  const stderr = new Response(child.stderr).text();
  const dec = new TextDecoder();
  let stdout = "";
  const reader = child.stdout.getReader();
  while (!/^Epoch 3\/200$/m.test(stdout)) {
    const { value, done } = await reader.read();
    if (done) assert.fail(`ended early: ${stdout}\n${await stderr}`);
    stdout += dec.decode(value, { stream: true });
  }
  child.kill("SIGINT");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += dec.decode(value, { stream: true });
  }
  const { code } = await child.status;
  const err = await stderr;
  assert.equal(code, 130, err);
  assert.match(err, /interrupt: stopping after the current batch/);
  const [run] = await listDir(out);
  const dir = join(out, run);
  assert.deepEqual(await listFiles(dir), RUN_FILES);
  const summary = JSON.parse(
    await Deno.readTextFile(join(dir, "summary.json")),
  );
  assert.equal(summary.stopReason, "interrupted");
  const rows = await readMetricsCsv(join(dir, "metrics.csv"));
  assert.ok(rows.length >= 2 && rows.length < 200, `${rows.length} rows`);
  assert.equal(summary.epochs, rows.length);
  assert.match(
    err,
    new RegExp(`stopped on request after ${rows.length} epochs`),
  );
});

Deno.test("deno task train on auto (WASM here): fine-tuning from layer 100 with augmentation and with the cached prefix", async () => {
  for (const augment of [{}, { flip: "horizontal", rotation: 0.1 }]) {
    const out = join(env.dir, `cli-ft-${crypto.randomUUID().slice(0, 6)}`);
    const config = await writeConfig(out, {
      backend: "auto",
      fineTune: { enabled: true, fromLayer: 100, epochs: 2 },
      augment,
    });
    const r = await finish(train([
      "--config",
      config,
      "--set",
      "train.epochs=1",
    ], await taskFlags()));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^backend: wasm/m);
    assert.match(
      r.stderr,
      Object.keys(augment).length
        ? /fine-tuning: .* run per batch on .*off the gradient tape/
        : /fine-tuning: .*cached outputs of base layers 0\.\.99/,
    );
    const [run] = await listDir(out);
    const summary = JSON.parse(
      await Deno.readTextFile(join(out, run, "summary.json")),
    );
    assert.equal(summary.backend, "wasm");
    assert.equal(summary.stopReason, "completed");
    assert.equal(summary.epochs, 3);
    assert.equal(summary.final.stage, "fine_tune");
    assert.ok(Number.isFinite(summary.final.loss));
  }
});
