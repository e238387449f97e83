#!/usr/bin/env bash
# Data-parallel training steps over Gloo, N processes x 1 thread on this machine, both sides started by
# torchrun: vidtag (DataParallel, the gradient all-reduce inside the backward pass) against PyTorch
# DistributedDataParallel on the same model (bench/train-step.sh's two sides), alternating rounds in one
# run; then vidtag with the all-reduce inside backward against vidtag with it after backward. Each rank
# trains on its own batch of --batch videos; samples/s count every rank's.
# Usage: bench/ddp-step.sh [--rounds N] [--nproc N] [options of both sides as bench/train-step.sh]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=2; nproc=2; extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2;;
    --nproc) nproc="$2"; shift 2;;
    *) extra+=("$1"); shift;;
  esac
done
py="${PYTHON:-.deps/venv/bin/python}"
torchrun="$(dirname "$py")/torchrun"
bin="${VIDTAG_BENCH:-}"
if [ -z "$bin" ]; then
  swift build -c release --product vidtag-bench 2>&1 | tail -1
  bin=.build/release/vidtag-bench
fi
batch="$(echo "${extra[@]:-}" | sed -n 's/.*--batch \([0-9]*\).*/\1/p')"
per_step=$(( ${batch:-8} * nproc ))
launch=("$torchrun" --standalone --nproc_per_node "$nproc")
label="data-parallel step, $nproc ranks x 1 thread, ${extra[*]:-single_stream b8 t256 f32}"
"$py" bench/compare.py --rounds "$rounds" --label "$label" --samples-per-step "$per_step" -- \
  "${launch[@]}" --no-python "$bin" train-step --threads 1 "${extra[@]}" --- \
  "${launch[@]}" bench/python/train_step_bench.py --ddp --threads 1 "${extra[@]}"
"$py" bench/compare.py --rounds "$rounds" --label "$label, overlap" --samples-per-step "$per_step" -- \
  "${launch[@]}" --no-python "$bin" train-step --threads 1 "${extra[@]}" --- \
  "${launch[@]}" --no-python "$bin" train-step --threads 1 --overlap no "${extra[@]}"
