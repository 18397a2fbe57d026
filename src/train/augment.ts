/**
 * Data augmentation for training batches, like Keras' preprocessing layers
 * `RandomFlip`, `RandomRotation`, `RandomZoom` and `RandomTranslation` in that
 * order, run with TF.js ops on the active backend (so on the GPU when training
 * on WebGPU).
 *
 * Per image, the random flip, rotation, zoom and translation are composed into
 * one affine transform and applied with a single `tf.image.transform`
 * (bilinear interpolation, `"reflect"` fill: Keras' defaults). Keras resamples
 * once per layer and reflects at every layer; composing resamples once, so the
 * result is a little sharper but otherwise the same distribution of images.
 * A flip alone maps pixels to whole pixels, so it is an exact mirror.
 *
 * Backends (TF.js 4.22): the `Transform` kernel exists on cpu, wasm, webgpu
 * and webgl, with two bugs worked around here. The cpu kernel only fills the
 * first image of a batch (it returns inside its batch loop; the others come
 * back as zeros), so on cpu the images are transformed one at a time. The
 * wasm kernel's "reflect" mode samples the far edge for negative coordinates,
 * so the transforms are shifted by whole reflection periods to keep every
 * coordinate ≥ 0 (the same image under reflection). A backend without the
 * kernel gets an equivalent built from generic ops (gather-based bilinear
 * sampling, ~10–20× slower).
 *
 * Randomness comes from a small seeded generator keyed by (seed, epoch,
 * batch index): the same key gives the same output on every backend, other
 * keys give other transforms. Each image always draws the same five numbers,
 * so turning one augmentation on or off does not change the others.
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import { mulberry32 } from "../util/rng.ts";

/** Which flips `RandomFlip` may apply (`"none"` turns flipping off). */
export type FlipMode =
  | "none"
  | "horizontal"
  | "vertical"
  | "horizontal_and_vertical";

/**
 * Augmentation settings (the config's `augment` block). Every field is off
 * by default; an empty object means no augmentation.
 */
export interface AugmentOptions {
  /** Random flip, each image with probability 1/2 per enabled axis. */
  flip?: FlipMode;
  /**
   * Maximum rotation as a fraction of a full turn, like Keras'
   * `RandomRotation(factor)`: the angle is uniform in ±factor·2π. ≥ 0.
   */
  rotation?: number;
  /**
   * Maximum zoom as a fraction, like Keras' `RandomZoom(h)` (same factor on
   * both axes): the sampling scale is uniform in [1 − zoom, 1 + zoom]
   * (> 1 zooms out). In [0, 1].
   */
  zoom?: number;
  /**
   * Maximum shift as a fraction of the image size, like Keras'
   * `RandomTranslation(h, w)`: one number for both axes or `[height, width]`.
   * Each in [0, 1].
   */
  translation?: number | readonly [number, number];
}

/** The default `augment` block: everything off. */
export const DEFAULT_AUGMENT: Readonly<Required<AugmentOptions>> = Object
  .freeze({
    flip: "none",
    rotation: 0,
    zoom: 0,
    translation: 0,
  });

/** Identifies one batch: the data seed, the epoch and the batch index. */
export interface AugmentKey {
  /** The run's seed (`data.seed`). */
  seed: number;
  /** Epoch number (any integer; training usually counts from 0 or 1). */
  epoch: number;
  /** Batch index within the epoch. */
  batch: number;
}

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

interface Normalized {
  flipH: boolean;
  flipV: boolean;
  rotation: number;
  zoom: number;
  th: number;
  tw: number;
}

function checkFraction(
  name: string,
  v: number | undefined,
  max: number,
): number {
  const x = v ?? 0;
  if (typeof x !== "number" || !Number.isFinite(x) || x < 0 || x > max) {
    const range = max === Infinity ? "≥ 0" : `in [0, ${max}]`;
    throw new RangeError(
      `augment.${name} must be a number ${range}, got ${String(v)}`,
    );
  }
  return x;
}

function normalize(opts: AugmentOptions): Normalized {
  const flip = opts.flip ?? "none";
  if (
    !["none", "horizontal", "vertical", "horizontal_and_vertical"].includes(
      flip,
    )
  ) {
    throw new RangeError(
      `augment.flip must be "none", "horizontal", "vertical" or ` +
        `"horizontal_and_vertical", got ${JSON.stringify(flip)}`,
    );
  }
  const t = opts.translation ?? 0;
  const [th, tw] = typeof t === "number" ? [t, t] : t;
  return {
    flipH: flip === "horizontal" || flip === "horizontal_and_vertical",
    flipV: flip === "vertical" || flip === "horizontal_and_vertical",
    rotation: checkFraction("rotation", opts.rotation, Infinity),
    zoom: checkFraction("zoom", opts.zoom, 1),
    th: checkFraction("translation", th, 1),
    tw: checkFraction("translation", tw, 1),
  };
}

