#!/usr/bin/env bash
# Does pretraining help? On the demo data: one `vidtag pretrain` run over unlabeled + test_a (MLM + MFM +
# ITM, the base model of bench/experiments.py, 5 epochs, seed 1), then fine-tuning from it against from
# random weights at the same fine-tuning budget (6 epochs), with all labels and with 10 % of them
# (data.label_fraction: the same videos for every arm of a seed), 3 seeds. The pretrained arms are run at
# the fine-tuning rates (5e-5 / 5e-4 / 5e-4) and at the from-scratch rates (1e-3 / 1e-3 / 2e-3), so that the
# init and the rates are not confounded, and once more from a pretraining with cosine MFM. Selection on
# fold 0 of `labeled` (the same folds for every seed and arm), reported on test_a against
# test_a_truth.csv with `vidtag evaluate --split test_a --truth` (the method: bench/experiments.py).
# Writes docs/results/pretraining-table.md (pretraining.md discusses it); then the throughput of a pretraining
# step against PyTorch + transformers (bench/pretrain_throughput.py) into docs/results/pretraining-throughput-table.md.
#
# Took 36 minutes on 2 cores beside other work (24 fine-tuning runs with --parallel 2, two pretraining runs);
# the throughput part (base shape included) about 10 more. SMOKE=1 runs a 1-layer × 32 model for 20 steps and the small throughput shape only: a check
# that the scripts work (a few minutes), not a result; it writes under demo/pretraining-smoke and /tmp.
# Usage: bench/pretraining.sh [experiments.py options, e.g. --parallel 2]
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build
swift build -c release --product vidtag-bench 2>&1 | tail -1
[ -f demo/data/demo.json ] || .build/release/vidtag make-demo --out demo/data --seed 7
mkdir -p docs/results
py=.deps/venv/bin/python
if [ "${SMOKE:-0}" = 1 ]; then
  "$py" bench/experiments.py --vidtag .build/release/vidtag --data demo/data --out demo/pretraining-smoke \
    --seeds "${SEEDS:-1}" --experiments pretraining-smoke --table /tmp/vidtag-pretraining-smoke.md \
    --pretrain-set train.max_steps=20 "$@"
  "$py" bench/pretrain_throughput.py --bench .build/release/vidtag-bench --python "$py" --shapes small --rounds 1 \
    --table /tmp/vidtag-pretraining-throughput-smoke.md
  exit 0
fi
"$py" bench/experiments.py --vidtag .build/release/vidtag --data demo/data --out demo/pretraining \
  --seeds "${SEEDS:-1,2,3}" --experiments pretraining --table docs/results/pretraining-table.md "$@"
"$py" bench/pretrain_throughput.py --bench .build/release/vidtag-bench --python "$py" --shapes small,base --rounds 3 \
  --table docs/results/pretraining-throughput-table.md
