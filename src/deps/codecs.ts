/**
 * The image decoders, on their own so that decode workers load them without
 * TensorFlow.js (the other dependencies are the rest of `src/deps/`). Pinned
 * with full `npm:` specifiers so the module resolves when imported by URL.
 *
 * @module
 */

// ImageScript's main entry loads a native addon (it would need --allow-ffi);
// its WebAssembly decoders, imported directly, do not.
export { default as imagescriptJpeg } from "npm:imagescript@1.3.1/wasm/node/jpeg.js";
export { default as imagescriptPng } from "npm:imagescript@1.3.1/wasm/node/png.js";
export { default as imagescriptGif } from "npm:imagescript@1.3.1/wasm/node/gif.js";
export * as tiff from "npm:tiff@7.1.3";
