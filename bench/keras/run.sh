#!/usr/bin/env bash
# The parity report: the reference-sized job (3,000 generated JPEGs, 160 px,
# batch 32, 10 epochs; + augmentation; + 10 fine-tuning epochs from layer 100)
# in real Keras and in deno-transfer, one after the other on the same data and
# machine, printing wall time and final accuracy side by side.
#
#   bash bench/keras/run.sh [PYTHON] [CASES]
#
# PYTHON: a Python with keras 3.15 + tensorflow-cpu 2.21 (make one with
# ../shared/tools/keras-venv.sh DIR; default .cache/kerasenv/bin/python).
# CASES: comma-separated, of frozen, augmented, fine_tune, tutorial (default:
# all; tutorial is the TF tutorial preset: augmentation, Dropout(0.2) + logit
# head, 10 + 10 epochs).
# TRAIN_ENGINES (env): engine.train values of the fine-tuning and tutorial
# cases, each its own row (default auto: ONNX Runtime here; add tfjs for
# TF.js' WASM path, ~15 min more per case).
# Optional: CI never runs it and nothing else needs Python.
set -euo pipefail
cd "$(dirname "$0")/../.."
py=${1:-.cache/kerasenv/bin/python}
cases=${2:-frozen,augmented,fine_tune,tutorial}
out=$(mktemp -d)
# deno-transfer's names for the same cases.
deno_cases=$(sed -e 's/frozen/cached/; s/fine_tune/fine-tune/' <<<"$cases")

echo "== deno-transfer (engine.frozen auto: ONNX Runtime for the frozen base here)" >&2
deno run --allow-read --allow-write --allow-env --allow-sys --allow-run --allow-ffi \
  bench/reference_job.ts --cases "$deno_cases" --engines auto \
  --train-engines "${TRAIN_ENGINES:-auto}" --json "$out/deno.json" >&2
echo "== Keras" >&2
"$py" bench/keras/reference_job.py --cases "$cases" | tee "$out/keras.jsonl" >&2

deno run --allow-read "$(dirname "$0")/table.ts" "$out/deno.json" "$out/keras.jsonl"
