/**
 * Image codecs: sniff the container format from the first bytes (as TF's
 * `decode_image` does, whatever the extension), check the size the header
 * states against `data.maxImagePixels`, and decode to pixels as TensorFlow
 * 2.21 does (the decoder behind Keras' `image_dataset_from_directory`):
 *
 * - **JPEG**: libjpeg-turbo with TF's fast integer IDCT and fancy upsampling
 *   (`_jpeg_turbo.ts`, WebAssembly), CMYK/YCCK converted as TF does —
 *   identical to TF on every JPEG of the golden corpus. ImageScript's JPEG
 *   decoder differs from TF by a mean of about 1 level (max 4), so it is no
 *   longer used.
 * - **PNG** and **GIF**: ImageScript's WebAssembly decoders (already equal
 *   to TF); a GIF's first frame on a black canvas, transparent pixels black.
 * - **BMP**: TF's own reader, rules and refusals included (`_bmp.ts`);
 *   with `bmp: "full"`, NetSurf's libnsbmp (`_nsbmp.ts`, WebAssembly) for
 *   every variant, palettes applied.
 * - **WebP**: libwebp (`_webp.ts`); files with alpha are refused with
 *   `channels=3`, as TF does, and animated ones too.
 * - **TIFF** (which TF refuses): the `tiff` package (uncompressed, LZW,
 *   Deflate; 8/16-bit, gray, RGB, palette), because ImageScript 1.3.1's TIFF
 *   decoder traps on ordinary files.
 * - Imports only the codec dependencies (`src/deps/codecs.ts`), all
 *   WebAssembly or plain JS, so decode workers start without loading
 *   TensorFlow.js and without `--allow-ffi`.
 *
 * @module
 */

import { imagescriptGif, imagescriptPng, tiff } from "../deps/codecs.ts";
import {
  type ImageFormat,
  readImageSize,
  readJpegInfo,
  sniffImageFormat,
  webpFeatures,
} from "./_image_header.ts";
import { decodeJpegTurbo } from "./_jpeg_turbo.ts";
import { decodeBmpAsTf } from "./_bmp.ts";
import { decodeWebp } from "./_webp.ts";
import { decodeBmpFull } from "./_nsbmp.ts";
import { applyExifOrientation } from "./_orientation.ts";

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

/** The container formats {@link decodePixels} reads. */
export type ImageFormatName = "jpeg" | "png" | "gif" | "bmp" | "webp" | "tiff";

/**
 * The container format from the first bytes (JPEG, PNG, GIF, BMP, WebP,
 * TIFF), or null when not one we decode.
 */
export function sniffFormat(bytes: Uint8Array): ImageFormatName | null {
  return sniffImageFormat(bytes);
}

/** PIL's `Image.MAX_IMAGE_PIXELS`: the default of `data.maxImagePixels`. */
export const DEFAULT_MAX_IMAGE_PIXELS = 89_478_485;

/** Options of {@link decodePixels}. */
export interface DecodeOptions {
  /**
   * Refuse, from the header and before decoding, an image of more pixels
   * (`data.maxImagePixels`; default {@link DEFAULT_MAX_IMAGE_PIXELS}, PIL's
   * limit; null for none).
   */
  maxImagePixels?: number | null;
  /**
   * `"ignore"` (default, as TF): pixels as stored. `"apply"`: JPEG EXIF
   * orientation applied (`data.exifOrientation`), as phones mean their
   * photos to be seen.
   */
  exifOrientation?: "ignore" | "apply";
  /**
   * `"tf"` (default): BMPs as TF's reader reads them (8-bit as the grey
   * palette index; 1/4/16-bit, RLE and OS/2 refused). `"full"`
   * (`data.bmp`): every variant, palettes applied, through libnsbmp — not
   * what Keras trains on.
   */
  bmp?: "tf" | "full";
}

/**
 * Why a file is refused for its size: its header states more than
 * `maxImagePixels` pixels (null: no limit). Null when it is within the
 * limit, or when the header cannot be read (the decoder then names the
 * problem). Reads the header only.
 */
export function pixelLimitReason(
  bytes: Uint8Array,
  maxImagePixels: number | null = DEFAULT_MAX_IMAGE_PIXELS,
): string | null {
  if (maxImagePixels === null) return null;
  const format = sniffImageFormat(bytes);
  const size = format ? readImageSize(bytes, format) : null;
  if (!format || !size || size.width * size.height <= maxImagePixels) {
    return null;
  }
  const name = format === "webp" ? "WebP" : format.toUpperCase();
  return `${name} of ${size.width}\u00d7${size.height} = ${
    (size.width * size.height).toLocaleString("en-US")
  } pixels exceeds data.maxImagePixels (${
    maxImagePixels.toLocaleString("en-US")
  }): a possible decompression bomb, not decoded`;
}

