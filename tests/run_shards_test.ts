/**
 * Sharded preparation end to end: three `deno task prepare` processes
 * (one `--shard 0/3`, one a Kubernetes Indexed Job by `JOB_COMPLETION_INDEX`
 * + `--shard-count`, one a Slurm array task) fill one cache folder with
 * shard entries; a run merges them into feature entries byte-identical to a
 * single `prepare`'s and trains with the same losses; a missing shard is
 * computed by the run, with one line naming it.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runTraining } from "../src/run.ts";
import { quiet, SIZE, trainEnv } from "./_helpers/train.ts";
import { getFixtures } from "./_helpers/data.ts";
import { taskFlags } from "./_helpers/tasks.ts";

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

const root = fileURLToPath(new URL("..", import.meta.url));

async function prepare(
  config: string,
  args: string[],
  vars: Record<string, string> = {},
) {
  const flags = await taskFlags("prepare", "tasks/prepare.ts");
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, "tasks/prepare.ts", "--config", config, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...vars },
  }).output();
  const text = new TextDecoder().decode(stderr);
  assert.equal(code, 0, text);
  return text;
}

/** The feature cache's files, name → bytes. */
async function features(cacheDir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const dir = join(cacheDir, "features");
  for await (const e of Deno.readDir(dir)) {
    out.set(e.name, await Deno.readFile(join(dir, e.name)));
  }
  return out;
}

const whole = (files: Map<string, Uint8Array>) =>
  new Map([...files].filter(([name]) => !name.includes("-shard-")));

async function train(cacheDir: string) {
  const logs: string[] = [];
  const r = await runTraining(
    env.config({
      data: { path: (await getFixtures()).datasetDir, cacheDir },
      train: { epochs: 3 },
    }),
    { log: (l) => logs.push(l), progress: quiet, isTty: false },
  );
  r.model.dispose();
  return { ...r, logs: logs.join("\n") };
}

Deno.test("prepare --shard: 3 processes' shards merge byte-identically to one prepare, train with the same losses; a missing shard is computed here", async () => {
  const fx = await getFixtures();
  const config = join(env.dir, "shards.config.json");
  const configFor = (cacheDir: string) =>
    JSON.stringify({
      name: "shards",
      data: {
        path: fx.datasetDir,
        cacheDir,
        imageSize: [SIZE, SIZE],
        batchSize: 8,
        workers: 1,
      },
      model: { alpha: 0.35, weights: env.weights },
      train: { epochs: 3, learningRate: 0.01 },
      backend: "cpu",
      output: { dir: join(env.dir, "runs") },
    });
  const sharded = join(env.dir, "cache-sharded");
  const single = join(env.dir, "cache-single");
  await Deno.writeTextFile(config, configFor(sharded));
  const single_config = join(env.dir, "single.config.json");
  await Deno.writeTextFile(single_config, configFor(single));

  const logs = await Promise.all([
    prepare(config, ["--shard", "0/3"]),
    prepare(config, ["--shard-count", "3"], { JOB_COMPLETION_INDEX: "1" }),
    prepare(config, [], {
      SLURM_ARRAY_TASK_ID: "2",
      SLURM_ARRAY_TASK_COUNT: "3",
    }),
  ]);
  const counts = logs.map((l, i) => {
    const m = new RegExp(
      `data: shard ${i}/3: (\\d+) of (\\d+) training and (\\d+) of (\\d+) validation files`,
    ).exec(l);
    assert.ok(m, l);
    assert.match(l, new RegExp(`prepared shard ${i}/3 in`));
    return m.slice(1).map(Number);
  });
  // The shards partition both splits.
  const [, trainAll, , valAll] = counts[0];
  assert.equal(counts.reduce((a, c) => a + c[0], 0), trainAll);
  assert.equal(counts.reduce((a, c) => a + c[2], 0), valAll);
  assert.ok(counts.every((c) => c[0] > 0 && c[0] < trainAll), "not lopsided");
  const shardFiles = [...(await features(sharded)).keys()];
  assert.equal(shardFiles.length, 6, shardFiles.join(", "));
  assert.ok(
    shardFiles.every((n) => /^v2-shard-[0-9a-f]{16}-[0-2]of3-/.test(n)),
  );

  await prepare(single_config, []);
  const reference = await features(single);
  assert.equal(reference.size, 2);

  const merged = await train(sharded);
  assert.match(merged.logs, /features: train: merged 3 of 3 shards from /);
  assert.match(merged.logs, /features: validation: merged 3 of 3 shards/);
  assert.doesNotMatch(merged.logs, /not in the cache/);
  assert.deepEqual(merged.summary.featureCache.shards?.train, {
    count: 3,
    merged: [0, 1, 2],
    computed: [],
  });
  assert.deepEqual(whole(await features(sharded)), reference);
  const plain = await train(single);
  assert.match(plain.logs, /features: reused train, reused validation/);
  assert.deepEqual(
    merged.rows.map((r) => [r.loss, r.accuracy, r.val_loss, r.val_accuracy]),
    plain.rows.map((r) => [r.loss, r.accuracy, r.val_loss, r.val_accuracy]),
  );

  // Shard 1's entries and the merged entries gone: the run computes shard 1.
  for (const name of (await features(sharded)).keys()) {
    if (!name.includes("-shard-") || name.includes("-1of3-")) {
      await Deno.remove(join(sharded, "features", name));
    }
  }
  const partial = await train(sharded);
  assert.match(
    partial.logs,
    /features: train: shard 1\/3 not in the cache \(not prepared, or prepared from other images\); computing its \d+ images? here/,
  );
  assert.match(partial.logs, /features: train: merged 2 of 3 shards/);
  assert.deepEqual(partial.summary.featureCache.shards?.validation, {
    count: 3,
    merged: [0, 2],
    computed: [1],
  });
  assert.deepEqual(whole(await features(sharded)), reference);
  assert.deepEqual(
    partial.rows.map((r) => r.loss),
    plain.rows.map((r) => r.loss),
  );
});
