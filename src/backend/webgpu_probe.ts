/**
 * Probing WebGPU: which adapter TF.js' WebGPU backend would get, and whether
 * it is a software fallback (such as Mesa's lavapipe).
 *
 * @module
 */

import { errorText } from "./set_backend.ts";

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
  quietMesaRuntimeDir();
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

/** `navigator.gpu`, or null where the runtime has none. */
export function defaultGpu(): GpuLike | null {
  const nav = globalThis.navigator as unknown as { gpu?: GpuLike } | undefined;
  return nav?.gpu ?? null;
}

/**
 * Mesa's Vulkan drivers print "error: XDG_RUNTIME_DIR is invalid or not set
 * in the environment." to stderr when the variable is missing or not a
 * folder (servers, containers, CI), which reads as a failure although it is
 * harmless. Point it at a private temporary folder (mode 0700, as the XDG
 * spec asks) before the first adapter request. Does nothing when the
 * variable names a folder, or when env/write permissions are missing.
 */
export function quietMesaRuntimeDir(): void {
  try {
    const current = Deno.env.get("XDG_RUNTIME_DIR");
    if (current && Deno.statSync(current).isDirectory) return;
  } catch {
    // unset, missing or unreadable: replace below
  }
  try {
    const dir = Deno.makeTempDirSync({ prefix: "deno-transfer-xdg-" });
    Deno.chmodSync(dir, 0o700);
    Deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch {
    // no permission: Mesa may print its notice, nothing else changes
  }
}
