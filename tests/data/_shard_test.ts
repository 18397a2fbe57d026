import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  parseShardSpec,
  resolveShard,
  ShardError,
  shardFromEnv,
  shardKeyOfFile,
  shardOfKey,
} from "../../src/data/_shard.ts";

Deno.test("parseShardSpec: I/N and its errors", () => {
  assert.deepEqual(parseShardSpec("2/3"), { index: 2, count: 3 });
  assert.deepEqual(parseShardSpec(" 0/1 "), { index: 0, count: 1 });
  for (const bad of ["3/3", "1/0", "a/2", "-1/2", "1", "1/2/3", "1.5/2"]) {
    assert.throws(() => parseShardSpec(bad), ShardError, bad);
  }
  assert.throws(
    () => parseShardSpec("3/3"),
    /index 3 is not below the count 3/,
  );
});

Deno.test("shardFromEnv: each runner", () => {
  assert.equal(shardFromEnv({}), null);
  assert.deepEqual(shardFromEnv({ JOB_COMPLETION_INDEX: "1" }, 4), {
    index: 1,
    count: 4,
  });
  assert.deepEqual(
    shardFromEnv({ JOB_COMPLETION_INDEX: "1", SHARD_COUNT: "2" }),
    { index: 1, count: 2 },
  );
  assert.deepEqual(
    shardFromEnv({
      SLURM_ARRAY_TASK_ID: "7",
      SLURM_ARRAY_TASK_MIN: "5",
      SLURM_ARRAY_TASK_COUNT: "3",
    }),
    { index: 2, count: 3 },
  );
  assert.deepEqual(
    shardFromEnv({ SLURM_ARRAY_TASK_ID: "0", SLURM_ARRAY_TASK_COUNT: "2" }),
    { index: 0, count: 2 },
  );
  assert.deepEqual(
    shardFromEnv({ CLOUD_RUN_TASK_INDEX: "0", CLOUD_RUN_TASK_COUNT: "5" }),
    { index: 0, count: 5 },
  );
  assert.deepEqual(shardFromEnv({ AWS_BATCH_JOB_ARRAY_INDEX: "3" }, 10), {
    index: 3,
    count: 10,
  });
});

Deno.test("shardFromEnv: conflicting and incomplete settings", () => {
  assert.throws(
    () => shardFromEnv({ JOB_COMPLETION_INDEX: "0" }),
    /no shard count/,
  );
  assert.throws(
    () => shardFromEnv({ AWS_BATCH_JOB_ARRAY_INDEX: "0" }),
    /AWS_BATCH_JOB_ARRAY_INDEX is set/,
  );
  assert.throws(
    () =>
      shardFromEnv({
        JOB_COMPLETION_INDEX: "0",
        CLOUD_RUN_TASK_INDEX: "0",
        CLOUD_RUN_TASK_COUNT: "2",
      }),
    /conflicting shard variables: JOB_COMPLETION_INDEX and CLOUD_RUN_TASK_INDEX/,
  );
  assert.throws(
    () =>
      shardFromEnv({ CLOUD_RUN_TASK_INDEX: "0", CLOUD_RUN_TASK_COUNT: "2" }, 3),
    /differs/,
  );
  assert.throws(
    () =>
      shardFromEnv({ SLURM_ARRAY_TASK_ID: "1", SLURM_ARRAY_TASK_MIN: "2" }, 2),
    /below/,
  );
  assert.throws(
    () => shardFromEnv({ JOB_COMPLETION_INDEX: "4" }, 4),
    /JOB_COMPLETION_INDEX: shard index 4/,
  );
  assert.throws(
    () => shardFromEnv({ JOB_COMPLETION_INDEX: "x" }, 4),
    /expected a non-negative integer/,
  );
});

Deno.test("shardOfKey: stable, in range, covers every shard and roughly even", () => {
  const keys = Array.from(
    { length: 3000 },
    (_, i) => createHash("sha256").update(`img${i}`).digest("hex"),
  );
  const counts = [0, 0, 0];
  for (const k of keys) {
    const s = shardOfKey(k, 3);
    assert.equal(s, shardOfKey(k, 3));
    counts[s]++;
  }
  for (const c of counts) {
    assert.ok(c > 900 && c < 1100, `uneven shards ${counts}`);
  }
  // Removing an image moves no other image.
  assert.deepEqual(
    keys.slice(1).map((k) => shardOfKey(k, 3)),
    keys.map((k) => shardOfKey(k, 3)).slice(1),
  );
  assert.throws(() => shardOfKey("zz", 3), ShardError);
});

Deno.test("shardKeyOfFile: the hash of the path relative to the root, the same wherever the root lies", () => {
  const key = shardKeyOfFile("/data/set", "/data/set/train/cats/a.jpg");
  assert.equal(
    key,
    createHash("sha256").update("train/cats/a.jpg").digest("hex"),
  );
  assert.equal(shardKeyOfFile("/mnt/x", "/mnt/x/train/cats/a.jpg"), key);
  assert.notEqual(
    shardKeyOfFile("/data/set", "/data/set/train/cats/b.jpg"),
    key,
  );
});

Deno.test("resolveShard: --shard wins, else the environment with --shard-count; their errors", () => {
  assert.deepEqual(resolveShard({ shard: "1/3" }, {}), { index: 1, count: 3 });
  assert.deepEqual(
    resolveShard({ shard: "0/2" }, { SLURM_ARRAY_TASK_ID: "5" }),
    { index: 0, count: 2 },
  );
  assert.equal(resolveShard({}, {}), null);
  assert.deepEqual(
    resolveShard({ shardCount: "4" }, { JOB_COMPLETION_INDEX: "3" }),
    { index: 3, count: 4 },
  );
  assert.deepEqual(
    resolveShard({}, {
      SLURM_ARRAY_TASK_ID: "2",
      SLURM_ARRAY_TASK_COUNT: "3",
    }),
    { index: 2, count: 3 },
  );
  assert.throws(
    () => resolveShard({ shard: "0/2", shardCount: "2" }, {}),
    /--shard-count: not with --shard/,
  );
  assert.throws(
    () => resolveShard({ shardCount: "2" }, {}),
    /no shard index is/,
  );
  assert.throws(
    () => resolveShard({ shardCount: "x" }, { JOB_COMPLETION_INDEX: "0" }),
    /--shard-count: expected a non-negative integer/,
  );
});
