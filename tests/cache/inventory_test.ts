/**
 * `deno task cache` on a cache made by a real run of the fixture (dataset
 * and weights downloaded over loopback): `--list` shows every part with
 * sizes that add up to what is on disk; `--prune --dry-run` removes
 * nothing; `--prune` removes exactly the stale entries (old decode and
 * feature versions, leftovers of killed writers, an extraction whose
 * archive is gone) and keeps what a live process is writing; a second run
 * then reuses the whole cache; `--clear` empties it.
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { runTraining } from "../../src/run.ts";
import { leftoverKind } from "../../src/cache/_layout.ts";
import { inventoryCache } from "../../src/cache/inventory.ts";
import {
  DECODE_CACHE_VERSION,
  decodeCacheFolder,
} from "../../src/cache/_decoded_layout.ts";
import { UNZIP_MARKER } from "../../src/cache/_unzip_marker.ts";
import { encodeCacheFile } from "../../src/cache/cache_file.ts";
import {
  createStagingFile,
  STAGING_OWNER_FILE,
} from "../../src/cache/_staging.ts";
import {
  RACY_MARGIN_MS,
  weightsIdentity,
} from "../../src/cache/weights_identity.ts";
import { quiet, trainEnv } from "../_helpers/train.ts";
import { serve } from "../_helpers/data.ts";
import { TREE } from "../_helpers/cache.ts";

const env = await trainEnv();
const WEIGHTS_NAME =
  "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_32_no_top.h5";
const weightsServer = serve({
  [`/w/${WEIGHTS_NAME}`]: await Deno.readFile(env.weights),
});
Deno.test.afterAll(async () => {
  await weightsServer.close();
  await env.close();
});

/** `deno task cache` with the task's permissions (deno.json), or the ones it needs. */
async function cacheTask(...args: string[]) {
  const deno = JSON.parse(await Deno.readTextFile(join(TREE, "deno.json")));
  const task = deno.tasks.cache as string | undefined;
  const flags = task
    ? task.split(/\s+/).slice(2, -1)
    : ["--allow-read", "--allow-write", "--allow-env"];
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, "tasks/cache.ts", ...args],
    cwd: TREE,
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  const r = {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** Every file under `dir`, relative, with its size (an independent walk). */
async function files(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else out.set(relative(dir, p), (await Deno.lstat(p)).size);
    }
  };
  await walk(dir);
  return out;
}

const sum = (m: Map<string, number>) =>
  [...m.values()].reduce((a, b) => a + b, 0);

