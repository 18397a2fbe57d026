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
 * The plain loops live in `wasm_grad_loops.ts`, the calls into the
 * backend's own kernels and the attribute checks in `wasm_kernel_ops.ts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "../deps/tf.ts";
 * import { selectBackend } from "./backend.ts";
 * import { registerWasmGradientKernels } from "./wasm_grad_kernels.ts";
 * await selectBackend("wasm");
 * registerWasmGradientKernels(); // model.fit now trains convolutions on wasm
 * assert.ok(tf.getKernel("Conv2DBackpropFilter", "wasm"));
 * await tf.setBackend("cpu");
 * ```
 *
 * @module
 */

import * as tf from "../deps/tf.ts";
import {
  checkFloat32,
  checkNhwc,
  convInfo,
  delegate,
  free,
  isPointwise,
  type KernelArgs,
  matMul,
  reshape,
  runKernel,
  type TensorInfo,
  transpose2d,
  type WasmBackend,
} from "./_wasm_kernel_ops.ts";
import {
  depthwiseFilterLoop,
  flipTranspose,
  im2col,
  spreadForTransposedConv,
  tileLoop,
} from "./_wasm_grad_loops.ts";

/**
 * The gradient kernels that training a convolutional base needs (also
 * `Conv2DBackpropInput` and `Tile`, which WASM has but slowly or partly):
 * every one is registered here for WASM, and `checkTrainingKernels`
 * (`src/train/stages.ts`) requires them of any backend before training.
 */
export const BASE_GRADIENT_KERNELS = [
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
