#!/usr/bin/env bash
# Every speed benchmark in bench/, each vidtag against the PyTorch / Python way (or, bench/omp-wait.sh, its own
# settings), side by side, as ratios: every bench/*.sh except this script, the training-quality experiments
# (quality.sh, ablation.sh, pretraining.sh, pseudo-labels.sh train many models, hours on a small machine),
# the 1M-video memory measurement (unlabelled-scale.sh) and the GPU benchmark (gpu.sh; on the CPU: make
# bench-gpu-cpu), which run on their own.
# Each benchmark runs under a time bound (BENCH_TIMEOUT seconds, default 1800); one that fails or runs
# past it is reported and the others still run; the exit status is non-zero if any did.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-reference.sh
swift build -c release --product vidtag-bench 2>&1 | tail -1
export VIDTAG_BENCH=.build/release/vidtag-bench
limit=${BENCH_TIMEOUT:-1800}
failed=()
for script in bench/*.sh; do
  case "$(basename "$script")" in
    run-all.sh | quality.sh | ablation.sh | pretraining.sh | pseudo-labels.sh | unlabelled-scale.sh | gpu.sh) continue ;;
  esac
  echo "=== $script (at most $limit s)"
  if ! timeout "$limit" "$script"; then
    echo "=== $script failed or ran past $limit s" >&2
    failed+=("$script")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