/**
 * Whether `opts` changes images at all (false for the default block). Use it
 * to decide e.g. whether pooled features can be cached.
 */
export function isAugmentEnabled(opts: AugmentOptions): boolean {
  const n = normalize(opts);
  return n.flipH || n.flipV || n.rotation > 0 || n.zoom > 0 || n.th > 0 ||
    n.tw > 0;
}

/** A mirror of a whole image: none, horizontal, vertical or both. */
export type FlipVariant = "none" | "h" | "v" | "hv";

/**
 * When the augmentation is flips only (no rotation, zoom or translation),
 * every image comes out as one of a few exact mirrors, so a frozen base's
 * features of each mirror can be computed once and cached. Returns the
 * mirrors that can occur and `choose`, which says — with the very draws
 * {@link augmentBatch} makes for that (seed, epoch, batch) — which mirror
 * each image of a batch gets (an index into `variants`). Null when any other
 * transform is on, or nothing is.
 */
export function flipOnlyVariants(opts: AugmentOptions): {
  variants: FlipVariant[];
  choose: (key: AugmentKey, batchSize: number) => Uint8Array;
} | null {
  const n = normalize(opts);
  if (n.rotation > 0 || n.zoom > 0 || n.th > 0 || n.tw > 0) return null;
  if (!n.flipH && !n.flipV) return null;
  const variants: FlipVariant[] = n.flipH && n.flipV
    ? ["none", "h", "v", "hv"]
    : ["none", n.flipH ? "h" : "v"];
  return {
    variants,
    choose(key, batchSize) {
      const rng = augmentRng(key);
      const out = new Uint8Array(batchSize);
      for (let i = 0; i < batchSize; i++) {
        const uFlip = rng();
        for (let k = 0; k < 4; k++) rng(); // angle, zoom, dy, dx
        // The same decision augmentTransforms makes from uFlip.
        const h = n.flipH && (n.flipV ? ((uFlip * 4) | 0) & 1 : uFlip < 0.5);
        const v = n.flipV && (n.flipH ? ((uFlip * 4) | 0) & 2 : uFlip < 0.5);
        out[i] = variants.indexOf(
          (h ? (v ? "hv" : "h") : (v ? "v" : "none")) as FlipVariant,
        );
      }
      return out;
    },
  };
}

/** Mirrors a `[b, h, w, c]` batch as `variant` says (a new tensor). */
export function flipImages(x: tf.Tensor4D, variant: FlipVariant): tf.Tensor4D {
  switch (variant) {
    case "none":
      return tf.clone(x);
    case "h":
      return tf.reverse(x, 2);
    case "v":
      return tf.reverse(x, 1);
    case "hv":
      return tf.reverse(x, [1, 2]);
  }
}

/** 32-bit mix (murmur3 finalizer). */
function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A deterministic generator of uniform numbers in [0, 1) for one batch,
 * derived from (seed, epoch, batch) by hashing, so every batch of every
 * epoch gets an independent-looking stream.
 */
export function augmentRng(key: AugmentKey): Rng {
  let s = mix32((key.seed | 0) ^ 0x9e3779b9);
  s = mix32(s ^ Math.imul(key.epoch | 0, 0x85ebca6b) ^ 0x27d4eb2f);
  s = mix32(s ^ Math.imul(key.batch | 0, 0xc2b2ae35) ^ 0x165667b1);
  return mulberry32(s);
}

type M3 = [number, number, number, number, number, number]; // affine rows a, b

/** a·b for affine 2×3 matrices (third row 0 0 1). */
function mul(a: M3, b: M3): M3 {
  return [
    a[0] * b[0] + a[1] * b[3],
    a[0] * b[1] + a[1] * b[4],
    a[0] * b[2] + a[1] * b[5] + a[2],
    a[3] * b[0] + a[4] * b[3],
    a[3] * b[1] + a[4] * b[4],
    a[3] * b[2] + a[4] * b[5] + a[5],
  ];
}

/**
 * The per-image projective transforms `[batch, 8]` (rows
 * `[a0, a1, a2, b0, b1, b2, c0, c1]` mapping output pixel (x, y) to input
 * pixel, as `tf.image.transform` takes them) for images of `height`×`width`.
 * Each image draws five numbers from `rng` (flip, angle, zoom, dy, dx), in
 * that order, whether or not the augmentation is on.
 */
