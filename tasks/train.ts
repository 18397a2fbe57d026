/**
 * `deno task train [--config FILE] [--set dotted.key=value ...]`: runs the
 * training job described by the config (default `train.config.json`).
 * Ctrl-C stops after the current batch and still writes the outputs; a
 * second Ctrl-C exits at once.
 *
 * @module
 */

import { loadConfig, parseConfigArgs, runTraining } from "../mod.ts";
import { runTask } from "./_run_task.ts";

const HELP =
  `Usage: deno task train [--config FILE] [--set dotted.key=value ...]

Runs fetch → unzip → decode → build the base (model.architecture) → train →
write outputs into <output.dir>/<name>-<UTC timestamp>/ (metrics.csv, charts.svg, confusion.svg,
summary.json, config.json, model/).

  -c, --config FILE    config file (default: train.config.json)
      --set KEY=VALUE  override a config key; VALUE is parsed as JSON when it
                       parses, e.g. --set train.epochs=3 --set data.imageSize=[96,96]
  -h, --help           this help
`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseConfigArgs(Deno.args);
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
      "\ninterrupt: stopping after the current batch (Ctrl-C again to quit now)",
    );
    stop.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    const { dir, summary } = await runTraining(config, { signal: stop.signal });
    const best = summary.best;
    console.error(
      `done in ${
        summary.seconds.total.toFixed(1)
      } s: ${summary.epochs} epochs` +
        (best
          ? `, best val_accuracy ${
            best.val_accuracy.toFixed(4)
          } (epoch ${best.epoch})`
          : "") +
        `\noutputs: ${dir}`,
    );
    if (summary.stopReason === "non-finite-loss") return 1;
    return summary.stopReason === "interrupted" ? 130 : 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

// Ctrl-C while downloading, decoding or computing features: nothing was
// trained yet, so there are no metrics to keep.
await runTask(main, "interrupted before training started");
