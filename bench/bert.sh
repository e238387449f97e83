#!/usr/bin/env bash
# A whole BERT-base forward (batch 8, seq 256, fp32, eval, no grad, 2 threads by default): vidtag's
# BertModel against Hugging Face transformers' BertModel on the same weights (a random-weight folder that
# the Swift side writes once as config.json + model.safetensors), alternating rounds in one run; prints
# the medians and the ratio (time; < 1 means vidtag is faster).
# Usage: bench/bert.sh [--rounds N] [any option of both sides: --batch, --sequence, --iterations,
#        --threads, --no-mask, --device cuda]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3; extra=()
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
work=$(mktemp -d /tmp/vidtag-bert-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$bin" bert --folder "$work/bert-base" --create
"$py" bench/compare.py --rounds "$rounds" --label "BERT-base forward ${extra[*]:-b8 t256 cpu fp32}" -- \
  "$bin" bert --folder "$work/bert-base" "${extra[@]}" --- \
  "$py" bench/python/bert_bench.py --folder "$work/bert-base" "${extra[@]}"
