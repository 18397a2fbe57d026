#!/bin/bash
# deno task prepare sharded over a Slurm job array: task i prepares shard i of
# SLURM_ARRAY_TASK_COUNT (both read from the environment; no flag needed),
# into one data.cacheDir on a shared file system. Then one training job,
# started when every shard has finished, merges the shards and trains (see
# README "Sharded preparation"):
#
#   jid=$(sbatch --parsable examples/slurm-prepare-array.sh)
#   sbatch --dependency=afterok:$jid --cpus-per-task=16 --mem=32G \
#     --wrap "deno task train --config my.config.json \
#       --set data.cacheDir=/shared/cache/deno-transfer \
#       --set engine.frozen=onnxruntime"
#
# Use a contiguous range (--array=0-15, optionally throttled: 0-15%4); the
# shard index is SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN. A failed task
# can be resubmitted alone (sbatch --array=5 ...): the training job computes
# any shard still missing itself, and says which.
#SBATCH --job-name=deno-transfer-prepare
#SBATCH --array=0-15
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --output=prepare-%A_%a.log
set -euo pipefail

cd "$SLURM_SUBMIT_DIR"
export DENO_DIR=${DENO_DIR:-/shared/cache/deno} # Deno's module cache, shared

# engine.frozen pinned: every node (and the training job) must
# compute the same features for the run to find the shards.
deno task prepare --config "${CONFIG:-my.config.json}" \
  --set "data.cacheDir=${CACHE:-/shared/cache/deno-transfer}" \
  --set engine.frozen=onnxruntime
