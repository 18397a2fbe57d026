/**
 * deno-transfer: transfer learning for image classification on TensorFlow.js
 * in Deno, training on WebGPU (falling back to WASM/CPU).
 *
 * Every step of the `deno task train` chain is exported here so that other
 * scripts can import this module by URL and compose their own chains.
 *
 * @example
 * ```ts
 * import { loadConfig } from "https://example.com/deno-transfer/mod.ts";
 * const config = await loadConfig(null, ["train.epochs=3"]);
 * ```
 *
 * @module
 */

export {
  applyOverrides,
  type Config,
  ConfigError,
  type ConfigInput,
  configJsonSchema,
  ConfigSchema,
  loadConfig,
  MOBILENET_V2_ALPHAS,
  parseConfig,
  parseOverride,
  REFERENCE_DATASET_URL,
} from "./src/config.ts";
export { type ConfigArgs, parseConfigArgs } from "./src/cli.ts";
