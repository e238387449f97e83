#!/usr/bin/env bash
# Quality on the demo data: the fused single-stream model against its text-only and frames-only variants
# and the NeXtVLAD baseline, 3 seeds each on the same folds; selected on fold 0 of `labeled`, reported
# on test_a against test_a_truth.csv (the method: bench/experiments.py, docs/results/README.md).
# Writes docs/results/quality.md. Takes about 40-60 minutes on 2 idle cores.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build
[ -f demo/data/demo.json ] || .build/release/vidtag make-demo --out demo/data --seed 7
mkdir -p docs/results
.deps/venv/bin/python bench/experiments.py --vidtag .build/release/vidtag --data demo/data --out demo/quality \
  --seeds "${SEEDS:-1,2,3}" --experiments quality --table docs/results/quality.md "$@"