export function augmentTransforms(
  opts: AugmentOptions,
  rng: Rng,
  batchSize: number,
  height: number,
  width: number,
): Float32Array {
  const n = normalize(opts);
  const out = new Float32Array(batchSize * 8);
  const cx = (width - 1) / 2, cy = (height - 1) / 2;
  for (let i = 0; i < batchSize; i++) {
    const uFlip = rng(),
      uAngle = rng(),
      uZoom = rng(),
      uDy = rng(),
      uDx = rng();
    let m: M3 = [1, 0, 0, 0, 1, 0];
    // Keras layer order flip → rotation → zoom → translation; a layer maps
    // its output pixel p to its input pixel L·p, so the composition maps the
    // final pixel to the original one by F·R·Z·T.
    if (n.flipH || n.flipV) {
      // "horizontal_and_vertical": each axis flips on its own half of uFlip.
      const h = n.flipH && (n.flipV ? (uFlip * 4 | 0) & 1 : uFlip < 0.5);
      const v = n.flipV && (n.flipH ? (uFlip * 4 | 0) & 2 : uFlip < 0.5);
      m = mul(m, [
        h ? -1 : 1,
        0,
        h ? width - 1 : 0,
        0,
        v ? -1 : 1,
        v ? height - 1 : 0,
      ]);
    }
    if (n.rotation > 0) {
      const a = (2 * uAngle - 1) * n.rotation * 2 * Math.PI;
      const c = Math.cos(a), s = Math.sin(a);
      // Rotation about the image centre, as Keras' RandomRotation.
      m = mul(m, [c, -s, cx - (c * cx - s * cy), s, c, cy - (s * cx + c * cy)]);
    }
    if (n.zoom > 0) {
      const z = 1 + (2 * uZoom - 1) * n.zoom;
      m = mul(m, [z, 0, cx * (1 - z), 0, z, cy * (1 - z)]);
    }
    if (n.th > 0 || n.tw > 0) {
      const dy = (2 * uDy - 1) * n.th * height;
      const dx = (2 * uDx - 1) * n.tw * width;
      m = mul(m, [1, 0, -dx, 0, 1, -dy]);
    }
    // Shift by whole reflection periods (2·width, 2·height) so that no output
    // pixel maps to a negative input coordinate: the same image under
    // "reflect" fill, but the wasm kernel reflects negative coordinates
    // wrongly (it samples the far edge). The map is affine, so the corners
    // give the minimum.
    let minX = Infinity, minY = Infinity;
    for (
      const [px, py] of [[0, 0], [width - 1, 0], [0, height - 1], [
        width - 1,
        height - 1,
      ]]
    ) {
      minX = Math.min(minX, m[0] * px + m[1] * py + m[2]);
      minY = Math.min(minY, m[3] * px + m[4] * py + m[5]);
    }
    if (minX < 0) m[2] += 2 * width * Math.ceil(-minX / (2 * width));
    if (minY < 0) m[5] += 2 * height * Math.ceil(-minY / (2 * height));
    out.set(m, i * 8); // c0 = c1 = 0 (affine)
  }
  return out;
}

/** How {@link projectiveTransform} runs: see its documentation. */
export type TransformImpl = "auto" | "kernel" | "ts";

/**
 * `tf.image.transform(images, transforms, "bilinear", "reflect")`, working
 * around backend gaps. `impl`: `"kernel"` one batched kernel call (correct
 * on WebGPU; TF.js' cpu kernel only fills image 0 of a batch); `"ts"` the
 * same arithmetic as TF's kernel in plain TypeScript over the batch's values
 * (about twice as fast as the WASM kernel, and correct for negative
 * coordinates); `"auto"` (default): the batched kernel on a backend other
 * than cpu and wasm that has one (WebGPU keeps it on the GPU), else `"ts"`.
 */
export function projectiveTransform(
  images: tf.Tensor4D,
  transforms: tf.Tensor2D,
  impl: TransformImpl = "auto",
): tf.Tensor4D {
  if (impl === "auto") {
    const backend = tf.getBackend();
    impl = backend !== "cpu" && backend !== "wasm" &&
        tf.getKernel("Transform", backend) != null
      ? "kernel"
      : "ts";
  }
  if (impl === "ts") return transformBilinearReflect(images, transforms);
  return tf.tidy(() => {
    const x = images.dtype === "float32" ? images : tf.cast(images, "float32");
    return tf.image.transform(x, transforms, "bilinear", "reflect");
  });
}

/**
 * Augments one batch `[batch, height, width, channels]` and returns a new
 * tensor of the same shape (float32; the input is left alone and stays the
 * caller's to dispose). `key` (or an {@link Rng}) makes it deterministic: the
 * same seed, epoch and batch index give the same output. Values stay within
 * the batch's own min..max (bilinear sampling is a convex combination; the
 * result is clamped to absorb float rounding). With everything off it returns
 * a clone of the input.
 */
