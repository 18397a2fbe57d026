/**
 * Config stage: the zod schema of `train.config.json` (`schema.ts`) and the
 * types generated from it (`types.ts`), loading with `--set` overrides and
 * clear errors (`load.ts`), the command-line flags (`cli.ts`; `deno task
 * lr-find`'s in `lr_find_args.ts`), and the
 * generated JSON Schema, types and README reference (`docs.ts`).
 *
 * @module
 */

export { type ConfigArgs, parseConfigArgs } from "./cli.ts";
export { type LrFindArgs, parseLrFindArgs } from "./lr_find_args.ts";
export {
  configJsonSchema,
  type ConfigKeyDoc,
  configKeyDocs,
  configReferenceMarkdown,
  configTypesSource,
} from "./docs.ts";
export {
  applyOverrides,
  ConfigError,
  loadConfig,
  parseConfig,
  parseOverride,
} from "./load.ts";
export {
  type Architecture,
  type ArchitectureChoice,
  type ArchitectureIssue,
  architectureIssues,
  ARCHITECTURES,
  KERAS_APPLICATION_NAMES,
  MOBILENET_V2_ALPHAS,
} from "./architecture.ts";
export { ConfigSchema, REFERENCE_DATASET_URL } from "./schema.ts";
export {
  type AugmentConfig,
  type AugmentConfigInput,
  type Config,
  type ConfigInput,
  type DataConfig,
  type DataConfigInput,
  type EngineConfig,
  type EngineConfigInput,
  type FineTuneConfig,
  type FineTuneConfigInput,
  type FineTuneLrScheduleConfig,
  type FineTuneLrScheduleConfigInput,
  type FineTuneReduceLrOnPlateauConfig,
  type FineTuneReduceLrOnPlateauConfigInput,
  type ModelConfig,
  type ModelConfigInput,
  type ModelHeadConfig,
  type ModelHeadConfigInput,
  type OutputConfig,
  type OutputConfigInput,
  type TrainConfig,
  type TrainConfigInput,
  type TrainEarlyStoppingConfig,
  type TrainEarlyStoppingConfigInput,
  type TrainLrScheduleConfig,
  type TrainLrScheduleConfigInput,
  type TrainReduceLrOnPlateauConfig,
  type TrainReduceLrOnPlateauConfigInput,
} from "./types.ts";
