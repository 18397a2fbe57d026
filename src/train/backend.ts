/**
 * Picks and initialises the TF.js backend: WebGPU on a hardware adapter, else
 * WASM (SIMD, multi-threaded where possible), else the pure-JS CPU backend.
 *
 * WASM binaries are loaded from the installed npm package (never fetched), and
 * TF.js' "looks like you are running TensorFlow.js in Node.js" banner is
 * silenced.
 *
 * @module
 */

import {
  importTfWasm,
  importTfWebgpu,
  tf,
  TFJS_WASM_SPECIFIER,
} from "../deps.ts";
import { fileURLToPath } from "node:url";
import os from "node:os";
import workerThreads from "node:worker_threads";

/** A concrete TF.js backend this project can run on. */
export type BackendName = "webgpu" | "wasm" | "cpu";

/** What a config may ask for: a concrete backend or `"auto"`. */
export type BackendRequest = "auto" | BackendName;

/** The subset of a WebGPU adapter that backend selection reads. */
export interface GpuAdapterLike {
  /** Adapter info (Deno 2.9, current spec). */
  readonly info?: {
    readonly description?: string;
    readonly vendor?: string;
    readonly architecture?: string;
    readonly device?: string;
    readonly isFallbackAdapter?: boolean;
  };
  /** Older spec / other runtimes put the flag on the adapter itself. */
  readonly isFallbackAdapter?: boolean;
}

/** The subset of `navigator.gpu` that backend selection uses. */
export interface GpuLike {
  /** Same contract as `GPU.requestAdapter`. */
  requestAdapter(
    options?: { powerPreference?: "low-power" | "high-performance" },
  ): Promise<GpuAdapterLike | null>;
}

/** What the WebGPU probe found. */
export interface GpuProbe {
  /** Description of the adapter, or null when there is none. */
  adapter: string | null;
  /** True when the adapter is a fallback (software) adapter such as lavapipe. */
  fallbackAdapter: boolean;
  /** Why there is no adapter (no `navigator.gpu`, null adapter, error). */
  error?: string;
}

/** Options for {@link selectBackend}. */
export interface SelectBackendOptions {
  /**
   * WASM threads: `"auto"` (default) uses the machine's logical cores (at most
   * 8, the size of TF.js' pthread pool); a number asks for that many; `false`,
   * 0 or 1 runs single-threaded. Falls back to one thread if the threaded
   * module fails to start.
   */
  wasmThreads?: number | "auto" | false;
  /** The WebGPU entry point to probe; defaults to `navigator.gpu`. */
  gpu?: GpuLike | null;
}

/** The outcome of {@link selectBackend}. */
export interface BackendSelection {
  /** The backend TF.js now runs on (`tf.getBackend()`). */
  backend: BackendName;
  /** The WebGPU adapter's description (as probed), or null when none exists. */
  adapter: string | null;
  /** True when the probed WebGPU adapter is a software fallback adapter. */
  fallbackAdapter: boolean;
  /** Human-readable reason for the choice, including skipped candidates. */
  reason: string;
  /** Threads the WASM backend uses, or null when the backend is not wasm. */
  threads: number | null;
}

/** Thrown when a named backend cannot be used. */
export class BackendError extends Error {
  /** @param message what failed and what to do about it */
  constructor(message: string) {
    super(message);
    this.name = "BackendError";
  }
}

/** The three WASM binaries shipped in `@tensorflow/tfjs-backend-wasm/dist/`. */
export const WASM_BINARIES = [
  "tfjs-backend-wasm.wasm",
  "tfjs-backend-wasm-simd.wasm",
  "tfjs-backend-wasm-threaded-simd.wasm",
] as const;

/**
 * Turns off the one-time "Hi, looks like you are running TensorFlow.js in
 * Node.js" banner. TF.js 4.22's CPU backend prints it on its first tensor
 * write when the `IS_NODE` flag is true (Deno exposes `process.versions.node`).
 * Rather than lying about `IS_NODE` (which also steers tf.data file access and
 * the WASM thread detection) or enabling PROD mode (which hides every
 * warning), this marks the CPU backend instance as already used. Idempotent.
 */
export function silenceNodeBanner(): void {
  const cpu = tf.findBackend("cpu") as unknown as { firstUse?: boolean } | null;
  if (cpu && typeof cpu.firstUse === "boolean") cpu.firstUse = false;
}

