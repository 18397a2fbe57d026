/**
 * Reading an image file's size (and, for JPEG, the frame and marker facts the
 * decoder needs) from its header alone, without decoding: so that a
 * decompression bomb is refused before a single pixel is allocated
 * (`data.maxImagePixels`), and so that JPEG sizes come from the SOF segment
 * (TurboJPEG 2.0's header call refuses sampling factors libjpeg decodes).
 *
 * @module
 */

/** The container formats we know the header of. */
export type ImageFormat = "jpeg" | "png" | "gif" | "bmp" | "webp" | "tiff";

/** What a JPEG's markers say before its first scan. */
export interface JpegInfo {
  /** Width from the SOF segment. */
  width: number;
  /** Height from the SOF segment (0: defined later by a DNL marker). */
  height: number;
  /** Components in the frame (1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK). */
  components: number;
  /** The SOF marker (0xc0 baseline, 0xc2 progressive, 0xc9.. arithmetic). */
  sof: number;
  /** An Adobe APP14 segment of 12 or more bytes (libjpeg's `saw_Adobe_marker`). */
  adobe: boolean;
  /** EXIF orientation (1–8) from an APP1 "Exif" segment, 1 when none. */
  orientation: number;
}

const u16be = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const u16le = (b: Uint8Array, i: number) => b[i] | (b[i + 1] << 8);
const u32le = (b: Uint8Array, i: number) =>
  (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
const i32le = (b: Uint8Array, i: number) =>
  b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
const u32be = (b: Uint8Array, i: number) =>
  ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
const ascii = (b: Uint8Array, from: number, to: number) =>
  String.fromCharCode(...b.subarray(from, Math.min(to, b.length)));

/** EXIF orientation from the TIFF structure inside an APP1 "Exif\0\0" segment. */
function exifOrientation(b: Uint8Array, start: number, end: number): number {
  const t = start;
  if (t + 8 > end) return 1;
  const le = b[t] === 0x49 && b[t + 1] === 0x49;
  if (!le && !(b[t] === 0x4d && b[t + 1] === 0x4d)) return 1;
  const r16 = (i: number) => le ? u16le(b, i) : u16be(b, i);
  const r32 = (i: number) => le ? u32le(b, i) : u32be(b, i);
  const ifd = t + r32(t + 4);
  if (ifd + 2 > end) return 1;
  const n = r16(ifd);
  for (let k = 0; k < n; k++) {
    const e = ifd + 2 + k * 12;
    if (e + 12 > end) return 1;
    if (r16(e) === 0x0112) {
      const v = r16(e + 8);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

/**
 * Walks a JPEG's markers up to the first scan: the frame (SOF) size and
 * components, the Adobe marker and the EXIF orientation. Null when no SOF
 * comes before the scan or the markers are broken.
 */
export function readJpegInfo(b: Uint8Array): JpegInfo | null {
  if (!(b.length >= 4 && b[0] === 0xff && b[1] === 0xd8)) return null;
  let i = 2;
  let adobe = false;
  let orientation = 1;
  let frame: Omit<JpegInfo, "adobe" | "orientation"> | null = null;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) {
      // Stray bytes between segments: libjpeg skips to the next marker (with
      // a warning), and so do we.
      i++;
      continue;
    }
    const m = b[i + 1];
    if (m === 0xff) {
      i++; // fill byte
      continue;
    }
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      i += 2;
      continue;
    }
    if (m === 0xda || m === 0xd9) break;
    const len = u16be(b, i + 2);
    if (len < 2) return null;
    const data = i + 4;
    const end = Math.min(i + 2 + len, b.length);
    const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 &&
      m !== 0xcc;
    if (isSof && frame === null && data + 6 <= b.length) {
      frame = {
        sof: m,
        height: u16be(b, data + 1),
        width: u16be(b, data + 3),
        components: b[data + 5],
      };
    } else if (
      m === 0xee && len - 2 >= 12 && ascii(b, data, data + 5) === "Adobe"
    ) {
      adobe = true;
    } else if (
      m === 0xe1 && orientation === 1 && ascii(b, data, data + 6) === "Exif\0\0"
    ) orientation = exifOrientation(b, data + 6, end);
    i += 2 + len;
  }
  return frame ? { ...frame, adobe, orientation } : null;
}

function tiffSize(b: Uint8Array): { width: number; height: number } | null {
  const le = b[0] === 0x49;
  const r16 = (i: number) => le ? u16le(b, i) : u16be(b, i);
  const r32 = (i: number) => le ? u32le(b, i) : u32be(b, i);
  const ifd = r32(4);
  if (ifd + 2 > b.length) return null;
  let width = 0;
  let height = 0;
  const n = r16(ifd);
  for (let k = 0; k < n; k++) {
    const e = ifd + 2 + k * 12;
    if (e + 12 > b.length) break;
    const tag = r16(e);
    if (tag !== 256 && tag !== 257) continue;
    const value = r16(e + 2) === 3 ? r16(e + 8) : r32(e + 8);
    if (tag === 256) width = value;
    else height = value;
  }
  return width && height ? { width, height } : null;
}

function webpSize(b: Uint8Array): { width: number; height: number } | null {
  const chunk = ascii(b, 12, 16);
  if (chunk === "VP8X" && b.length >= 30) {
    return {
      width: 1 + (b[24] | (b[25] << 8) | (b[26] << 16)),
      height: 1 + (b[27] | (b[28] << 8) | (b[29] << 16)),
    };
  }
  if (chunk === "VP8L" && b.length >= 25 && b[20] === 0x2f) {
    const bits = u32le(b, 21);
    return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
  }
  if (chunk === "VP8 " && b.length >= 30) {
    return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  }
  return null;
}

/**
 * The container format from the first bytes (as TF's `decode_image` sniffs
 * it, whatever the file's extension), or null when not one we know.
 */
export function sniffImageFormat(b: Uint8Array): ImageFormat | null {
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
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return "bmp";
  if (
    b.length >= 12 && ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP"
  ) {
    return "webp";
  }
  if (
    b.length >= 8 &&
    ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 42 && b[3] === 0) ||
      (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 42))
  ) return "tiff";
  return null;
}

