/**
 * What the WASM gradient kernels share: the types of TF.js' kernel calls,
 * calling the WASM backend's own kernels (reshape, transpose, matMul,
 * delegation) with every temporary freed, and the convolution attributes
 * (shapes, padding, the checks that name an unsupported attribute).
 *
 * @module
 */

import * as tf from "../deps/tf.ts";

export type TensorInfo = tf.TensorInfo;
export type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;
export type ExplicitPadding = [[number, number], [number, number], [
  number,
  number,
], [number, number]];

/** The part of TF.js' `BackendWasm` these kernels use. */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: unknown): boolean;
}

export interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}

/** Names of the kernels {@link registerWasmGradientKernels} registers for "wasm". */

// ---------------------------------------------------------------------------
// Calling the backend's kernels
//
// Every intermediate a kernel makes (outputs, reshaped views) goes into its
// `temps` list and is disposed before it returns; what it returns is a fresh
// reference (a new output, or a reshape holding its own reference).

/** Runs one of the backend's own kernels that these replace. */
export function delegate(
  kernel: tf.KernelConfig,
  args: KernelArgs,
): TensorInfo {
  // Its setup (binding the WASM export) ran only if the backend started while
  // it was registered.
  kernel.setupFunc?.(args.backend as tf.KernelBackend);
  return kernel.kernelFunc(
    args as unknown as Parameters<tf.KernelFunc>[0],
  ) as TensorInfo;
}

export function runKernel(
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

export function reshape(
  backend: WasmBackend,
  x: TensorInfo,
  shape: number[],
): TensorInfo {
  return runKernel(backend, "Reshape", { x }, { shape });
}

/** `t` viewed as [rows, cols], transposed; what it makes is added to `temps`. */
export function transpose2d(
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
export function matMul(
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

export function free(backend: WasmBackend, temps: TensorInfo[]): void {
  for (const t of temps) backend.disposeData(t.dataId);
  temps.length = 0;
}

// ---------------------------------------------------------------------------
// Attributes

export function convInfo(
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

export function checkNhwc(name: string, dataFormat: unknown): void {
  if (dataFormat != null && dataFormat !== "NHWC") {
    throw new Error(
      `${name} (wasm gradient kernels): dataFormat "${dataFormat}" is not ` +
        `supported; only "NHWC" (channelsLast)`,
    );
  }
}

export function checkFloat32(name: string, ...ts: TensorInfo[]): void {
  for (const t of ts) {
    if (t.dtype !== "float32") {
      throw new Error(
        `${name} (wasm gradient kernels): expected float32 tensors, got ${t.dtype}`,
      );
    }
  }
}

/** A 1×1, stride-1, unpadded convolution: a plain matrix product. */
export function isPointwise(info: Conv2DInfo): boolean {
  return info.filterHeight === 1 && info.filterWidth === 1 &&
    info.strideHeight === 1 && info.strideWidth === 1 &&
    info.padInfo.top === 0 && info.padInfo.left === 0 &&
    info.outHeight === info.inHeight && info.outWidth === info.inWidth;
}
