"""Forward + backward of transformers' ViTModel over one video's frames: the reference for
bench/swift/ViTBench.swift (same folder, same weights, same loss: the squared sum of each frame's final
LayerNorm'ed [CLS] vector). `--make FOLDER` writes a random ViT-B/16 folder (config.json,
preprocessor_config.json, model.safetensors) for both sides. Prints one JSON line."""
import argparse
import json
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--folder", required=True)
p.add_argument("--make", action="store_true", help="write a random ViT-B/16 (224 px) into --folder and exit")
p.add_argument("--patch", type=int, default=16)
p.add_argument("--frames", type=int, default=8)
p.add_argument("--iterations", type=int, default=5)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--device", default="cpu")
p.add_argument("--precision", default="fp32")
p.add_argument("--attention", default="sdpa", help="transformers attn_implementation: sdpa or eager")
a = p.parse_args()

from transformers import ViTConfig, ViTImageProcessor, ViTModel  # noqa: E402  (after argparse: --help stays fast)
from transformers.utils import logging  # noqa: E402

logging.set_verbosity_error()
torch.set_num_threads(a.threads)

if a.make:
    torch.manual_seed(0)
    ViTModel(ViTConfig(patch_size=a.patch), add_pooling_layer=False).save_pretrained(a.folder)
    ViTImageProcessor().save_pretrained(a.folder)
    raise SystemExit(0)

dev = torch.device(a.device)
model = ViTModel.from_pretrained(a.folder, add_pooling_layer=False, attn_implementation=a.attention).to(dev).train()
size = model.config.image_size
pixels = torch.randn(a.frames, 3, size, size, generator=torch.Generator().manual_seed(1)).to(dev)
dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.precision)


def step():
    with torch.autocast(dev.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        vectors = model(pixel_values=pixels).last_hidden_state[:, 0]
    vectors.float().square().sum().backward()
    model.zero_grad(set_to_none=True)


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


for _ in range(a.warmup):
    step()
sync()
times = []
for _ in range(a.iterations):
    t0 = time.perf_counter_ns()
    step()
    sync()
    times.append((time.perf_counter_ns() - t0) / 1e6)
print(json.dumps({"impl": "transformers", "times_ms": times}))
