/**
 * Starting TF.js' WASM backend from the installed npm package (binaries
 * loaded from disk, never fetched), multi-threaded with SIMD where possible.
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import { importTfWasm, TFJS_WASM_SPECIFIER } from "../deps/tf_backends.ts";
import { fileURLToPath } from "node:url";
import os from "node:os";
import workerThreads from "node:worker_threads";
import { BackendError, errorText, setBackendOrThrow } from "./set_backend.ts";

/** The three WASM binaries shipped in `@tensorflow/tfjs-backend-wasm/dist/`. */
export const WASM_BINARIES = [
  "tfjs-backend-wasm.wasm",
  "tfjs-backend-wasm-simd.wasm",
  "tfjs-backend-wasm-threaded-simd.wasm",
] as const;

/**
 * Absolute paths of the three `.wasm` binaries inside the installed
 * `@tensorflow/tfjs-backend-wasm` package (the Deno npm cache or
 * `node_modules`), keyed by binary name as `setWasmPaths` expects. Throws if
 * the package is not loaded from the local file system or a file is missing.
 * Call after the package has been imported (so it is in the module graph).
 */
export function wasmBinaryPaths(): Record<string, string> {
  const paths: Record<string, string> = {};
  for (const name of WASM_BINARIES) {
    const url = import.meta.resolve(`${TFJS_WASM_SPECIFIER}/dist/${name}`);
    if (!url.startsWith("file:")) {
      throw new BackendError(
        `cannot locate ${name} of ${TFJS_WASM_SPECIFIER} on disk (resolved to ` +
          `${url}); is the npm package installed?`,
      );
    }
    const path = fileURLToPath(url);
    try {
      Deno.statSync(path);
    } catch (e) {
      throw new BackendError(`missing WASM binary ${path}: ${errorText(e)}`);
    }
    paths[name] = path;
  }
  return paths;
}

/** Threads the WASM backend runs with once initialised (null before). */
let wasmThreadsInUse: number | null = null;
let wasmSimd = false;
let wasmPathsSet = false;
let wasmThreadError: string | null = null;
let wasmInit: Promise<number> | null = null;

function resolveThreads(want: number | "auto" | false): number {
  if (want === false) return 1;
  const cores = navigator.hardwareConcurrency || 1;
  const n = want === "auto" ? cores : Math.floor(want);
  return Math.max(1, Math.min(8, n));
}

/**
 * Loads and starts the WASM backend with `want` threads, once per process
 * (falls back to one thread, remembering why; a failed start may be retried);
 * resolves to the threads in use.
 */
export function startWasm(want: number | "auto" | false): Promise<number> {
  wasmInit ??= initWasm(want).catch((e) => {
    wasmInit = null;
    throw e;
  });
  return wasmInit;
}

async function initWasm(want: number | "auto" | false): Promise<number> {
  const wasm = await importTfWasm();
  if (!wasmPathsSet) {
    // Once set, TF.js refuses a second call after a failed init.
    wasm.setWasmPaths(wasmBinaryPaths());
    wasmPathsSet = true;
  }
  wasmSimd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT") === true;
  const threads = resolveThreads(want);
  if (threads > 1) {
    try {
      const got = await initThreadedWasm(wasm, threads);
      wasmThreadsInUse = got;
      return got;
    } catch (e) {
      // Fall through to single-threaded SIMD, and say why in the reason.
      wasmThreadError = errorText(e);
    }
  }
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  wasm.setThreadsCount(1);
  await setBackendOrThrow("wasm");
  wasmThreadsInUse = wasm.getThreadsCount();
  return wasmThreadsInUse;
}

type WasmModule = Awaited<ReturnType<typeof importTfWasm>>;

/**
 * TF.js disables WASM threads whenever `IS_NODE` is true (tfjs#3830), and its
 * Emscripten glue cannot start pthread workers under Deno as shipped: it hands
 * `node:worker_threads` a `blob:` URL, the worker script assumes a Node global
 * scope (writable `self`/`location`), and `init_with_threads_count` caps the
 * pool at `os.cpus().length / 2`. This shims exactly those three points for the
 * duration of the initialisation, then restores them and unrefs the workers so
 * they do not keep the process alive.
 */
