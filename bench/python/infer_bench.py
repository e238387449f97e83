"""Inference of the single-stream model in PyTorch eager (transformers' BertModel over inputs_embeds, the frame
projection, masked-mean pooling, classifier; eval, no grad), the logits read back to the host: the reference for
bench/swift/InferBench.swift. With --weights it loads the safetensors vidtag-bench wrote (the same weights, same
keys). With --jpeg the frames go through transformers' CLIPVisionModel (ViT-B/16 shape) and are already on the
device (the reference's own setting: it decodes nothing). Prints one JSON line with per-forward times and
videos/s."""
import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertModel, CLIPVisionConfig, CLIPVisionModel

p = argparse.ArgumentParser()
p.add_argument("--size", choices=["demo", "base"], default="demo")
for name, default in [("batch", 1), ("iterations", 20), ("warmup", 3), ("threads", 2), ("frames", 8),
                      ("encoder-layers", 12), ("image-size", 224), ("decode-threads", 0)]:
    p.add_argument(f"--{name}", type=int, default=default)
p.add_argument("--device", default="cpu")
p.add_argument("--precision", default="fp32")
p.add_argument("--weights")
p.add_argument("--jpeg", action="store_true")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
dev = torch.device(a.device)
if a.size == "demo":
    hidden, layers, heads, intermediate, text, frames = 128, 2, 4, 256, 68, 8
else:
    hidden, layers, heads, intermediate, text, frames = 768, 12, 12, 3072, 256, 32
if a.jpeg:
    frames = a.frames


class SingleStream(nn.Module):
    def __init__(self):
        super().__init__()
        config = BertConfig(vocab_size=21128, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                            intermediate_size=intermediate, attn_implementation="sdpa")
        self.bert = BertModel(config, add_pooling_layer=False)
        self.video_projection = nn.Linear(768, hidden)
        self.video_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.frame_position_embeddings = nn.Embedding(frames, hidden)
        self.classifier = nn.Linear(hidden, 200)
        self.frame_encoder = None
        if a.jpeg:
            vision = CLIPVisionConfig(patch_size=16, image_size=a.image_size, num_hidden_layers=a.encoder_layers,
                                      attn_implementation="sdpa")
            self.frame_encoder = CLIPVisionModel(vision)

    def forward(self, text_ids, text_mask, frames, frame_mask):
        batch, length = text_ids.shape
        if self.frame_encoder is not None:  # [B, F, 3, H, W] → each frame's post-LayerNorm [CLS]
            b, f = frames.shape[:2]
            frames = self.frame_encoder(pixel_values=frames.flatten(0, 1)).pooler_output.reshape(b, f, -1)
        words = self.bert.embeddings.word_embeddings(text_ids)
        count = frames.shape[1]
        projected = self.video_norm(self.video_projection(frames)
                                    + self.frame_position_embeddings(torch.arange(count, device=frames.device)))
        separator = self.bert.embeddings.word_embeddings(torch.full((batch, 1), 3, device=frames.device))
        embeds = torch.cat([words, projected, separator], 1)
        mask = torch.cat([text_mask, frame_mask, torch.ones(batch, 1, dtype=torch.long, device=frames.device)], 1)
        types = torch.cat([torch.zeros(batch, length, dtype=torch.long, device=frames.device),
                           torch.ones(batch, count + 1, dtype=torch.long, device=frames.device)], 1)
        positions = torch.cat([torch.arange(length), torch.arange(count + 1) + length]).to(frames.device)
        hidden_states = self.bert(inputs_embeds=embeds, attention_mask=mask, token_type_ids=types,
                                  position_ids=positions.unsqueeze(0).expand(batch, -1)).last_hidden_state
        weights = mask.to(hidden_states.dtype).unsqueeze(-1)
        pooled = (hidden_states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return self.classifier(pooled)


model = SingleStream()
if a.weights:
    from safetensors.torch import load_file

    missing, unexpected = model.load_state_dict(load_file(a.weights), strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise SystemExit(f"infer_bench.py: weights do not match: missing {missing[:5]}, unexpected {unexpected[:5]}")
model = model.to(dev).eval()
g = torch.Generator().manual_seed(1)
text_ids = torch.randint(5, 21128, (a.batch, text), generator=g).to(dev)
text_mask = torch.ones(a.batch, text, dtype=torch.long, device=dev)
shape = (a.batch, frames, 3, a.image_size, a.image_size) if a.jpeg else (a.batch, frames, 768)
inputs = torch.randn(*shape, generator=g).to(dev)
frame_mask = torch.ones(a.batch, frames, dtype=torch.long, device=dev)
dtype = torch.bfloat16 if a.precision == "bf16" else None


def forward():
    with torch.no_grad(), torch.autocast(dev.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        logits = model(text_ids, text_mask, inputs, frame_mask)
    return logits.float().cpu().numpy()  # the prediction's host read


for _ in range(a.warmup):
    forward()
times = []
started = time.perf_counter()
for _ in range(a.iterations):
    t0 = time.perf_counter_ns()
    checksum = float(forward().sum())
    times.append((time.perf_counter_ns() - t0) / 1e6)
seconds = time.perf_counter() - started
print(json.dumps({"impl": "pytorch", "times_ms": times, "checksum": checksum,
                  "videos_per_second": a.batch * a.iterations / seconds}))