Deno.test("deno task cache: list, prune (dry run first), clear — on a real run's cache", async () => {
  const cacheDir = join(env.dir, "inventory-cache");
  const config = env.config({
    data: { cacheDir },
    model: { weights: `${weightsServer.url}/w/${WEIGHTS_NAME}` },
    train: { epochs: 1 },
    output: { dir: join(env.dir, "inventory-runs") },
  });
  const first = await runTraining(config, { log: () => {}, progress: quiet });
  first.model.dispose();
  assert.equal(first.summary.featureCache.reused, false);
  // A memo of a weights file old enough to be memoised.
  const age = Date.now() - (await Deno.stat(env.weights)).mtime!.getTime();
  if (age < RACY_MARGIN_MS + 1100) {
    await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 1100 - age));
  }
  assert.equal(
    (await weightsIdentity(env.weights, { cacheDir })).memo,
    "written",
  );

  // What a real run leaves: every part current, sizes as on disk.
  const inv = await inventoryCache(cacheDir, { featureCacheVersion: 2 });
  const byKind = (k: string) => inv.items.filter((i) => i.kind === k);
  assert.deepEqual(byKind("download").map((i) => i.rel), ["dataset.zip"]);
  assert.deepEqual(byKind("extracted").map((i) => [i.rel, i.detail]), [[
    "dataset",
    "from dataset.zip",
  ]]);
  assert.deepEqual(byKind("decoded").map((i) => i.rel), [
    join("decoded", decodeCacheFolder(32, 32, "bilinear")),
  ]);
  assert.equal(byKind("features").length, 2, "train and validation");
  // Downloaded weights: one file per URL (a short hash of the URL in the name).
  const weights = byKind("weights").map((i) => i.rel);
  assert.equal(weights.length, 1);
  assert.match(
    weights[0],
    new RegExp(
      `^weights/${WEIGHTS_NAME.replace(/\.h5$/, "")}-[0-9a-f]{8}\.h5$`,
    ),
  );
  assert.equal(byKind("weights-memo").length, 1);
  assert.ok(inv.items.every((i) => i.status === "current"), "all current");
  const onDisk = await files(cacheDir);
  assert.equal(inv.bytes, sum(onDisk));
  assert.equal(inv.files, onDisk.size);
  const decoded = byKind("decoded")[0];
  assert.equal(
    decoded.bytes,
    sum(
      new Map(
        [...onDisk].filter(([p]) => p.startsWith(`${decoded.rel}/`)),
      ),
    ),
  );
  assert.equal(decoded.files, 23 + 9 + 1, "train, validation, one bad marker");

  const listed = await cacheTask("--dir", cacheDir, "--list");
  for (
    const label of [
      "downloads",
      "extracted",
      "decoded images",
      "features",
      "weights",
      "weights SHA-256",
    ]
  ) {
    assert.match(listed, new RegExp(`^  ${label} `, "m"), listed);
  }
  assert.ok(listed.includes(`Cache folder ${cacheDir}: `), listed);
  assert.ok(!listed.includes("Stale:"), listed);

  // Stale things, and one a live process (this one) is writing.
  const put = async (rel: string, data: Uint8Array) => {
    await Deno.mkdir(join(cacheDir, rel, ".."), { recursive: true });
    await Deno.writeFile(join(cacheDir, rel), data);
  };
  const some = new Uint8Array(300).fill(7);
  const stale = [
    "decoded/v1-32x32-bilinear",
    `decoded/v${DECODE_CACHE_VERSION}-32x32-bilinear-imagescript@1.3.0+tiff@7.1.3`,
    `features/${"ab".repeat(16)}.f32`,
    `features/v1-${"cd".repeat(16)}.f32`,
    "dataset.zip.1234abcd.part",
    `${decoded.rel}/ab/.deadbeef.tmp`,
    "dataset.partial-1234abcd",
    "gone",
    `features/v1-shard-${"ef".repeat(8)}-0of2-${"cd".repeat(16)}.f32`,
  ];
  await put("decoded/v1-32x32-bilinear/ab/ab12.rgb", some);
  await put(`${stale[1]}/ab/ab12.rgb`, some);
  await put(stale[2], some); // the unverified format of FEATURE_CACHE_VERSION 1
  await put(stale[3], encodeCacheFile("k", some));
  await put(stale[4], some);
  await put(stale[5], some);
  await put(
    `${stale[6]}/${STAGING_OWNER_FILE}`,
    new TextEncoder().encode("1\n"),
  );
  await put(`${stale[6]}/dataset/x.jpg`, some);
  await put(
    `gone/${UNZIP_MARKER}`,
    new TextEncoder().encode(
      JSON.stringify({
        version: 1,
        zipSize: 1,
        zipMtime: 1,
        files: 0,
        top: null,
      }),
    ),
  );
  await put(stale[8], encodeCacheFile("k", some));
  // A shard entry of prepare --shard, of the current version.
  const shard = `features/v2-shard-${"ef".repeat(8)}-1of3-${
    "cd".repeat(16)
  }.f32`;
  await put(shard, encodeCacheFile("k", some));
  await put("mine/notes.txt", some); // not ours: listed, never pruned
  await Deno.mkdir(join(cacheDir, "weights"), { recursive: true });
  const live = join(cacheDir, "weights", "w.h5.cafebabe.part");
  const handle = await createStagingFile(live);
  await handle.write(some);
  try {
    const withStale = await inventoryCache(cacheDir, {
      featureCacheVersion: 2,
    });
    assert.deepEqual(
      withStale.items.filter((i) => i.status === "stale").map((i) => i.rel)
        .sort(),
      [...stale].sort(),
    );
    assert.deepEqual(
      withStale.items.filter((i) => i.status === "in-use").map((i) => i.rel),
      ["weights/w.h5.cafebabe.part"],
    );
    const shardItem = withStale.items.find((i) => i.rel === shard);
    assert.equal(shardItem?.status, "current");
    assert.match(shardItem?.detail ?? "", /one shard \(prepare --shard\)/);
    assert.equal(
      leftoverKind("w.h5.cafebabe.part", false),
      "interrupted download",
    );

    // --prune --dry-run: says what, removes nothing.
    const before = await files(cacheDir);
    const dry = await cacheTask("--dir", cacheDir, "--prune", "--dry-run");
    for (const rel of stale) {
      assert.ok(dry.includes(`would remove ${rel} (`), `${rel} in:\n${dry}`);
    }
    assert.match(dry, /^Would prune 9 entries: /m);
    assert.deepEqual(await files(cacheDir), before);

    // --prune: exactly the stale entries go.
    const pruned = await cacheTask("--dir", cacheDir, "--prune");
    assert.match(pruned, /^Pruned 9 entries: /m);
    assert.match(pruned, /Left 1 entry that a running process is writing/);
    const after = await files(cacheDir);
    const gone = [...before.keys()].filter((p) => !after.has(p));
    assert.ok(
      gone.every((p) => stale.some((s) => p === s || p.startsWith(`${s}/`))),
      gone.join("\n"),
    );
    assert.equal(gone.length, 10, gone.join("\n"));
    assert.ok(after.has("mine/notes.txt"));
    assert.ok(after.has("weights/w.h5.cafebabe.part"));

    // A second run reuses everything: no download, no decode, no features.
    const requests = env.server.requests.length;
    const logs: string[] = [];
    const second = await runTraining(config, {
      log: (l) => logs.push(l),
      progress: quiet,
    });
    second.model.dispose();
    assert.equal(env.server.requests.length, requests, "no download");
    assert.ok(
      logs.some((l) => /train: 23 images .*\(0 decoded, 24 from cache/.test(l)),
      logs.join("\n"),
    );
    assert.equal(second.summary.featureCache.reused, true);
    assert.deepEqual(
      second.rows.map((r) => r.loss),
      first.rows.map((r) => r.loss),
    );

    // --clear --dry-run, then --clear: all but the live write.
    const stillThere = await files(cacheDir);
    const dryClear = await cacheTask("--dir", cacheDir, "--clear", "--dry-run");
    assert.match(dryClear, /would remove dataset\.zip \(/);
    assert.deepEqual(await files(cacheDir), stillThere);
    const cleared = await cacheTask("--dir", cacheDir, "--clear");
    assert.match(cleared, /^Removed \d+ entries: /m);
    assert.deepEqual([...(await files(cacheDir)).keys()], [
      "weights/w.h5.cafebabe.part",
    ]);
  } finally {
    handle.close();
  }
  // Its writer gone, the last leftover is stale: prune takes it.
  await cacheTask("--dir", cacheDir, "--prune");
  assert.deepEqual([...(await files(cacheDir)).keys()], []);
  assert.match(await cacheTask("--dir", cacheDir), /\(empty\)/);
});
