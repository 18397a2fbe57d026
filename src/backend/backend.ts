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

import { importTfWebgpu } from "../deps/tf_backends.ts";
import {
  BackendError,
  errorText,
  setBackendOrThrow,
  silenceNodeBanner,
} from "./set_backend.ts";
import {
  defaultGpu,
  type GpuLike,
  type GpuProbe,
  probeWebGpu,
} from "./webgpu_probe.ts";
import { startWasm, threadNote } from "./wasm_backend.ts";
import { registerWasmGradientKernels } from "./wasm_grad_kernels.ts";

/** A concrete TF.js backend this project can run on. */
export type BackendName = "webgpu" | "wasm" | "cpu";

/** What a config may ask for: a concrete backend or `"auto"`. */
export type BackendRequest = "auto" | BackendName;

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
      const threads = await startWasm(opts.wasmThreads ?? "auto");
      await setBackendOrThrow("wasm");
      // TF.js' WASM backend has no convolution gradients (tfjs#8474): ours
      // make fine-tuning and a trainable base run on it.
      registerWasmGradientKernels();
      return threads;
    }
  }
}