export function augmentBatch(
  images: tf.Tensor4D,
  opts: AugmentOptions,
  key: AugmentKey | Rng,
): tf.Tensor4D {
  const n = normalize(opts);
  const rng = typeof key === "function" ? key : augmentRng(key);
  const [b, h, w] = images.shape;
  const params = augmentTransforms(opts, rng, b, h, w);
  return tf.tidy(() => {
    const x = images.dtype === "float32" ? images : tf.cast(images, "float32");
    if (
      b === 0 || !(n.flipH || n.flipV || n.rotation || n.zoom || n.th || n.tw)
    ) {
      return tf.clone(x);
    }
    const t = tf.tensor2d(params, [b, 8]);
    const out = projectiveTransform(x, t);
    return tf.minimum(tf.maximum(out, tf.min(x)), tf.max(x));
  });
}

/**
 * A per-batch augmentation function for `opts` and the run's `seed`:
 * `(xs, epoch, batch) => augmented xs` (a new tensor; `xs` is not disposed),
 * or `null` when `opts` is all off, so callers can skip it (and e.g. cache
 * features).
 */
export function makeAugmenter(
  opts: AugmentOptions,
  seed: number,
): ((xs: tf.Tensor4D, epoch: number, batch: number) => tf.Tensor4D) | null {
  if (!isAugmentEnabled(opts)) return null;
  return (xs, epoch, batch) => augmentBatch(xs, opts, { seed, epoch, batch });
}

/**
 * TF's `ImageProjectiveTransformV3` (bilinear, "reflect" fill, fill value 0)
 * as plain TypeScript over the batch's values: per output pixel the
 * projected input coordinate, reflected into the image, then the four
 * neighbours (a neighbour past the edge reads 0, with weight 0 at the edge).
 */
function transformBilinearReflect(
  images: tf.Tensor4D,
  transforms: tf.Tensor2D,
): tf.Tensor4D {
  const [n, h, w, c] = images.shape;
  const src = images.dataSync() as Float32Array;
  const t = transforms.dataSync() as Float32Array;
  const out = new Float32Array(src.length);
  const row = w * c;
  for (let b = 0; b < n; b++) {
    const k = transforms.shape[0] === 1 ? 0 : b * 8;
    const [a0, a1, a2, b0, b1, b2, c0, c1] = t.subarray(k, k + 8);
    const base = b * h * row;
    for (let oy = 0; oy < h; oy++) {
      for (let ox = 0; ox < w; ox++) {
        const projection = c0 * ox + c1 * oy + 1;
        if (projection === 0) continue; // fill value 0
        const x = reflectCoord((a0 * ox + a1 * oy + a2) / projection, w);
        const y = reflectCoord((b0 * ox + b1 * oy + b2) / projection, h);
        const x0 = Math.floor(x), y0 = Math.floor(y);
        const fx = x - x0, fy = y - y0;
        const o = base + oy * row + ox * c;
        // Weights of the four neighbours; a neighbour past the edge reads 0.
        const inX1 = x0 + 1 < w, inY1 = y0 + 1 < h;
        const w00 = (1 - fx) * (1 - fy), w01 = inX1 ? fx * (1 - fy) : 0;
        const w10 = inY1 ? (1 - fx) * fy : 0, w11 = inX1 && inY1 ? fx * fy : 0;
        const i00 = base + y0 * row + x0 * c;
        const i01 = inX1 ? i00 + c : i00;
        const i10 = inY1 ? i00 + row : i00;
        const i11 = inX1 && inY1 ? i00 + row + c : i00;
        for (let ch = 0; ch < c; ch++) {
          out[o + ch] = w00 * src[i00 + ch] + w01 * src[i01 + ch] +
            w10 * src[i10 + ch] + w11 * src[i11 + ch];
        }
      }
    }
  }
  return tf.tensor4d(out, [n, h, w, c]);
}

/** TF's "reflect" coordinate mapping: [abcd] → [dcba|abcd|dcba], clamped. */
function reflectCoord(coord: number, len: number): number {
  let v = coord;
  if (len <= 1) return 0;
  const sz2 = 2 * len;
  if (v < 0) {
    if (v < sz2) v = sz2 * Math.trunc(-v / sz2) + v;
    v = v < -len ? v + sz2 : -v - 1;
  } else if (v > len - 1) {
    v -= sz2 * Math.trunc(v / sz2);
    if (v >= len) v = sz2 - v - 1;
  }
  return Math.min(Math.max(v, 0), len - 1);
}