/** Describes an adapter: its description, else vendor/architecture/device. */
export function describeAdapter(adapter: GpuAdapterLike): string {
  const info = adapter.info ?? {};
  const description = info.description?.trim();
  if (description) return description;
  const parts = [info.vendor, info.architecture, info.device]
    .map((p) => p?.trim())
    .filter((p): p is string => !!p);
  return parts.length > 0 ? parts.join(" ") : "unknown adapter";
}

/** True when the adapter says it is a fallback (software) adapter. */
export function isFallbackAdapter(adapter: GpuAdapterLike): boolean {
  return adapter.info?.isFallbackAdapter === true ||
    adapter.isFallbackAdapter === true;
}

/**
 * Asks `gpu` (default `navigator.gpu`) for the adapter TF.js' WebGPU backend
 * would get (high-performance preference) and reports what it is.
 */
export async function probeWebGpu(
  gpu: GpuLike | null | undefined = defaultGpu(),
): Promise<GpuProbe> {
  if (!gpu) {
    return {
      adapter: null,
      fallbackAdapter: false,
      error: "navigator.gpu is not available",
    };
  }
  try {
    const adapter = await gpu.requestAdapter({
      powerPreference: "high-performance",
    });
    if (!adapter) {
      return {
        adapter: null,
        fallbackAdapter: false,
        error: "navigator.gpu.requestAdapter() returned no adapter",
      };
    }
    return {
      adapter: describeAdapter(adapter),
      fallbackAdapter: isFallbackAdapter(adapter),
    };
  } catch (e) {
    return {
      adapter: null,
      fallbackAdapter: false,
      error: `navigator.gpu.requestAdapter() failed: ${errorText(e)}`,
    };
  }
}

/** One step of a backend plan: a backend to try and why. */
export interface PlanStep {
  /** Backend to try. */
  backend: BackendName;
  /** Why this candidate is in the plan (context and choice together). */
  why: string;
  /** For `"auto"`: what the probe found, shared by all candidates. */
  context?: string;
  /** For `"auto"`: the candidate itself, e.g. "WASM". */
  choice?: string;
}

/**
 * The pure decision: which backends to try, in order, for `requested` given a
 * WebGPU probe. `"auto"` → WebGPU only on a non-fallback adapter, then WASM,
 * then CPU; a named backend → just that one (WebGPU also on a software
 * adapter; with no adapter at all WebGPU is an error).
 */
export function planBackends(
  requested: BackendRequest,
  probe: GpuProbe | null,
): PlanStep[] {
  switch (requested) {
    case "cpu":
      return [{ backend: "cpu", why: "cpu requested" }];
    case "wasm":
      return [{ backend: "wasm", why: "wasm requested" }];
    case "webgpu": {
      if (!probe?.adapter) {
        throw new BackendError(
          `backend "webgpu" requested but no WebGPU adapter is available (${
            probe?.error ?? "not probed"
          }); install a GPU driver with Vulkan/Metal/DX12 support, or use ` +
            `backend "auto", "wasm" or "cpu"`,
        );
      }
      const kind = probe.fallbackAdapter ? "software fallback" : "hardware";
      return [{
        backend: "webgpu",
        why: `webgpu requested (${kind} adapter "${probe.adapter}")`,
      }];
    }
    case "auto": {
      const steps: PlanStep[] = [];
      let gpuNote: string;
      if (probe?.adapter && !probe.fallbackAdapter) {
        steps.push({
          backend: "webgpu",
          why: `auto: hardware WebGPU adapter "${probe.adapter}"`,
          choice: `auto: hardware WebGPU adapter "${probe.adapter}"`,
        });
        gpuNote = "";
      } else if (probe?.adapter) {
        gpuNote = `WebGPU adapter "${probe.adapter}" is a software fallback ` +
          `adapter, skipped`;
      } else {
        gpuNote = `no WebGPU adapter (${probe?.error ?? "not probed"})`;
      }
      const prefix = gpuNote ? `auto: ${gpuNote}` : "auto";
      for (
        const [backend, choice] of [["wasm", "WASM"], ["cpu", "CPU"]] as const
      ) {
        steps.push({
          backend,
          why: `${prefix}; ${choice}`,
          context: prefix,
          choice,
        });
      }
      return steps;
    }
    default:
      throw new BackendError(
        `unknown backend "${String(requested)}"; use "auto", "webgpu", ` +
          `"wasm" or "cpu"`,
      );
  }
}

