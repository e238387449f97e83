#!/usr/bin/env bash
# Training samples per second of the single-stream model at BERT-base size (12 layers, hidden 768, text
# 256 tokens + 32 frames, batch 8, fp32, CPU, 2 threads): vidtag against the same model in PyTorch
# (transformers' BertModel), alternating rounds in one run; medians, the ratio and both peak memories.
# With --kind dual_stream, the dual-stream model (12-layer text tower, --video-layers, --fusion-layers).
# Usage: bench/train-step.sh [--rounds N] [options of both sides: --batch, --text, --frames, --iterations,
#        --threads, --device cuda, --precision bf16, --kind dual_stream, --video-layers N, --fusion-layers N]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=2; extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2;;
    *) extra+=("$1"); shift;;
  esac
done
py="${PYTHON:-.deps/venv/bin/python}"
bin="${VIDTAG_BENCH:-}"
if [ -z "$bin" ]; then
  swift build -c release --product vidtag-bench 2>&1 | tail -1
  bin=.build/release/vidtag-bench
fi
"$py" bench/compare.py --rounds "$rounds" --label "train step ${extra[*]:-single_stream b8 t256 f32 cpu fp32}" \
  --samples-per-step "$(echo "${extra[@]}" | sed -n 's/.*--batch \([0-9]*\).*/\1/p')" -- \
  "$bin" train-step "${extra[@]}" --- "$py" bench/python/train_step_bench.py "${extra[@]}"
