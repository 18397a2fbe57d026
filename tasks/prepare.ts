/**
 * `deno task prepare [--config FILE] [--set dotted.key=value ...]
 * [--shard I/N | --shard-count N]`: warms a machine's caches for a config
 * without training — fetch → unzip → decode → features — so that later
 * `deno task train` runs that change only head settings start at training.
 * With a shard (the flag, or a job runner's environment), only that shard's
 * images are decoded and their features written as shard entries, which a
 * later run merges.
 *
 * @module
 */

import { loadConfig, parseConfigArgs } from "../mod.ts";
import { runTask } from "./_run_task.ts";
import { prepareCaches } from "../src/run.ts";
import { resolveShard, ShardError } from "../src/data/_shard.ts";

const HELP =
  `Usage: deno task prepare [--config FILE] [--set dotted.key=value ...]
                         [--shard I/N | --shard-count N]

Runs fetch → unzip → decode → features for the config (default:
train.config.json) and stops before training: the download, the extracted
archive, the decoded images and (when the config caches them) the features
are then in the cache folder (data.cacheDir).

  -c, --config FILE    config file (default: train.config.json)
      --set KEY=VALUE  override a config key (as for deno task train)
      --shard I/N      prepare only shard I (0-based) of N: decode and
                       extract features of that 1/N of the images (by a
                       hash of each file's path) into the shared cache
                       folder; a later train run merges the shards
      --shard-count N  the shard count, for job runners that set only an
                       index (Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX;
                       AWS Batch: AWS_BATCH_JOB_ARRAY_INDEX); also SHARD_COUNT.
                       Slurm arrays (SLURM_ARRAY_TASK_ID, _COUNT) and Cloud
                       Run Jobs (CLOUD_RUN_TASK_INDEX, _COUNT) need neither
  -h, --help           this help
`;

/** Takes `--shard` and `--shard-count` out of `args` (the rest is parseConfigArgs'). */
function shardFlags(args: readonly string[]) {
  const rest: string[] = [];
  const flags: { shard?: string; shardCount?: string } = {};
  for (let i = 0; i < args.length; i++) {
    const m = /^--(shard|shard-count)(?:=(.*))?$/.exec(args[i]);
    if (!m) {
      rest.push(args[i]);
      continue;
    }
    const value = m[2] ?? args[++i];
    if (value === undefined) throw new ShardError(`--${m[1]}: expects a value`);
    flags[m[1] === "shard" ? "shard" : "shardCount"] = value;
  }
  return { rest, flags };
}

async function main(): Promise<number> {
  let args, shard;
  try {
    const { rest, flags } = shardFlags(Deno.args);
    args = parseConfigArgs(rest);
    shard = resolveShard(flags, Deno.env.toObject());
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
    const r = await prepareCaches(config, { signal: stop.signal, shard });
    console.error(
      `prepared${shard ? ` shard ${shard.index}/${shard.count}` : ""} in ${
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
