/**
 * Convolution gradient kernels for TF.js' WASM backend, which ships none for
 * `Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropFilter` and
 * `DepthwiseConv2dNativeBackpropInput` (tensorflow/tfjs#8474), so that
 * `model.fit` can train MobileNetV2's convolutions on `wasm`.
 *
 * The kernels reuse what the backend already does fast and add plain
 * TypeScript loops over its heap only where there is nothing to reuse:
 *
 * - `Conv2DBackpropFilter`: `dW = colsᵀ · dy` with XNNPACK's matrix product
 *   (the backend's `BatchMatMul`). A 1×1, stride-1, unpadded convolution uses
 *   `x` itself as `cols`; any other one builds the im2col matrix in a loop.
 *   Whichever of `cols` and `dy` is narrower is transposed, because the
 *   backend's product is only fast with both operands untransposed.
 * - `Conv2DBackpropInput` (replaces the backend's own scalar loop, ≈ 10× slower
 *   on MobileNetV2's 1×1 convolutions): a 1×1, stride-1, unpadded
 *   convolution is `dy · Wᵀ`; any other one is the backend's `Conv2D` of `dy`
 *   (spread with zeros for strides > 1) with the flipped, transposed filter.
 *   NCHW still goes to the backend's own kernel.
 * - `DepthwiseConv2dNativeBackpropInput`: the backend's depthwise convolution
 *   of `dy` (spread with zeros for strides > 1) with the flipped filter.
 * - `DepthwiseConv2dNativeBackpropFilter`: one loop over `x` and `dy`.
 *
 * Supported: float32, NHWC, strides ≥ 1, dilations 1, `"same"`, `"valid"` and
 * explicit padding, any channel multiplier. Anything else throws an error
 * that names the kernel and the attribute.
 *
 * @example
 * ```ts
 * import { selectBackend } from "./backend.ts";
 * import { registerWasmGradientKernels } from "./wasm_grad_kernels.ts";
 * await selectBackend("wasm");
 * registerWasmGradientKernels(); // model.fit now trains convolutions on wasm
 * ```
 *
 * @module
 */

import { tf } from "../deps.ts";

type TensorInfo = tf.TensorInfo;
type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;
type ExplicitPadding = [[number, number], [number, number], [
  number,
  number,
], [number, number]];

/** The part of TF.js' `BackendWasm` these kernels use. */
interface WasmBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: unknown): boolean;
}

interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}

/** Names of the kernels {@link registerWasmGradientKernels} registers for "wasm". */
export const WASM_GRADIENT_KERNELS = [
  "Conv2DBackpropFilter",
  "Conv2DBackpropInput",
  "DepthwiseConv2dNativeBackpropFilter",
  "DepthwiseConv2dNativeBackpropInput",
  "Tile",
] as const;

/** The backend's own `Conv2DBackpropInput`, kept for NCHW. */
let wasmConv2DBackpropInput: tf.KernelConfig | null = null;
/** The backend's own `Tile`, kept for strings. */
let wasmTile: tf.KernelConfig | null = null;

/**
 * Registers the convolution gradient kernels (see the module doc) for the
 * `"wasm"` backend: `Conv2DBackpropFilter`,
 * `DepthwiseConv2dNativeBackpropFilter` and
 * `DepthwiseConv2dNativeBackpropInput`, which it lacks, and faster
 * `Conv2DBackpropInput` and `Tile` in place of its own. Call it after
 * `@tensorflow/tfjs-backend-wasm` has been imported (e.g. right after
 * `selectBackend` picked wasm), since importing that package registers its own
 * `Conv2DBackpropInput` over this one. Idempotent; the backend need not be
 * the current one.
 *
 * @throws Error when the WASM backend package has not been loaded yet.
 */
