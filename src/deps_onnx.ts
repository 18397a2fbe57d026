/**
 * ONNX Runtime for Node (CPU build), loaded on demand only: the package is
 * large (~290 MB with its bundled CPU binaries) and its native addon needs
 * `--allow-ffi`, so nothing imports it eagerly. Its npm postinstall script
 * (which downloads CUDA parts from the internet) must never run; the CPU
 * build needs nothing from it.
 *
 * @module
 */

/** Specifier of the ONNX Runtime package, pinned. */
export const ONNXRUNTIME_SPECIFIER = "npm:onnxruntime-node@1.30.0";

/** Loads `onnxruntime-node` (needs `--allow-ffi` and read access to its addon). */
export const importOnnxRuntime = () => import("npm:onnxruntime-node@1.30.0");
