/**
 * The plain TypeScript loops of the WASM gradient kernels, over typed arrays
 * of the backend's heap: tiling, the depthwise filter gradient (float64
 * accumulation), im2col, the flipped filter, and spreading a strided
 * gradient with zeros for the transposed convolution.
 *
 * @module
 */

import type {
  Conv2DInfo,
  ExplicitPadding,
  TensorInfo,
  WasmBackend,
} from "./_wasm_kernel_ops.ts";

// ---------------------------------------------------------------------------
// Loops over the heap

/** Writes `src` (of shape `inShape`) tiled `reps` times into `dst`. */
export function tileLoop(
  src: Float32Array | Int32Array | Uint8Array,
  dst: Float32Array | Int32Array | Uint8Array,
  inShape: number[],
  reps: number[],
): void {
  const rank = inShape.length;
  if (rank === 0) {
    dst[0] = src[0];
    return;
  }
  const srcStrides = new Array<number>(rank);
  const dstStrides = new Array<number>(rank);
  srcStrides[rank - 1] = 1;
  dstStrides[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) {
    srcStrides[d] = srcStrides[d + 1] * inShape[d + 1];
    dstStrides[d] = dstStrides[d + 1] * inShape[d + 1] * reps[d + 1];
  }
  // Fills the block of dimension `d` at dstOffset, then repeats it reps[d]×.
  const fill = (d: number, srcOffset: number, dstOffset: number) => {
    const len = inShape[d] * dstStrides[d];
    if (d === rank - 1) {
      dst.set(src.subarray(srcOffset, srcOffset + inShape[d]), dstOffset);
    } else {
      for (let i = 0; i < inShape[d]; i++) {
        fill(
          d + 1,
          srcOffset + i * srcStrides[d],
          dstOffset + i * dstStrides[d],
        );
      }
    }
    const total = len * reps[d];
    for (let done = len; done < total;) {
      const n = Math.min(done, total - done);
      dst.copyWithin(dstOffset + done, dstOffset, dstOffset + n);
      done += n;
    }
  };
  fill(0, 0, 0);
}

/**
 * dW[r, c, ch, q] = Σ x[b, i·s + r − top, j·s + c − left, ch] ·
 * dy[b, i, j, ch·mult + q], accumulated in float64.
 */
export function depthwiseFilterLoop(
  x: Float32Array,
  dy: Float32Array,
  out: Float32Array,
  info: Conv2DInfo,
  mult: number,
): void {
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    filterHeight,
    filterWidth,
    strideHeight,
    strideWidth,
  } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const cOut = inChannels * mult;
  const acc = new Float64Array(filterHeight * filterWidth * cOut);
  for (let b = 0; b < batchSize; b++) {
    for (let i = 0; i < outHeight; i++) {
      const y0 = i * strideHeight - top;
      for (let j = 0; j < outWidth; j++) {
        const x0 = j * strideWidth - left;
        const dyBase = ((b * outHeight + i) * outWidth + j) * cOut;
        for (let r = 0; r < filterHeight; r++) {
          const y = y0 + r;
          if (y < 0 || y >= inHeight) continue;
          for (let c = 0; c < filterWidth; c++) {
            const xc = x0 + c;
            if (xc < 0 || xc >= inWidth) continue;
            const xBase = ((b * inHeight + y) * inWidth + xc) * inChannels;
            const accBase = (r * filterWidth + c) * cOut;
            if (mult === 1) {
              for (let ch = 0; ch < inChannels; ch++) {
                acc[accBase + ch] += x[xBase + ch] * dy[dyBase + ch];
              }
            } else {
              for (let ch = 0; ch < inChannels; ch++) {
                const xv = x[xBase + ch];
                const o = ch * mult;
                for (let q = 0; q < mult; q++) {
                  acc[accBase + o + q] += xv * dy[dyBase + o + q];
                }
              }
            }
          }
        }
      }
    }
  }
  out.set(acc);
}

/**
 * The im2col matrix of `x` for the convolution `info`: [N·Ho·Wo, kh·kw·Cin]
 * with columns ordered (r, c, ch) like a flattened filter, or its transpose.
 * Padding reads as zero.
 */