export function registerWasmGradientKernels(): void {
  const own = tf.getKernel("Conv2DBackpropInput", "wasm");
  if (tf.getKernel("Conv2D", "wasm") == null || own == null) {
    throw new Error(
      "registerWasmGradientKernels: the TF.js WASM backend is not loaded; " +
        "import @tensorflow/tfjs-backend-wasm (importTfWasm in src/deps.ts, " +
        'or selectBackend("wasm")) first',
    );
  }
  if (own.kernelFunc !== conv2DBackpropInput) wasmConv2DBackpropInput = own;
  const ownTile = tf.getKernel("Tile", "wasm");
  if (ownTile != null && ownTile.kernelFunc !== tile) wasmTile = ownTile;
  const kernels: [string, (args: KernelArgs) => TensorInfo][] = [
    ["Conv2DBackpropFilter", conv2DBackpropFilter],
    ["Conv2DBackpropInput", conv2DBackpropInput],
    ["DepthwiseConv2dNativeBackpropFilter", depthwiseBackpropFilter],
    ["DepthwiseConv2dNativeBackpropInput", depthwiseBackpropInput],
    ["Tile", tile],
  ];
  for (const [kernelName, kernelFunc] of kernels) {
    const current = tf.getKernel(kernelName, "wasm");
    if (current?.kernelFunc === kernelFunc) continue;
    if (current != null) tf.unregisterKernel(kernelName, "wasm");
    tf.registerKernel({
      kernelName,
      backendName: "wasm",
      kernelFunc: kernelFunc as unknown as tf.KernelFunc,
    });
  }
}

// ---------------------------------------------------------------------------
// Kernels

function conv2DBackpropFilter(args: KernelArgs): TensorInfo {
  const name = "Conv2DBackpropFilter";
  const { x, dy } = args.inputs;
  const backend = args.backend as WasmBackend;
  const attrs = args.attrs ?? {};
  checkFloat32(name, x, dy);
  checkNhwc(name, attrs.dataFormat);
  const filterShape = attrs.filterShape as [number, number, number, number];
  const info = convInfo(name, x.shape, filterShape, attrs, false);
  const [kh, kw, cin, cout] = filterShape;
  const m = info.batchSize * info.outHeight * info.outWidth;
  const k = kh * kw * cin;
  const temps: TensorInfo[] = [];
  try {
    let out: TensorInfo;
    if (isPointwise(info)) {
      // cols = x itself ([N·H·W, Cin]).
      if (k <= cout) {
        const xT = transpose2d(backend, x, m, k, temps);
        out = matMul(backend, xT, k, m, dy, cout, temps);
      } else {
        const dyT = transpose2d(backend, dy, m, cout, temps);
        const outT = matMul(backend, dyT, cout, m, x, k, temps);
        out = transpose2d(backend, outT, cout, k, temps);
      }
    } else if (k <= cout) {
      const colsT = im2col(backend, x, info, true, temps);
      out = matMul(backend, colsT, k, m, dy, cout, temps);
    } else {
      const cols = im2col(backend, x, info, false, temps);
      const dyT = transpose2d(backend, dy, m, cout, temps);
      const outT = matMul(backend, dyT, cout, m, cols, k, temps);
      out = transpose2d(backend, outT, cout, k, temps);
    }
    return reshape(backend, out, filterShape);
  } finally {
    free(backend, temps);
  }
}

function conv2DBackpropInput(args: KernelArgs): TensorInfo {
  const name = "Conv2DBackpropInput";
  const { dy, filter } = args.inputs;
  const backend = args.backend as WasmBackend;
  const attrs = args.attrs ?? {};
  if (attrs.dataFormat === "NCHW" && wasmConv2DBackpropInput != null) {
    return delegate(wasmConv2DBackpropInput, args);
  }
  checkFloat32(name, dy, filter);
  checkNhwc(name, attrs.dataFormat);
  const inputShape = attrs.inputShape as [number, number, number, number];
  const info = convInfo(name, inputShape, filter.shape, attrs, false);
  const [kh, kw, cin, cout] = filter.shape;
  const temps: TensorInfo[] = [];
  try {
    let out: TensorInfo;
    if (isPointwise(info)) {
      const m = info.batchSize * info.outHeight * info.outWidth;
      const wT = transpose2d(backend, filter, cin, cout, temps);
      out = matMul(backend, dy, m, cout, wT, cin, temps);
    } else {
      // Full correlation of dy with the flipped filter, [kh, kw, Cout, Cin].
      const flipped = backend.makeOutput([kh, kw, cout, cin], "float32");
      temps.push(flipped);
      flipTranspose(
        backend.typedArrayFromHeap(filter) as Float32Array,
        backend.typedArrayFromHeap(flipped) as Float32Array,
        kh,
        kw,
        cin,
        cout,
      );
      const { input, pad } = spreadForTransposedConv(backend, dy, info, temps);
      out = runKernel(backend, "Conv2D", { x: input, filter: flipped }, {
        strides: [1, 1],
        pad,
        dilations: [1, 1],
        dataFormat: "NHWC",
        dimRoundingMode: undefined,
      });
      temps.push(out);
    }
    return reshape(backend, out, inputShape);
  } finally {
    free(backend, temps);
  }
}

