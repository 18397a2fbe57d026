/**
 * BMP decoding as TensorFlow 2.21 does it (`DecodeBmpV2` in
 * `tensorflow/core/kernels/image/decode_image_op.cc`), which Keras'
 * `image_dataset_from_directory` uses for `.bmp` files:
 *
 * - it reads the pixel offset, width, height and bits per pixel at fixed
 *   offsets and ignores the rest of the header (compression, palette, masks);
 * - only 8, 24 and 32 bits per pixel are accepted (`bpp / 8` must be 1, 3 or
 *   4): 1, 4 and 16-bit files are refused;
 * - 8-bit files are read as the palette index, repeated into R, G and B
 *   (grey); the palette is not applied;
 * - the file must be exactly `offset + row_size * |height|` bytes, so RLE
 *   files, truncated files and files with trailing bytes are refused;
 * - 24-bit is BGR and 32-bit BGRA (alpha dropped), bottom-up unless the
 *   height is negative.
 *
 * Written from that description (no library decodes BMP this way), and
 * checked against TF's own output on the corpus of `fixtures/tf_decode/`.
 *
 * @module
 */

const i32 = (b: Uint8Array, i: number) =>
  b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);

/** Decodes a BMP to `width*height*3` RGB as TF does, or throws TF's reason. */
export function decodeBmpAsTf(
  b: Uint8Array,
): { width: number; height: number; data: Uint8Array } {
  if (b.length < 32) {
    throw new Error(
      `incomplete BMP: at least 32 bytes are needed for its header, got ${b.length}`,
    );
  }
  if (i32(b, 14) === 12) {
    throw new Error("OS/2 BMP (12-byte header), which TF's reader refuses");
  }
  const offset = i32(b, 10);
  const width = i32(b, 18);
  const rawHeight = i32(b, 22);
  const bpp = (b[28] | (b[29] << 8)) << 16 >> 16;
  const channels = Math.trunc(bpp / 8);
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new Error(
      `${bpp}-bit BMP: TF reads only 8, 24 and 32-bit BMPs (1, 4 and 16-bit are refused)`,
    );
  }
  if (!(width > 0)) throw new Error(`BMP width must be positive, got ${width}`);
  if (rawHeight === 0) throw new Error("BMP height is zero");
  if (offset < 0) throw new Error(`BMP pixel offset is negative (${offset})`);
  const height = Math.abs(rawHeight);
  if (width * height >= Math.floor(2147483647 / 8)) {
    throw new Error(`BMP of ${width}x${height} is too large for TF's reader`);
  }
  const rowSize = Math.floor((channels * width + 3) / 4) * 4;
  const diff = b.length - offset - rowSize * height;
  if (diff !== 0) {
    throw new Error(
      `BMP is ${b.length} bytes but its header implies ${
        offset + rowSize * height
      } (offset ${offset} + ${height} rows of ${rowSize}): compressed (RLE), truncated or with trailing bytes, which TF refuses`,
    );
  }
  const topDown = rawHeight < 0;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = offset + (topDown ? y : height - 1 - y) * rowSize;
    let q = y * width * 3;
    if (channels === 1) {
      for (let x = 0; x < width; x++) {
        const v = b[row + x];
        out[q++] = v;
        out[q++] = v;
        out[q++] = v;
      }
    } else {
      for (let x = 0, p = row; x < width; x++, p += channels) {
        out[q++] = b[p + 2];
        out[q++] = b[p + 1];
        out[q++] = b[p];
      }
    }
  }
  return { width, height, data: out };
}
