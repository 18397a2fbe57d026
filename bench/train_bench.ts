/**
 * Base forward throughput of the reference model — MobileNetV2 1.0 at
 * 160×160 without top, plus global average pooling (what feature caching
 * runs once per image), batch 32, random weights — on each TF.js backend:
 * the pure-JS `cpu` backend, `wasm` single-threaded and with the threads
 * `selectBackend` picks, and `webgpu` when there is an adapter (here the
 * software lavapipe/llvmpipe one). Each backend runs in its own worker.
 *
 * `deno task bench bench/train_bench.ts` prints Deno's table (time per
 * iteration = one forward pass of 32 images, read-back included) and, at the
 * end, images per second over the timed passes. Warm-up passes (the first
 * few are 2–5× slower) run untimed when each worker starts; Deno adds a call
 * or two to the `n` timed ones. The cpu backend takes ~15 s per pass, so it
 * runs 1 warm-up and ~2–4 timed passes (about a minute; the whole file takes
 * ~2.5 min on 2 cores). `TRAIN_BENCH_BACKENDS=wasm,webgpu` limits the
 * backends (names: cpu, wasm1, wasm, webgpu).
 *
 * The end-to-end reference-sized job is `bench/reference_job.ts`.
 *
 * @module
 */

import { probeWebGpu } from "../src/backend/webgpu_probe.ts";
import { forwardLabel, type ForwardSpec, ForwardWorker } from "./forward.ts";

const BATCH = 32;
const SIZE = 160;
const autoThreads = Math.max(1, Math.min(8, navigator.hardwareConcurrency));
const only = Deno.env.get("TRAIN_BENCH_BACKENDS")?.split(",").map((s) =>
  s.trim()
);
const gpu = await probeWebGpu();

interface Case {
  key: string;
  name: string;
  spec: ForwardSpec;
  warmup: number;
  n: number;
  ignore?: boolean;
}

const cases: Case[] = [
  {
    key: "cpu",
    name: "cpu (pure JS)",
    spec: { backend: "cpu" },
    warmup: 1,
    n: 2,
  },
  {
    key: "wasm1",
    name: "wasm SIMD, 1 thread",
    spec: { backend: "wasm", threads: 1 },
    warmup: 3,
    n: 10,
  },
  {
    key: "wasm",
    name: `wasm SIMD, auto threads (${autoThreads} here)`,
    spec: { backend: "wasm", threads: "auto" },
    warmup: 3,
    n: 10,
  },
  {
    key: "webgpu",
    name: `webgpu (${gpu.adapter ?? "no adapter"})`,
    spec: { backend: "webgpu" },
    warmup: 2,
    n: 3,
    ignore: gpu.adapter === null,
  },
];

const results: {
  name: string;
  label: string;
  ms: number[];
  setup: number;
}[] = [];
let current: { worker: ForwardWorker; key: string } | null = null;

function closeCurrent(): void {
  current?.worker.close();
  current = null;
}

for (const c of cases) {
  Deno.bench({
    name: `${c.name}: MobileNetV2 1.0 @${SIZE} forward, batch ${BATCH}`,
    group: "forward",
    n: c.n,
    // Warm-up passes run untimed when the worker starts (Deno's own warm-up
    // count is not exact for iterations this slow).
    warmup: 0,
    ignore: c.ignore || (only !== undefined && !only.includes(c.key)),
    fn: async (b) => {
      if (current?.key !== c.key) {
        closeCurrent();
        const t = performance.now();
        const worker = await ForwardWorker.start({
          ...c.spec,
          batch: BATCH,
          size: SIZE,
        });
        current = { worker, key: c.key };
        const setup = (performance.now() - t) / 1000;
        for (let i = 0; i < c.warmup; i++) await worker.step();
        results.push({
          name: c.name,
          label: forwardLabel(worker.info),
          ms: [],
          setup,
        });
      }
      const r = results.at(-1)!;
      b.start();
      const ms = await current.worker.step();
      b.end();
      r.ms.push(ms);
    },
  });
}

globalThis.addEventListener("unload", () => {
  closeCurrent();
  console.log(
    `\nMobileNetV2 1.0 @${SIZE}, batch ${BATCH}, base forward (random weights), ` +
      `timed passes after warm-up:`,
  );
  for (const c of cases) {
    const r = results.find((r) => r.name === c.name);
    if (!r || r.ms.length === 0) continue;
    const ms = r.ms;
    const total = ms.reduce((a, b) => a + b, 0);
    console.log(
      `  ${r.label.padEnd(44)} ${
        (BATCH * ms.length / (total / 1000)).toFixed(1).padStart(6)
      } images/s  (${ms.length} passes, best ${
        (BATCH / (Math.min(...ms) / 1000)).toFixed(1)
      }/s; setup ${r.setup.toFixed(1)} s)`,
    );
  }
});
