/**
 * Base forward throughput: MobileNetV2 (no top, global average pooling) on
 * one TF.js backend, each backend in its own Web Worker so that backends
 * (and WASM thread counts, which are fixed once the WASM backend starts) do
 * not share an isolate. Used by `train_bench.ts` and `reference_job.ts`.
 *
 * @module
 */

import type { BackendName } from "../src/backend/backend.ts";

/** Message to the worker. */
export type ForwardRequest =
  | {
    cmd: "init";
    backend: BackendName;
    threads: number | "auto" | false;
    batch: number;
    size: number;
    alpha: number;
  }
  | { cmd: "step" };

/** Message from the worker. */
export type ForwardReply =
  | {
    cmd: "ready";
    backend: string;
    reason: string;
    threads: number | null;
    adapter: string | null;
  }
  | { cmd: "step"; ms: number }
  | { cmd: "error"; error: string };

/** What to measure. */
export interface ForwardSpec {
  /** Backend to run on. */
  backend: BackendName;
  /** WASM threads as `selectBackend` takes them; default `"auto"`. */
  threads?: number | "auto" | false;
  /** Images per forward pass; default 32. */
  batch?: number;
  /** Input rows and columns; default 160. */
  size?: number;
  /** Width multiplier; default 1.0. */
  alpha?: number;
}

/** One backend in its own worker, ready to run forward passes. */
export class ForwardWorker {
  /** What `selectBackend` reported in the worker. */
  readonly info: Extract<ForwardReply, { cmd: "ready" }>;
  /** Images per forward pass. */
  readonly batch: number;
  #worker: Worker;
  #pending: ((r: ForwardReply) => void) | null = null;

  private constructor(
    worker: Worker,
    info: Extract<ForwardReply, { cmd: "ready" }>,
    batch: number,
  ) {
    this.#worker = worker;
    this.info = info;
    this.batch = batch;
    worker.onmessage = (e: MessageEvent<ForwardReply>) => {
      const done = this.#pending;
      this.#pending = null;
      done?.(e.data);
    };
  }

  /** Starts a worker, selects the backend there and builds the model. */
  static async start(spec: ForwardSpec): Promise<ForwardWorker> {
    const batch = spec.batch ?? 32;
    const worker = new Worker(
      new URL("./forward_worker.ts", import.meta.url).href,
      { type: "module", name: `forward-${spec.backend}` },
    );
    const ready = await new Promise<ForwardReply>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<ForwardReply>) => resolve(e.data);
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        reject(new Error(`forward worker failed: ${e.message}`));
      };
      const init: ForwardRequest = {
        cmd: "init",
        backend: spec.backend,
        threads: spec.threads ?? "auto",
        batch,
        size: spec.size ?? 160,
        alpha: spec.alpha ?? 1.0,
      };
      worker.postMessage(init);
    });
    if (ready.cmd !== "ready") {
      worker.terminate();
      throw new Error(
        `${spec.backend}: ${ready.cmd === "error" ? ready.error : ready.cmd}`,
      );
    }
    return new ForwardWorker(worker, ready, batch);
  }

  /** Runs one forward pass of the batch; resolves to its milliseconds. */
  step(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#pending = (r) => {
        if (r.cmd === "step") resolve(r.ms);
        else reject(new Error(r.cmd === "error" ? r.error : r.cmd));
      };
      this.#worker.postMessage({ cmd: "step" } satisfies ForwardRequest);
    });
  }

  /** Ends the worker (and the backend with it). */
  close(): void {
    this.#worker.terminate();
  }
}

/** What {@link measureForward} found. */
export interface ForwardResult {
  /** Row label, e.g. `wasm, 2 threads`. */
  label: string;
  /** Backend selection reason from the worker. */
  reason: string;
  /** Images per pass. */
  batch: number;
  /** Milliseconds of each warm-up pass (not counted). */
  warmupMs: number[];
  /** Milliseconds of each timed pass. */
  ms: number[];
  /** Timed images / timed seconds. */
  imagesPerSecond: number;
  /** Images per second of the fastest timed pass. */
  bestImagesPerSecond: number;
  /** Seconds from worker start to a ready model (backend init + build). */
  setupSeconds: number;
}

/** Short label of a backend as selected: `wasm, 2 threads`, `webgpu (llvmpipe …)`. */
export function forwardLabel(info: ForwardWorker["info"]): string {
  if (info.backend === "wasm") {
    return `wasm, ${info.threads} thread${info.threads === 1 ? "" : "s"}`;
  }
  if (info.backend === "webgpu" && info.adapter) {
    return `webgpu (${info.adapter})`;
  }
  return info.backend;
}

/**
 * Starts a worker for `spec`, runs `warmup` untimed and `iterations` timed
 * forward passes, and closes it.
 */
export async function measureForward(
  spec: ForwardSpec,
  opts: {
    warmup: number;
    iterations: number;
    onPass?: (ms: number, timed: boolean) => void;
  },
): Promise<ForwardResult> {
  const t = performance.now();
  const w = await ForwardWorker.start(spec);
  const setupSeconds = (performance.now() - t) / 1000;
  try {
    const warmupMs: number[] = [];
    const ms: number[] = [];
    for (let i = 0; i < opts.warmup + opts.iterations; i++) {
      const m = await w.step();
      const timed = i >= opts.warmup;
      (timed ? ms : warmupMs).push(m);
      opts.onPass?.(m, timed);
    }
    const total = ms.reduce((a, b) => a + b, 0);
    return {
      label: forwardLabel(w.info),
      reason: w.info.reason,
      batch: w.batch,
      warmupMs,
      ms,
      imagesPerSecond: (w.batch * ms.length) / (total / 1000),
      bestImagesPerSecond: w.batch / (Math.min(...ms) / 1000),
      setupSeconds,
    };
  } finally {
    w.close();
  }
}
