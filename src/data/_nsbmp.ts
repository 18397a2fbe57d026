/**
 * BMP decoding through NetSurf's libnsbmp built for WebAssembly
 * (`@cwasm/nsbmp`), for `data.bmp: "full"`: palettes applied, 1, 4, 8, 16,
 * 24 and 32-bit, RLE4/RLE8, OS/2 headers — what TF's reader refuses or reads
 * as grey. Our own glue (the package's index.js instantiates its module at
 * import time).
 *
 * @module
 */

import { compileNsbmp } from "../deps/codecs.ts";

interface NsbmpExports {
  memory: WebAssembly.Memory;
  malloc(n: number): number;
  free(p: number): void;
  decode_bmp(out: number, w: number, h: number, src: number, n: number): number;
}

const fail = (what: string) => () => {
  throw new Error(`libnsbmp called ${what}`);
};
const imports: WebAssembly.Imports = {
  env: { setjmp: () => 0, longjmp: fail("longjmp") },
  wasi_snapshot_preview1: {
    proc_exit: fail("proc_exit"),
    fd_close: () => 0,
    fd_seek: () => 0,
    fd_write: () => 0,
  },
};

let compiled: Promise<WebAssembly.Module> | null = null;
let current: NsbmpExports | null = null;

/** Decodes any BMP to `width*height*4` RGBA (palette applied). */
export async function decodeBmpFull(
  bytes: Uint8Array,
): Promise<{ width: number; height: number; data: Uint8Array }> {
  if (!current) {
    compiled ??= compileNsbmp();
    current = new WebAssembly.Instance(await compiled, imports)
      .exports as unknown as NsbmpExports;
  }
  const ex = current;
  const src = ex.malloc(bytes.length);
  const meta = ex.malloc(12);
  let out = 0;
  try {
    if (!src || !meta) throw new Error("out of WebAssembly memory");
    new Uint8Array(ex.memory.buffer, src, bytes.length).set(bytes);
    const rc = ex.decode_bmp(meta, meta + 4, meta + 8, src, bytes.length);
    if (rc !== 0) throw new Error(`libnsbmp could not decode it (${rc})`);
    const [ptr, width, height] = new Uint32Array(ex.memory.buffer, meta, 3);
    out = ptr;
    const data = new Uint8Array(ex.memory.buffer, ptr, width * height * 4)
      .slice();
    return { width, height, data };
  } catch (e) {
    if (!(e instanceof Error && e.message.startsWith("libnsbmp could"))) {
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
