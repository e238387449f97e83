#!/usr/bin/env bash
# Data-parallel layouts of the demo model on this machine (docs/results/scaling.md): 1 process x 2 threads,
# 2 processes x 1 thread with the gradient all-reduce inside the backward pass, and 2 x 1 with it after
# backward; 60 steps each at a global batch of 32, alternating for --rounds rounds. Prints each run's
# training samples/s (all ranks' samples, metrics.jsonl at the last step) and wall time; then the time of
# one all-reduce of the demo model's and of BERT-base's parameter count between 2 Gloo processes (with the
# test build's vidtag-dist-worker: `swift build --build-tests`).
# Usage: bench/scaling.sh [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=2
[ "${1:-}" = "--rounds" ] && rounds="$2"
bin="${VIDTAG:-.build/release/vidtag}"
[ -x "$bin" ] || make -s build
py="${PYTHON:-.deps/venv/bin/python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" make-demo --out "$work/data" --seed 7 > /dev/null
common=(--data "$work/data" --quiet --set seed=7 --set model.kind=single_stream --set model.layers=2
  --set model.hidden=128 --set model.heads=4 --set model.intermediate=256 --set data.title_tokens=24
  --set data.asr_tokens=24 --set data.ocr_tokens=16 --set data.max_frames=8 --set train.batch_size=32
  --set data.workers=1 --set train.log_every=10 --set train.max_steps=60)
layout() {
  local name="$1"; shift
  local start end
  start=$(date +%s.%N)
  "$bin" train --out "$work/$name" --force "${common[@]}" "$@" > /dev/null
  end=$(date +%s.%N)
  "$py" - "$work/$name/metrics.jsonl" "$name" "$start" "$end" <<'PY'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
last = [r for r in records if r["kind"] == "train"][-1]
score = [r for r in records if r["kind"] == "eval"][-1]["values"]["score"]
print(f"{sys.argv[2]}: {last['values']['samples_per_second']:.1f} samples/s at step {last['step']}, "
      f"wall {float(sys.argv[4]) - float(sys.argv[3]):.1f} s, held-out score {score:.4f}", flush=True)
PY
}
for round in $(seq "$rounds"); do
  echo "round $round"
  layout one-process-2-threads --set train.threads=2
  layout two-processes-overlapped --nproc 2 --set train.threads=1
  layout two-processes-after-backward --nproc 2 --set train.threads=1 --set train.overlap_all_reduce=false
done
worker=.build/debug/vidtag-dist-worker
if [ -x "$worker" ]; then
  for elements in 1008957 110000000; do
    port=$((29600 + RANDOM % 300))
    RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$worker" all-reduce-time --elements $elements > /dev/null &
    RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$worker" all-reduce-time --elements $elements
    wait
  done
else
  echo "all-reduce time: $worker not built (swift build --build-tests)"
fi
