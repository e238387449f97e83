#!/usr/bin/env bash
# Samples per second of the batch loader on the demo data: vidtag's DataLoader (Swift, THREADS worker
# threads) vs the reference Python path as users run it -- torch.utils.data.DataLoader with THREADS worker
# processes, persistent workers, a Dataset doing per-sample tokenization, zipfile + NumPy features (a zip
# handle per worker) or zipfile + PIL + NumPy transforms for frames -- alternating in one run, each round
# in a random order; (a) features of the labeled split, (b) 8 frames at 224 px of the test_a split.
# Both sides' figure is one epoch from start-up (annotations read, workers started) to the last batch;
# for features the Python side's second epoch on its persistent workers is printed apart (steady). Prints medians, the
# ratios and each side's peak memory (/usr/bin/time -v; the Python peak is the largest single process,
# not the sum over its workers).
#
# Usage: bench/loader.sh [rounds=3] [threads=2] [data=/tmp/vidtag-loader-bench-demo]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
THREADS=${2:-2}
DATA=${3:-/tmp/vidtag-loader-bench-demo}
PYTHON=.deps/venv/bin/python
VOCAB=Tests/Fixtures/wechat2022/bert_zh_vocab.txt
WORK=$(mktemp -d /tmp/vidtag-loader-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

[ -n "${VIDTAG_BENCH:-}" ] || swift build -c release --product vidtag-bench 2>&1 | tail -1
BENCH=${VIDTAG_BENCH:-.build/release/vidtag-bench}
if [ ! -f "$DATA/demo.json" ]; then
  echo "making the demo data in $DATA"
  swift build -c release --product vidtag 2>&1 | tail -1
  .build/release/vidtag make-demo --out "$DATA"
fi

run_timed() {  # label, command...: prints "samples_per_second peak_kib"
  local label=$1; shift
  /usr/bin/time -v "$@" >"$WORK/$label.out" 2>"$WORK/$label.time"
  local rate peak
  rate=$(grep -o '^samples_per_second=[0-9.]*' "$WORK/$label.out" | cut -d= -f2)
  peak=$(grep 'Maximum resident set size' "$WORK/$label.time" | awk '{print $NF}')
  echo "$rate $peak"
}

declare -a SF PF SP PP PFS
for round in $(seq 1 "$ROUNDS"); do
  for side in $(printf '%s\n' sf pf sp pp | shuf); do
    case $side in
      sf) SF+=("$(run_timed swift-features "$BENCH" loader --data "$DATA" --vocab "$VOCAB" --source features --split labeled --threads "$THREADS")") ;;
      pf) PF+=("$(run_timed python-features "$PYTHON" bench/python/loader_bench.py --data "$DATA" --vocab "$VOCAB" --source features --split labeled --threads "$THREADS")")
          PFS+=("$(grep -o 'steady_samples_per_second=[0-9.]*' "$WORK/python-features.out" | cut -d= -f2)") ;;
      sp) SP+=("$(run_timed swift-frames "$BENCH" loader --data "$DATA" --vocab "$VOCAB" --source frames --split test_a --threads "$THREADS")") ;;
      pp) PP+=("$(run_timed python-frames "$PYTHON" bench/python/loader_bench.py --data "$DATA" --vocab "$VOCAB" --source frames --split test_a --threads "$THREADS" --epochs 1)")
    esac
  done
  echo "round $round: features swift ${SF[-1]% *} / python ${PF[-1]% *} (steady ${PFS[-1]}) samples/s; frames swift ${SP[-1]% *} / python ${PP[-1]% *}"
done
grep report "$WORK/swift-features.out" "$WORK/swift-frames.out"

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
column() { local n=$1; shift; for entry in "$@"; do echo "$entry" | awk -v n="$n" '{print $n}'; done; }
for pair in "features SF PF" "frames SP PP"; do
  set -- $pair
  declare -n S=$2 P=$3
  s=$(median $(column 1 "${S[@]}")); p=$(median $(column 1 "${P[@]}"))
  sm=$(median $(column 2 "${S[@]}")); pm=$(median $(column 2 "${P[@]}"))
  printf '%-8s swift %9.1f samples/s (peak RSS %5d MiB)   python %9.1f samples/s (peak RSS %5d MiB)   ratio %.2fx\n' \
    "$1" "$s" $((sm / 1024)) "$p" $((pm / 1024)) "$(awk -v s="$s" -v p="$p" 'BEGIN {print s / p}')"
  unset -n S P
done
echo "python DataLoader second epoch on its persistent workers (features), median $(median "${PFS[@]}") samples/s"
