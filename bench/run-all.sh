#!/usr/bin/env bash
# Every benchmark in bench/, each vidtag against the PyTorch / Python way, side by side, as ratios.
# The quality table and the ablation (bench/quality.sh, bench/ablation.sh) train many models and are run
# on their own.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-reference.sh
swift build -c release --product vidtag-bench 2>&1 | tail -1
export VIDTAG_BENCH=.build/release/vidtag-bench
bench/bert-layer.sh
bench/bert.sh
bench/tokenizer.sh
bench/features.sh
bench/annotations.sh
bench/frames.sh
bench/loader.sh
