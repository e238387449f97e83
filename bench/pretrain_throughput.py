"""Pretraining throughput: vidtag against PyTorch + transformers on the same tasks and shapes.

Runs `vidtag-bench pretrain-step` (bench/swift/PretrainStepBench.swift) and bench/python/pretrain_step_bench.py
alternately, as bench/compare.py does: in each round both run back to back in an order drawn at random
(--order-seed, printed), so neither side always runs first. Each run times --iterations steps after
--warmup; a step is the single-stream model with MLM + MFM + ITM (host-side masks and pairs, one forward,
the three losses, backward, clip, AdamW). Reports the median step time of each side as samples/s and the
ratio vidtag / PyTorch in samples/s (> 1: vidtag is faster), and writes a markdown table.

Usage (from the repository root; bench/pretraining.sh runs it):
  .deps/venv/bin/python bench/pretrain_throughput.py --bench .build/release/vidtag-bench \
      --table docs/results/pretraining-throughput.md [--rounds 3] [--shapes base,small] [--threads 2]
Shapes: base = BERT-base (12 layers × 768, 12 heads), batch 8, text 256, 32 frames, vocabulary 21128;
small = 2 layers × 128, 4 heads, batch 32, text 64, 8 frames, vocabulary 3000 (the demo-data size).
"""
import argparse
import json
import platform
import random
import statistics
import subprocess
import sys

SHAPES = {
    "base": dict(batch=8, text=256, frames=32, layers=12, hidden=768, heads=12, intermediate=3072,
                 **{"vocabulary-size": 21128}),
    "small": dict(batch=32, text=64, frames=8, layers=2, hidden=128, heads=4, intermediate=256,
                  **{"vocabulary-size": 3000}),
}


def run(command):
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bench", required=True, help="the vidtag-bench executable")
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--table", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--shapes", default="small,base")
    p.add_argument("--order-seed", type=int)
    a = p.parse_args()
    order_seed = a.order_seed if a.order_seed is not None else random.SystemRandom().randrange(2**31)
    order_random = random.Random(order_seed)
    rows = []
    for shape in a.shapes.split(","):
        options = []
        for key, value in SHAPES[shape].items():
            options += [f"--{key}", str(value)]
        options += ["--iterations", str(a.iterations), "--warmup", str(a.warmup), "--threads", str(a.threads)]
        commands = {"vidtag": [a.bench, "pretrain-step"] + options,
                    "pytorch": [a.python, "bench/python/pretrain_step_bench.py"] + options}
        times = {"vidtag": [], "pytorch": []}
        peaks = {"vidtag": 0.0, "pytorch": 0.0}
        orders = []
        for _ in range(a.rounds):
            order = ["vidtag", "pytorch"]
            order_random.shuffle(order)
            orders.append("".join(name[0].upper() for name in order))
            for name in order:
                result = run(commands[name])
                times[name] += result["times_ms"]
                peaks[name] = max(peaks[name], result.get("peak_rss_mb", 0.0))
        rate = {name: SHAPES[shape]["batch"] * 1000 / statistics.median(values) for name, values in times.items()}
        rows.append((shape, rate, peaks, orders))
        print(f"{shape}: vidtag {rate['vidtag']:.2f} samples/s, PyTorch {rate['pytorch']:.2f} samples/s, "
              f"ratio {rate['vidtag'] / rate['pytorch']:.3f} (rounds {' '.join(orders)})", flush=True)
    lines = [f"Pretraining steps (single-stream, MLM + MFM + ITM, fp32, CPU, {a.threads} threads) on "
             f"{platform.machine()}: {a.rounds} alternating rounds of {a.iterations} timed steps after "
             f"{a.warmup} warm-up each (order seed {order_seed}); medians.",
             "",
             "| shape | vidtag samples/s | PyTorch + transformers samples/s | vidtag / PyTorch | peak RSS vidtag / PyTorch (MiB) |",
             "|---|---|---|---|---|"]
    for shape, rate, peaks, _ in rows:
        shape_text = ", ".join(f"{k} {v}" for k, v in SHAPES[shape].items())
        lines.append(f"| {shape} ({shape_text}) | {rate['vidtag']:.2f} | {rate['pytorch']:.2f} | "
                     f"{rate['vidtag'] / rate['pytorch']:.3f} | {peaks['vidtag']:.0f} / {peaks['pytorch']:.0f} |")
    with open(a.table, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
