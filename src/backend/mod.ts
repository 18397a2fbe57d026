/**
 * TF.js' backends: choosing and starting one (`backend.ts`: WebGPU on a
 * hardware adapter, else WASM, else CPU; `set_backend.ts`), probing WebGPU
 * (`webgpu_probe.ts`), starting WASM from the installed package
 * (`wasm_backend.ts`), and the convolution gradient kernels WASM lacks
 * (`wasm_grad_kernels.ts`, with `_wasm_kernel_ops.ts` and
 * `_wasm_grad_loops.ts`).
 *
 * @module
 */

export {
  type BackendName,
  type BackendRequest,
  type BackendSelection,
  selectBackend,
  type SelectBackendOptions,
} from "./backend.ts";
export { BackendError, silenceNodeBanner } from "./set_backend.ts";
export { wasmThreads } from "./wasm_backend.ts";
export { registerWasmGradientKernels } from "./wasm_grad_kernels.ts";
export {
  type GpuAdapterLike,
  type GpuLike,
  type GpuProbe,
  probeWebGpu,
} from "./webgpu_probe.ts";