/**
 * Selects and initialises the TF.js backend (see the module doc), makes it
 * current (`tf.setBackend`) and silences the Node.js banner. A named backend
 * that cannot start throws a {@link BackendError}; `"auto"` moves on to the
 * next candidate and says why in `reason`.
 */
export async function selectBackend(
  requested: BackendRequest,
  opts: SelectBackendOptions = {},
): Promise<BackendSelection> {
  silenceNodeBanner();
  const needsProbe = requested === "auto" || requested === "webgpu";
  const probe = needsProbe
    ? await probeWebGpu("gpu" in opts ? opts.gpu : defaultGpu())
    : null;
  const plan = planBackends(requested, probe);
  const failures: string[] = [];
  for (const step of plan) {
    try {
      const threads = await activate(step.backend, opts);
      const note = threadNote(threads);
      const reason = step.choice
        ? [step.context, ...failures, step.choice + note].filter(Boolean)
          .join("; ")
        : [...failures, step.why + note].join("; ");
      return {
        backend: step.backend,
        adapter: probe?.adapter ?? null,
        fallbackAdapter: probe?.fallbackAdapter ?? false,
        reason,
        threads,
      };
    } catch (e) {
      if (requested !== "auto") {
        throw e instanceof BackendError ? e : new BackendError(
          `backend "${step.backend}" failed to initialise: ${errorText(e)}`,
        );
      }
      failures.push(`${step.backend} failed (${errorText(e)})`);
    }
  }
  throw new BackendError(
    `no backend could be initialised: ${failures.join("; ")}`,
  );
}

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
let webgpuLoaded = false;

async function activate(
  backend: BackendName,
  opts: SelectBackendOptions,
): Promise<number | null> {
  switch (backend) {
    case "cpu":
      await setBackendOrThrow("cpu");
      return null;
    case "webgpu":
      if (!webgpuLoaded) {
        await importTfWebgpu();
        webgpuLoaded = true;
      }
      await setBackendOrThrow("webgpu");
      return null;
    case "wasm": {
      wasmInit ??= initWasm(opts.wasmThreads ?? "auto").catch((e) => {
        wasmInit = null;
        throw e;
      });
      const threads = await wasmInit;
      await setBackendOrThrow("wasm");
      return threads;
    }
  }
}

async function setBackendOrThrow(name: BackendName): Promise<void> {
  let ok: boolean;
  const { warn, error } = console;
  const messages: string[] = [];
  // TF.js (console.warn) and Emscripten (console.error) report init errors as
  // log lines and setBackend returns false; collect their first lines for one
  // clear error instead.
  const collect = (...args: unknown[]) => {
    const first = args.map(errorText).join(" ").split("\n")[0].trim();
    if (first && !messages.includes(first)) messages.push(first);
  };
  console.warn = collect;
  console.error = collect;
  try {
    ok = await tf.setBackend(name);
  } finally {
    console.warn = warn;
    console.error = error;
  }
  if (!ok || tf.getBackend() !== name) {
    const detail = messages.join(" | ") || "tf.setBackend returned false";
    throw new BackendError(`backend "${name}" failed to initialise: ${detail}`);
  }
  silenceNodeBanner();
}

function resolveThreads(want: number | "auto" | false): number {
  if (want === false) return 1;
  const cores = navigator.hardwareConcurrency || 1;
  const n = want === "auto" ? cores : Math.floor(want);
  return Math.max(1, Math.min(8, n));
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

function threadNote(threads: number | null): string {
  if (threads === null) return "";
  const simd = wasmSimd ? "SIMD" : "no SIMD";
  if (threads > 1) return ` (${simd}, ${threads} threads)`;
  const why = wasmThreadError ? `; threads failed: ${wasmThreadError}` : "";
  return ` (${simd}, single-threaded${why})`;
}

function defaultGpu(): GpuLike | null {
  const nav = globalThis.navigator as unknown as { gpu?: GpuLike } | undefined;
  return nav?.gpu ?? null;
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "object" && e !== null && "message" in e) {
    return String((e as { message: unknown }).message);
  }
  return String(e);
}

/** Threads of the initialised WASM backend, or null if it never started. */
export function wasmThreads(): number | null {
  return wasmThreadsInUse;
}
