#!/usr/bin/env bash
# `make demo`: the main job end to end on the built-in demo data, on the CPU.
#   doctor → make-demo (WeChat layout, deterministic) → train the single-stream model → evaluate on the
#   held-out fold and on test_a → predict test_a → check the submission → the score table.
# Usage: scripts/demo.sh VIDTAG_BINARY DEMO_DIR SEED
set -euo pipefail
bin="${1:-.build/release/vidtag}"
dir="${2:-demo}"
seed="${3:-7}"
data="$dir/data"
run="$dir/run"
bold=$'\e[1m'; plain=$'\e[0m'
[ -t 1 ] || { bold=""; plain=""; }
step() { echo; echo "${bold}== $* ==${plain}"; }
started=$(date +%s)

step "1/6 vidtag doctor"
"$bin" doctor --threads 2

step "2/6 demo data (Chinese news text decides level 1, handwritten digits in the frames decide level 2)"
if [ -f "$data/demo.json" ]; then
  echo "reusing $data (delete it or run 'make clean-demo' to rebuild)"
else
  "$bin" make-demo --out "$data" --seed "$seed"
fi

step "3/6 train the single-stream model (BERT over [CLS] text [SEP] frames [SEP], from random weights)"
"$bin" train --data "$data" --out "$run" --force \
  --set seed="$seed" \
  --set model.kind=single_stream --set model.layers=2 --set model.hidden=128 --set model.heads=4 \
  --set model.intermediate=256 --set model.dropout=0.1 \
  --set data.title_tokens=24 --set data.asr_tokens=24 --set data.ocr_tokens=16 --set data.max_frames=8 \
  --set train.epochs=5 --set train.batch_size=32 --set train.threads=1 --set data.workers=2 --set train.log_every=40 \
  --set train.warmup_ratio=0.06

step "4/6 evaluate on the held-out fold of the labelled split"
"$bin" evaluate --data "$data" --model "$run" --report "$run/heldout_report.txt"

step "5/6 predict test_a and check the submission"
"$bin" predict --data "$data" --split test_a --model "$run" --out "$dir/result.csv"
"$bin" check-submission --data "$data" --split test_a "$dir/result.csv"

step "6/6 score test_a against its truth (kept apart from the annotations)"
"$bin" evaluate --data "$data" --model "$run" --split test_a --truth "$data/test_a_truth.csv" --report "$run/test_a_report.txt"

echo
echo "${bold}done in $(( $(date +%s) - started )) s${plain}"
echo "  submission:        $dir/result.csv"
echo "  training curves:   $run/curves.svg"
echo "  per-class reports: $run/heldout_report.txt, $run/test_a_report.txt"
echo "  model folder:      $run (config.json, model.safetensors, vocab.txt, labels.json)"
