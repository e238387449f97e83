#!/usr/bin/env bash
# Quality on the demo data (issue: training run): the fused single-stream model against its text-only
# and frames-only variants and the NeXtVLAD baseline, 3 seeds each, held-out fold 0 of `labeled`.
# Writes docs/results/quality.md. Takes about 20-30 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build
[ -f demo/data/demo.json ] || .build/release/vidtag make-demo --out demo/data --seed 7
mkdir -p docs/results
.deps/venv/bin/python bench/experiments.py --vidtag .build/release/vidtag --data demo/data --out demo/quality \
  --seeds "${SEEDS:-1,2,3}" --experiments quality --table docs/results/quality.md "$@"
