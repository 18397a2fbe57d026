/**
 * The flags of `deno task lr-find`: the config flags every task shares
 * (`--config`, `--set`, `--help`) and the sweep's own, `--start-lr`,
 * `--end-lr`, `--num-it` and `--no-stop-div` (fastai's `lr_find` arguments).
 * A bad value fails with an error naming the flag and what was expected.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { ConfigArgs } from "./cli.ts";

/** What {@link parseLrFindArgs} returns: the config flags and the sweep's. */
export interface LrFindArgs extends Omit<ConfigArgs, "positionals"> {
  /** `--start-lr`, when given. */
  startLr?: number;
  /** `--end-lr`, when given. */
  endLr?: number;
  /** `--num-it`, when given. */
  numIt?: number;
  /** `--no-stop-div` turns the divergence stop off; absent: fastai's default (on). */
  stopDiv?: boolean;
}

/**
 * Parses the lr-find flags. Numbers must be finite and positive
 * (`--num-it` an integer), and the end learning rate above the start one
 * (either given or from `defaults`, the sweep's defaults); unknown flags
 * and positionals are errors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseLrFindArgs } from "./lr_find_args.ts";
 * const a = parseLrFindArgs(["--config", "my.json", "--end-lr", "1", "--no-stop-div"]);
 * assert.equal(a.config, "my.json");
 * assert.equal(a.endLr, 1);
 * assert.equal(a.stopDiv, false);
 * assert.throws(() => parseLrFindArgs(["--num-it", "ten"]), /--num-it: expected an integer/);
 * assert.throws(
 *   () => parseLrFindArgs(["--end-lr", "1e-9"], { startLr: 1e-7 }),
 *   /--end-lr \(1e-9\) must be greater than the default --start-lr \(1e-7\)/,
 * );
 * ```
 */
export function parseLrFindArgs(
  args: readonly string[],
  defaults: { startLr?: number; endLr?: number } = {},
): LrFindArgs {
  const { values } = parseArgs({
    args: [...args],
    options: {
      config: { type: "string", short: "c", default: "train.config.json" },
      set: { type: "string", multiple: true, default: [] },
      help: { type: "boolean", short: "h", default: false },
      "start-lr": { type: "string" },
      "end-lr": { type: "string" },
      "num-it": { type: "string" },
      "no-stop-div": { type: "boolean", default: false },
    },
    allowPositionals: false,
    strict: true,
  });
  const number = (flag: string, text: string | undefined, integer = false) => {
    if (text === undefined) return undefined;
    const v = Number(text);
    const ok = text.trim() !== "" && Number.isFinite(v) && v > 0 &&
      (!integer || Number.isInteger(v));
    if (!ok) {
      throw new Error(
        `--${flag}: expected ${
          integer ? "an integer >= 1" : "a positive number (e.g. 1e-7)"
        }, found "${text}"`,
      );
    }
    return v;
  };
  const startLr = number("start-lr", values["start-lr"]);
  const endLr = number("end-lr", values["end-lr"]);
  const numIt = number("num-it", values["num-it"], true);
  const start = startLr ?? defaults.startLr;
  const end = endLr ?? defaults.endLr;
  if (start !== undefined && end !== undefined && !(end > start)) {
    const named = (flag: string, v: number, given: boolean) =>
      given ? `--${flag} (${v})` : `the default --${flag} (${v})`;
    throw new Error(
      `${named("end-lr", end, endLr !== undefined)} must be greater than ${
        named("start-lr", start, startLr !== undefined)
      }`,
    );
  }
  return {
    config: values.config as string,
    set: values.set as string[],
    help: values.help as boolean,
    ...(startLr === undefined ? {} : { startLr }),
    ...(endLr === undefined ? {} : { endLr }),
    ...(numIt === undefined ? {} : { numIt }),
    ...(values["no-stop-div"] ? { stopDiv: false } : {}),
  };
}
