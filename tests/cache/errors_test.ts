/**
 * Unusable folders and full disks give errors that name the path and the
 * cause: `data.cacheDir` or `output.dir` under a regular file (ENOTDIR; the
 * tests may run as root, where a read-only mode bit does not stop writes),
 * a read-only folder when not root, and a real ENOSPC from `/dev/full`,
 * through the writers of the data stage and `deno task train`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  checkWritableDir,
  FsError,
  fsError,
} from "../../src/util/fs_errors.ts";
import { writeCacheFile } from "../../src/cache/cache_file.ts";
import { fetchFile } from "../../src/data/fetch.ts";
import { unzip, UnzipError } from "../../src/data/unzip.ts";
import { SIZE, trainEnv } from "../_helpers/train.ts";
import { getFixtures } from "../_helpers/data.ts";
import { taskFlags, TREE } from "../_helpers/cache.ts";

const env = await trainEnv();
Deno.test.afterAll(() => env.close());

/** A regular file: any path below it fails with ENOTDIR. */
async function aFile(): Promise<string> {
  const file = join(env.dir, `file-${crypto.randomUUID().slice(0, 8)}`);
  await Deno.writeTextFile(file, "not a folder");
  return file;
}

async function train(overrides: Record<string, unknown>) {
  const config = await env.configFile({
    name: "errors",
    model: { alpha: 0.35, weights: env.weights },
    train: { epochs: 1, learningRate: 0.01 },
    output: { dir: join(env.dir, "runs") },
    ...overrides,
  });
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...await taskFlags("train"),
      "tasks/train.ts",
      "--config",
      config,
    ],
    cwd: TREE,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("deno task train: data.cacheDir under a file fails at once, naming the setting, the path and the cause", async () => {
  const bad = join(await aFile(), "cache");
  const requests = env.server.requests.length;
  const r = await train({
    data: {
      url: env.url,
      cacheDir: bad,
      imageSize: [SIZE, SIZE],
      workers: 1,
    },
  });
  assert.equal(r.code, 1, r.stderr);
  assert.ok(
    r.stderr.includes(
      `error: Cannot create data.cacheDir ${bad}: a part of the path is a file, not a folder (ENOTDIR)`,
    ),
    r.stderr,
  );
  assert.equal(env.server.requests.length, requests, "nothing downloaded");
});

Deno.test("deno task train: output.dir under a file fails with the path and the cause", async () => {
  const bad = join(await aFile(), "runs");
  const r = await train({ output: { dir: bad } });
  assert.equal(r.code, 1, r.stderr);
  const line = r.stderr.split("\n").find((l) => l.startsWith("error: "));
  assert.ok(line?.includes(bad), r.stderr);
  assert.match(line!, /ENOTDIR|Not a directory|not a folder/);
});

Deno.test({
  name:
    "a read-only data.cacheDir names the path and 'permission denied' (not as root)",
  ignore: Deno.uid() === 0 || Deno.build.os === "windows",
  fn: async () => {
    const dir = join(env.dir, "read-only");
    await Deno.mkdir(dir);
    await Deno.chmod(dir, 0o500);
    try {
      const err = await checkWritableDir(dir, "data.cacheDir").then(
        () => assert.fail("writable"),
        (e) => e,
      );
      assert.ok(err instanceof FsError);
      assert.equal(
        err.message,
        `Cannot write into data.cacheDir ${dir}: permission denied (EACCES). ` +
          `Set data.cacheDir to a folder this user can write to`,
      );
    } finally {
      await Deno.chmod(dir, 0o700);
    }
  },
});

Deno.test("the data-stage writers name the path and the cause", async () => {
  const file = await aFile();
  // Cache entries.
  const entry = join(file, "decoded", "ab", "x.rgb");
  const e1 = await writeCacheFile(entry, "k", new Uint8Array(3)).then(
    () => assert.fail("written"),
    (e) => e,
  );
  assert.ok(e1 instanceof FsError);
  assert.equal(e1.code, "ENOTDIR");
  assert.match(
    e1.message,
    new RegExp(
      `^Cannot write the cache file ${entry}: a part of the path is a file`,
    ),
  );
  // Downloads.
  const e2 = await fetchFile(env.url, { cacheDir: join(file, "dl") }).then(
    () => assert.fail("downloaded"),
    (e) => e,
  );
  assert.ok(e2 instanceof FsError);
  assert.equal(
    e2.message,
    `Cannot create the download folder ${
      join(file, "dl")
    }: a part of the path is a file, not a folder (ENOTDIR)`,
  );
  // Extraction: a local failure is "io", never "corrupt" (which would make
  // prepareData delete the download).
  const fx = await getFixtures();
  const dest = join(file, "sub", "dataset");
  const e3 = await unzip(fx.zips.dataset, { dest }).then(
    () => assert.fail("extracted"),
    (e) => e,
  );
  assert.ok(e3 instanceof UnzipError);
  assert.equal(e3.kind, "io");
  assert.ok(e3.message.includes(join(file, "sub")), e3.message);
  assert.match(e3.message, /\(ENOTDIR\)/);
});

Deno.test({
  name: "a full disk (ENOSPC from /dev/full) is named as such",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    // Deno asks for --allow-all to open a device file, which the test task
    // does not grant: write to /dev/full in a child that has it.
    const script = `
      import { describeFsCause, fsError, FsError } from ${
      JSON.stringify(
        new URL("../../src/util/fs_errors.ts", import.meta.url).href,
      )
    };
      let raw = null;
      try { await Deno.writeFile("/dev/full", new Uint8Array(10)); } catch (e) { raw = e; }
      const wrapped = raw && fsError("write the download file", "/dev/full", raw);
      console.log(JSON.stringify({
        failed: raw !== null,
        cause: raw && describeFsCause(raw),
        isFsError: wrapped instanceof FsError,
        code: wrapped?.code,
        message: wrapped?.message,
        sameCause: wrapped?.cause === raw,
      }));`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.ok(r.failed, "/dev/full accepted a write");
    assert.equal(r.cause, "no space left on the device (ENOSPC)");
    assert.ok(r.isFsError);
    assert.equal(r.code, "ENOSPC");
    assert.equal(
      r.message,
      "Cannot write the download file /dev/full: no space left on the device (ENOSPC)",
    );
    assert.ok(r.sameCause);
    const abort = new DOMException("stop", "AbortError");
    assert.equal(fsError("write", "/x", abort), abort, "aborts pass through");
  },
});
