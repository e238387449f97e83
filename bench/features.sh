#!/usr/bin/env bash
# Feature members per second read by id from a zip_feats zip of MEMBERS members (float16 [n, 768],
# n from 8 to 32, stored as in the challenge data): vidtag's FeatureArchive (one shared descriptor, pread,
# its own central-directory index) vs Python zipfile + numpy (one ZipFile per thread), same threads,
# same random order, alternating in one run; prints medians, the ratio and each side's peak memory.
# Opening the zip (reading its central directory) is timed on neither side: each opens its handles before
# its clock starts and prints one open's time apart. Each round runs the two sides in a random order.
#
# Usage: bench/features.sh [members=5000] [rounds=3] [threads=2]
set -euo pipefail
cd "$(dirname "$0")/.."
MEMBERS=${1:-5000}
ROUNDS=${2:-3}
THREADS=${3:-2}
PYTHON=.deps/venv/bin/python
WORK=$(mktemp -d /tmp/vidtag-features-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

[ -n "${VIDTAG_BENCH:-}" ] || swift build -c release --product vidtag-bench 2>&1 | tail -1
BENCH=${VIDTAG_BENCH:-.build/release/vidtag-bench}

"$PYTHON" - "$WORK" "$MEMBERS" <<'PY'
import io, sys, zipfile
import numpy as np
work, members = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
ids = [str(13477278056527800000 + 7919 * i) for i in range(members)]
with zipfile.ZipFile(f"{work}/labeled.zip", "w", zipfile.ZIP_STORED) as archive:
    for video_id in ids:
        buffer = io.BytesIO()
        np.save(buffer, rng.standard_normal((int(rng.integers(8, 33)), 768), dtype=np.float32).astype(np.float16))
        archive.writestr(f"{video_id}.npy", buffer.getvalue())
rng.shuffle(ids)
open(f"{work}/ids.txt", "w").write("\n".join(ids) + "\n")
import os
print(f"{members} members, {os.path.getsize(f'{work}/labeled.zip') / 1e6:.1f} MB")
PY

run_timed() {  # label, command...: prints "features_per_second peak_kib"
  local label=$1; shift
  /usr/bin/time -v "$@" >"$WORK/$label.out" 2>"$WORK/$label.time"
  local rate peak
  rate=$(grep -o 'features_per_second=[0-9.]*' "$WORK/$label.out" | cut -d= -f2)
  peak=$(grep 'Maximum resident set size' "$WORK/$label.time" | awk '{print $NF}')
  echo "$rate $peak"
}

declare -a SWIFT PY
for round in $(seq 1 "$ROUNDS"); do
  for side in $(printf '%s\n' swift python | shuf); do
    case $side in
      swift) SWIFT+=("$(run_timed swift "$BENCH" features --zip "$WORK/labeled.zip" --ids "$WORK/ids.txt" --threads "$THREADS")") ;;
      python) PY+=("$(run_timed python "$PYTHON" bench/python/feature_read_bench.py --zip "$WORK/labeled.zip" --ids "$WORK/ids.txt" --threads "$THREADS")") ;;
    esac
  done
  echo "round $round: swift ${SWIFT[-1]% *} features/s, python ${PY[-1]% *} features/s"
done
grep -h "open\|checksum" "$WORK/swift.out" "$WORK/python.out"

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
column() { local n=$1; shift; for entry in "$@"; do echo "$entry" | awk -v n="$n" '{print $n}'; done; }
S=$(median $(column 1 "${SWIFT[@]}")); P=$(median $(column 1 "${PY[@]}"))
SM=$(median $(column 2 "${SWIFT[@]}")); PM=$(median $(column 2 "${PY[@]}"))
echo "median features/s ($THREADS threads, $MEMBERS members x $ROUNDS rounds):"
printf '  swift (FeatureArchive)   %10.1f   peak RSS %6d MiB\n' "$S" $((SM / 1024))
printf '  python (zipfile + numpy) %10.1f   peak RSS %6d MiB\n' "$P" $((PM / 1024))
awk -v s="$S" -v p="$P" 'BEGIN { printf "ratio swift/python: %.2fx\n", s / p }'
