/**
 * `deno task prepare [--config FILE] [--set dotted.key=value ...]`: warms a
 * machine's caches for a config without training — fetch → unzip → decode →
 * features — so that later `deno task train` runs that change only head
 * settings start at training.
 *
 * @module
 */

import { loadConfig, parseConfigArgs } from "../mod.ts";
import { runTask } from "./_run_task.ts";
import { prepareCaches } from "../src/run.ts";

const HELP =
  `Usage: deno task prepare [--config FILE] [--set dotted.key=value ...]

Runs fetch → unzip → decode → features for the config (default:
train.config.json) and stops before training: the download, the extracted
archive, the decoded images and (when the config caches them) the features
are then in the cache folder (data.cacheDir).

  -c, --config FILE    config file (default: train.config.json)
      --set KEY=VALUE  override a config key (as for deno task train)
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
  const onSigint = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    const started = performance.now();
    const r = await prepareCaches(config, { signal: stop.signal });
    console.error(
      `prepared in ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s: ${r.images.train} training and ${r.images.validation} validation images decoded; features ${
        r.featureCache.used
          ? (r.featureCache.reused ? "already cached" : "computed and cached")
          : `not cached (${r.featureCache.reason})`
      }`,
    );
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

await runTask(main);
