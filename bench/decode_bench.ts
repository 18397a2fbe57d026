/**
 * Decode + resize throughput on generated 500×375 JPEGs (the typical size of
 * the reference cats-vs-dogs images) to 160×160, bilinear: on the main
 * thread, with one worker and with one worker per core.
 *
 * `deno task bench` (or `deno bench --allow-read --allow-write --allow-env bench/decode_bench.ts`)
 * prints Deno's table (time per iteration = one pass over all images) and,
 * at the end, images per second for each case.
 *
 * @module
 */

import { decodeAndResize } from "../src/data/resize.ts";
import { DecodePool, defaultWorkerCount } from "../src/data/decode_pool.ts";
import { PHOTO_HEIGHT, PHOTO_WIDTH, photoJpeg } from "../fixtures/photos.ts";

const COUNT = 32;
const [W, H] = [PHOTO_WIDTH, PHOTO_HEIGHT];
const SIZE = 160;

const jpegs = Array.from({ length: COUNT }, (_, i) => photoJpeg(i + 1));
const meanKiB = jpegs.reduce((n, j) => n + j.length, 0) / COUNT / 1024;

const cores = defaultWorkerCount();
const single = new DecodePool(1);
const all = new DecodePool(cores);
// Start the workers and their decoders before timing (a real run pays this once).
await Promise.all([
  single.decode(jpegs[0].slice(), SIZE, SIZE),
  ...Array.from(
    { length: cores * 2 },
    () => all.decode(jpegs[0].slice(), SIZE, SIZE),
  ),
]);
await decodeAndResize(jpegs[0].slice(), SIZE, SIZE);
const results = new Map<string, { images: number; ms: number }>();

async function pass(
  name: string,
  decode: (bytes: Uint8Array) => Promise<Uint8Array>,
  b: Deno.BenchContext,
) {
  b.start();
  const t = performance.now();
  await Promise.all(jpegs.map((j) => decode(j.slice())));
  const ms = performance.now() - t;
  b.end();
  const r = results.get(name) ?? { images: 0, ms: 0 };
  r.images += COUNT;
  r.ms += ms;
  results.set(name, r);
}

const label = `${COUNT} JPEGs ${W}x${H} (~${
  meanKiB.toFixed(0)
} KiB) -> ${SIZE}x${SIZE} bilinear`;
const options = { group: "decode", n: 5, warmup: 1 };

Deno.bench(`main thread, ${label}`, options, async (b) => {
  const sequential = async (j: Uint8Array) =>
    await decodeAndResize(j, SIZE, SIZE);
  b.start();
  const t = performance.now();
  for (const j of jpegs) await sequential(j);
  const ms = performance.now() - t;
  b.end();
  const r = results.get("main thread") ?? { images: 0, ms: 0 };
  r.images += COUNT;
  r.ms += ms;
  results.set("main thread", r);
});

Deno.bench(
  `1 worker, ${label}`,
  { ...options, baseline: true },
  async (b) => await pass("1 worker", (j) => single.decode(j, SIZE, SIZE), b),
);

Deno.bench(
  `${cores} workers, ${label}`,
  options,
  async (b) =>
    await pass(`${cores} workers`, (j) => all.decode(j, SIZE, SIZE), b),
);

globalThis.addEventListener("unload", () => {
  single.close();
  all.close();
  console.log(`\ndecode+resize throughput (${label}), steady state:`);
  for (const [name, r] of results) {
    console.log(
      `  ${name.padEnd(12)} ${
        (r.images / (r.ms / 1000)).toFixed(1).padStart(7)
      } images/s`,
    );
  }
});
