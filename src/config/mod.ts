/**
 * Config stage: the zod schema of train.config.json (schema.ts), loading with
 * --set overrides and clear errors (load.ts), the command-line flags
 * (cli.ts), and the generated JSON Schema and README reference (docs.ts).
 *
 * @module
 */

export * from "./schema.ts";
export * from "./load.ts";
export * from "./cli.ts";
export * from "./docs.ts";
