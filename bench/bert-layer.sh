#!/usr/bin/env bash
# One BERT-base encoder layer, forward + backward (hidden 768, 12 heads, FFN 3072, batch 8, seq 256,
# fp32), vidtag against the same ops in PyTorch from Python on the same libtorch, alternating rounds.
# Usage: bench/bert-layer.sh [--device cuda] [--precision bf16] [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3; extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2;;
    *) extra+=("$1"); shift;;
  esac
done
make -s setup
py="${PYTHON:-.deps/venv/bin/python}"
bin="${VIDTAG_BENCH:-}"
if [ -z "$bin" ]; then
  swift build -c release --product vidtag-bench >/dev/null
  bin=.build/release/vidtag-bench
fi
"$py" bench/compare.py --rounds "$rounds" --label "BERT layer fwd+bwd ${extra[*]:-cpu fp32}" -- \
  "$bin" bert-layer "${extra[@]}" --- "$py" bench/python/bert_layer_bench.py "${extra[@]}"
