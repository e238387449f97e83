#!/usr/bin/env bash
# HTTP serving under load: `vidtag serve` against its FastAPI twin (bench/python/serve_fastapi.py: FastAPI +
# uvicorn + PyTorch eager on the same model folder's weights, BertTokenizerFast on the same vocab.txt, the same
# frame preparation), both on loopback, loaded by wrk with the same request body at each concurrency, the two
# servers alternating (each round in the other order) in one run. Prints requests/s and p50 / p99 latency of
# each, and the ratios (requests/s vidtag ÷ twin; p50 and p99 vidtag ÷ twin, < 1: vidtag faster).
#
# Cases: `text` (a demo video's title, ASR and OCR, no frames) on a features model, and `jpeg8` (the same text
# and 8 JPEG frames of 320×240 as base64) on a model that reads raw frames through the tiny CLIP encoder
# fixture. Models: make demo's size (2 × 128, budgets 24/24/16, 8 frames) trained for one step on the tiny
# demo data (the weights' values do not change the work), `--sizes "demo base"` adds BERT-base size (12 × 768).
#
# Usage: bench/serve.sh [--duration 10] [--concurrency "1 8 64"] [--cases "text jpeg8"] [--sizes demo]
#                       [--rounds 1] [--threads 2] [--keep DIR] [--vidtag-args "--max-delay-ms 0"]
# Needs wrk (installed with apt-get when missing and root) and fastapi + uvicorn (scripts/setup-reference.sh).
# VIDTAG=path uses a built vidtag instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=10; concurrency="1 8 64"; cases="text jpeg8"; sizes="demo"; rounds=1; threads=2; keep=""; vidtag_args=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2;;
    --concurrency) concurrency="$2"; shift 2;;
    --cases) cases="$2"; shift 2;;
    --sizes) sizes="$2"; shift 2;;
    --rounds) rounds="$2"; shift 2;;
    --threads) threads="$2"; shift 2;;
    --keep) keep="$2"; shift 2;;
    --vidtag-args) vidtag_args="$2"; shift 2;;
    *) echo "bench/serve.sh: unknown option $1 (see the usage at the top of the script)" >&2; exit 2;;
  esac
done
py="${PYTHON:-.deps/venv/bin/python}"
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  else
    echo "bench/serve.sh: needs wrk (Debian: apt-get install wrk)" >&2; exit 1
  fi
fi
"$py" -c "import fastapi, uvicorn" 2>/dev/null || scripts/setup-reference.sh
bin="${VIDTAG:-}"
if [ -z "$bin" ]; then
  swift build -c release --product vidtag 2>&1 | tail -1
  bin=.build/release/vidtag
fi
work="${keep:-$(mktemp -d /tmp/vidtag-serve-bench.XXXXXX)}"
mkdir -p "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$keep" ] || rm -rf "$work"
}
trap cleanup EXIT

export OMP_WAIT_POLICY=PASSIVE  # both sides: no spinning OpenMP threads on a shared machine (see bench/README.md)
[ -f "$work/data/demo.json" ] || "$bin" make-demo --tiny --out "$work/data" --seed 7 >/dev/null
train() {  # train SIZE KIND FOLDER: one step, enough for a model folder of the right shapes
  local size="$1" kind="$2" out="$3" shape
  [ -f "$out/model.safetensors" ] && return
  if [ "$size" = demo ]; then
    shape=(--set model.layers=2 --set model.hidden=128 --set model.heads=4 --set model.intermediate=256)
  else
    shape=(--set model.layers=12 --set model.hidden=768 --set model.heads=12 --set model.intermediate=3072)
  fi
  local frames=()
  [ "$kind" = jpeg8 ] && frames=(--set "model.frame_encoder=$PWD/Tests/Fixtures/vision/clip" --set data.frame_source=frames)
  "$bin" train --data "$work/data" --out "$out" --force --set seed=7 --set model.kind=single_stream "${shape[@]}" \
    --set data.title_tokens=24 --set data.asr_tokens=24 --set data.ocr_tokens=16 --set data.max_frames=8 \
    --set train.max_steps=1 --set train.eval_every=1 --set train.batch_size=8 --set train.threads=2 \
    --set data.workers=1 "${frames[@]}" >/dev/null
}
# The request bodies: the first test_a video's text; for jpeg8, 8 smooth 320×240 JPEG frames with noise.
"$py" - "$work" <<'EOF'
import base64, io, json, sys
import numpy as np
from PIL import Image
work = sys.argv[1]
with open(f"{work}/data/annotations/test_a.json") as f:
    record = json.load(f)[0]
