/**
 * Decode + resize throughput on generated 500×375 JPEGs (the typical size of
 * the reference cats-vs-dogs images) to 160×160, bilinear: on the main
 * thread, with one worker and with one worker per core.
 *
 * A second group compares the JPEG decoders alone (no resize, main thread):
 * ImageScript 1.3.1's (what decoded JPEGs before issue 18) against
 * libjpeg-turbo 2.0 with TF's IFAST DCT (`src/data/_jpeg_turbo.ts`, what
 * decodes them now, exactly as TF does).
 *
 * `deno task bench` (or `deno bench --allow-read --allow-write --allow-env bench/decode_bench.ts`)
 * prints Deno's table (time per iteration = one pass over all images) and,
 * at the end, images per second for each case. `DECODE_BENCH_COUNT=2`
 * (default 32) makes it a quick smoke run.
 *
 * @module
 */

import { decodeAndResize } from "../src/data/resize.ts";
import { decodePixels } from "../src/data/codecs.ts";
import { imagescriptJpeg } from "../src/deps/codecs.ts";
import { DecodePool, defaultWorkerCount } from "../src/data/decode_pool.ts";
import { PHOTO_HEIGHT, PHOTO_WIDTH, photoJpeg } from "../fixtures/photos.ts";

const COUNT = Number(Deno.env.get("DECODE_BENCH_COUNT") ?? 32);
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

// The JPEG decoders alone, on the main thread.
interface ImageScriptJpeg {
  load(bytes: Uint8Array): { width: number; height: number };
}
const imagescript = await (imagescriptJpeg as {
  init(): Promise<ImageScriptJpeg>;
}).init();
const codecResults = new Map<string, { images: number; ms: number }>();
const codecLabel = `${COUNT} JPEGs ${W}x${H}, decode only, main thread`;
for (
  const [name, decode, baseline] of [
    [
      "imagescript@1.3.1 (before)",
      async (j: Uint8Array) => {
        imagescript.load(j);
        return await Promise.resolve();
      },
      true,
    ],
    [
      "libjpeg-turbo IFAST (now, = TF)",
      async (j: Uint8Array) => {
        await decodePixels(j);
      },
      false,
    ],
  ] as const
) {
  await decode(jpegs[0]); // instantiated before timing
  Deno.bench(
    `${name}, ${codecLabel}`,
    { group: "jpeg codec", n: 5, warmup: 1, baseline },
    async (b) => {
      b.start();
      const t = performance.now();
      for (const j of jpegs) await decode(j);
      const ms = performance.now() - t;
      b.end();
      const r = codecResults.get(name) ?? { images: 0, ms: 0 };
      r.images += COUNT;
      r.ms += ms;
      codecResults.set(name, r);
    },
  );
}

globalThis.addEventListener("unload", () => {
  single.close();
  all.close();
  console.log(`\nJPEG decode alone (${codecLabel}), steady state:`);
  for (const [name, r] of codecResults) {
    console.log(
      `  ${name.padEnd(32)} ${
        (r.images / (r.ms / 1000)).toFixed(1).padStart(7)
      } images/s`,
    );
  }
  console.log(`\ndecode+resize throughput (${label}), steady state:`);
  for (const [name, r] of results) {
    console.log(
      `  ${name.padEnd(12)} ${
        (r.images / (r.ms / 1000)).toFixed(1).padStart(7)
      } images/s`,
    );
  }
});
