#!/usr/bin/env bash
# CPU inference latency of the single-stream model at batch 1 and 8 (fp32, eval, no grad, logits read back):
# make demo's model (2 layers × 128, 68 text tokens + 8 frame features) and a BERT-base-size one (12 × 768,
# 256 + 32), vidtag against the same model in PyTorch eager from Python (transformers' BertModel) on the same
# weights, alternating rounds in one run; prints each case's medians and the ratio (time; < 1: vidtag faster).
# Usage: bench/latency.sh [--rounds N] [--sizes "demo base"] [--batches "1 8"] [options of both sides:
#        --iterations, --warmup, --threads]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3; sizes="demo base"; batches="1 8"; extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2;;
    --sizes) sizes="$2"; shift 2;;
    --batches) batches="$2"; shift 2;;
    *) extra+=("$1"); shift;;
  esac
done
py="${PYTHON:-.deps/venv/bin/python}"
bin="${VIDTAG_BENCH:-}"
if [ -z "$bin" ]; then
  swift build -c release --product vidtag-bench 2>&1 | tail -1
  bin=.build/release/vidtag-bench
fi
work=$(mktemp -d /tmp/vidtag-latency-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
for size in $sizes; do
  "$bin" infer --size "$size" --weights "$work/$size.safetensors" --iterations 1 --warmup 0 >/dev/null
  for batch in $batches; do
    "$py" bench/compare.py --rounds "$rounds" --label "latency $size b$batch ${extra[*]:-}" -- \
      "$bin" infer --size "$size" --batch "$batch" --weights "$work/$size.safetensors" "${extra[@]}" --- \
      "$py" bench/python/infer_bench.py --size "$size" --batch "$batch" --weights "$work/$size.safetensors" "${extra[@]}"
  done
done