video = {"id": record["id"], "title": record["title"], "asr": record["asr"], "ocr": record["ocr"], "top_k": 5}
json.dump(video, open(f"{work}/text.json", "w"), ensure_ascii=False)
rng = np.random.default_rng(7)
frames = []
for i in range(8):
    y, x = np.mgrid[0:240, 0:320]
    image = np.stack([(x + 20 * i) % 256, (y * 2) % 256, (x + y) % 256], -1) + rng.integers(0, 24, (240, 320, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=85)
    frames.append(base64.b64encode(buffer.getvalue()).decode())
json.dump(dict(video, frames=frames), open(f"{work}/jpeg8.json", "w"), ensure_ascii=False)
EOF
cat > "$work/post.lua" <<'EOF'
local path = os.getenv("BODY")
local file = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
EOF

wait_ready() {  # wait_ready URL PID
  for _ in $(seq 1 600); do
    curl -sf "$1/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { echo "bench/serve.sh: the server ($1) exited; its log is in $work" >&2; return 1; }
    sleep 0.5
  done
  echo "bench/serve.sh: $1 never became ready" >&2; return 1
}
load() {  # load URL BODY CONCURRENCY → "requests/s p50_ms p99_ms errors"
  local connections="$3" wrk_threads=$(( $3 < 2 ? 1 : 2 ))
  BODY="$2" wrk -t "$wrk_threads" -c "$connections" -d "${duration}s" --timeout 30s --latency -s "$work/post.lua" \
    "$1/v1/classify" > "$work/wrk.txt"
  "$py" - "$work/wrk.txt" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
def ms(label):
    m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m: return float("nan")
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1000.0}[m.group(2)]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
count = (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0)
print(f"{rps:.1f} {ms(50):.2f} {ms(99):.2f} {count}")
EOF
}

echo "bench/serve.sh: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); ${duration}s per run, rounds $rounds"
printf '| model, request | connections | vidtag req/s | vidtag p50 / p99 ms | twin req/s | twin p50 / p99 ms | req/s ratio | p50 ratio | p99 ratio |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
port=18180
for size in $sizes; do
  for case in $cases; do
    model="$work/model-$size-$case"
    train "$size" "$case" "$model"
    port=$((port + 2))
    # shellcheck disable=SC2086  # the extra options are words
    "$bin" serve --model "$model" --port "$port" $vidtag_args > "$work/vidtag-$size-$case.log" 2>&1 &
    vidtag_pid=$!; pids+=("$vidtag_pid")
    "$py" bench/python/serve_fastapi.py --model "$model" --port $((port + 1)) --threads "$threads" \
      > "$work/twin-$size-$case.log" 2>&1 &
    twin_pid=$!; pids+=("$twin_pid")
    wait_ready "http://127.0.0.1:$port" "$vidtag_pid"
    wait_ready "http://127.0.0.1:$((port + 1))" "$twin_pid"
    for connections in $concurrency; do
      v=(); t=()
      for round in $(seq 1 "$rounds"); do
        # Warm both at this concurrency for a second, then measure, alternating who goes first.
        if [ $((round % 2)) = 1 ]; then order="vidtag twin"; else order="twin vidtag"; fi
        for side in $order; do
          url="http://127.0.0.1:$port"; [ "$side" = twin ] && url="http://127.0.0.1:$((port + 1))"
          duration_saved="$duration"; duration=1; load "$url" "$work/$case.json" "$connections" >/dev/null; duration="$duration_saved"
          result=$(load "$url" "$work/$case.json" "$connections")
          if [ "$side" = vidtag ]; then v+=("$result"); else t+=("$result"); fi
        done
      done
      "$py" - "$size, $case" "$connections" "${#v[@]}" "${v[@]}" "${t[@]}" <<'EOF'
import statistics, sys
label, connections, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [list(map(float, r.split())) for r in sys.argv[4:]]
v, t = rows[:n], rows[n:]
med = lambda runs, i: statistics.median(r[i] for r in runs)
errors = sum(r[3] for r in rows)
note = f" ({int(errors)} errors)" if errors else ""
ratio = lambda a, b: f"{a / b:.2f}" if b > 0 and a == a and b == b else "n/a"
print(f"| {label}{note} | {connections} | {med(v,0):.1f} | {med(v,1):.1f} / {med(v,2):.1f} | {med(t,0):.1f} | "
      f"{med(t,1):.1f} / {med(t,2):.1f} | {ratio(med(v,0), med(t,0))} | {ratio(med(v,1), med(t,1))} | "
      f"{ratio(med(v,2), med(t,2))} |")
EOF
    done
    kill "$vidtag_pid" "$twin_pid" 2>/dev/null || true
    wait "$vidtag_pid" "$twin_pid" 2>/dev/null || true
  done
done
