/**
 * Command-line parsing shared by the `tasks/*.ts` scripts: `--config FILE`
 * and repeatable `--set dotted.key=value` overrides, via `node:util`
 * `parseArgs`.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** Flags common to every task that reads a config. */
export interface ConfigArgs {
  /** Config file (default `train.config.json`). */
  config: string;
  /** `dotted.key=value` overrides, in the order given. */
  set: string[];
  /** `--help` was given. */
  help: boolean;
  /** Arguments that are not flags (e.g. image paths for `predict`). */
  positionals: string[];
}

/**
 * Parses `--config FILE`, `--set k=v` (repeatable) and `--help`. Unknown
 * flags fail with an error naming them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfigArgs } from "./cli.ts";
 * const args = parseConfigArgs(["--set", "train.epochs=3", "--set=data.imageSize=[96,96]"]);
 * assert.equal(args.config, "train.config.json");
 * assert.equal(args.set.join(" "), "train.epochs=3 data.imageSize=[96,96]");
 * ```
 */
export function parseConfigArgs(
  args: readonly string[],
  options: { allowPositionals?: boolean } = {},
): ConfigArgs {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      config: { type: "string", short: "c", default: "train.config.json" },
      set: { type: "string", multiple: true, default: [] },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: options.allowPositionals ?? false,
    strict: true,
  });
  return {
    config: values.config as string,
    set: values.set as string[],
    help: values.help as boolean,
    positionals,
  };
}
