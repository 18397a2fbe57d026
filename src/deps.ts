/**
 * Every third-party dependency of deno-transfer, pinned with full `npm:`
 * specifiers so that `mod.ts` resolves even when imported by URL from a
 * folder that has no `deno.json`. Add new dependencies here, nowhere else.
 *
 * @module
 */

export * as tf from "npm:@tensorflow/tfjs@4.22.0";
export { z } from "npm:zod@4.6.7";
// ImageScript's main entry loads a native addon (it would need --allow-ffi);
// its WebAssembly decoders, imported directly, do not.
export { default as imagescriptJpeg } from "npm:imagescript@1.3.1/wasm/node/jpeg.js";
export { default as imagescriptPng } from "npm:imagescript@1.3.1/wasm/node/png.js";
export { default as imagescriptGif } from "npm:imagescript@1.3.1/wasm/node/gif.js";
// JPEG encoder for the generated test fixtures and the decode benchmark.
export { default as jpegjs } from "npm:jpeg-js@0.4.4";
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
export * as tiff from "npm:tiff@7.1.3";
/** Loads `@xmldom/xmldom` on demand (tests parse generated SVG as XML). */
export const importXmlDom = () => import("npm:@xmldom/xmldom@0.9.12");
/**
 * Loads `h5wasm` (HDF5 compiled to WebAssembly) on demand, for reading and
 * writing Keras `.h5` weights files; not imported eagerly because its module
 * compiles a WASM binary when evaluated.
 */
export const importH5wasm = () => import("npm:h5wasm@0.10.3");
