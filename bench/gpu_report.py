"""Prints bench/gpu.sh's table from the JSON lines its runs wrote (one per process: the fields the benchmark
printed plus "bench", "impl", "batch"), with samples/s, videos/s and model FLOPs utilisation.

Usage: gpu_report.py RESULTS.jsonl --device-name NAME [--peak-tflops X] [--layers L --hidden H --intermediate I
       --text T --frames F --classes C]
MFU counts a training sample as 6 · N · S + 12 · L · H · S² FLOPs (nanoGPT's estimate: N the matmul
parameters a token meets, S = text + frames + 1 tokens), against the card's dense bf16 peak."""
import argparse
import json
import statistics

PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0, "L4": 121.0}

p = argparse.ArgumentParser()
p.add_argument("results")
p.add_argument("--device-name", default="")
p.add_argument("--peak-tflops", type=float)
for name, default in [("layers", 12), ("hidden", 768), ("intermediate", 3072), ("text", 256), ("frames", 32),
                      ("classes", 200)]:
    p.add_argument(f"--{name}", type=int, default=default)
a = p.parse_args()

peak = a.peak_tflops
if peak is None:
    peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in a.device_name.upper()), None)
tokens = a.text + a.frames + 1
per_layer = 4 * a.hidden * a.hidden + 2 * a.hidden * a.intermediate
flops_per_sample = (6 * tokens * a.layers * per_layer + 12 * a.layers * a.hidden * tokens * tokens
                    + 6 * a.frames * 768 * a.hidden + 6 * a.hidden * a.classes)

rows = {}
for line in open(a.results):
    record = json.loads(line)
    key = (record["bench"], record["batch"])
    rows.setdefault(key, {}).setdefault(record["impl"], []).append(record)


def rate(records, bench, batch):
    if bench == "train":  # samples/s from the median step time
        return batch * 1000 / statistics.median(t for r in records for t in r["times_ms"])
    return statistics.median(r["videos_per_second"] for r in records)


def mfu(value):
    if peak is None or value is None:
        return "-"
    return f"{100 * value * flops_per_sample / (peak * 1e12):.1f} %"


print(f"device: {a.device_name or 'unknown'}; bf16 peak {f'{peak:.0f} TFLOP/s' if peak else 'unknown (no MFU)'}; "
      f"model {a.layers} x {a.hidden}, {a.text} text + {a.frames} frames")
print()
print("| work | batch | vidtag | PyTorch eager | vidtag / PyTorch | MFU vidtag | MFU PyTorch |")
print("|---|---|---|---|---|---|---|")
for (bench, batch), impls in sorted(rows.items(), key=lambda item: (item[0][0] != "train", item[0][1])):
    ours = rate(impls["vidtag"], bench, batch) if "vidtag" in impls else None
    theirs = rate(impls["pytorch"], bench, batch) if "pytorch" in impls else None
    unit = "samples/s" if bench == "train" else "videos/s"
    work = ("training step, bf16" if bench == "train"
            else "inference, vidtag decoding JPEGs / PyTorch frames on the device")
    ratio = f"{ours / theirs:.2f}x" if ours and theirs else "-"
    print(f"| {work} | {batch} | {f'{ours:,.1f} {unit}' if ours else '-'} | {f'{theirs:,.1f} {unit}' if theirs else '-'} "
          f"| {ratio} | {mfu(ours) if bench == 'train' else '-'} | {mfu(theirs) if bench == 'train' else '-'} |")
