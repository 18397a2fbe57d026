/**
 * Decode-worker start-up: wall time from `new Worker` to the first decoded
 * image, and the process' resident memory added by each worker, for N
 * workers started one after another. The worker module defaults to this
 * checkout's `src/data/_decode_worker.ts`; pass another URL to compare (e.g.
 * an older checkout's worker):
 *
 * ```sh
 * deno run -A bench/worker_start.ts [WORKER_URL] [--workers N]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { photoJpeg } from "../fixtures/photos.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { workers: { type: "string", default: "4" } },
});
const url = positionals[0] ??
  new URL("../src/data/_decode_worker.ts", import.meta.url).href;
const n = Number(values.workers);
const jpeg = photoJpeg(1);

const rss = () => Deno.memoryUsage().rss / 2 ** 20;
const workers: Worker[] = [];
const times: number[] = [];
const before = rss();
for (let i = 0; i < n; i++) {
  const t = performance.now();
  const w = new Worker(url, { type: "module" });
  workers.push(w);
  await new Promise<void>((resolve, reject) => {
    w.onmessage = (e: MessageEvent<{ ok: boolean; error?: string }>) =>
      e.data.ok ? resolve() : reject(new Error(e.data.error));
    w.onerror = (e) => reject(e);
    const bytes = jpeg.slice().buffer;
    w.postMessage({
      id: 1,
      bytes,
      height: 160,
      width: 160,
      interpolation: "bilinear",
    }, [bytes]);
  });
  times.push(performance.now() - t);
}
const added = (rss() - before) / n;
workers.forEach((w) => w.terminate());
const median = [...times].sort((a, b) => a - b)[Math.floor(n / 2)];
console.log(
  JSON.stringify({
    worker: url,
    workers: n,
    firstImageMs: times.map((t) => Math.round(t)),
    medianMs: Math.round(median),
    rssPerWorkerMiB: Math.round(added),
  }),
);
