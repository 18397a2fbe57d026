/**
 * Image codecs: sniff the container format and decode JPEG, PNG, GIF (first
 * frame) and TIFF bytes to pixels.
 *
 * - JPEG, PNG and GIF are decoded by ImageScript's WebAssembly decoders
 *   (imported directly: ImageScript's main entry loads a native addon that
 *   would need `--allow-ffi`). TIFF is decoded by the `tiff` package
 *   (uncompressed, LZW, Deflate; 8/16-bit, gray, RGB, palette), because
 *   ImageScript 1.3.1's TIFF decoder traps on ordinary files.
 * - Imports only the codec dependencies (`src/deps/codecs.ts`), so decode
 *   workers start without loading TensorFlow.js.
 *
 * @module
 */

import {
  imagescriptGif,
  imagescriptJpeg,
  imagescriptPng,
  tiff,
} from "../deps/codecs.ts";

/** Decoded pixels before resizing: 3 (RGB) or 4 (RGBA, alpha ignored) channels. */
export interface Pixels {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Interleaved samples, row-major. */
  data: Uint8Array | Uint8ClampedArray;
  /** Samples per pixel in `data`. */
  channels: 3 | 4;
}

/** Raised by {@link decodePixels} for a file that is corrupt or of an unsupported format. */
export class DecodeFailure extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "DecodeFailure";
  }
}

/** The container format from the first bytes, or null when not one we decode. */
export function sniffFormat(
  bytes: Uint8Array,
): "jpeg" | "png" | "gif" | "tiff" | null {
  const b = bytes;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
    return "jpeg";
  }
  if (
    b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e &&
    b[3] === 0x47
  ) return "png";
  if (b.length >= 4 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) {
    return "gif";
  }
  if (
    b.length >= 4 &&
    ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 42 && b[3] === 0) ||
      (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 42))
  ) return "tiff";
  return null;
}

function unknownFormatReason(bytes: Uint8Array): string {
  if (bytes.length === 0) return "empty file";
  const ascii = (from: number, to: number) =>
    String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") {
    return "WebP is not supported (JPEG, PNG, GIF, TIFF are)";
  }
  if (ascii(0, 2) === "BM") {
    return "BMP is not supported (JPEG, PNG, GIF, TIFF are)";
  }
  const hex = [...bytes.subarray(0, 4)].map((x) =>
    x.toString(16).padStart(2, "0")
  )
    .join(" ");
  return `not a JPEG, PNG, GIF or TIFF file (starts with ${hex})`;
}

