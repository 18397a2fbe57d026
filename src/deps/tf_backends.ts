/**
 * TensorFlow.js' WASM and WebGPU backends, loaded on demand: importing either
 * package registers its backend (WebGPU's at a priority above cpu), so
 * neither is imported eagerly.
 *
 * @module
 */

/** Loads `@tensorflow/tfjs-backend-wasm` (registers the "wasm" backend). */
export const importTfWasm = (): Promise<
  typeof import("npm:@tensorflow/tfjs-backend-wasm@4.22.0")
> => import("npm:@tensorflow/tfjs-backend-wasm@4.22.0");
/** Specifier of the WASM backend package, used to locate its `.wasm` files. */
export const TFJS_WASM_SPECIFIER = "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
/** Loads `@tensorflow/tfjs-backend-webgpu` (registers the "webgpu" backend). */
export const importTfWebgpu = (): Promise<
  typeof import("npm:@tensorflow/tfjs-backend-webgpu@4.22.0")
> => import("npm:@tensorflow/tfjs-backend-webgpu@4.22.0");
