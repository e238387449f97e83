#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (address sanitizer on) and runs each for a bounded time from its
# committed seed corpus. Any crash, sanitizer report, leak, timeout or out-of-memory fails the script and
# leaves the input under fuzz/.build/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET ...]     (default 30 s, every target)
#   FUZZ_JOBS=1 FUZZ_EXTRA="-max_len=65536" scripts/fuzz.sh 600 fuzz-npy
#
# New inputs the fuzzer finds go to fuzz/.build/corpus/<target>/ (kept between runs, never committed).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
shift || true
all_targets=(fuzz-safetensors fuzz-npy fuzz-feature-zip fuzz-annotations fuzz-jpeg-frame fuzz-frame-zip fuzz-config)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

[[ -f .deps/lib/libctorch.so ]] || { echo "fuzz.sh: .deps/lib/libctorch.so is missing; run 'make setup' first" >&2; exit 1; }

build_start=$SECONDS
# --sanitize=fuzzer makes SwiftPM link with libFuzzer's main; the compiler then needs one combined
# -sanitize=fuzzer,address (given last, it wins): the two flags SwiftPM passes for --sanitize=fuzzer
# --sanitize=address make the second drop the first's coverage instrumentation, and libFuzzer runs blind.
(cd fuzz && ${SWIFT:-swift} build -c release --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address)
echo "fuzz.sh: build took $((SECONDS - build_start)) s"

bin=fuzz/.build/release
failed=()
for target in "${targets[@]}"; do
    [[ -x "$bin/$target" ]] || { echo "fuzz.sh: no target $target (have: ${all_targets[*]})" >&2; exit 2; }
    work="fuzz/.build/corpus/$target"
    artifacts="fuzz/.build/artifacts/$target"
    log="fuzz/.build/logs/$target.log"
    mkdir -p "$work" "$artifacts" "$(dirname "$log")"
    echo "fuzz.sh: $target for ${seconds} s"
    # -rss_limit_mb / -malloc_limit_mb: an input that makes a parser allocate over 2 GB is a finding.
    # -timeout: an input that takes a parser over 10 s is a finding.
    # shellcheck disable=SC2086
    if LSAN_OPTIONS="suppressions=fuzz/lsan-suppressions.txt${LSAN_OPTIONS:+:$LSAN_OPTIONS}" "$bin/$target" "$work" "fuzz/corpus/$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 ${FUZZ_EXTRA:-} >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
        echo "fuzz.sh: $target ok: ${runs:-?} runs, ${speed:-?} exec/s, ${coverage:-cov: ?}"
    else
        echo "fuzz.sh: $target FAILED (log: $log, inputs: $artifacts/)" >&2
        grep -E "ERROR|==[0-9]+==|Fatal error|SUMMARY|Test unit written" "$log" | head -20 >&2 || true
        failed+=("$target")
    fi
done
# Each target process writes its inputs under a scratch folder named after its pid (fuzz/Sources/FuzzSupport);
# remove those of processes that have ended.
for dir in /dev/shm/vidtag-fuzz-* "${TMPDIR:-/tmp}"/vidtag-fuzz-*; do
    [[ -d "$dir" ]] || continue
    kill -0 "${dir##*-}" 2>/dev/null || rm -rf "$dir"
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz.sh: findings in ${failed[*]}" >&2
    exit 1
fi
