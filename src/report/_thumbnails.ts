/**
 * Small PNG thumbnails as `data:` URIs for the HTML report: an RGB image is
 * shrunk by area averaging so its longer side is at most `size` px (never
 * enlarged) and encoded as an 8-bit RGB PNG. The encoder is written here
 * (per-row filter chosen by the usual minimum-sum heuristic, zlib stream
 * from the platform's `CompressionStream`), so thumbnails need no
 * third-party codec.
 *
 * @module
 */

import { Buffer } from "node:buffer";

/** Default longer side of a thumbnail, in px. */
export const THUMBNAIL_SIZE = 96;

/** An interleaved RGB image. */
export interface RgbImage {
  /** Width in px. */
  width: number;
  /** Height in px. */
  height: number;
  /** `width·height·3` bytes, row-major. */
  data: Uint8Array;
}

/**
 * Shrinks interleaved RGB (3 channels) or RGBA (4, alpha dropped) pixels to
 * fit `size` on the longer side, averaging the source pixels each target
 * pixel covers; returns RGB.
 *
 * @throws {RangeError} when the buffer does not hold `width·height·channels` bytes
 */
export function shrinkToFit(
  pixels: ArrayLike<number>,
  width: number,
  height: number,
  size: number,
  channels: 3 | 4 = 3,
): RgbImage {
  checkSize(width, height);
  if (pixels.length !== width * height * channels) {
    throw new RangeError(
      `expected ${width}×${height}×${channels} = ${
        width * height * channels
      } bytes, found ${pixels.length}`,
    );
  }
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`size: expected an integer ≥ 1, found ${size}`);
  }
  const scale = Math.min(1, size / Math.max(width, height));
  const tw = Math.max(1, Math.round(width * scale));
  const th = Math.max(1, Math.round(height * scale));
  const out = new Uint8Array(tw * th * 3);
  for (let ty = 0; ty < th; ty++) {
    const y0 = Math.floor((ty * height) / th);
    const y1 = Math.max(y0 + 1, Math.floor(((ty + 1) * height) / th));
    for (let tx = 0; tx < tw; tx++) {
      const x0 = Math.floor((tx * width) / tw);
      const x1 = Math.max(x0 + 1, Math.floor(((tx + 1) * width) / tw));
      let r = 0, g = 0, b = 0;
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          const s = (y * width + x) * channels;
          r += pixels[s];
          g += pixels[s + 1];
          b += pixels[s + 2];
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      const o = (ty * tw + tx) * 3;
      out[o] = Math.round(r / n);
      out[o + 1] = Math.round(g / n);
      out[o + 2] = Math.round(b / n);
    }
  }
  return { width: tw, height: th, data: out };
}

function checkSize(width: number, height: number) {
  if (
    !Number.isInteger(width) || !Number.isInteger(height) || width < 1 ||
    height < 1
  ) {
    throw new RangeError(
      `image size must be positive integers, found ${width}×${height}`,
    );
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309, as PNG chunks use) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Filtered scanlines (filter byte + row) of an RGB image. */
function filterRows(img: RgbImage): Uint8Array<ArrayBuffer> {
  const stride = img.width * 3;
  const out = new Uint8Array((stride + 1) * img.height);
  const candidate = new Uint8Array(stride);
  const best = new Uint8Array(stride);
  for (let y = 0; y < img.height; y++) {
    const row = img.data.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? img.data.subarray((y - 1) * stride, y * stride) : null;
    let bestType = 0;
    let bestScore = Infinity;
    for (let type = 0; type < 5; type++) {
      let score = 0;
      for (let i = 0; i < stride; i++) {
        const a = i >= 3 ? row[i - 3] : 0;
        const b = up ? up[i] : 0;
        const c = up && i >= 3 ? up[i - 3] : 0;
        const pred = type === 0
          ? 0
          : type === 1
          ? a
          : type === 2
          ? b
          : type === 3
          ? (a + b) >> 1
          : paeth(a, b, c);
        const v = (row[i] - pred) & 0xff;
        candidate[i] = v;
        score += v < 128 ? v : 256 - v;
      }
      if (score < bestScore) {
        bestScore = score;
        bestType = type;
        best.set(candidate);
      }
    }
    out[y * (stride + 1)] = bestType;
    out.set(best, y * (stride + 1) + 1);
  }
  return out;
}

/** Encodes an RGB image as an 8-bit truecolour PNG file. */
export async function encodePng(img: RgbImage): Promise<Uint8Array> {
  checkSize(img.width, img.height);
  if (img.data.length !== img.width * img.height * 3) {
    throw new RangeError(
      `expected ${img.width}×${img.height}×3 bytes, found ${img.data.length}`,
    );
  }
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, img.width);
  hv.setUint32(4, img.height);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, no interlace
  // "deflate" is the zlib format (RFC 1950), which IDAT requires.
  const zlib = new Uint8Array(
    await new Response(
      new Blob([filterRows(img)]).stream().pipeThrough(
        new CompressionStream("deflate"),
      ),
    ).arrayBuffer(),
  );
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", zlib),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Encodes bytes as a `data:` URI with the given media type. */
export function dataUri(mediaType: string, bytes: Uint8Array): string {
  return `data:${mediaType};base64,${Buffer.from(bytes).toString("base64")}`;
}

/**
 * A PNG thumbnail of an RGB image as a `data:image/png;base64,…` URI,
 * `size` px on its longer side (default {@link THUMBNAIL_SIZE}).
 *
 * @param pixels interleaved RGB bytes (`width·height·3`)
 */
export async function imageThumbnail(
  pixels: ArrayLike<number>,
  width: number,
  height: number,
  opts: { size?: number } = {},
): Promise<string> {
  const small = shrinkToFit(pixels, width, height, opts.size ?? THUMBNAIL_SIZE);
  return dataUri("image/png", await encodePng(small));
}