export function im2col(
  backend: WasmBackend,
  x: TensorInfo,
  info: Conv2DInfo,
  transposed: boolean,
  temps: TensorInfo[],
): TensorInfo {
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    filterHeight,
    filterWidth,
    strideHeight,
    strideWidth,
  } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const m = batchSize * outHeight * outWidth;
  const k = filterHeight * filterWidth * inChannels;
  const cols = backend.makeOutput(transposed ? [k, m] : [m, k], "float32");
  temps.push(cols);
  const src = backend.typedArrayFromHeap(x) as Float32Array;
  const dst = backend.typedArrayFromHeap(cols) as Float32Array;
  dst.fill(0);
  let row = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let i = 0; i < outHeight; i++) {
      for (let j = 0; j < outWidth; j++, row++) {
        for (let r = 0; r < filterHeight; r++) {
          const y = i * strideHeight - top + r;
          if (y < 0 || y >= inHeight) continue;
          for (let c = 0; c < filterWidth; c++) {
            const xc = j * strideWidth - left + c;
            if (xc < 0 || xc >= inWidth) continue;
            const from = ((b * inHeight + y) * inWidth + xc) * inChannels;
            const col = (r * filterWidth + c) * inChannels;
            if (transposed) {
              for (let ch = 0; ch < inChannels; ch++) {
                dst[(col + ch) * m + row] = src[from + ch];
              }
            } else {
              dst.set(src.subarray(from, from + inChannels), row * k + col);
            }
          }
        }
      }
    }
  }
  return cols;
}

/** out[kh−1−r, kw−1−c, o, i] = w[r, c, i, o] (w is [kh, kw, I, O]). */
export function flipTranspose(
  w: Float32Array,
  out: Float32Array,
  kh: number,
  kw: number,
  inner: number,
  outer: number,
): void {
  for (let r = 0; r < kh; r++) {
    for (let c = 0; c < kw; c++) {
      const from = (r * kw + c) * inner * outer;
      const to = ((kh - 1 - r) * kw + (kw - 1 - c)) * inner * outer;
      for (let i = 0; i < inner; i++) {
        for (let o = 0; o < outer; o++) {
          out[to + o * inner + i] = w[from + i * outer + o];
        }
      }
    }
  }
}

/**
 * The input and explicit padding of the stride-1 correlation with the
 * flipped filter that gives the input gradient of the convolution `info`:
 * `dy` itself when the stride is 1 and no padding is negative, else `dy`
 * spread to stride 1 with zeros, padded and cropped as needed.
 */
export function spreadForTransposedConv(
  backend: WasmBackend,
  dy: TensorInfo,
  info: Conv2DInfo,
  temps: TensorInfo[],
): { input: TensorInfo; pad: ExplicitPadding } {
  const {
    batchSize,
    inHeight,
    inWidth,
    outHeight,
    outWidth,
    filterHeight,
    filterWidth,
    strideHeight: sh,
    strideWidth: sw,
  } = info;
  const channels = dy.shape[3];
  // Rows of dy spread to stride 1 span (outHeight − 1)·sh + 1; the correlation
  // needs kh − 1 − top rows before them and enough after for inHeight outputs.
  const before = [
    filterHeight - 1 - info.padInfo.top,
    filterWidth - 1 - info.padInfo.left,
  ];
  const after = [
    inHeight - 1 - (outHeight - 1) * sh + info.padInfo.top,
    inWidth - 1 - (outWidth - 1) * sw + info.padInfo.left,
  ];
  if (sh === 1 && sw === 1 && Math.min(...before, ...after) >= 0) {
    return {
      input: dy,
      pad: [[0, 0], [before[0], after[0]], [before[1], after[1]], [0, 0]],
    };
  }
  const h = (outHeight - 1) * sh + 1 + before[0] + after[0];
  const w = (outWidth - 1) * sw + 1 + before[1] + after[1];
  const spread = backend.makeOutput([batchSize, h, w, channels], "float32");
  temps.push(spread);
  const src = backend.typedArrayFromHeap(dy) as Float32Array;
  const dst = backend.typedArrayFromHeap(spread) as Float32Array;
  dst.fill(0);
  for (let b = 0; b < batchSize; b++) {
    for (let i = 0; i < outHeight; i++) {
      const y = i * sh + before[0];
      if (y < 0 || y >= h) continue;
      for (let j = 0; j < outWidth; j++) {
        const xc = j * sw + before[1];
        if (xc < 0 || xc >= w) continue;
        const from = ((b * outHeight + i) * outWidth + j) * channels;
        dst.set(
          src.subarray(from, from + channels),
          ((b * h + y) * w + xc) * channels,
        );
      }
    }
  }
  return { input: spread, pad: [[0, 0], [0, 0], [0, 0], [0, 0]] };
}