function depthwiseBackpropInput(args: KernelArgs): TensorInfo {
  const name = "DepthwiseConv2dNativeBackpropInput";
  const { dy, filter } = args.inputs;
  const backend = args.backend as WasmBackend;
  const attrs = args.attrs ?? {};
  checkFloat32(name, dy, filter);
  checkNhwc(name, attrs.dataFormat);
  const inputShape = attrs.inputShape as [number, number, number, number];
  const info = convInfo(name, inputShape, filter.shape, attrs, true);
  const [kh, kw, channels, multiplier] = filter.shape;
  const temps: TensorInfo[] = [];
  try {
    // Every (channel, multiplier) pair is its own channel here: correlate dy
    // with the flipped filter, then sum each channel's multiplier outputs.
    const flipped = backend.makeOutput(
      [kh, kw, channels * multiplier, 1],
      "float32",
    );
    temps.push(flipped);
    flipTranspose(
      backend.typedArrayFromHeap(filter) as Float32Array,
      backend.typedArrayFromHeap(flipped) as Float32Array,
      kh,
      kw,
      channels * multiplier,
      1,
    );
    const { input, pad } = spreadForTransposedConv(backend, dy, info, temps);
    let out = runKernel(
      backend,
      "DepthwiseConv2dNative",
      { x: input, filter: flipped },
      {
        strides: [1, 1],
        pad,
        dilations: [1, 1],
        dataFormat: "NHWC",
        dimRoundingMode: undefined,
      },
    );
    temps.push(out);
    if (multiplier > 1) {
      const size = info.batchSize * info.inHeight * info.inWidth * channels;
      const pairs = reshape(backend, out, [size, multiplier]);
      temps.push(pairs);
      out = runKernel(backend, "Sum", { x: pairs }, {
        axis: [1],
        keepDims: false,
      });
      temps.push(out);
    }
    return reshape(backend, out, inputShape);
  } finally {
    free(backend, temps);
  }
}

function depthwiseBackpropFilter(args: KernelArgs): TensorInfo {
  const name = "DepthwiseConv2dNativeBackpropFilter";
  const { x, dy } = args.inputs;
  const backend = args.backend as WasmBackend;
  const attrs = args.attrs ?? {};
  checkFloat32(name, x, dy);
  checkNhwc(name, attrs.dataFormat);
  const filterShape = attrs.filterShape as [number, number, number, number];
  const info = convInfo(name, x.shape, filterShape, attrs, true);
  const out = backend.makeOutput(filterShape, "float32");
  depthwiseFilterLoop(
    backend.typedArrayFromHeap(x) as Float32Array,
    backend.typedArrayFromHeap(dy) as Float32Array,
    backend.typedArrayFromHeap(out) as Float32Array,
    info,
    filterShape[3],
  );
  return out;
}

/**
 * Tile by block copies (`copyWithin`, doubling) instead of the backend's
 * per-element loop, which made `FusedBatchNorm`'s gradient (a [1, 1, 1, C]
 * tile to the activation's shape) the slowest step of fine-tuning.
 */
function tile(args: KernelArgs): TensorInfo {
  const { x } = args.inputs;
  const backend = args.backend as WasmBackend;
  if ((x.dtype === "string" || x.dtype === "complex64") && wasmTile != null) {
    return delegate(wasmTile, args);
  }
  const reps = (args.attrs?.reps ?? []) as number[];
  if (reps.length !== x.shape.length) {
    throw new Error(
      `Tile (wasm gradient kernels): reps [${reps}] must have one entry per ` +
        `dimension of the input [${x.shape}]`,
    );
  }
  const shape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(shape, x.dtype as "float32");
  if (shape.some((d) => d === 0)) return out;
  tileLoop(
    backend.typedArrayFromHeap(x),
    backend.typedArrayFromHeap(out),
    x.shape,
    reps,
  );
  return out;
}

// ---------------------------------------------------------------------------
// Loops over the heap

