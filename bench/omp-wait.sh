#!/usr/bin/env bash
# How libtorch's OpenMP threads should wait, measured end to end: the demo model's training (make demo's
# shapes, train.threads=0 = all cores, 2 loader workers, no evaluation) under each wait setting, on an idle
# machine and with LOAD busy processes beside it (the shared-machine case: another job, a build). Each round
# runs every setting once, in a random order, under the same load; the table gives the median wall time per
# setting and its ratio to PASSIVE (vidtag's default), with the min–max over rounds.
#
# Settings (libgomp reads them when it loads; an explicit OMP_WAIT_POLICY is kept by vidtag):
#   PASSIVE          a thread that finishes its share sleeps at once (futex)
#   spin N           OMP_WAIT_POLICY=ACTIVE GOMP_SPINCOUNT=N: spins N rounds (≈ N / 100,000 ms), then sleeps
# libgomp's own default (OMP_WAIT_POLICY unset, what PyTorch users get) is spin 300000.
#
# Usage: bench/omp-wait.sh [--rounds R] [--steps S] [--load N] [--spins "3000 30000 300000"] [--table FILE]
# VIDTAG=path uses a built vidtag (else the release one is built). Writes nothing but FILE (when given) and a
# scratch folder under /tmp.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 steps=120 load=$(nproc) spins="3000 30000 300000" table=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    --spins) spins=$2; shift 2 ;;
    --table) table=$2; shift 2 ;;
    *) echo "omp-wait: unknown argument $1" >&2; exit 2 ;;
  esac
done
bin="${VIDTAG:-}"
if [ -z "$bin" ]; then
  swift build -c release --product vidtag 2>&1 | tail -1
  bin=.build/release/vidtag
fi
work=$(mktemp -d /tmp/vidtag-omp-wait.XXXXXX)
busy=()
stop_load() { for pid in "${busy[@]}"; do kill "$pid" 2>/dev/null || true; done; busy=(); }
trap 'stop_load; rm -rf "$work"' EXIT
"$bin" make-demo --out "$work/data" --seed 7 >/dev/null

settings=("PASSIVE")
for n in $spins; do settings+=("spin $n"); done

# One training; prints its wall seconds.
train() {
  local setting=$1 environment=()
  case "$setting" in
    PASSIVE) environment=(OMP_WAIT_POLICY=PASSIVE) ;;
    spin\ *) environment=(OMP_WAIT_POLICY=ACTIVE "GOMP_SPINCOUNT=${setting#spin }") ;;
  esac
  local started ended
  started=$(date +%s.%N)
  env "${environment[@]}" "$bin" train --data "$work/data" --out "$work/run" --force --quiet \
    --set seed=7 --set model.kind=single_stream --set model.layers=2 --set model.hidden=128 --set model.heads=4 \
    --set model.intermediate=256 --set data.title_tokens=24 --set data.asr_tokens=24 --set data.ocr_tokens=16 \
    --set data.max_frames=8 --set train.batch_size=32 --set train.threads=0 --set data.workers=2 \
    --set "train.max_steps=$steps" --set train.eval_every=100000 --set train.log_every=1000 >/dev/null
  ended=$(date +%s.%N)
  python3 -c "print(f'{$ended - $started:.2f}')"
}

results="$work/results.tsv"
: > "$results"
for condition in idle loaded; do
  if [ "$condition" = loaded ]; then
    for _ in $(seq 1 "$load"); do (while :; do :; done) & busy+=($!); done
  fi
  for round in $(seq 1 "$rounds"); do
    mapfile -t order < <(printf '%s\n' "${settings[@]}" | shuf)
    for setting in "${order[@]}"; do
      seconds=$(train "$setting")
      printf '%s\t%s\t%s\t%s\n' "$condition" "$round" "$setting" "$seconds" >> "$results"
      echo "omp-wait: $condition, round $round, $setting: $seconds s"
    done
  done
  stop_load
done

python3 - "$results" "$steps" "$load" "$(nproc)" "$table" <<'EOF'
import statistics, sys
path, steps, load, cores, table = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
rows = [line.rstrip("\n").split("\t") for line in open(path) if line.strip()]
times = {}
for condition, _, setting, seconds in rows:
    times.setdefault((condition, setting), []).append(float(seconds))
settings = list(dict.fromkeys(r[2] for r in rows))
lines = [f"Demo model, {steps} training steps (batch 32, all {cores} cores as intra-op threads, 2 loader workers); "
         f"loaded = {load} busy processes beside it. Median wall seconds (min–max over rounds), ratio to PASSIVE.",
         "", "| setting | idle: s | idle: / PASSIVE | loaded: s | loaded: / PASSIVE |", "|---|---|---|---|---|"]
for setting in settings:
    cells = []
    for condition in ("idle", "loaded"):
        values = times.get((condition, setting), [])
        base = times.get((condition, "PASSIVE"), [])
        if not values or not base:
            cells += ["—", "—"]
            continue
        median = statistics.median(values)
        cells += [f"{median:.1f} ({min(values):.1f}–{max(values):.1f})", f"{median / statistics.median(base):.2f}"]
    lines.append(f"| {setting} | " + " | ".join(cells) + " |")
print("\n".join(lines))
if table:
    open(table, "w").write("\n".join(lines) + "\n")
EOF
