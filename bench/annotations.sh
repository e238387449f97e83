#!/usr/bin/env bash
# Records per second and peak memory reading an annotation file of RECORDS WeChat-like records
# (title, asr, 0-8 ocr segments, Chinese text, indent=1 like the real files): vidtag's streaming
# AnnotationReader (fixed 1 MiB buffer, per-record parse and checks; once counting only, once keeping
# the records) vs Python json.load of the whole file, alternating in one run (each round in a random
# order); medians and ratios.
#
# Usage: bench/annotations.sh [records=200000] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${1:-200000}
ROUNDS=${2:-3}
PYTHON=.deps/venv/bin/python
WORK=$(mktemp -d /tmp/vidtag-annotations-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

[ -n "${VIDTAG_BENCH:-}" ] || swift build -c release --product vidtag-bench 2>&1 | tail -1
BENCH=${VIDTAG_BENCH:-.build/release/vidtag-bench}

"$PYTHON" - "$WORK/labeled.json" "$RECORDS" <<'PY'
import json, os, sys
import numpy as np
path, count = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
categories = json.load(open("Tests/Fixtures/wechat2022/wechat2022_categories.json"))["category_ids"]
alphabet = np.array(list("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处府理世马"))
def text(low, high):
    return "".join(rng.choice(alphabet, int(rng.integers(low, high))))
with open(path, "w", encoding="utf-8") as handle:
    records = []
    for index in range(count):
        records.append({"id": str(13477278056527800000 + index), "category_id": categories[index % 200],
                        "title": text(5, 40), "asr": text(0, 300),
                        "ocr": [{"time": t, "text": text(2, 30)} for t in range(int(rng.integers(0, 9)))]})
    json.dump(records, handle, indent=1, ensure_ascii=False)
print(f"{count} records, {os.path.getsize(path) / 1e6:.1f} MB")
PY

run_timed() {  # label, command...: prints "records_per_second peak_kib"
  local label=$1; shift
  /usr/bin/time -v "$@" >"$WORK/$label.out" 2>"$WORK/$label.time"
  local rate peak
  rate=$(grep -o 'records_per_second=[0-9.]*' "$WORK/$label.out" | cut -d= -f2)
  peak=$(grep 'Maximum resident set size' "$WORK/$label.time" | awk '{print $NF}')
  echo "$rate $peak"
}

declare -a SWIFT SWIFTKEEP PY
for round in $(seq 1 "$ROUNDS"); do
  for side in $(printf '%s\n' swift swiftkeep python | shuf); do
    case $side in
      swift) SWIFT+=("$(run_timed swift "$BENCH" annotations --file "$WORK/labeled.json")") ;;
      swiftkeep) SWIFTKEEP+=("$(run_timed swiftkeep "$BENCH" annotations --file "$WORK/labeled.json" --keep)") ;;
      python) PY+=("$(run_timed python "$PYTHON" bench/python/annotation_read_bench.py --file "$WORK/labeled.json")") ;;
    esac
  done
  echo "round $round: swift ${SWIFT[-1]% *} records/s, swift keeping ${SWIFTKEEP[-1]% *}, python json.load ${PY[-1]% *}"
done
grep -h "text_bytes" "$WORK/swift.out" "$WORK/python.out"

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
column() { local n=$1; shift; for entry in "$@"; do echo "$entry" | awk -v n="$n" '{print $n}'; done; }
S=$(median $(column 1 "${SWIFT[@]}")); SK=$(median $(column 1 "${SWIFTKEEP[@]}")); P=$(median $(column 1 "${PY[@]}"))
SM=$(median $(column 2 "${SWIFT[@]}")); SKM=$(median $(column 2 "${SWIFTKEEP[@]}")); PM=$(median $(column 2 "${PY[@]}"))
echo "median records/s ($RECORDS records x $ROUNDS rounds):"
printf '  swift streaming, counting    %10.1f   peak RSS %6d MiB\n' "$S" $((SM / 1024))
printf '  swift streaming, keeping all %10.1f   peak RSS %6d MiB\n' "$SK" $((SKM / 1024))
printf '  python json.load             %10.1f   peak RSS %6d MiB\n' "$P" $((PM / 1024))
awk -v s="$S" -v sk="$SK" -v p="$P" 'BEGIN { printf "ratio swift/python: %.2fx counting, %.2fx keeping\n", s / p, sk / p }'
