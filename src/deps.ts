/**
 * The third-party dependencies of deno-transfer's training side, pinned with
 * full `npm:` specifiers so that `mod.ts` resolves even when imported by URL
 * from a folder that has no `deno.json`. One module per concern:
 * TensorFlow.js (`deps_tf.ts`), image codecs (`deps_codecs.ts`, all a decode
 * worker loads), ONNX Runtime (`deps_onnx.ts`, loaded only when chosen);
 * test- and fixture-only libraries live in `fixtures/deps_dev.ts`.
 *
 * @module
 */

export * as tf from "./deps_tf.ts";
export { z } from "npm:zod@4.6.7";
export * as zipjs from "npm:@zip.js/zip.js@2.24.0";
/**
 * Loads `@tensorflow/tfjs-backend-wasm` on demand (importing it registers the
 * "wasm" backend, so it is not imported eagerly).
 */
export const importTfWasm = () =>
  import("npm:@tensorflow/tfjs-backend-wasm@4.22.0");
/** Specifier of the WASM backend package, used to locate its `.wasm` files. */
export const TFJS_WASM_SPECIFIER = "npm:@tensorflow/tfjs-backend-wasm@4.22.0";
/**
 * Loads `@tensorflow/tfjs-backend-webgpu` on demand (importing it registers the
 * "webgpu" backend at a priority above cpu, so it is not imported eagerly).
 */
export const importTfWebgpu = () =>
  import("npm:@tensorflow/tfjs-backend-webgpu@4.22.0");
// @deno-types="npm:@types/d3-scale@4.0.9"
export { scaleLinear } from "npm:d3-scale@4.0.2";
// @deno-types="npm:@types/d3-shape@3.2.0"
export { line as d3line } from "npm:d3-shape@3.2.0";
/**
 * Loads `h5wasm` (HDF5 compiled to WebAssembly) on demand, for reading and
 * writing Keras `.h5` weights files; not imported eagerly because its module
 * compiles a WASM binary when evaluated.
 */
export const importH5wasm = () => import("npm:h5wasm@0.10.3");