/** Writes `src` (of shape `inShape`) tiled `reps` times into `dst`. */
function tileLoop(
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
function depthwiseFilterLoop(
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
function im2col(
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
function flipTranspose(
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
function spreadForTransposedConv(
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

// ---------------------------------------------------------------------------
// Calling the backend's kernels
//
// Every intermediate a kernel makes (outputs, reshaped views) goes into its
// `temps` list and is disposed before it returns; what it returns is a fresh
// reference (a new output, or a reshape holding its own reference).

/** Runs one of the backend's own kernels that these replace. */
function delegate(kernel: tf.KernelConfig, args: KernelArgs): TensorInfo {
  // Its setup (binding the WASM export) ran only if the backend started while
  // it was registered.
  kernel.setupFunc?.(args.backend as tf.KernelBackend);
  return kernel.kernelFunc(
    args as unknown as Parameters<tf.KernelFunc>[0],
  ) as TensorInfo;
}

function runKernel(
  backend: WasmBackend,
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: Record<string, unknown>,
): TensorInfo {
  const kernel = tf.getKernel(kernelName, "wasm");
  if (kernel == null) {
    throw new Error(
      `wasm gradient kernels: the WASM backend has no ${kernelName} kernel`,
    );
  }
  return kernel.kernelFunc(
    {
      inputs,
      backend,
      attrs,
    } as unknown as Parameters<tf.KernelFunc>[0],
  ) as TensorInfo;
}

function reshape(
  backend: WasmBackend,
  x: TensorInfo,
  shape: number[],
): TensorInfo {
  return runKernel(backend, "Reshape", { x }, { shape });
}

/** `t` viewed as [rows, cols], transposed; what it makes is added to `temps`. */
function transpose2d(
  backend: WasmBackend,
  t: TensorInfo,
  rows: number,
  cols: number,
  temps: TensorInfo[],
): TensorInfo {
  const flat = reshape(backend, t, [rows, cols]);
  temps.push(flat);
  const out = runKernel(backend, "Transpose", { x: flat }, { perm: [1, 0] });
  temps.push(out);
  return out;
}

/**
 * `a` viewed as [m, k] times `b` viewed as [k, n] with the backend's
 * XNNPACK path (both untransposed, batch 1); the [m, n] result is added to
 * `temps`.
 */
function matMul(
  backend: WasmBackend,
  a: TensorInfo,
  m: number,
  k: number,
  b: TensorInfo,
  n: number,
  temps: TensorInfo[],
): TensorInfo {
  const a3 = reshape(backend, a, [1, m, k]);
  temps.push(a3);
  const b3 = reshape(backend, b, [1, k, n]);
  temps.push(b3);
  const out = runKernel(backend, "BatchMatMul", { a: a3, b: b3 }, {
    transposeA: false,
    transposeB: false,
  });
  temps.push(out);
  const view = reshape(backend, out, [m, n]);
  temps.push(view);
  return view;
}

function free(backend: WasmBackend, temps: TensorInfo[]): void {
  for (const t of temps) backend.disposeData(t.dataId);
  temps.length = 0;
}

// ---------------------------------------------------------------------------
// Attributes

function convInfo(
  name: string,
  inShape: number[],
  filterShape: number[],
  attrs: Record<string, unknown>,
  depthwise: boolean,
): Conv2DInfo {
  const dilations = (attrs.dilations ?? 1) as number | [number, number];
  const d = typeof dilations === "number" ? [dilations, dilations] : dilations;
  if (d[0] !== 1 || d[1] !== 1) {
    throw new Error(
      `${name} (wasm gradient kernels): dilations ${
        JSON.stringify(dilations)
      } are not supported; only 1`,
    );
  }
  if (inShape.length !== 4 || filterShape.length !== 4) {
    throw new Error(
      `${name} (wasm gradient kernels): expected a 4-D input and filter, got ` +
        `[${inShape}] and [${filterShape}]`,
    );
  }
  return tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as "same",
    attrs.dimRoundingMode as "floor" | undefined,
    depthwise,
    "channelsLast",
  );
}

function checkNhwc(name: string, dataFormat: unknown): void {
  if (dataFormat != null && dataFormat !== "NHWC") {
    throw new Error(
      `${name} (wasm gradient kernels): dataFormat "${dataFormat}" is not ` +
        `supported; only "NHWC" (channelsLast)`,
    );
  }
}

function checkFloat32(name: string, ...ts: TensorInfo[]): void {
  for (const t of ts) {
    if (t.dtype !== "float32") {
      throw new Error(
        `${name} (wasm gradient kernels): expected float32 tensors, got ${t.dtype}`,
      );
    }
  }
}

/** A 1×1, stride-1, unpadded convolution: a plain matrix product. */
function isPointwise(info: Conv2DInfo): boolean {
  return info.filterHeight === 1 && info.filterWidth === 1 &&
    info.strideHeight === 1 && info.strideWidth === 1 &&
    info.padInfo.top === 0 && info.padInfo.left === 0 &&
    info.outHeight === info.inHeight && info.outWidth === info.inWidth;
}
