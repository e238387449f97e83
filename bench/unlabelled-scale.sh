#!/usr/bin/env bash
# Peak memory of reading a million-video unlabelled split the way pretraining and pseudo-labelling read it,
# for docs/results/unlabelled-scale.md. Builds (once) scale roots from the demo with `vidtag make-scale-data`:
# the demo's unlabelled records repeated under new ids, 4 frames × 32 float16 values each. Then, at 250k and
# 1M videos, under /usr/bin/time -v:
#   (a) vidtag-bench loader: the index (compact token ids) and every batch of the split through the DataLoader;
#   (b) vidtag pseudo-label with a tiny model trained on the scale root's labelled split;
#   (c) vidtag pretrain over the split (MLM + MFM + ITM, a 1-layer × 32 model, batch 64, the index's text budgets
#       98 / 90 / 68, the Chinese BERT vocabulary, 1 thread): the index, the loader and the model together, for
#       PRETRAIN_STEPS steps (default 500, equal work at both sizes: a step took about 0.9 s on the shared
#       machine, so an epoch of the 1M split, 15,625 steps, would take hours).
# Usage: bench/unlabelled-scale.sh [work folder=/tmp/vidtag-scale]  (ONLY=pretrain runs (c) alone)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/vidtag-scale}
VOCAB=Tests/Fixtures/wechat2022/bert_zh_vocab.txt
[ -n "${VIDTAG_BIN:-}" ] || swift build -c release --product vidtag 2>&1 | tail -1
[ -n "${VIDTAG_BENCH:-}" ] || swift build -c release --product vidtag-bench 2>&1 | tail -1
BIN=${VIDTAG_BIN:-.build/release/vidtag}
BENCH=${VIDTAG_BENCH:-.build/release/vidtag-bench}
mkdir -p "$WORK/vocab"
cp "$VOCAB" "$WORK/vocab/vocab.txt"  # the Chinese BERT vocabulary (21,128 entries: 16-bit ids)
[ -f demo/data/demo.json ] || "$BIN" make-demo --out demo/data --seed 7

peak() {  # label, command...: runs it under /usr/bin/time -v, prints its last lines and the peak RSS
  local label=$1; shift
  /usr/bin/time -v "$@" >"$WORK/$label.out" 2>"$WORK/$label.time"
  tail -3 "$WORK/$label.out"
  echo "$label: peak RSS $(grep 'Maximum resident set size' "$WORK/$label.time" | awk '{print $NF}') KiB," \
    "wall $(grep 'Elapsed (wall clock)' "$WORK/$label.time" | awk '{print $NF}')"
}

for n in 250000 1000000; do
  root="$WORK/root-$n"
  if [ ! -f "$root/annotations/unlabeled.json" ]; then
    /usr/bin/time -v "$BIN" make-scale-data --from demo/data --out "$root" --unlabeled "$n" 2>"$WORK/make-$n.time"
    echo "make-scale-data $n: $(grep 'Elapsed (wall clock)' "$WORK/make-$n.time" | awk '{print $NF}')," \
      "peak RSS $(grep 'Maximum resident set size' "$WORK/make-$n.time" | awk '{print $NF}') KiB"
  fi
  du -sh "$root/annotations/unlabeled.json" "$root/zip_feats/unlabeled.zip"
done

# A tiny teacher on the scale root's labelled split (32-value features, 4 frames).
teacher="$WORK/teacher"
if [ ! -f "$teacher/model.safetensors" ]; then
  "$BIN" train --data "$WORK/root-250000" --out "$teacher" --force --quiet \
    --set data.feature_size=32 --set data.max_frames=4 --set model.layers=1 --set model.hidden=32 \
    --set model.heads=2 --set model.intermediate=64 --set data.title_tokens=32 --set data.asr_tokens=32 \
    --set data.ocr_tokens=32 --set train.max_steps=20 --set train.eval_every=20 --set train.threads=2 \
    --set model.vocabulary="$WORK/vocab" >/dev/null
fi

for n in 250000 1000000; do
  root="$WORK/root-$n"
  peak "pretrain-$n" "$BIN" pretrain --data "$root" --out "$WORK/pre-$n" --force --quiet --splits unlabeled \
    --set data.feature_size=32 --set data.max_frames=4 --set model.layers=1 --set model.hidden=32 \
    --set model.heads=2 --set model.intermediate=64 --set data.title_tokens=98 --set data.asr_tokens=90 \
    --set data.ocr_tokens=68 --set train.batch_size=64 --set train.epochs=1 --set train.threads=1 \
    --set train.max_steps="${PRETRAIN_STEPS:-500}" \
    --set train.log_every=100000 --set model.vocabulary="$WORK/vocab"
  [ "${ONLY:-}" = pretrain ] && continue
  peak "loader-$n" "$BENCH" loader --data "$root" --split unlabeled --vocab "$VOCAB" --feature-size 32 \
    --max-frames 4 --batch-size 64 --threads 2
  peak "pseudo-label-$n" "$BIN" pseudo-label --model "$teacher" --data "$root" --split unlabeled \
    --out "$WORK/pl-$n" --top-k 5 --batch-size 256 --workers 2
  du -sh "$WORK/pl-$n"
done