function toByte(value: number, max: number): number {
  const v = Math.round((value / max) * 255);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function decodeTiffWithPackage(bytes: Uint8Array): Pixels {
  const ifd = tiff.decode(bytes, { pages: [0] })[0];
  const { width, height } = ifd;
  const spp = ifd.samplesPerPixel;
  const bits = ifd.bitsPerSample;
  const photometric = ifd.type;
  const data = ifd.data;
  if (!width || !height) throw new Error("TIFF has no image size");
  if (data.length < width * height * spp) {
    throw new Error("TIFF image data is shorter than its size says");
  }
  const max = data instanceof Float32Array || data instanceof Float64Array
    ? 1
    : 2 ** bits - 1;
  const out = new Uint8Array(width * height * 3);
  const n = width * height;
  if (photometric === 3) {
    const palette = ifd.palette;
    if (!palette) throw new Error("palette TIFF without a colour map");
    for (let p = 0; p < n; p++) {
      const c = palette[data[p * spp]] ?? [0, 0, 0];
      out[p * 3] = toByte(c[0], 65535);
      out[p * 3 + 1] = toByte(c[1], 65535);
      out[p * 3 + 2] = toByte(c[2], 65535);
    }
  } else if (photometric === 0 || photometric === 1) {
    for (let p = 0; p < n; p++) {
      let g = toByte(data[p * spp], max);
      if (photometric === 0) g = 255 - g;
      out[p * 3] = out[p * 3 + 1] = out[p * 3 + 2] = g;
    }
  } else if (photometric === 2 && spp >= 3) {
    for (let p = 0; p < n; p++) {
      out[p * 3] = toByte(data[p * spp], max);
      out[p * 3 + 1] = toByte(data[p * spp + 1], max);
      out[p * 3 + 2] = toByte(data[p * spp + 2], max);
    }
  } else {
    throw new Error(
      `TIFF photometric interpretation ${photometric} is not supported`,
    );
  }
  return { width, height, data: out, channels: 3 };
}

// Typed views of ImageScript's WebAssembly decoder modules (plain CommonJS).
interface JpegLib {
  load(
    bytes: Uint8Array,
  ): { width: number; height: number; buffer: Uint8Array };
}
interface PngLib {
  decode(
    bytes: Uint8Array,
  ): { width: number; height: number; framebuffer: Uint8Array };
}
interface GifFrame {
  x: number;
  y: number;
  width: number;
  height: number;
  buffer: Uint8Array;
}
interface GifDecoder {
  width: number;
  height: number;
  frame(): GifFrame | null;
  free(): void;
}
interface GifLib {
  Decoder: new (bytes: Uint8Array) => GifDecoder;
}
interface WasmModule<T> {
  init(): Promise<T>;
}

// One decoder instance per format and thread, replaced after a failure.
const instances = new Map<string, Promise<unknown>>();
function instance<T>(name: string, mod: WasmModule<T>): Promise<T> {
  let p = instances.get(name) as Promise<T> | undefined;
  if (!p) {
    p = mod.init();
    instances.set(name, p);
  }
  return p;
}

async function decodeWithImageScript(
  bytes: Uint8Array,
  format: "jpeg" | "png" | "gif",
): Promise<Pixels> {
  try {
    if (format === "jpeg") {
      const lib = await instance(
        "jpeg",
        imagescriptJpeg as WasmModule<JpegLib>,
      );
      const f = lib.load(bytes);
      return { width: f.width, height: f.height, data: f.buffer, channels: 4 };
    }
    if (format === "png") {
      const lib = await instance("png", imagescriptPng as WasmModule<PngLib>);
      const f = lib.decode(bytes);
      return {
        width: f.width,
        height: f.height,
        data: f.framebuffer,
        channels: 4,
      };
    }
    const lib = await instance("gif", imagescriptGif as WasmModule<GifLib>);
    const decoder = new lib.Decoder(bytes);
    let frame: GifFrame | null;
    try {
      frame = decoder.frame();
    } finally {
      decoder.free();
    }
    if (!frame) throw new Error("gif: no frames");
    // The first frame, drawn at its offset on the (transparent black) canvas.
    const { width, height } = decoder;
    const canvas = new Uint8Array(width * height * 4);
    const w = Math.min(frame.width, width - frame.x);
    for (let y = 0; y < frame.height && y + frame.y < height; y++) {
      const from = y * frame.width * 4;
      canvas.set(
        frame.buffer.subarray(from, from + w * 4),
        ((y + frame.y) * width + frame.x) * 4,
      );
    }
    return { width, height, data: canvas, channels: 4 };
  } catch (e) {
    instances.delete(format);
    throw e;
  }
}

/**
 * Decodes an image file's bytes to pixels (RGBA for JPEG/PNG/GIF, RGB for
 * TIFF). Throws a {@link DecodeFailure} naming the format and the problem.
 */
export async function decodePixels(bytes: Uint8Array): Promise<Pixels> {
  const format = sniffFormat(bytes);
  if (format === null) throw new DecodeFailure(unknownFormatReason(bytes));
  let pixels: Pixels;
  try {
    pixels = format === "tiff"
      ? decodeTiffWithPackage(bytes)
      : await decodeWithImageScript(bytes, format);
  } catch (e) {
    throw new DecodeFailure(
      `corrupt or unsupported ${format.toUpperCase()}: ${
        e instanceof Error ? e.message : String(e)
      }`,
    );
  }
  if (!(pixels.width > 0 && pixels.height > 0)) {
    throw new DecodeFailure(`${format.toUpperCase()} has no pixels`);
  }
  if (pixels.data.length < pixels.width * pixels.height * pixels.channels) {
    throw new DecodeFailure(`${format.toUpperCase()} pixel data is truncated`);
  }
  return pixels;
}
