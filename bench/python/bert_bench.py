"""Reference for `vidtag-bench bert`: Hugging Face transformers' BertModel forward (eval mode, no grad) on
the same text encoder folder, same shapes and thread count. Prints one JSON line of per-iteration times.

Usage: bert_bench.py --folder DIR [--batch 8] [--sequence 256] [--iterations 3] [--threads 2] [--no-mask]
"""
import argparse
import json
import time

import torch
from transformers import BertModel

p = argparse.ArgumentParser()
p.add_argument("--folder", required=True)
p.add_argument("--batch", type=int, default=8)
p.add_argument("--sequence", type=int, default=256)
p.add_argument("--iterations", type=int, default=3)
p.add_argument("--warmup", type=int, default=1)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--device", default="cpu")
p.add_argument("--no-mask", action="store_true")
p.add_argument("--attention", default="sdpa", help="transformers attn_implementation: sdpa (default) or eager")
a = p.parse_args()

torch.set_num_threads(a.threads)
device = torch.device(a.device)
model = BertModel.from_pretrained(a.folder, attn_implementation=a.attention).to(device).eval()
generator = torch.Generator().manual_seed(1)
ids = torch.randint(1000, model.config.vocab_size, (a.batch, a.sequence), generator=generator).to(device)
mask = None if a.no_mask else torch.ones(a.batch, a.sequence, dtype=torch.int64, device=device)
checksum = 0.0


def step():
    global checksum
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    checksum += hidden[:, 0].sum().item()  # waits for the result


for _ in range(a.warmup):
    step()
times = []
for _ in range(a.iterations):
    start = time.perf_counter()
    step()
    times.append((time.perf_counter() - start) * 1000)
print(json.dumps({"impl": "transformers", "times_ms": times, "checksum": checksum}))
