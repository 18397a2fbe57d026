/**
 * ONNX Runtime for Node (CPU build), loaded on demand only: the package is
 * large (~290 MB with its bundled CPU binaries) and its native addon needs
 * `--allow-ffi`, so nothing imports it eagerly.
 *
 * The specifier is passed to `import()` as a variable on purpose: Deno
 * downloads every npm package named by a string-literal `import()` in the
 * module graph when a program starts, so a literal here would fetch 290 MB
 * for any program that merely imports this module (e.g. through `mod.ts`)
 * without ever using ONNX Runtime. As a variable, it is resolved when called.
 * The project's frozen `deno.lock` must hold the package; (re)lock it with
 * `deno install --frozen=false --entrypoint npm:onnxruntime-node@1.30.0`.
 * Its npm postinstall script (which downloads CUDA parts from the internet)
 * must never run; the CPU build needs nothing from it (Deno prints an
 * "Ignored build scripts" notice).
 *
 * @module
 */

/** Specifier of the ONNX Runtime package, pinned. */
export const ONNXRUNTIME_SPECIFIER: string = "npm:onnxruntime-node@1.30.0";

/**
 * Loads `onnxruntime-node` (needs `--allow-ffi`). Typed `unknown`: callers
 * check its shape (`onnx_runtime.ts`), so that type-checking this module does
 * not pull the package's types in either.
 */
export const importOnnxRuntime = (): Promise<unknown> =>
  import(ONNXRUNTIME_SPECIFIER);
