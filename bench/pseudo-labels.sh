#!/usr/bin/env bash
# One pseudo-label round, and a distilled smaller student against its teacher ensemble and a single model,
# on the demo data: 3 seeds on the same folds, selected on fold 0 of `labeled`, reported on test_a against
# test_a_truth.csv (bench/pseudo_labels.py, the method of bench/experiments.py). Writes
# docs/results/pseudo-labels-table.md. Took 56 minutes on 2 cores beside other work (12 trainings, 5 pseudo-label passes), and 29 more for the
# two step-count controls (6 trainings).
# Extra arguments go to pseudo_labels.py (e.g. --seeds 1 --extra train.max_steps=20 for a smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build
[ -f demo/data/demo.json ] || .build/release/vidtag make-demo --out demo/data --seed 7
mkdir -p docs/results
.deps/venv/bin/python bench/pseudo_labels.py --vidtag .build/release/vidtag --data demo/data --out demo/pseudo-labels \
  --seeds "${SEEDS:-1,2,3}" --table "${TABLE:-docs/results/pseudo-labels-table.md}" "$@"
