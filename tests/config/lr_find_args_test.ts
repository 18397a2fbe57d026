/**
 * `deno task lr-find`'s flags (src/config/lr_find_args.ts): the config
 * flags as for train, the sweep's flags as numbers, and errors naming the
 * flag for every bad value.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseLrFindArgs } from "../../src/config/lr_find_args.ts";

const DEFAULTS = { startLr: 1e-7, endLr: 10 };

Deno.test("parseLrFindArgs: config flags and sweep flags", () => {
  assert.deepEqual(parseLrFindArgs([], DEFAULTS), {
    config: "train.config.json",
    set: [],
    help: false,
  });
  assert.deepEqual(
    parseLrFindArgs([
      "-c",
      "a.json",
      "--set",
      "train.optimizer=sgd",
      "--start-lr=1e-6",
      "--end-lr",
      "0.5",
      "--num-it",
      "200",
      "--no-stop-div",
    ], DEFAULTS),
    {
      config: "a.json",
      set: ["train.optimizer=sgd"],
      help: false,
      startLr: 1e-6,
      endLr: 0.5,
      numIt: 200,
      stopDiv: false,
    },
  );
  assert.equal(parseLrFindArgs(["-h"]).help, true);
});

Deno.test("parseLrFindArgs: bad values name the flag", () => {
  const cases: [string[], RegExp][] = [
    [["--num-it", "ten"], /--num-it: expected an integer >= 1, found "ten"$/],
    [["--num-it", "2.5"], /--num-it: expected an integer >= 1, found "2\.5"/],
    [["--num-it", "0"], /--num-it: expected an integer >= 1, found "0"/],
    [
      ["--start-lr=-1"],
      /--start-lr: expected a positive number \(e\.g\. 1e-7\), found "-1"/,
    ],
    [["--end-lr", ""], /--end-lr: expected a positive number/],
    [["--end-lr", "Infinity"], /--end-lr: expected a positive number/],
    [
      ["--start-lr", "1", "--end-lr", "0.1"],
      /--end-lr \(0\.1\) must be greater than --start-lr \(1\)$/,
    ],
    [
      ["--end-lr", "1e-9"],
      /--end-lr \(1e-9\) must be greater than the default --start-lr \(1e-7\)/,
    ],
    [
      ["--start-lr", "100"],
      /the default --end-lr \(10\) must be greater than --start-lr \(100\)/,
    ],
    [["--num-its", "3"], /Unknown option '--num-its'/],
    [["images/"], /Unexpected argument 'images\/'/],
    [["--end-lr"], /--end-lr/],
  ];
  for (const [args, rx] of cases) {
    assert.throws(() => parseLrFindArgs(args, DEFAULTS), rx, args.join(" "));
  }
});
