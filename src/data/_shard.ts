/**
 * Shard selection for `prepare --shard I/N`: parsing the flag, reading the
 * shard from a job runner's environment, and the stable assignment of an
 * image to a shard.
 *
 * An image's shard comes from a hash of its path relative to the dataset
 * root ({@link shardKeyOfFile}), not from its index in the listing: adding or
 * removing one image then moves no other image to another shard, and a
 * process learns which images are its own without reading any other file
 * (a content hash would make every process read the whole dataset). What a
 * shard's cache entries hold is still keyed by content (the images' pixels
 * and labels), so a changed file invalidates its shard's entry only.
 *
 * @module
 */

import { relative, sep } from "node:path";
import { sha256Hex } from "../util/hash.ts";

/** A zero-based shard index and the shard count. */
export interface Shard {
  /** Zero-based index, 0 ≤ index < count. */
  index: number;
  /** Number of shards, ≥ 1. */
  count: number;
}

/** A bad shard flag or environment; the message names the source. */
export class ShardError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ShardError";
  }
}

function int(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new ShardError(
      `${what}: expected a non-negative integer, found "${text}"`,
    );
  }
  return Number(text.trim());
}

function check(shard: Shard, what: string): Shard {
  if (shard.count < 1) {
    throw new ShardError(
      `${what}: the shard count must be ≥ 1, found ${shard.count}`,
    );
  }
  if (shard.index >= shard.count) {
    throw new ShardError(
      `${what}: shard index ${shard.index} is not below the count ${shard.count} (indices start at 0)`,
    );
  }
  return shard;
}

/** Parses `I/N` (zero-based I), as given to `--shard`. */
export function parseShardSpec(spec: string, what = "--shard"): Shard {
  const m = /^\s*([^/]+)\/([^/]+)\s*$/.exec(spec);
  if (!m) {
    throw new ShardError(`${what}: expected I/N (e.g. 0/4), found "${spec}"`);
  }
  return check({ index: int(m[1], what), count: int(m[2], what) }, what);
}

/**
 * The shard a job runner assigned through the environment, or null when none
 * did. Kubernetes Indexed Jobs (`JOB_COMPLETION_INDEX`), Slurm arrays
 * (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`, count
 * `SLURM_ARRAY_TASK_COUNT`), Cloud Run Jobs (`CLOUD_RUN_TASK_INDEX`,
 * `CLOUD_RUN_TASK_COUNT`) and AWS Batch (`AWS_BATCH_JOB_ARRAY_INDEX`). Runners
 * that do not export a count need `count` (from a flag or `SHARD_COUNT`). Two
 * runners' variables at once, or an index without a count, are errors.
 */
export function shardFromEnv(
  env: Record<string, string | undefined>,
  count?: number,
): Shard | null {
  const given = count ??
    (env.SHARD_COUNT !== undefined
      ? int(env.SHARD_COUNT, "SHARD_COUNT")
      : undefined);
  const found: { what: string; index: number; count?: number }[] = [];
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    found.push({
      what: "JOB_COMPLETION_INDEX",
      index: int(env.JOB_COMPLETION_INDEX, "JOB_COMPLETION_INDEX"),
    });
  }
  if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    const id = int(env.SLURM_ARRAY_TASK_ID, "SLURM_ARRAY_TASK_ID");
    const min = env.SLURM_ARRAY_TASK_MIN !== undefined
      ? int(env.SLURM_ARRAY_TASK_MIN, "SLURM_ARRAY_TASK_MIN")
      : 0;
    if (id < min) {
      throw new ShardError(
        `SLURM_ARRAY_TASK_ID ${id} is below SLURM_ARRAY_TASK_MIN ${min}`,
      );
    }
    found.push({
      what: "SLURM_ARRAY_TASK_ID",
      index: id - min,
      count: env.SLURM_ARRAY_TASK_COUNT !== undefined
        ? int(env.SLURM_ARRAY_TASK_COUNT, "SLURM_ARRAY_TASK_COUNT")
        : undefined,
    });
  }
  if (env.CLOUD_RUN_TASK_INDEX !== undefined) {
    found.push({
      what: "CLOUD_RUN_TASK_INDEX",
      index: int(env.CLOUD_RUN_TASK_INDEX, "CLOUD_RUN_TASK_INDEX"),
      count: env.CLOUD_RUN_TASK_COUNT !== undefined
        ? int(env.CLOUD_RUN_TASK_COUNT, "CLOUD_RUN_TASK_COUNT")
        : undefined,
    });
  }
  if (env.AWS_BATCH_JOB_ARRAY_INDEX !== undefined) {
    found.push({
      what: "AWS_BATCH_JOB_ARRAY_INDEX",
      index: int(env.AWS_BATCH_JOB_ARRAY_INDEX, "AWS_BATCH_JOB_ARRAY_INDEX"),
    });
  }
  if (found.length === 0) return null;
  if (found.length > 1) {
    throw new ShardError(
      `conflicting shard variables: ${
        found.map((f) => f.what).join(" and ")
      }; set only one runner's`,
    );
  }
  const [f] = found;
  if (f.count !== undefined && given !== undefined && f.count !== given) {
    throw new ShardError(
      `${f.what}: the runner's count ${f.count} differs from the given count ${given}`,
    );
  }
  const n = f.count ?? given;
  if (n === undefined) {
    throw new ShardError(
      `${f.what} is set but no shard count is: pass --shard-count N or set SHARD_COUNT`,
    );
  }
  return check({ index: f.index, count: n }, f.what);
}

/**
 * The shard key of `path`: the SHA-256 (hex) of its path relative to the
 * dataset `root`, with `/` separators, so every machine computes the same
 * key wherever the dataset lies.
 */
export function shardKeyOfFile(root: string, path: string): string {
  return sha256Hex(relative(root, path).split(sep).join("/"));
}

/**
 * The shard of this process: `--shard I/N` when given (`flag`), else the
 * job runner's environment ({@link shardFromEnv}, with `--shard-count` or
 * `SHARD_COUNT` for runners that export no count); null when neither says.
 * A `--shard-count` beside `--shard` is an error.
 */
export function resolveShard(
  flags: { shard?: string; shardCount?: string },
  env: Record<string, string | undefined>,
): Shard | null {
  if (flags.shard !== undefined) {
    if (flags.shardCount !== undefined) {
      throw new ShardError(
        "--shard-count: not with --shard I/N, which gives the count",
      );
    }
    return parseShardSpec(flags.shard);
  }
  const count = flags.shardCount === undefined
    ? undefined
    : int(flags.shardCount, "--shard-count");
  const shard = shardFromEnv(env, count);
  if (shard === null && count !== undefined) {
    throw new ShardError(
      "--shard-count is given but no shard index is: pass --shard I/N, or run under a job runner that sets one (JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID, CLOUD_RUN_TASK_INDEX, AWS_BATCH_JOB_ARRAY_INDEX)",
    );
  }
  return shard;
}

/** The shard (0 … count − 1) of an image, from its SHA-256 hex key ({@link shardKeyOfFile}). */
export function shardOfKey(sha256Hex: string, count: number): number {
  if (!/^[0-9a-f]{16}/i.test(sha256Hex)) {
    throw new ShardError(`not a SHA-256 hex key: "${sha256Hex}"`);
  }
  // 52 bits of the hash: exact in a double, uniform enough for any count.
  const high = parseInt(sha256Hex.slice(0, 13), 16);
  return high % count;
}