function unknownFormatReason(bytes: Uint8Array): string {
  if (bytes.length === 0) return "empty file";
  const hex = [...bytes.subarray(0, 4)].map((x) =>
    x.toString(16).padStart(2, "0")
  )
    .join(" ");
  return `not a JPEG, PNG, GIF, BMP, WebP or TIFF file (starts with ${hex})`;
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
  format: "png" | "gif",
): Promise<Pixels> {
  try {
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
    // The first frame, drawn at its offset on a black canvas; transparent
    // pixels are black, as TF's GIF decoder makes them.
    const { width, height } = decoder;
    const canvas = new Uint8Array(width * height * 3);
    const w = Math.min(frame.width, width - frame.x);
    const src = frame.buffer;
    for (let y = 0; y < frame.height && y + frame.y < height; y++) {
      let p = y * frame.width * 4;
      let q = ((y + frame.y) * width + frame.x) * 3;
      for (let x = 0; x < w; x++, p += 4, q += 3) {
        if (src[p + 3] === 0) continue;
        canvas[q] = src[p];
        canvas[q + 1] = src[p + 1];
        canvas[q + 2] = src[p + 2];
      }
    }
    return { width, height, data: canvas, channels: 3 };
  } catch (e) {
    instances.delete(format);
    throw e;
  }
}

async function decodeFormat(
  bytes: Uint8Array,
  format: ImageFormat,
  orientation: { value: number },
  options: DecodeOptions,
): Promise<Pixels> {
  switch (format) {
    case "jpeg": {
      const info = readJpegInfo(bytes);
      if (!info) throw new Error("no frame header (SOF) before the scan");
      orientation.value = info.orientation;
      const rgb = await decodeJpegTurbo(bytes, info);
      return { ...rgb, channels: 3 };
    }
    case "bmp":
      return options.bmp === "full"
        ? { ...await decodeBmpFull(bytes), channels: 4 }
        : { ...decodeBmpAsTf(bytes), channels: 3 };
    case "webp": {
      const f = webpFeatures(bytes);
      if (f.animated) {
        throw new Error("animated WebP (TF refuses it with channels=3)");
      }
      if (f.alpha) {
        throw new Error("WebP with alpha (TF refuses it with channels=3)");
      }
      return { ...await decodeWebp(bytes), channels: 4 };
    }
    case "tiff":
      return decodeTiffWithPackage(bytes);
    default:
      return await decodeWithImageScript(bytes, format);
  }
}

/**
 * Decodes an image file's bytes to pixels (3 or 4 channels; alpha is for
 * the caller to drop), as TF decodes them. Refuses, naming the size and the
 * key, an image whose header states more than `maxImagePixels` pixels,
 * before allocating anything. Throws a {@link DecodeFailure} naming the
 * format and the problem.
 */
export async function decodePixels(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): Promise<Pixels> {
  const format = sniffFormat(bytes);
  if (format === null) throw new DecodeFailure(unknownFormatReason(bytes));
  const name = format === "webp" ? "WebP" : format.toUpperCase();
  const max = options.maxImagePixels === undefined
    ? DEFAULT_MAX_IMAGE_PIXELS
    : options.maxImagePixels;
  const tooLarge = pixelLimitReason(bytes, max);
  if (tooLarge) throw new DecodeFailure(tooLarge);
  const orientation = { value: 1 };
  let pixels: Pixels;
  try {
    pixels = await decodeFormat(bytes, format, orientation, options);
  } catch (e) {
    throw new DecodeFailure(
      `corrupt or unsupported ${name}: ${
        e instanceof Error ? e.message : String(e)
      }`,
    );
  }
  if (!(pixels.width > 0 && pixels.height > 0)) {
    throw new DecodeFailure(`${name} has no pixels`);
  }
  if (pixels.data.length < pixels.width * pixels.height * pixels.channels) {
    throw new DecodeFailure(`${name} pixel data is truncated`);
  }
  if (max !== null && pixels.width * pixels.height > max) {
    throw new DecodeFailure(
      `${name} of ${pixels.width}×${pixels.height} exceeds data.maxImagePixels (${max})`,
    );
  }
  if (options.exifOrientation === "apply" && orientation.value !== 1) {
    pixels = applyExifOrientation(pixels, orientation.value);
  }
  return pixels;
}
