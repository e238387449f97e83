#!/usr/bin/env bash
# The page round trip of `vidtag serve` in a real browser (headless Chromium, driven over the DevTools protocol
# by scripts/browser_test.py, standard-library Python only): trains a tiny model on raw frames (the tiny demo
# data, the tiny CLIP encoder fixture, two steps and one evaluation, so the model card has scores, per-class
# F1 and curves), serves it, loads `/`, fills in a video, attaches three of the demo's JPEG frames, submits
# (the page sends a multipart form), reads the top-k from the DOM, opens the model card from its link and reads
# its bars; screenshots of both pages go to OUT (default /tmp/vidtag-browser-test).
#
# Usage: scripts/browser-test.sh [OUT]
# VIDTAG=path uses a built vidtag (else the debug one is built). Chromium: `chromium` from Debian
# (apt-get install chromium), installed here when missing and running as root with apt-get; without it and
# without root the script says it skipped and exits 0 (BROWSER_TEST_REQUIRED=1 makes that a failure).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/vidtag-browser-test}"
chromium=""
find_chromium() {
  for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null; then chromium="$(command -v "$name")"; return 0; fi
  done
  return 1
}
if ! find_chromium; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "browser-test: installing chromium (apt-get)"
    apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || true
    if ! find_chromium; then
      echo "browser-test: SKIPPED: installing chromium with apt-get failed" >&2
      [ "${BROWSER_TEST_REQUIRED:-0}" = 1 ] && exit 1
      exit 0
    fi
  else
    echo "browser-test: SKIPPED: no chromium binary (apt-get install chromium) and not root to install it" >&2
    [ "${BROWSER_TEST_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
  fi
fi
bin="${VIDTAG:-}"
if [ -z "$bin" ]; then
  swift build --product vidtag 2>&1 | tail -1
  bin=.build/debug/vidtag
fi
work=$(mktemp -d /tmp/vidtag-browser-test.XXXXXX)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
started=$(date +%s)
"$bin" make-demo --tiny --out "$work/data" --seed 7 >/dev/null
"$bin" train --data "$work/data" --out "$work/run" --force --set seed=7 --set model.kind=single_stream \
  --set model.layers=1 --set model.hidden=32 --set model.heads=2 --set model.intermediate=64 \
  --set "model.frame_encoder=$PWD/Tests/Fixtures/vision/clip" --set data.frame_source=frames --set data.max_frames=4 \
  --set data.title_tokens=12 --set data.asr_tokens=12 --set data.ocr_tokens=12 --set train.batch_size=16 \
  --set train.max_steps=2 --set train.eval_every=2 --set train.threads=1 --set data.workers=1 >/dev/null
# Three JPEG frames of a test_a video, from its frame zip.
python3 - "$work" <<'EOF'
import glob, sys, zipfile
work = sys.argv[1]
archive = zipfile.ZipFile(sorted(glob.glob(f"{work}/data/zip_frames/test_a/*/*.zip"))[0])
members = sorted(n for n in archive.namelist() if n.endswith(".jpg"))[:3]
for number, name in enumerate(members):
    open(f"{work}/frame-{number}.jpg", "wb").write(archive.read(name))
EOF
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --model "$work/run" --port "$port" --max-delay-ms 1 > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.2
done
echo "browser-test: model trained and served in $(( $(date +%s) - started )) s; $("$chromium" --version 2>/dev/null)"
python3 scripts/browser_test.py --chromium "$chromium" --url "http://127.0.0.1:$port" --out "$out" \
  --frame "$work/frame-0.jpg" --frame "$work/frame-1.jpg" --frame "$work/frame-2.jpg"
echo "browser-test: passed in $(( $(date +%s) - started )) s"
