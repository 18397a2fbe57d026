/**
 * Heatmap overlays of class-activation maps (`evaluate/cam.ts`) on their
 * image, as PNG:
 *
 * 1. the normalised map (`[mapH, mapW]`, values in [0, 1]) is upsampled to
 *    the image bilinearly with half-pixel centres (`tf.image.resize`'s
 *    bilinear, `align_corners=False`; edges clamp);
 * 2. each value `v` is coloured by matplotlib's **jet** colormap (what
 *    Keras' Grad-CAM example uses: dark blue 0 → cyan → yellow → dark red 1),
 *    from its published piecewise-linear segments, quantised to 256 levels
 *    (`round(255 v)`) as a 256-entry colormap lookup does;
 * 3. the colour is alpha-blended over the image, `(1 − α)·image + α·colour`
 *    (α = {@link DEFAULT_CAM_ALPHA} by default), rounded to 8 bits;
 * 4. the result is encoded as an 8-bit RGB PNG by the report's own encoder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jetColor, upsampleBilinear } from "./cam_overlay.ts";
 * assert.deepEqual(jetColor(0), [0, 0, 128]);
 * assert.deepEqual(Array.from(upsampleBilinear([0, 1], 1, 2, 1, 4)), [0, 0.25, 0.75, 1]);
 * ```
 *
 * @module
 */

import { dataUri, encodePng } from "./_thumbnails.ts";

/** Default opacity of the heatmap over the image. */
export const DEFAULT_CAM_ALPHA = 0.4;

/**
 * Resizes a one-channel `[h, w]` map to `[outH, outW]` by bilinear
 * interpolation with half-pixel centres (source coordinate
 * `(x + 0.5)·w/outW − 0.5`, clamped to the edge pixels).
 */
export function upsampleBilinear(
  map: ArrayLike<number>,
  h: number,
  w: number,
  outH: number,
  outW: number,
): Float32Array {
  if (map.length !== h * w) {
    throw new RangeError(`map has ${map.length} values, expected ${h}×${w}`);
  }
  const out = new Float32Array(outH * outW);
  const axis = (o: number, n: number, outN: number) => {
    const s = Math.min(Math.max((o + 0.5) * n / outN - 0.5, 0), n - 1);
    const i0 = Math.floor(s);
    const i1 = Math.min(i0 + 1, n - 1);
    return [i0, i1, s - i0] as const;
  };
  for (let y = 0; y < outH; y++) {
    const [y0, y1, fy] = axis(y, h, outH);
    for (let x = 0; x < outW; x++) {
      const [x0, x1, fx] = axis(x, w, outW);
      const top = map[y0 * w + x0] * (1 - fx) + map[y0 * w + x1] * fx;
      const bot = map[y1 * w + x0] * (1 - fx) + map[y1 * w + x1] * fx;
      out[y * outW + x] = top * (1 - fy) + bot * fy;
    }
  }
  return out;
}

/** matplotlib's `jet` segments: (x, value) knots per channel. */
const JET: readonly (readonly [number, number])[][] = [
  [[0, 0], [0.35, 0], [0.66, 1], [0.89, 1], [1, 0.5]],
  [[0, 0], [0.125, 0], [0.375, 1], [0.64, 1], [0.91, 0], [1, 0]],
  [[0, 0.5], [0.11, 1], [0.34, 1], [0.65, 0], [1, 0]],
];

function segment(knots: readonly (readonly [number, number])[], x: number) {
  for (let i = 1; i < knots.length; i++) {
    const [x1, v1] = knots[i];
    if (x <= x1) {
      const [x0, v0] = knots[i - 1];
      return v0 + (v1 - v0) * (x - x0) / (x1 - x0);
    }
  }
  return knots[knots.length - 1][1];
}

/** The 256 colours of jet, index = `round(255·v)`. */
const JET_LUT: readonly [number, number, number][] = Array.from(
  { length: 256 },
  (_, i) =>
    JET.map((k) => Math.round(255 * segment(k, i / 255))) as [
      number,
      number,
      number,
    ],
);

/** The jet colour (8-bit RGB) of `v` in [0, 1] (clamped; NaN counts as 0). */
export function jetColor(v: number): [number, number, number] {
  const i = Number.isNaN(v) ? 0 : Math.round(255 * Math.min(Math.max(v, 0), 1));
  return [...JET_LUT[i]];
}

/** Options of {@link camOverlay}. */
export interface CamOverlayOptions {
  /** Opacity of the heatmap, in [0, 1]; default {@link DEFAULT_CAM_ALPHA}. */
  alpha?: number;
}

/**
 * The overlay of a normalised map (`[mapH, mapW]`) on an RGB image
 * (`width·height·3` bytes), as RGB bytes of the image's size (module doc).
 */
export function camOverlay(
  pixels: ArrayLike<number>,
  width: number,
  height: number,
  map: ArrayLike<number>,
  mapH: number,
  mapW: number,
  opts: CamOverlayOptions = {},
): Uint8Array {
  const alpha = opts.alpha ?? DEFAULT_CAM_ALPHA;
  if (!(alpha >= 0 && alpha <= 1)) {
    throw new RangeError(`alpha must be in [0, 1], got ${alpha}`);
  }
  if (pixels.length !== width * height * 3) {
    throw new RangeError(
      `expected ${width}×${height}×3 = ${
        width * height * 3
      } bytes, found ${pixels.length}`,
    );
  }
  const up = upsampleBilinear(map, mapH, mapW, height, width);
  const out = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    const color = jetColor(up[p]);
    for (let c = 0; c < 3; c++) {
      out[p * 3 + c] = Math.round(
        (1 - alpha) * pixels[p * 3 + c] + alpha * color[c],
      );
    }
  }
  return out;
}

/** {@link camOverlay} encoded as a PNG file. */
export async function camOverlayPng(
  pixels: ArrayLike<number>,
  width: number,
  height: number,
  map: ArrayLike<number>,
  mapH: number,
  mapW: number,
  opts: CamOverlayOptions = {},
): Promise<Uint8Array> {
  const data = camOverlay(pixels, width, height, map, mapH, mapW, opts);
  return await encodePng({ width, height, data });
}

/** {@link camOverlayPng} as a `data:image/png;base64,…` URI. */
export async function camOverlayDataUri(
  pixels: ArrayLike<number>,
  width: number,
  height: number,
  map: ArrayLike<number>,
  mapH: number,
  mapW: number,
  opts: CamOverlayOptions = {},
): Promise<string> {
  return dataUri(
    "image/png",
    await camOverlayPng(pixels, width, height, map, mapH, mapW, opts),
  );
}
