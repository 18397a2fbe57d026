/**
 * `deno task lr-find [--config FILE] [--set dotted.key=value ...]
 * [--start-lr X] [--end-lr Y] [--num-it N] [--no-stop-div]`: fastai's
 * learning-rate finder on the config's cached features; prints the
 * suggestions and writes `lr_find.svg` and `lr_find.json` into a new folder.
 *
 * @module
 */

import { loadConfig, parseLrFindArgs, runLrFind } from "../mod.ts";
import { LR_FIND_DEFAULTS } from "../src/train/lr_find.ts";
import { runTask } from "./_run_task.ts";

const d = LR_FIND_DEFAULTS;
const HELP =
  `Usage: deno task lr-find [--config FILE] [--set dotted.key=value ...] [sweep flags]

fastai's learning-rate finder: runs fetch → unzip → decode → build → features
(cached, as deno task train does), then trains a fresh head for one batch at
each learning rate of an exponential sweep, with train.optimizer, recording the
smoothed loss (beta ${d.beta}) until it passes 4x its best. Prints the suggested
learning rates (valley, fastai's default; minimum; steep) and writes
lr_find.svg, lr_find.json and config.json into
<output.dir>/<name>-lr-find-<UTC timestamp>/. Nothing is trained for keeps.

  -c, --config FILE    config file (default: train.config.json)
      --set KEY=VALUE  override a config key (as for deno task train)
      --start-lr X     first learning rate (default ${d.startLr})
      --end-lr Y       learning rate the sweep heads for (default ${d.endLr})
      --num-it N       batches at most (default ${d.numIt}; at least 6 run)
      --no-stop-div    do not stop when the loss diverges
  -h, --help           this help
`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseLrFindArgs(Deno.args, LR_FIND_DEFAULTS);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const config = await loadConfig(args.config, args.set);
  const stop = new AbortController();
  const onSigint = () => {
    if (stop.signal.aborted) Deno.exit(130);
    console.error(
      "\ninterrupt: ending the sweep after the current batch (Ctrl-C again to quit now)",
    );
    stop.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    const r = await runLrFind(config, {
      signal: stop.signal,
      finder: {
        startLr: args.startLr,
        endLr: args.endLr,
        numIt: args.numIt,
        stopDiv: args.stopDiv,
      },
    });
    for (const line of r.summary) console.log(line);
    console.log(`outputs: ${r.dir} (lr_find.svg, lr_find.json)`);
    return r.stopReason === "interrupted" ? 130 : 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

await runTask(main, "interrupted before the sweep started");
