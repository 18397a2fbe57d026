/**
 * Command-line parsing shared by the `tasks/*.ts` scripts: `--config FILE`
 * and repeatable `--set dotted.key=value` overrides, via `node:util`
 * `parseArgs`; and `runTask`, the exit codes every task shares.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ConfigError } from "./load.ts";

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
 * parseConfigArgs(["--set", "train.epochs=3", "--set=data.imageSize=[96,96]"]);
 * // { config: "train.config.json", set: ["train.epochs=3", "data.imageSize=[96,96]"], ... }
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

/**
 * Runs a task's `main` and exits with the code it returns. A config error
 * exits 2 with its message; a stop request before `main` could finish
 * (an `AbortError`) exits 130 with `abortMessage`; any other error exits 1
 * with `error: <message>`.
 */
export async function runTask(
  main: () => Promise<number>,
  abortMessage = "interrupted",
): Promise<never> {
  try {
    Deno.exit(await main());
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      Deno.exit(2);
    }
    if (err instanceof DOMException && err.name === "AbortError") {
      console.error(abortMessage);
      Deno.exit(130);
    }
    console.error(`error: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
