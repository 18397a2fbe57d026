/**
 * WebP decoding through libwebp built for WebAssembly (`@cwasm/webp`,
 * `WebPDecodeRGBA`), with our own glue (the package's index.js instantiates
 * its module at import time). Opaque files decode exactly as TF's
 * `decode_image` does (both are libwebp).
 *
 * @module
 */

import { compileWebp } from "../deps/codecs.ts";

interface WebpExports {
  memory: WebAssembly.Memory;
  malloc(n: number): number;
  free(p: number): void;
  WebPDecodeRGBA(src: number, size: number, w: number, h: number): number;
}

const imports: WebAssembly.Imports = {
  wasi_snapshot_preview1: {
    fd_close: () => 0,
    fd_seek: () => 0,
    fd_write: () => 0,
  },
};

let compiled: Promise<WebAssembly.Module> | null = null;
let current: WebpExports | null = null;

/** Decodes a WebP file's first frame to `width*height*4` RGBA. */
export async function decodeWebp(
  bytes: Uint8Array,
): Promise<{ width: number; height: number; data: Uint8Array }> {
  if (!current) {
    compiled ??= compileWebp();
    const module = await compiled;
    current = new WebAssembly.Instance(module, imports)
      .exports as unknown as WebpExports;
  }
  const ex = current;
  const src = ex.malloc(bytes.length);
  const meta = ex.malloc(8);
  let out = 0;
  try {
    if (!src || !meta) throw new Error("out of WebAssembly memory");
    new Uint8Array(ex.memory.buffer, src, bytes.length).set(bytes);
    out = ex.WebPDecodeRGBA(src, bytes.length, meta, meta + 4);
    if (!out) throw new Error("libwebp could not decode the file");
    const [width, height] = new Uint32Array(ex.memory.buffer, meta, 2);
    const data = new Uint8Array(ex.memory.buffer, out, width * height * 4)
      .slice();
    return { width, height, data };
  } catch (e) {
    if (!(e instanceof Error && e.message.startsWith("libwebp"))) {
      current = null; // a trap: start from a fresh instance
    }
    throw e;
  } finally {
    if (current === ex) {
      if (src) ex.free(src);
      if (meta) ex.free(meta);
      if (out) ex.free(out);
    }
  }
}
