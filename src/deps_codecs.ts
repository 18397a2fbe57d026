/**
 * The image codecs, on their own so that decode workers load them without
 * TensorFlow.js (see `src/deps.ts` for the rest). Pinned with full `npm:`
 * specifiers so the module resolves when imported by URL.
 *
 * @module
 */

// ImageScript's main entry loads a native addon (it would need --allow-ffi);
// its WebAssembly decoders, imported directly, do not.
export { default as imagescriptJpeg } from "npm:imagescript@1.3.1/wasm/node/jpeg.js";
export { default as imagescriptPng } from "npm:imagescript@1.3.1/wasm/node/png.js";
export { default as imagescriptGif } from "npm:imagescript@1.3.1/wasm/node/gif.js";
export * as tiff from "npm:tiff@7.1.3";
/** JPEG encoder: report thumbnails, and the generated test fixtures. */
export { default as jpegjs } from "npm:jpeg-js@0.4.4";
