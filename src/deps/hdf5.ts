/**
 * `h5wasm` (HDF5 compiled to WebAssembly), for reading and writing Keras
 * `.h5` weights files. Loaded on demand: its module compiles a WASM binary
 * when evaluated.
 *
 * @module
 */

/** Loads `h5wasm`. */
export const importH5wasm = (): Promise<typeof import("npm:h5wasm@0.10.3")> =>
  import("npm:h5wasm@0.10.3");
