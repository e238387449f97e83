"""Runs two benchmark commands alternately for several rounds and prints the medians and their ratio.

Each command prints one JSON line {"impl": NAME, "times_ms": [...]}. In each round the two commands run
back to back in an order drawn at random (--order-seed, printed), so neither side always runs first
(and always inherits the other's warm caches, or its heat).
Usage: compare.py [--rounds N] [--label TEXT] [--order-seed S] -- CMD_A... --- CMD_B...
Ratio = median(A) / median(B) in time (lower is better for A).
"""
import json
import random
import shlex
import statistics
import subprocess
import sys


def main():
    argv = sys.argv[1:]
    rounds, label, per_step, order_seed = 3, "benchmark", 8, None
    while argv and argv[0] != "--":
        if argv[0] == "--rounds":
            rounds = int(argv[1]); argv = argv[2:]
        elif argv[0] == "--samples-per-step":
            per_step = int(argv[1] or 8); argv = argv[2:]
        elif argv[0] == "--order-seed":
            order_seed = int(argv[1]); argv = argv[2:]
        elif argv[0] == "--label":
            label = argv[1]; argv = argv[2:]
        else:
            sys.exit(f"compare.py: unknown option {argv[0]}")
    argv = argv[1:]
    split = argv.index("---")
    commands = [argv[:split], argv[split + 1:]]
    samples = [[], []]
    names = ["", ""]
    peaks = [0.0, 0.0]
    if order_seed is None:
        order_seed = random.SystemRandom().randrange(2**31)
    order_random = random.Random(order_seed)
    orders = []
    for r in range(rounds):
        order = [0, 1]
        order_random.shuffle(order)
        orders.append("AB" if order == [0, 1] else "BA")
        for i in order:
            cmd = commands[i]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            line = [l for l in out.splitlines() if l.startswith("{")][-1]
            result = json.loads(line)
            names[i] = result.get("impl", shlex.join(cmd))
            samples[i] += result["times_ms"]
            peaks[i] = max(peaks[i], result.get("peak_rss_mb", 0.0))
    medians = [statistics.median(s) for s in samples]
    print(f"{label}: round orders {' '.join(orders)} (--order-seed {order_seed})")
    print(f"{label}: {names[0]} median {medians[0]:.1f} ms ({len(samples[0])} runs), "
          f"{names[1]} median {medians[1]:.1f} ms ({len(samples[1])} runs)")
    print(f"{label}: ratio {names[0]}/{names[1]} = {medians[0] / medians[1]:.3f} (time; < 1 means {names[0]} is faster)")
    if all(peaks):
        print(f"{label}: {per_step * 1000 / medians[0]:.2f} vs {per_step * 1000 / medians[1]:.2f} samples/s; "
              f"peak memory {names[0]} {peaks[0]:.0f} MiB, {names[1]} {peaks[1]:.0f} MiB")


if __name__ == "__main__":
    main()
