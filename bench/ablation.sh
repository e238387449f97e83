#!/usr/bin/env bash
# Ablation of the training tricks on the demo data (issue: tricks): the plain single-stream model, each
# trick added alone, and the full recipe; mean ± sd of the test_a challenge score over 3 seeds (the same
# folds; selected on fold 0, see bench/experiments.py) and each trick's training time relative to plain.
# Writes docs/results/ablation.md.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build
[ -f demo/data/demo.json ] || .build/release/vidtag make-demo --out demo/data --seed 7
mkdir -p docs/results
.deps/venv/bin/python bench/experiments.py --vidtag .build/release/vidtag --data demo/data --out demo/ablation \
  --seeds "${SEEDS:-1,2,3}" --experiments ablation --table docs/results/ablation.md "$@"
# Each trick's training cost, measured alone (one run at a time, 60 steps, no evaluation).
.deps/venv/bin/python bench/experiments.py --vidtag .build/release/vidtag --data demo/data --out demo/ablation \
  --experiments ablation --table docs/results/ablation-cost.md --cost-steps 60
