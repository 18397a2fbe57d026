/**
 * Concurrent and interrupted runs sharing one cache folder, as `deno task
 * train` subprocesses against a dataset served on loopback:
 *
 * - two runs started at once on an empty cache both succeed with the same
 *   learning curve as a run alone (one download, extraction and decode
 *   cache shared, none removed from under the other);
 * - a run paused (SIGSTOP) mid-extraction while another runs from start to
 *   end, then resumed: both succeed with those results (neither removes
 *   the other's partial or complete extraction);
 * - a run killed with SIGKILL mid-download, mid-unzip, mid-decode and
 *   mid-features, then run again, gives the learning curve and best epoch
 *   of a clean run, and leaves no `.part`, `.tmp` or partial folder behind.
 *
 * The dataset has 100 training images per class (so decode and features
 * print progress mid-way) and 600 padding files (so unzip does).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { SIZE, trainEnv } from "../_helpers/train.ts";
import { listDir, serve } from "../_helpers/data.ts";
import {
  findLeftoverNames,
  learningCurve,
  makeDatasetZip,
  readRun,
  readRunDir,
  startTrain,
} from "../_helpers/cache.ts";

const env = await trainEnv();
const DATASET = { train: 100, validation: 4, padding: 600, size: SIZE };
const zip = makeDatasetZip(DATASET);
/** Files in the archive: images of three classes, and the padding. */
const FILES = 3 * (DATASET.train + DATASET.validation) + DATASET.padding;
/** A progress line of the extraction before its end. */
const MID_UNZIP = new RegExp(`^data: extracted \\d+/${FILES} files`);
/** A progress line of decoding or feature extraction of the training images. */
const MID_DECODE = new RegExp(`^data: train: \\d+/${3 * DATASET.train} images`);
const MID_FEATURES = new RegExp(`^features: train \\d+/${3 * DATASET.train}$`);

/** The first request of `/slow/big.zip` sends half the bytes, then waits for `releaseSlow()`. */
let releaseSlow!: () => void;
const slowHeld = new Promise<void>((r) => (releaseSlow = r));
let slowServed = 0;
const server = serve({
  "/big.zip": zip,
  "/slow/big.zip": () => {
    const first = slowServed++ === 0;
    const half = Math.floor(zip.length / 2);
    return new Response(
      new ReadableStream<Uint8Array>({
        async start(c) {
          c.enqueue(zip.slice(0, half));
          if (first) await slowHeld;
          c.enqueue(zip.slice(half));
          c.close();
        },
      }),
      { headers: { "content-length": String(zip.length) } },
    );
  },
});
Deno.test.afterAll(async () => {
  releaseSlow();
  await server.close();
  await env.close();
});

/** summary.best without its timing. */
function bestOf(run: { summary: Record<string, unknown> }) {
  const { seconds: _, ...best } = run.summary.best as Record<string, unknown>;
  return best;
}

let configs = 0;
/** A config for the served dataset with its own (empty) cache and output folders. */
async function setup(path = "/big.zip") {
  const id = configs++;
  const cacheDir = join(env.dir, `cache-${id}`);
  const outDir = join(env.dir, `runs-${id}`);
  const config = join(env.dir, `config-${id}.json`);
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      name: "cache",
      data: {
        url: `${server.url}${path}`,
        cacheDir,
        imageSize: [SIZE, SIZE],
        batchSize: 8,
        workers: 1,
      },
      model: { alpha: 0.35, weights: env.weights },
      train: { epochs: 2, learningRate: 0.01 },
      backend: "cpu",
      output: { dir: outDir },
    }),
  );
  return { cacheDir, outDir, config };
}

async function runToEnd(config: string) {
  const r = await (await startTrain(config)).finish();
  assert.equal(r.code, 0, r.stderr);
  return r;
}

let referenceRun: Promise<Awaited<ReturnType<typeof readRun>>[number]> | null =
  null;
/** A clean run alone on an empty cache (made once). */
function reference() {
  referenceRun ??= (async () => {
    const s = await setup();
    await runToEnd(s.config);
    const [run] = await readRun(s.outDir);
    assert.equal(run.rows.length, 2);
    return run;
  })();
  return referenceRun;
}

Deno.test("two runs started at once on one empty cache both succeed with the same results", async () => {
  const ref = await reference();
  const s = await setup();
  const [a, b] = [await startTrain(s.config), await startTrain(s.config)];
  const [ra, rb] = await Promise.all([a.finish(), b.finish()]);
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(rb.code, 0, rb.stderr);
  const runs = await readRun(s.outDir);
  assert.equal(runs.length, 2);
  for (const run of runs) {
    assert.deepEqual(learningCurve(run.rows), learningCurve(ref.rows));
    assert.deepEqual(bestOf(run), bestOf(ref));
    assert.deepEqual(run.summary.images, ref.summary.images);
  }
  assert.deepEqual(await findLeftoverNames(s.cacheDir), []);
});

