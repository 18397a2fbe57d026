/**
 * Resizing decoded pixels to `[height, width]` RGB uint8.
 *
 * - Grayscale becomes RGB by repeating the channel; alpha is dropped (what
 *   Keras' `load_img(color_mode="rgb")` and `tf.io.decode_image(channels=3)` do).
 * - "bilinear" matches `tf.image.resize` (half-pixel centres, no
 *   antialiasing), as Keras' `image_dataset_from_directory` uses; "nearest"
 *   samples pixel centres like PIL's `NEAREST`, as Keras'
 *   `ImageDataGenerator.flow_from_directory` uses.
 *
 * @module
 */

import { type DecodeOptions, decodePixels, type Pixels } from "./codecs.ts";

/** How images are resized. */
export type Interpolation = "bilinear" | "nearest";

function nearestIndices(outSize: number, inSize: number): Int32Array {
  const idx = new Int32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    idx[o] = Math.min(Math.floor((o + 0.5) * scale), inSize - 1);
  }
  return idx;
}

function bilinearTaps(outSize: number, inSize: number) {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const x = (o + 0.5) * scale - 0.5;
    const xf = Math.floor(x);
    lo[o] = Math.max(xf, 0);
    hi[o] = Math.min(Math.ceil(x), inSize - 1);
    frac[o] = x - xf;
  }
  return { lo, hi, frac };
}

/**
 * Resizes decoded pixels to `height`×`width` RGB uint8 (alpha dropped) with
 * bilinear (half-pixel centres, like `tf.image.resize`) or nearest
 * (pixel-centre sampling, like PIL) interpolation.
 */
export function resizeToRgb(
  src: Pixels,
  height: number,
  width: number,
  interpolation: Interpolation = "bilinear",
): Uint8Array {
  const { width: sw, height: sh, data, channels: c } = src;
  const out = new Uint8Array(height * width * 3);
  if (sw === width && sh === height) {
    for (let p = 0, q = 0; q < out.length; p += c, q += 3) {
      out[q] = data[p];
      out[q + 1] = data[p + 1];
      out[q + 2] = data[p + 2];
    }
    return out;
  }
  if (interpolation === "nearest") {
    const xs = nearestIndices(width, sw);
    const ys = nearestIndices(height, sh);
    let q = 0;
    for (let y = 0; y < height; y++) {
      const row = ys[y] * sw;
      for (let x = 0; x < width; x++) {
        const p = (row + xs[x]) * c;
        out[q++] = data[p];
        out[q++] = data[p + 1];
        out[q++] = data[p + 2];
      }
    }
    return out;
  }
  if (interpolation !== "bilinear") {
    throw new Error(
      `unknown interpolation "${interpolation}" (bilinear or nearest)`,
    );
  }
  const xt = bilinearTaps(width, sw);
  const yt = bilinearTaps(height, sh);
  let q = 0;
  for (let y = 0; y < height; y++) {
    const r0 = yt.lo[y] * sw;
    const r1 = yt.hi[y] * sw;
    const fy = yt.frac[y];
    for (let x = 0; x < width; x++) {
      const x0 = xt.lo[x];
      const x1 = xt.hi[x];
      const fx = xt.frac[x];
      const a = (r0 + x0) * c;
      const b = (r0 + x1) * c;
      const d = (r1 + x0) * c;
      const e = (r1 + x1) * c;
      for (let k = 0; k < 3; k++) {
        const top = data[a + k] + (data[b + k] - data[a + k]) * fx;
        const bottom = data[d + k] + (data[e + k] - data[d + k]) * fx;
        out[q++] = Math.round(top + (bottom - top) * fy);
      }
    }
  }
  return out;
}

/**
 * Decodes an image file's bytes (as TF does; `options`: the pixel limit and
 * EXIF orientation) and resizes it: `height*width*3` RGB uint8.
 */
export async function decodeAndResize(
  bytes: Uint8Array,
  height: number,
  width: number,
  interpolation: Interpolation = "bilinear",
  options: DecodeOptions = {},
): Promise<Uint8Array> {
  return resizeToRgb(
    await decodePixels(bytes, options),
    height,
    width,
    interpolation,
  );
}
