"""Forward + backward of one BERT-base encoder layer with PyTorch's own ops from Python: the reference
for bench/swift/BertLayerBench.swift (same shapes, same ops, same dropout). Prints one JSON line."""
import argparse
import json
import time

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--batch", type=int, default=8)
p.add_argument("--sequence", type=int, default=256)
p.add_argument("--hidden", type=int, default=768)
p.add_argument("--heads", type=int, default=12)
p.add_argument("--intermediate", type=int, default=3072)
p.add_argument("--iterations", type=int, default=5)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--device", default="cpu")
p.add_argument("--precision", default="fp32")
a = p.parse_args()

torch.set_num_threads(a.threads)
dev = torch.device(a.device)
g = torch.Generator().manual_seed(0)
B, T, H, I = a.batch, a.sequence, a.hidden, a.intermediate


def param(*shape, std=0.02):
    return (torch.randn(*shape, generator=g) * std).to(dev).requires_grad_()


names = ["query", "key", "value", "attention_output"]
W = {n: param(H, H) for n in names}
Bias = {n: torch.zeros(H, device=dev, requires_grad=True) for n in names}
ln1 = (torch.ones(H, device=dev, requires_grad=True), torch.zeros(H, device=dev, requires_grad=True))
up_w, up_b = param(I, H), torch.zeros(I, device=dev, requires_grad=True)
down_w, down_b = param(H, I), torch.zeros(H, device=dev, requires_grad=True)
ln2 = (torch.ones(H, device=dev, requires_grad=True), torch.zeros(H, device=dev, requires_grad=True))
params = list(W.values()) + list(Bias.values()) + list(ln1) + [up_w, up_b, down_w, down_b] + list(ln2)

x = torch.randn(B, T, H, generator=g).to(dev).requires_grad_()
upstream = torch.randn(B, T, H, generator=g).to(dev)
mask = torch.ones(B, 1, 1, T, dtype=torch.bool)
mask[..., T * 3 // 4:] = False
mask = mask.to(dev)
D = H // a.heads


def split(t):
    return t.view(B, T, a.heads, D).transpose(1, 2)


def step():
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.precision)
    with torch.autocast(dev.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        ctx = F.scaled_dot_product_attention(split(F.linear(x, W["query"], Bias["query"])),
                                             split(F.linear(x, W["key"], Bias["key"])),
                                             split(F.linear(x, W["value"], Bias["value"])),
                                             attn_mask=mask, dropout_p=0.1)
        merged = ctx.transpose(1, 2).reshape(B, T, H)
        att = F.layer_norm(F.dropout(F.linear(merged, W["attention_output"], Bias["attention_output"]), 0.1, True) + x,
                           (H,), ln1[0], ln1[1], 1e-12)
        inter = F.gelu(F.linear(att, up_w, up_b))
        out = F.layer_norm(F.dropout(F.linear(inter, down_w, down_b), 0.1, True) + att, (H,), ln2[0], ln2[1], 1e-12)
    (out * upstream).sum().backward()
    for t in params:
        t.grad = None
    x.grad = None


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
print(json.dumps({"impl": "pytorch", "times_ms": times}))
