/**
 * JPEG decoding as TensorFlow does it: libjpeg-turbo (TurboJPEG 2.0, built
 * for WebAssembly by `@cwasm/jpeg-turbo`) with the fast integer IDCT
 * (`JDCT_IFAST`, TF's default: `TJFLAG_FASTDCT`) and fancy upsampling (never
 * `TJFLAG_FASTUPSAMPLE`), called through our own small glue so that the flags
 * and pixel formats can be chosen.
 *
 * - Sizes come from the SOF segment (`_image_header.ts`): TurboJPEG 2.0's
 *   header call refuses sampling factors it has no TJSAMP for (4:1:0, 3x1,
 *   ...), which libjpeg, and TF, decode.
 * - CMYK and YCCK files are decoded to CMYK (libjpeg converts YCCK itself)
 *   and turned into RGB as TF's `jpeg_mem.cc` does, with integer division:
 *   with an Adobe APP14 marker `r = k*c/255`, else `r = (255-k)*(255-c)/255`.
 * - A "Premature end of JPEG file" warning (truncated data, or no EOI) fails
 *   the file, as TF does; other warnings (stray bytes before a marker) do not.
 * - libjpeg's fatal errors `longjmp`, which the glue turns into a JS
 *   exception; that leaves the WebAssembly instance's stack pointer where the
 *   error happened, so the instance is dropped and a fresh one made.
 *
 * @module
 */

import { compileJpegTurbo } from "../deps/codecs.ts";
import type { JpegInfo } from "./_image_header.ts";

const TJFLAG_FASTDCT = 2048;
const TJPF_RGB = 0;
const TJPF_CMYK = 11;
/** JMSG_LENGTH_MAX: the size of TurboJPEG's static error-message buffer. */
const ERR_LENGTH = 200;

interface TurboExports {
  memory: WebAssembly.Memory;
  malloc(n: number): number;
  free(p: number): void;
  tjInitDecompress(): number;
  tjDestroy(handle: number): number;
  tjDecompress2(
    handle: number,
    src: number,
    size: number,
    dst: number,
    width: number,
    pitch: number,
    height: number,
    pixelFormat: number,
    flags: number,
  ): number;
}

/** libjpeg's error exit, unwound through WebAssembly as a JS exception. */
class LongJmp extends Error {}

const imports: WebAssembly.Imports = {
  env: {
    setjmp: () => 0,
    longjmp: () => {
      throw new LongJmp("libjpeg error");
    },
  },
  wasi_snapshot_preview1: {
    environ_sizes_get: () => 0,
    environ_get: () => 0,
    proc_exit: () => {
      throw new Error("libjpeg-turbo called proc_exit");
    },
    fd_close: () => 0,
    fd_seek: () => 0,
    fd_write: () => 0,
  },
};

let compiled: Promise<WebAssembly.Module> | null = null;
let current: TurboExports | null = null;
/** Address of TurboJPEG's static `errStr` (the same in every instance of the module); -1 when not found. */
let errStrAddress: number | null = null;

/**
 * Finds TurboJPEG 2.0's `static char errStr[JMSG_LENGTH_MAX] = "No error"`
 * in a fresh instance's memory: "No error" followed by zeros to the end of
 * the buffer. The module exports no `tjGetErrorStr`, and libjpeg writes every
 * error and warning message there.
 */
function findErrStr(memory: Uint8Array): number {
  const needle = [..."No error"].map((c) => c.charCodeAt(0));
  outer: for (let i = 0; i + ERR_LENGTH <= memory.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (memory[i + j] !== needle[j]) continue outer;
    }
    for (let j = needle.length; j < ERR_LENGTH; j++) {
      if (memory[i + j] !== 0) continue outer;
    }
    return i;
  }
  return -1;
}

async function turbo(): Promise<TurboExports> {
  if (current) return current;
  compiled ??= compileJpegTurbo();
  let module: WebAssembly.Module;
  try {
    module = await compiled;
  } catch (e) {
    compiled = null;
    throw e;
  }
  const instance = new WebAssembly.Instance(module, imports);
  const ex = instance.exports as unknown as TurboExports;
  errStrAddress ??= findErrStr(new Uint8Array(ex.memory.buffer));
  current = ex;
  return ex;
}

