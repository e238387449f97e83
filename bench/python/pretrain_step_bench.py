"""Pretraining steps of the single-stream model in PyTorch + transformers, the reference for
bench/swift/PretrainStepBench.swift (same shapes, same tasks, same order of work): the model of
train_step_bench.py (transformers' BertModel over inputs_embeds with the frames projected beside the text),
transformers' BertOnlyMLMHead with its decoder tied to the word embeddings, a Linear MFM head and a Linear
ITM head. Each step chooses on the host, as vidtag does: ITM pairs (half the rows get another row's
frames), MFM frames (15 % zeroed), MLM tokens (15 %: 80 % [MASK], 10 % random, 10 % kept, as
DataCollatorForLanguageModeling.torch_mask_tokens); then one forward, MLM cross-entropy at the chosen
positions (the head run there only, as vidtag does), UniBERT's in-batch NCE for MFM, BCE for ITM, backward,
clip, AdamW. Prints one JSON line with per-step times and peak memory."""
import argparse
import json
import resource
import time

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertModel
from transformers.models.bert.modeling_bert import BertOnlyMLMHead

p = argparse.ArgumentParser()
for name, default in [("batch", 8), ("text", 256), ("frames", 32), ("layers", 12), ("hidden", 768), ("heads", 12),
                      ("intermediate", 3072), ("vocabulary-size", 21128), ("iterations", 3), ("warmup", 1),
                      ("threads", 2)]:
    p.add_argument(f"--{name}", type=int, default=default)
p.add_argument("--device", default="cpu")
p.add_argument("--precision", default="fp32")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
dev = torch.device(a.device)
FEATURES = 768


class SingleStream(nn.Module):
    def __init__(self):
        super().__init__()
        config = BertConfig(vocab_size=a.vocabulary_size, hidden_size=a.hidden, num_hidden_layers=a.layers,
                            num_attention_heads=a.heads, intermediate_size=a.intermediate, attn_implementation="sdpa")
        self.bert = BertModel(config, add_pooling_layer=False)
        self.video_projection = nn.Linear(FEATURES, a.hidden)
        self.video_norm = nn.LayerNorm(a.hidden, eps=1e-12)
        self.frame_position_embeddings = nn.Embedding(a.frames, a.hidden)
        self.cls = BertOnlyMLMHead(config)
        self.cls.predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight  # tied
        self.mfm_head = nn.Linear(a.hidden, FEATURES)
        self.itm_head = nn.Linear(a.hidden, 1)

    def encode(self, text_ids, text_mask, frames, frame_mask):
        batch, length = text_ids.shape
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
        # No padding in this benchmark: no mask passed (vidtag drops all-ones masks too).
        hidden = self.bert(inputs_embeds=embeds, token_type_ids=types,
                           position_ids=positions.unsqueeze(0).expand(batch, -1)).last_hidden_state
        weights = mask.to(hidden.dtype).unsqueeze(-1)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return hidden[:, :length], hidden[:, length:length + count], pooled


model = SingleStream().to(dev).train()
no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n or "norm" in n]
decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n or "norm" in n)]
optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                              lr=5e-5)
g = torch.Generator().manual_seed(1)
text_ids = torch.randint(5, a.vocabulary_size, (a.batch, a.text), generator=g)
text_ids[:, 0], text_ids[:, -1] = 2, 3
text_mask = torch.ones(a.batch, a.text, dtype=torch.long)
frames = torch.rand(a.batch, a.frames, FEATURES, generator=g) * 2 - 1
frame_mask = torch.ones(a.batch, a.frames, dtype=torch.long)
dtype = torch.bfloat16 if a.precision == "bf16" else None
special = torch.tensor([0, 1, 2, 3, 4])


def choose():
    """The host's choices of one step: pairs, frames, tokens (as vidtag's PretrainingObjective.plan)."""
    rows = a.batch
    negative = torch.rand(rows) < 0.5
    other = torch.randint(0, rows - 1, (rows,))
    source = torch.where(negative, other + (other >= torch.arange(rows)).long(), torch.arange(rows))
    paired_mask = frame_mask[source]
    chosen_frames = (torch.rand(rows, a.frames) < 0.15) & (paired_mask == 1)
    labels = text_ids.clone()
    probability = torch.full(labels.shape, 0.15)
    probability.masked_fill_(torch.isin(text_ids, special) | (text_mask == 0), 0.0)
    chosen = torch.bernoulli(probability).bool()
    labels[~chosen] = -100
    masked_ids = text_ids.clone()
    replaced = torch.bernoulli(torch.full(labels.shape, 0.8)).bool() & chosen
    masked_ids[replaced] = 4
    randomised = torch.bernoulli(torch.full(labels.shape, 0.5)).bool() & chosen & ~replaced
    masked_ids[randomised] = torch.randint(a.vocabulary_size, labels.shape)[randomised]
    return source, paired_mask, chosen_frames, masked_ids, labels, source == torch.arange(rows)


def step():
    source, paired_mask, chosen_frames, masked_ids, labels, matches = choose()
    paired = frames.to(dev)[source.to(dev)]  # [B, F, D]
    inputs = paired * (~chosen_frames).to(dev).unsqueeze(-1)
    with torch.autocast(dev.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        text, video, pooled = model.encode(masked_ids.to(dev), text_mask.to(dev), inputs, paired_mask.to(dev))
        flat_labels = labels.view(-1)
        chosen_text = (flat_labels != -100).nonzero().squeeze(-1).to(dev)
        mlm = F.cross_entropy(model.cls(text.reshape(-1, text.shape[-1])[chosen_text]).float(), flat_labels.to(dev)[chosen_text])
        chosen_index = chosen_frames.view(-1).nonzero().squeeze(-1).to(dev)
        predicted = model.mfm_head(video.reshape(-1, video.shape[-1])[chosen_index]).float()
        logits = predicted @ paired.reshape(-1, FEATURES).float().T
        logits = logits.masked_fill((paired_mask.view(1, -1) == 0).to(dev), -1e9)
        mfm = F.cross_entropy(logits, chosen_index)
        itm = F.binary_cross_entropy_with_logits(model.itm_head(pooled).squeeze(-1).float(), matches.float().to(dev))
        loss = mlm + mfm + itm
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
print(json.dumps({"impl": "pytorch", "times_ms": times, "loss": loss,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