async function initThreadedWasm(
  wasm: WasmModule,
  threads: number,
): Promise<number> {
  const workerFile = fileURLToPath(
    import.meta.resolve(
      `${TFJS_WASM_SPECIFIER}/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js`,
    ),
  );
  const mainScript = fileURLToPath(
    import.meta.resolve(
      `${TFJS_WASM_SPECIFIER}/wasm-out/tfjs-backend-wasm-threaded-simd.js`,
    ),
  );
  Deno.statSync(workerFile);
  Deno.statSync(mainScript);

  type WorkerCtor = typeof workerThreads.Worker;
  const wt = workerThreads as unknown as { Worker: WorkerCtor };
  const RealWorker = wt.Worker;
  const globals = globalThis as unknown as { Worker: unknown };
  const realGlobalWorker = globals.Worker;
  const osMutable = os as unknown as { cpus: typeof os.cpus };
  const realCpus = osMutable.cpus;

  const bootstrap = [
    // Emscripten's worker does Object.assign(global, {self, location, ...});
    // Deno's worker scope has getter-only properties for some of those.
    `for (const k of ["self", "location", "Worker", "importScripts",`,
    `  "postMessage", "performance"]) {`,
    `  let v; try { v = globalThis[k]; } catch { /* getter threw */ }`,
    `  Object.defineProperty(globalThis, k,`,
    `    { value: v, writable: true, configurable: true, enumerable: true });`,
    `}`,
    // Same newline escaping TF.js applies before turning it into a Blob.
    `(0, eval)(require(${JSON.stringify(workerFile)})`,
    `  .wasmWorkerContents.replace(/\\n/g, "\\\\n"));`,
  ].join("\n");

  class PthreadWorker extends RealWorker {
    constructor(url: string | URL, options?: Record<string, unknown>) {
      const pthread = String(url).startsWith("blob:");
      super(
        pthread ? bootstrap : url,
        pthread ? { ...options, eval: true } : options,
      );
    }
    override postMessage(message: unknown, transfer?: unknown): void {
      const m = message as { cmd?: string; urlOrBlob?: unknown } | null;
      if (m?.cmd === "load" && m.urlOrBlob instanceof Blob) {
        message = { ...m, urlOrBlob: mainScript };
      }
      // deno-lint-ignore no-explicit-any
      super.postMessage(message, transfer as any);
    }
  }

  const fakeCpus = () => {
    const real = realCpus();
    return Array.from({ length: threads * 2 }, (_, i) => real[i % real.length]);
  };
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  wasm.setThreadsCount(threads);
  wt.Worker = PthreadWorker as unknown as WorkerCtor;
  osMutable.cpus = fakeCpus;
  try {
    await setBackendOrThrow("wasm");
  } finally {
    wt.Worker = RealWorker;
    globals.Worker = realGlobalWorker;
    osMutable.cpus = realCpus;
  }
  const backend = tf.backend() as unknown as {
    wasm?: {
      PThread?: {
        runningWorkers: { unref(): void }[];
        unusedWorkers: { unref(): void }[];
      };
    };
  };
  const pthread = backend.wasm?.PThread;
  for (
    const w of [
      ...pthread?.runningWorkers ?? [],
      ...pthread?.unusedWorkers ?? [],
    ]
  ) {
    w.unref();
  }
  return wasm.getThreadsCount();
}

/** " (SIMD, 2 threads)" for a reason line; "" when `threads` is null. */
export function threadNote(threads: number | null): string {
  if (threads === null) return "";
  const simd = wasmSimd ? "SIMD" : "no SIMD";
  if (threads > 1) return ` (${simd}, ${threads} threads)`;
  const why = wasmThreadError ? `; threads failed: ${wasmThreadError}` : "";
  return ` (${simd}, single-threaded${why})`;
}

/** Threads of the initialised WASM backend, or null if it never started. */
export function wasmThreads(): number | null {
  return wasmThreadsInUse;
}