/**
 * Width and height as the header of a file of `format` states them, or null
 * when the header is too short or broken (the decoder then names the
 * problem).
 */
export function readImageSize(
  b: Uint8Array,
  format: ImageFormat,
): { width: number; height: number } | null {
  switch (format) {
    case "jpeg": {
      const info = readJpegInfo(b);
      return info ? { width: info.width, height: info.height } : null;
    }
    case "png":
      return b.length >= 24 && ascii(b, 12, 16) === "IHDR"
        ? { width: u32be(b, 16), height: u32be(b, 20) }
        : null;
    case "gif":
      return b.length >= 10
        ? { width: u16le(b, 6), height: u16le(b, 8) }
        : null;
    case "bmp":
      if (b.length >= 22 && u32le(b, 14) === 12) { // OS/2: 16-bit sizes
        return { width: u16le(b, 18), height: u16le(b, 20) };
      }
      return b.length >= 26
        ? { width: Math.abs(i32le(b, 18)), height: Math.abs(i32le(b, 22)) }
        : null;
    case "webp":
      return webpSize(b);
    case "tiff":
      return tiffSize(b);
  }
}

/** Whether a WebP file says it has an alpha channel or an animation (VP8X flags, VP8L alpha bit). */
export function webpFeatures(
  b: Uint8Array,
): { alpha: boolean; animated: boolean } {
  const chunk = ascii(b, 12, 16);
  if (chunk === "VP8X" && b.length > 20) {
    return { alpha: (b[20] & 0x10) !== 0, animated: (b[20] & 0x02) !== 0 };
  }
  if (chunk === "VP8L" && b.length >= 25) {
    return { alpha: ((u32le(b, 21) >>> 28) & 1) === 1, animated: false };
  }
  return { alpha: false, animated: false };
}