function message(ex: TurboExports): string {
  if (errStrAddress === null || errStrAddress < 0) return "";
  const mem = new Uint8Array(ex.memory.buffer, errStrAddress, ERR_LENGTH);
  const end = mem.indexOf(0);
  return new TextDecoder().decode(mem.subarray(0, end < 0 ? ERR_LENGTH : end));
}

/** Decoded RGB pixels. */
export interface TurboRgb {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width*height*3` RGB samples. */
  data: Uint8Array;
}

/**
 * Decodes a JPEG (whose markers `info` describes) to RGB exactly as TF's
 * `tf.io.decode_jpeg` / `decode_image(channels=3)` does. Throws an Error
 * with libjpeg's message for a file TF refuses too.
 */
export async function decodeJpegTurbo(
  bytes: Uint8Array,
  info: JpegInfo,
): Promise<TurboRgb> {
  if (info.sof >= 0xc9 && info.sof <= 0xcf) {
    throw new Error(
      "arithmetic-coded JPEG: the WebAssembly libjpeg-turbo build used here (@cwasm/jpeg-turbo) has no arithmetic decoder (TF decodes it)",
    );
  }
  if (info.sof === 0xc3 || info.sof === 0xc7) {
    throw new Error("lossless JPEG (SOF3) is not supported (nor by TF)");
  }
  const { width, height } = info;
  if (!(width > 0 && height > 0)) {
    throw new Error(`the frame header gives no size (${width}x${height})`);
  }
  const cmyk = info.components === 4;
  const channels = cmyk ? 4 : 3;
  const ex = await turbo();
  const size = width * height * channels;
  const src = ex.malloc(bytes.length);
  const dst = ex.malloc(size);
  const handle = ex.tjInitDecompress();
  try {
    if (!src || !dst || !handle) {
      throw new Error(
        `out of WebAssembly memory for a ${width}x${height} image`,
      );
    }
    new Uint8Array(ex.memory.buffer, src, bytes.length).set(bytes);
    if (errStrAddress !== null && errStrAddress >= 0) {
      new Uint8Array(ex.memory.buffer)[errStrAddress] = 0;
    }
    const rc = ex.tjDecompress2(
      handle,
      src,
      bytes.length,
      dst,
      width,
      width * channels,
      height,
      cmyk ? TJPF_CMYK : TJPF_RGB,
      TJFLAG_FASTDCT,
    );
    if (rc !== 0) {
      const msg = message(ex);
      // Without a message the call failed before libjpeg ran; a warning
      // other than the end of the data is one TF decodes through.
      if (!msg) throw new Error("libjpeg-turbo refused the file");
      // TurboJPEG's own checks ("tjDecompress2(): ...") fail the call.
      if (msg.startsWith("tj")) throw new Error(msg);
      if (msg === "Premature end of JPEG file") {
        throw new Error("truncated: premature end of JPEG file");
      }
    }
    const raw = new Uint8Array(ex.memory.buffer, dst, size);
    if (!cmyk) return { width, height, data: raw.slice() };
    const data = new Uint8Array(width * height * 3);
    for (let p = 0, q = 0; p < size; p += 4, q += 3) {
      const c = raw[p], m = raw[p + 1], y = raw[p + 2], k = raw[p + 3];
      if (info.adobe) {
        data[q] = (k * c / 255) | 0;
        data[q + 1] = (k * m / 255) | 0;
        data[q + 2] = (k * y / 255) | 0;
      } else {
        data[q] = ((255 - k) * (255 - c) / 255) | 0;
        data[q + 1] = ((255 - k) * (255 - m) / 255) | 0;
        data[q + 2] = ((255 - k) * (255 - y) / 255) | 0;
      }
    }
    return { width, height, data };
  } catch (e) {
    if (e instanceof LongJmp) {
      const msg = message(ex);
      current = null; // its stack is left unwound: a fresh instance next time
      throw new Error(msg || "libjpeg failed");
    }
    throw e;
  } finally {
    if (current === ex) {
      if (handle) ex.tjDestroy(handle);
      if (src) ex.free(src);
      if (dst) ex.free(dst);
    }
  }
}
