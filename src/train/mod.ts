/**
 * Train stage: the backend (backend.ts with webgpu_probe.ts, wasm_backend.ts,
 * set_backend.ts), the feature plan (plan.ts) and the training inputs it
 * leads to (inputs.ts, features.ts, sources.ts, augment.ts), the fit loop
 * (fit.ts), the frozen and fine-tuning stages (stages.ts), and evaluation
 * (evaluate.ts, validate.ts).
 *
 * @module
 */

export * from "./backend.ts";
export * from "./webgpu_probe.ts";
export * from "./wasm_backend.ts";
export * from "./set_backend.ts";
export * from "./plan.ts";
export * from "./inputs.ts";
export * from "./features.ts";
export * from "./sources.ts";
export * from "./augment.ts";
export * from "./fit.ts";
export * from "./stages.ts";
export * from "./evaluate.ts";
export * from "./validate.ts";
export * from "./frozen_engine.ts";
export * from "./early_stopping.ts";
export * from "./best_checkpoint.ts";
export * from "./prefix_cache.ts";
export * from "./keras_optimizers.ts";
export * from "./head_output.ts";
export * from "./wasm_grad_kernels.ts";
