#!/usr/bin/env bash
# A ViT-B/16 frame encoder, forward + backward over one video (8 frames at 224 px, 2 threads, fp32 by default):
# vidtag's ViTModel against transformers' ViTModel on the same random weights (one folder written by
# bench/python/vit_bench.py --make), alternating rounds; prints medians and their ratio.
# Usage: bench/vit.sh [--device cuda] [--precision bf16] [--frames N] [--threads N] [--rounds N]
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
  swift build -c release --product vidtag-bench >/dev/null
  bin=.build/release/vidtag-bench
fi
folder="$(mktemp -d)"
trap 'rm -rf "$folder"' EXIT
"$py" bench/python/vit_bench.py --folder "$folder" --make
"$py" bench/compare.py --rounds "$rounds" --label "ViT-B/16 encoder fwd+bwd ${extra[*]:-8 frames cpu fp32}" -- \
  "$bin" vit --folder "$folder" "${extra[@]}" --- "$py" bench/python/vit_bench.py --folder "$folder" "${extra[@]}"
