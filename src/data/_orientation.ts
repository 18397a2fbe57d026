/**
 * EXIF orientation (tag 0x0112) applied to decoded pixels, for
 * `data.exifOrientation: "apply"`: the transforms of the EXIF 2.32
 * specification (1 as stored, 2 mirrored, 3 rotated 180°, 4 flipped, 5
 * transposed, 6 rotated 90° clockwise, 7 transversed, 8 rotated 90°
 * counter-clockwise), as PIL's `ImageOps.exif_transpose` applies them.
 *
 * @module
 */

/** Interleaved pixels (the shape of `codecs.ts`' `Pixels`). */
interface Pixels {
  width: number;
  height: number;
  data: ArrayLike<number>;
  channels: 3 | 4;
}

/** The pixels as an EXIF `orientation` (1–8) says they are meant to be seen. */
export function applyExifOrientation<P extends Pixels>(
  src: P,
  orientation: number,
): P | (Pixels & { data: Uint8Array }) {
  if (orientation < 2 || orientation > 8) return src;
  const { width: w, height: h, channels: c, data } = src;
  const swap = orientation >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = new Uint8Array(ow * oh * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Where the stored pixel (x, y) lands in the output.
      let ox: number, oy: number;
      switch (orientation) {
        case 2:
          ox = w - 1 - x, oy = y;
          break;
        case 3:
          ox = w - 1 - x, oy = h - 1 - y;
          break;
        case 4:
          ox = x, oy = h - 1 - y;
          break;
        case 5:
          ox = y, oy = x;
          break;
        case 6:
          ox = h - 1 - y, oy = x;
          break;
        case 7:
          ox = h - 1 - y, oy = w - 1 - x;
          break;
        default: // 8
          ox = y, oy = w - 1 - x;
      }
      const p = (y * w + x) * c;
      const q = (oy * ow + ox) * c;
      for (let k = 0; k < c; k++) out[q + k] = data[p + k];
    }
  }
  return { width: ow, height: oh, data: out, channels: c };
}
