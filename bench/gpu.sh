#!/usr/bin/env bash
# One prepared benchmark for a GPU machine, within about 8 minutes of one call, printing one table:
#   1. builds the shim against that machine's libtorch (its python's torch) into the kit folder, beside the
#      vidtag and vidtag-bench binaries built here with --static-swift-stdlib (no Swift needed there);
#   2. vidtag doctor --device D: versions, a tiny forward + backward, and each model kind's forward on D
#      against the CPU's within tolerance;
#   3. training steps of the single-stream model at BERT-base size (256 text + 32 frame tokens, bf16
#      autocast, batch 32 and 64): vidtag against the same model in PyTorch eager (transformers' BertModel,
#      fused AdamW), samples/s and MFU;
#   4. inference of single-stream + a CLIP-ViT-B/16-shaped encoder over 8 raw frames (batch 32 and 128):
#      vidtag decoding the JPEGs on all cores while the device runs, against PyTorch eager with the frames
#      already on the device (the reference's own setting), videos/s.
#
# Here, before (needs Swift):  bench/gpu.sh --build          → $KIT (default .build/gpu-kit) and $KIT.tar.gz
#                              (the two static binaries are about 60 MB each, 45 MB compressed)
# There:                       bench/gpu.sh [--device cuda]  (PYTHON=python with torch and transformers)
# Here, end to end on the CPU: bench/gpu.sh --build && bench/gpu.sh --device cpu --tiny   (make bench-gpu-cpu)
set -euo pipefail
cd "$(dirname "$0")/.."
kit="${KIT:-.build/gpu-kit}"
device=cuda; tiny=0; build=0; rounds=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=1; shift;;
    --device) device="$2"; shift 2;;
    --tiny) tiny=1; shift;;
    --rounds) rounds="$2"; shift 2;;
    *) echo "gpu.sh: unknown option $1 (expected --build, --device D, --tiny, --rounds N)" >&2; exit 2;;
  esac
done

if [ "$build" = 1 ]; then
  swift build -c release --static-swift-stdlib --product vidtag 2>&1 | tail -1
  swift build -c release --static-swift-stdlib --product vidtag-bench 2>&1 | tail -1
  mkdir -p "$kit"
  for binary in vidtag vidtag-bench; do
    cp .build/release/$binary "$kit/$binary"
    strip "$kit/$binary"
  done
  tar czf "$kit.tar.gz" -C "$kit" vidtag vidtag-bench
  echo "gpu.sh: wrote $kit/vidtag, $kit/vidtag-bench and $kit.tar.gz ($(du -sh "$kit.tar.gz" | cut -f1)); carry either to the GPU machine"
  exit 0
fi

if [ ! -x "$kit/vidtag" ] && [ -f "$kit.tar.gz" ]; then
  mkdir -p "$kit" && tar xzf "$kit.tar.gz" -C "$kit"
fi
for binary in vidtag vidtag-bench; do
  [ -x "$kit/$binary" ] || { echo "gpu.sh: $kit/$binary is missing: run bench/gpu.sh --build where Swift is" >&2; exit 1; }
done
py="${PYTHON:-}"
if [ -z "$py" ]; then
  if [ -x .deps/venv/bin/python ]; then py=.deps/venv/bin/python; else py=python3; fi
fi
torch_dir="$("$py" -c 'import torch, os; print(os.path.dirname(torch.__file__))')" || {
  echo "gpu.sh: $py cannot import torch: set PYTHON to a python with PyTorch" >&2; exit 1; }
started=$(date +%s)
echo "== shim against $torch_dir"
LIBTORCH="$torch_dir" SHIM_OUT="$kit" scripts/build-shim.sh
threads=$(nproc)

echo "== vidtag doctor --device $device"
"$kit/vidtag" doctor --threads "$threads" --device "$device"

if [ "$tiny" = 1 ]; then
  model=(--layers 2 --hidden 64 --heads 2 --intermediate 128 --text 16 --frames 4 --vocabulary-size 1000)
  train_batches="2 4"; infer_batches="2 4"; iterations=2
  infer=(--size demo --frames 2 --encoder-layers 1 --image-size 32)
  report=(--layers 2 --hidden 64 --intermediate 128 --text 16 --frames 4)
else
  model=(); train_batches="32 64"; infer_batches="32 128"; iterations=10
  infer=(--size base --frames 8)
  report=()
fi
reference=1
"$py" -c 'from transformers import BertModel, CLIPVisionModel' 2>/dev/null || { reference=0; echo "gpu.sh: transformers is not installed for $py: PyTorch columns stay empty"; }
optimizer=fused
[ "$device" = cpu ] && optimizer=foreach
work=$(mktemp -d /tmp/vidtag-gpu-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
results="$work/results.jsonl"

# Runs one benchmark process and appends its JSON line, labelled, to the results.
record() {
  local bench="$1" batch="$2"; shift 2
  local line
  line="$("$@" | grep '^{' | tail -n 1)"
  "$py" -c 'import json, sys; r = json.loads(sys.argv[1]); r.update(bench=sys.argv[2], batch=int(sys.argv[3])); print(json.dumps(r))' \
    "$line" "$bench" "$batch" >> "$results"
}

for batch in $train_batches; do
  echo "== training step, batch $batch, bf16"
  for _ in $(seq "$rounds"); do
    record train "$batch" "$kit/vidtag-bench" train-step --device "$device" --precision bf16 --batch "$batch" \
      --threads "$threads" --iterations "$iterations" --warmup 2 ${model[@]+"${model[@]}"}
    [ "$reference" = 1 ] && record train "$batch" "$py" bench/python/train_step_bench.py --device "$device" \
      --precision bf16 --batch "$batch" --threads "$threads" --iterations "$iterations" --warmup 2 \
      --optimizer "$optimizer" ${model[@]+"${model[@]}"}
  done
done
for batch in $infer_batches; do
  echo "== inference, batch $batch, bf16"
  for _ in $(seq "$rounds"); do
    record infer "$batch" "$kit/vidtag-bench" infer --jpeg --device "$device" --precision bf16 --batch "$batch" \
      --threads "$threads" --iterations "$iterations" --warmup 2 "${infer[@]}"
    [ "$reference" = 1 ] && record infer "$batch" "$py" bench/python/infer_bench.py --jpeg --device "$device" \
      --precision bf16 --batch "$batch" --threads "$threads" --iterations "$iterations" --warmup 2 "${infer[@]}"
  done
done

name=cpu
[ "$device" = cpu ] || name="$("$py" -c 'import torch; print(torch.cuda.get_device_name(0))')"
echo
"$py" bench/gpu_report.py "$results" --device-name "$name" ${report[@]+"${report[@]}"}
echo
echo "gpu.sh: done in $(( $(date +%s) - started )) s"