Deno.test("a run paused mid-extraction (SIGSTOP) while another runs start to end: both succeed", async () => {
  const ref = await reference();
  const s = await setup();
  const a = await startTrain(s.config);
  await a.waitFor(MID_UNZIP);
  a.process.kill("SIGSTOP");
  try {
    // B finds A's partial extraction (locked: in use), extracts on its own,
    // trains and ends while A is frozen.
    const rb = await (await startTrain(s.config)).finish();
    assert.equal(rb.code, 0, rb.stderr);
  } finally {
    a.process.kill("SIGCONT");
  }
  // A resumes, finds B's complete extraction in place and uses it.
  const ra = await a.finish();
  assert.equal(ra.code, 0, ra.stderr);
  const runs = await readRun(s.outDir);
  assert.equal(runs.length, 2);
  for (const run of runs) {
    assert.deepEqual(learningCurve(run.rows), learningCurve(ref.rows));
    assert.deepEqual(bestOf(run), bestOf(ref));
    assert.deepEqual(run.summary.images, ref.summary.images);
  }
  assert.deepEqual(await findLeftoverNames(s.cacheDir), []);
});

/**
 * Kills a run with SIGKILL at the first stderr line matching `at`, checks
 * what it left, runs again. Before features, the killed run has made no run
 * folder; killed mid-features it may already have (features take a few
 * tenths of a second here), and then the rerun's folder is the new one.
 */
async function killAndRerun(
  path: string,
  at: RegExp,
  left: (cacheDir: string) => Promise<void>,
  { beforeTraining = true } = {},
) {
  const ref = await reference();
  const s = await setup(path);
  const child = await startTrain(s.config);
  await child.waitFor(at);
  child.process.kill("SIGKILL");
  const killed = await child.finish();
  assert.equal(killed.signal, "SIGKILL", killed.stderr);
  const before = await listDir(s.outDir);
  if (beforeTraining) assert.deepEqual(before, [], "no run folder yet");
  await left(s.cacheDir);

  await runToEnd(s.config);
  const fresh = (await listDir(s.outDir)).filter((n) => !before.includes(n));
  assert.equal(fresh.length, 1);
  const run = await readRunDir(join(s.outDir, fresh[0]));
  assert.deepEqual(learningCurve(run.rows), learningCurve(ref.rows));
  assert.deepEqual(bestOf(run), bestOf(ref));
  assert.deepEqual(run.summary.images, ref.summary.images);
  // A kill between creating a temporary file and locking it leaves an empty,
  // unlocked `.tmp` that the next run cannot tell from another process's
  // just-created file for its first 60 s, so it is left for a later sweep
  // (`deno task cache --prune`). It is never read as an entry. Anything else
  // of the killed run must be gone.
  const leftovers = await findLeftoverNames(s.cacheDir);
  for (const name of leftovers) {
    const info = await Deno.stat(join(s.cacheDir, name));
    assert.ok(
      name.endsWith(".tmp") && info.isFile && info.size === 0,
      `left behind by the killed run: ${name} (${info.size} bytes)`,
    );
  }
}

Deno.test("kill -9 mid-download, then a rerun: same results, no .part left", async () => {
  await killAndRerun("/slow/big.zip", /^big\.zip: .* \/ .*%/, async (cache) => {
    releaseSlow();
    assert.match(
      (await findLeftoverNames(cache)).join(" "),
      /^big\.zip\.[0-9a-f]{8}\.part$/,
    );
  });
});

Deno.test("kill -9 mid-unzip, then a rerun: same results, no partial folder left", async () => {
  await killAndRerun("/big.zip", MID_UNZIP, async (cache) => {
    assert.match(
      (await findLeftoverNames(cache)).join(" "),
      /^big\.partial-[0-9a-f]{8}$/,
    );
  });
});

Deno.test("kill -9 mid-decode, then a rerun: same results, nothing half-written used", async () => {
  await killAndRerun(
    "/big.zip",
    MID_DECODE,
    () => Promise.resolve(),
  );
});

Deno.test("kill -9 mid-features, then a rerun: same results", async () => {
  await killAndRerun(
    "/big.zip",
    MID_FEATURES,
    () => Promise.resolve(),
    { beforeTraining: false },
  );
});
