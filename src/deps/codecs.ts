/**
 * The image decoders, on their own so that decode workers load them without
 * TensorFlow.js (the other dependencies are the rest of `src/deps/`). Pinned
 * with full `npm:` specifiers so the module resolves when imported by URL.
 *
 * @module
 */

// ImageScript's main entry loads a native addon (it would need --allow-ffi);
// its WebAssembly decoders, imported directly, do not.
// Its JPEG decoder differs from TF's (libjpeg-turbo IFAST), so `src/data/`
// no longer decodes with it; bench/decode_bench.ts compares the two.
export { default as imagescriptJpeg } from "npm:imagescript@1.3.1/wasm/node/jpeg.js";
export { default as imagescriptPng } from "npm:imagescript@1.3.1/wasm/node/png.js";
export { default as imagescriptGif } from "npm:imagescript@1.3.1/wasm/node/gif.js";
export * as tiff from "npm:tiff@7.1.3";

// libjpeg-turbo (TurboJPEG 2.0) and libwebp compiled to WebAssembly. Only
// their package.json is imported: that puts each package in the module graph
// (so `import.meta.resolve` gives its `.wasm` a file: URL in Deno's npm
// cache), without running its index.js, which instantiates one copy at
// import time with fixed flags. The `.wasm` is read and compiled on first use.
import jpegTurboPackage from "npm:@cwasm/jpeg-turbo@0.1.3/package.json" with {
  type: "json",
};
import webpPackage from "npm:@cwasm/webp@0.1.5/package.json" with {
  type: "json",
};
import nsbmpPackage from "npm:@cwasm/nsbmp@0.1.3/package.json" with {
  type: "json",
};

async function compile(specifier: string): Promise<WebAssembly.Module> {
  const url = import.meta.resolve(specifier);
  const bytes = url.startsWith("file:")
    ? await Deno.readFile(new URL(url))
    : new Uint8Array(await (await fetch(url)).arrayBuffer());
  return await WebAssembly.compile(bytes);
}

/** `@cwasm/jpeg-turbo@<version>`, the libjpeg-turbo build below. */
export const JPEG_TURBO_PACKAGE =
  `${jpegTurboPackage.name}@${jpegTurboPackage.version}`;
/** `@cwasm/webp@<version>`, the libwebp build below. */
export const WEBP_PACKAGE = `${webpPackage.name}@${webpPackage.version}`;

/** Compiles libjpeg-turbo 2.0's TurboJPEG API built for WebAssembly (`@cwasm/jpeg-turbo`). */
export const compileJpegTurbo = (): Promise<WebAssembly.Module> =>
  compile("npm:@cwasm/jpeg-turbo@0.1.3/jpeg-turbo.wasm");
/** `@cwasm/nsbmp@<version>`, the libnsbmp build below. */
export const NSBMP_PACKAGE = `${nsbmpPackage.name}@${nsbmpPackage.version}`;
/** Compiles NetSurf's libnsbmp built for WebAssembly (`@cwasm/nsbmp`): every BMP variant, for `data.bmp: "full"`. */
export const compileNsbmp = (): Promise<WebAssembly.Module> =>
  compile("npm:@cwasm/nsbmp@0.1.3/nsbmp.wasm");
/** Compiles libwebp's decoder built for WebAssembly (`@cwasm/webp`). */
export const compileWebp = (): Promise<WebAssembly.Module> =>
  compile("npm:@cwasm/webp@0.1.5/webp.wasm");
