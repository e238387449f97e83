"""Training steps of the single-stream model in PyTorch (Hugging Face BertModel over inputs_embeds, the
frame projection, masked-mean pooling, classifier; cross-entropy, backward, clip, AdamW): the reference for
bench/swift/TrainStepBench.swift, same shapes and the same model as scripts/fixtures/make_fusion_fixtures.py
checks vidtag against. With --kind dual_stream, the dual-stream model as
scripts/fixtures/make_dual_stream_fixtures.py checks it, built from transformers' pieces: BertModel for the
text, BertLayer for the video tower, BertAttention (self and cross) + BertIntermediate + BertOutput for the
fusion layers (ALBEF's block). Prints one JSON line with per-step times and peak memory."""
import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertModel, ViTConfig, ViTModel
from transformers.models.bert.modeling_bert import BertAttention, BertIntermediate, BertLayer, BertOutput

p = argparse.ArgumentParser()
for name, default in [("batch", 8), ("text", 256), ("frames", 32), ("layers", 12), ("hidden", 768), ("heads", 12),
                      ("intermediate", 3072), ("vocabulary-size", 21128), ("classes", 200), ("iterations", 3),
                      ("warmup", 1), ("threads", 2), ("video-layers", 2), ("fusion-layers", 2)]:
    p.add_argument(f"--{name}", type=int, default=default)
p.add_argument("--device", default="cpu")
p.add_argument("--precision", default="fp32")
p.add_argument("--kind", default="single_stream", choices=["single_stream", "dual_stream"])
p.add_argument("--vit", action="store_true", help="raw frames through a ViT-B/16 (224 px) end to end")
p.add_argument("--optimizer", choices=["per-tensor", "foreach", "fused"], default="per-tensor",
               help="torch.optim.AdamW's implementation (bench/gpu.sh: fused, as the reference figures)")
p.add_argument("--ddp", action="store_true",
               help="DistributedDataParallel over Gloo (start with torchrun): each rank trains on its own batch")
a = p.parse_args()
torch.set_num_threads(a.threads)
rank = 0
if a.ddp:
    import torch.distributed as dist
    dist.init_process_group("gloo")
    rank = dist.get_rank()
torch.manual_seed(0)
dev = torch.device(a.device)


class SingleStream(nn.Module):
    def __init__(self):
        super().__init__()
        config = BertConfig(vocab_size=a.vocabulary_size, hidden_size=a.hidden, num_hidden_layers=a.layers,
                            num_attention_heads=a.heads, intermediate_size=a.intermediate, attn_implementation="sdpa")
        self.bert = BertModel(config, add_pooling_layer=False)
        self.video_projection = nn.Linear(768, a.hidden)
        self.video_norm = nn.LayerNorm(a.hidden, eps=1e-12)
        self.frame_position_embeddings = nn.Embedding(a.frames, a.hidden)
        self.classifier = nn.Linear(a.hidden, a.classes)
        self.frame_encoder = ViTModel(ViTConfig(attn_implementation="sdpa"), add_pooling_layer=False) if a.vit else None

    def forward(self, text_ids, text_mask, frames, frame_mask):
        batch, length = text_ids.shape
        if self.frame_encoder is not None:  # [B, F, 3, H, W] → the final-LayerNorm [CLS] of each frame
            b, f = frames.shape[:2]
            frames = self.frame_encoder(pixel_values=frames.flatten(0, 1)).last_hidden_state[:, 0].reshape(b, f, -1)
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
        hidden = self.bert(inputs_embeds=embeds, attention_mask=mask, token_type_ids=types,
                           position_ids=positions.unsqueeze(0).expand(batch, -1)).last_hidden_state
        weights = mask.to(hidden.dtype).unsqueeze(-1)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return self.classifier(F.dropout(pooled, 0.1, self.training))


class FusionLayer(nn.Module):
    """ALBEF's fusion block: self-attention over the text, cross-attention to the video, feed-forward."""

    def __init__(self, config):
        super().__init__()
        self.attention = BertAttention(config)
        self.crossattention = BertAttention(config, is_cross_attention=True)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, text, video):
        attended = self.attention(text)[0]
        crossed = self.crossattention(attended, None, video, None)[0]
        return self.output(self.intermediate(crossed), crossed)


class DualStream(nn.Module):
    """Masks are all ones in this benchmark, so none is passed (vidtag drops all-ones masks too)."""

    def __init__(self):
        super().__init__()
        config = BertConfig(vocab_size=a.vocabulary_size, hidden_size=a.hidden, num_hidden_layers=a.layers,
                            num_attention_heads=a.heads, intermediate_size=a.intermediate, attn_implementation="sdpa")
        self.bert = BertModel(config, add_pooling_layer=False)
        self.video_token = nn.Parameter(0.02 * torch.randn(a.hidden))
        self.video_projection = nn.Linear(768, a.hidden)
        self.video_norm = nn.LayerNorm(a.hidden, eps=1e-12)
        self.frame_position_embeddings = nn.Embedding(a.frames + 1, a.hidden)
        self.video_encoder = nn.ModuleList([BertLayer(config) for _ in range(a.video_layers)])
        self.fusion = nn.ModuleList([FusionLayer(config) for _ in range(a.fusion_layers)])
        self.classifier = nn.Linear(a.hidden, a.classes)

    def forward(self, text_ids, text_mask, frames, frame_mask):
        text = self.bert(input_ids=text_ids, attention_mask=text_mask).last_hidden_state
        batch, count = frames.shape[:2]
        token = self.video_token.view(1, 1, -1).expand(batch, 1, -1)
        video = self.video_norm(torch.cat([token, self.video_projection(frames)], 1)
                                + self.frame_position_embeddings(torch.arange(count + 1, device=frames.device)))
        video = F.dropout(video, 0.1, self.training)
        for layer in self.video_encoder:
            video = layer(video)
        for layer in self.fusion:
            text = layer(text, video)
        weights = text_mask.to(text.dtype).unsqueeze(-1)
        pooled = (text * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return self.classifier(F.dropout(pooled, 0.1, self.training))


model = (DualStream() if a.kind == "dual_stream" else SingleStream()).to(dev).train()
no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n or "norm" in n]
decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n or "norm" in n)]
if a.ddp:  # broadcasts rank 0's weights; 25 MiB buckets all-reduced during backward
    model = nn.parallel.DistributedDataParallel(model)
optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                              lr=5e-5, foreach=a.optimizer == "foreach", fused=a.optimizer == "fused" or None)
g = torch.Generator().manual_seed(1 + rank)
text_ids = torch.randint(5, a.vocabulary_size, (a.batch, a.text), generator=g).to(dev)
text_mask = torch.ones(a.batch, a.text, dtype=torch.long, device=dev)
frames = torch.randn(*((a.batch, a.frames, 3, 224, 224) if a.vit else (a.batch, a.frames, 768)), generator=g).to(dev)
frame_mask = torch.ones(a.batch, a.frames, dtype=torch.long, device=dev)
labels = torch.randint(0, a.classes, (a.batch,), generator=g).to(dev)
dtype = torch.bfloat16 if a.precision == "bf16" else None


def step():
    with torch.autocast(dev.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        loss = F.cross_entropy(model(text_ids, text_mask, frames, frame_mask).float(), labels)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()


for _ in range(a.warmup):
    step()
times = []
for _ in range(a.iterations):
    t0 = time.perf_counter_ns()
    loss = step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    times.append((time.perf_counter_ns() - t0) / 1e6)
if rank != 0:
    sys.exit(0)
print(json.dumps({"impl": "pytorch-ddp" if a.ddp else "pytorch", "times_ms": times, "loss": loss,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
