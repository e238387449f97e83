#!/usr/bin/env bash
# Clips per second producing 8 frames at 224 px from frame zips: vidtag (Swift, libjpeg-turbo, PIL-exact
# resize) vs the reference Python path (zipfile + PIL + NumPy), same thread count, alternating in one run
# (each round in a random order); prints medians, the ratios, and each side's peak memory (/usr/bin/time -v).
# Four runs a round, so equal work is compared: both sides decoding at full resolution (the like-for-like
# figure), vidtag's default reduced-size decode (libjpeg-turbo DCT scaling, any n/8: 5/8 for 640x360 to
# 224, decoding 400x225), and PIL's Image.draft. PIL's draft offers only 1/2, 1/4 and 1/8 and keeps the full
# size when none leaves both sides >= the requested 224x224, so for these frames it decodes in full too.
#
# Usage: bench/frames.sh [clips=200] [rounds=3] [threads=2]
set -euo pipefail
cd "$(dirname "$0")/.."
CLIPS=${1:-200}
ROUNDS=${2:-3}
THREADS=${3:-2}
PYTHON=.deps/venv/bin/python
WORK=$(mktemp -d /tmp/vidtag-frames-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

[ -n "${VIDTAG_BENCH:-}" ] || swift build -c release --product vidtag-bench 2>&1 | tail -1
BENCH=${VIDTAG_BENCH:-.build/release/vidtag-bench}

echo "making $CLIPS clip zips of 16 frames, 640x360 JPEG (quality 85) in $WORK"
"$PYTHON" - "$WORK/zips" "$CLIPS" <<'PY'
import io, sys, zipfile
from pathlib import Path
import numpy as np
from PIL import Image, ImageFilter

out, clips = Path(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
y, x = np.mgrid[0:360, 0:640].astype(np.float32)
bases = []
for k in range(24):  # smooth scenes with some texture, like video frames
    r = 128 + 100 * np.sin(x / (30 + k) + k) * np.cos(y / 40)
    g = 128 + 90 * np.cos(x / 55 - k) + 20 * np.sin(y / 7)
    b = 255 * y / 359
    image = np.clip(np.stack([r, g, b], -1) + rng.normal(0, 8, (360, 640, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).filter(ImageFilter.GaussianBlur(1)).save(buffer, "JPEG", quality=85)
    bases.append(buffer.getvalue())
for clip in range(clips):
    video_id = f"{2345678901234560000 + clip * 7919}"
    folder = out / video_id[-3:]
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / f"{video_id}.zip", "w", zipfile.ZIP_STORED) as archive:
        for frame in range(16):
            archive.writestr(f"{frame:03d}.jpg", bases[(clip + frame) % len(bases)])
print(f"{clips} zips, {sum(p.stat().st_size for p in out.rglob('*.zip')) / 1e6:.1f} MB")
PY

run_timed() {  # label, command...: prints "clips_per_second peak_kib"
  local label=$1; shift
  /usr/bin/time -v "$@" >"$WORK/$label.out" 2>"$WORK/$label.time"
  local rate peak
  rate=$(grep -o 'clips_per_second=[0-9.]*' "$WORK/$label.out" | cut -d= -f2)
  peak=$(grep 'Maximum resident set size' "$WORK/$label.time" | awk '{print $NF}')
  echo "$rate $peak"
}

declare -a SWIFT PY PYDRAFT SWIFTFULL
for round in $(seq 1 "$ROUNDS"); do
  for side in $(printf '%s\n' swift python swiftfull pydraft | shuf); do
    case $side in
      swift) SWIFT+=("$(run_timed swift "$BENCH" frames --directory "$WORK/zips" --threads "$THREADS")") ;;
      python) PY+=("$(run_timed python "$PYTHON" bench/python/frames_bench.py --directory "$WORK/zips" --threads "$THREADS")") ;;
      swiftfull) SWIFTFULL+=("$(run_timed swiftfull "$BENCH" frames --directory "$WORK/zips" --threads "$THREADS" --no-dct-scaling)") ;;
      pydraft) PYDRAFT+=("$(run_timed pydraft "$PYTHON" bench/python/frames_bench.py --directory "$WORK/zips" --threads "$THREADS" --draft)") ;;
    esac
  done
  echo "round $round: swift ${SWIFT[-1]% *} clips/s, python ${PY[-1]% *}, swift full-decode ${SWIFTFULL[-1]% *}, python draft ${PYDRAFT[-1]% *}"
done
grep report "$WORK/swift.out"

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
column() { local n=$1; shift; for entry in "$@"; do echo "$entry" | awk -v n="$n" '{print $n}'; done; }
S=$(median $(column 1 "${SWIFT[@]}")); P=$(median $(column 1 "${PY[@]}"))
SF=$(median $(column 1 "${SWIFTFULL[@]}")); PD=$(median $(column 1 "${PYDRAFT[@]}"))
SM=$(median $(column 2 "${SWIFT[@]}")); PM=$(median $(column 2 "${PY[@]}"))
SFM=$(median $(column 2 "${SWIFTFULL[@]}")); PDM=$(median $(column 2 "${PYDRAFT[@]}"))
echo "median clips/s ($THREADS threads, 8 frames at 224 px, $CLIPS clips x $ROUNDS rounds):"
printf '  swift (DCT-scaled decode)  %8.2f   peak RSS %6d MiB\n' "$S" $((SM / 1024))
printf '  swift (full decode)        %8.2f   peak RSS %6d MiB\n' "$SF" $((SFM / 1024))
printf '  python (PIL, full decode)  %8.2f   peak RSS %6d MiB\n' "$P" $((PM / 1024))
printf '  python (PIL draft)         %8.2f   peak RSS %6d MiB   (draft scales 1/2, 1/4, 1/8 only: full decode at 640x360)\n' "$PD" $((PDM / 1024))
awk -v s="$S" -v p="$P" -v sf="$SF" -v pd="$PD" 'BEGIN {
  printf "ratio swift/python: like for like (both full decode) %.2fx; vidtag reduced decode vs PIL full decode %.2fx; vidtag reduced vs PIL draft %.2fx\n", sf / p, s / p, s / pd }'
