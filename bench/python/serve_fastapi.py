"""The FastAPI twin of `vidtag serve` for bench/serve.sh: FastAPI + uvicorn + PyTorch eager, serving a vidtag
single-stream model folder (config.json, model.safetensors, vocab.txt, labels.json, data_settings.json and, for
models on raw frames, frame_encoder/) through the same PyTorch twin as bench/python/infer_bench.py
(transformers' BertModel over inputs_embeds, the frame projection, masked-mean pooling, the classifier; the
frame encoder as transformers' CLIPVisionModel), with the same request work as vidtag: the JSON body
`{"title", "asr", "ocr": [{"time", "text"}], "frames": [base64 JPEG], "top_k"}`, BertTokenizerFast on the
model's vocab.txt with vidtag's layout (`[CLS] title [SEP] asr [SEP] ocr [SEP]`, each cut to its budget), frames
at an even stride down to max_frames, decoded with PIL, resized (shorter side, the encoder's resample), centre
cropped and normalised as preprocessor_config.json says. The answer has vidtag's shape (top-k level 2 and level 1
with probabilities).

It serves the way such a service is usually written: one request per forward pass (no dynamic batching), the
forward behind a lock (one model, as vidtag's single model actor), request parsing in FastAPI's thread pool.

Usage: serve_fastapi.py --model FOLDER [--port 8081] [--threads 2]
"""
import argparse
import base64
import io
import json
import os
import threading
import time

import numpy as np
import torch
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from PIL import Image
from safetensors.torch import load_file
from torch import nn
from transformers import BertConfig, BertModel, BertTokenizerFast, CLIPVisionConfig, CLIPVisionModel
from transformers import CLIPVisionModelWithProjection

p = argparse.ArgumentParser()
p.add_argument("--model", required=True)
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, default=8081)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)


def read_json(name):
    with open(os.path.join(a.model, name)) as f:
        return json.load(f)


config = read_json("config.json")
data = read_json("data_settings.json")
labels = read_json("labels.json")
level2_ids = labels["category_ids"]
if config["model_type"] != "single_stream":
    raise SystemExit(f"serve_fastapi.py: only single_stream models have a twin, not {config['model_type']}")
text = config["text_config"]
weights = load_file(os.path.join(a.model, "model.safetensors"))
takes_jpeg = data["frame_source"] != "features"


class SingleStream(nn.Module):
    def __init__(self):
        super().__init__()
        bert = BertConfig(vocab_size=text["vocab_size"], hidden_size=text["hidden_size"],
                          num_hidden_layers=text["num_hidden_layers"], num_attention_heads=text["num_attention_heads"],
                          intermediate_size=text["intermediate_size"], max_position_embeddings=text["max_position_embeddings"],
                          type_vocab_size=text["type_vocab_size"], layer_norm_eps=text["layer_norm_eps"],
                          hidden_act=text["hidden_act"], attn_implementation="sdpa")
        hidden = text["hidden_size"]
        self.bert = BertModel(bert, add_pooling_layer=False)
        width = weights["video_projection.weight"].shape[1]
        self.video_projection = nn.Linear(width, hidden)
        self.video_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.frame_position_embeddings = nn.Embedding(data["max_frames"], hidden)
        self.classifier = nn.Linear(hidden, config["classes"])
        self.frame_encoder = None
        self.projected = "frame_encoder.visual_projection.weight" in weights
        if takes_jpeg:
            with open(os.path.join(a.model, "frame_encoder", "config.json")) as f:
                vision = json.load(f)
            vision = CLIPVisionConfig(**{k: v for k, v in vision.items() if k not in ("architectures", "dtype")},
                                      attn_implementation="sdpa")
            self.frame_encoder = (CLIPVisionModelWithProjection if self.projected else CLIPVisionModel)(vision)

    def forward(self, text_ids, text_mask, frames, frame_mask):
        batch, length = text_ids.shape
        if self.frame_encoder is not None:  # [B, F, 3, H, W] → one vector per frame
            b, f = frames.shape[:2]
            out = self.frame_encoder(pixel_values=frames.flatten(0, 1))
            frames = (out.image_embeds if self.projected else out.pooler_output).reshape(b, f, -1)
        words = self.bert.embeddings.word_embeddings(text_ids)
        count = frames.shape[1]
        projected = self.video_norm(self.video_projection(frames) + self.frame_position_embeddings(torch.arange(count)))
        separator = self.bert.embeddings.word_embeddings(torch.full((batch, 1), config.get("separator_token_id", 3)))
        embeds = torch.cat([words, projected, separator], 1)
        mask = torch.cat([text_mask, frame_mask, torch.ones(batch, 1, dtype=torch.long)], 1)
        types = torch.cat([torch.zeros(batch, length, dtype=torch.long), torch.ones(batch, count + 1, dtype=torch.long)], 1)
        positions = torch.cat([torch.arange(length), torch.arange(count + 1) + length])
        hidden = self.bert(inputs_embeds=embeds, attention_mask=mask, token_type_ids=types,
                           position_ids=positions.unsqueeze(0).expand(batch, -1)).last_hidden_state
        w = mask.to(hidden.dtype).unsqueeze(-1)
        return self.classifier((hidden * w).sum(1) / w.sum(1).clamp(min=1e-9))


model = SingleStream().eval()
missing, unexpected = model.load_state_dict(weights, strict=False)
missing = [k for k in missing if not k.endswith("position_ids")]
if missing or unexpected:
    raise SystemExit(f"serve_fastapi.py: weights do not fit the twin: missing {missing[:5]}, unexpected {unexpected[:5]}")
tokenizer = BertTokenizerFast(vocab_file=os.path.join(a.model, "vocab.txt"), do_lower_case=True)
budgets = data["budgets"]
if takes_jpeg:
    with open(os.path.join(a.model, "frame_encoder", "preprocessor_config.json")) as f:
        pre = json.load(f)
    mean = np.array(pre["image_mean"], dtype=np.float32).reshape(3, 1, 1)
    std = np.array(pre["image_std"], dtype=np.float32).reshape(3, 1, 1)
    shortest, crop = pre["size"]["shortest_edge"], pre["crop_size"]
    resample = pre.get("resample", 3)
lock = threading.Lock()
app = FastAPI()


def text_ids(video):
    ids = [tokenizer.cls_token_id]
    ocr = " ".join(item.get("text", "") for item in sorted(video.get("ocr") or [], key=lambda item: item["time"]))
    for value, budget in [(video.get("title", ""), budgets["title"]), (video.get("asr", ""), budgets["asr"]),
                          (ocr, budgets["ocr"])]:
        ids += tokenizer(value, add_special_tokens=False)["input_ids"][:budget] + [tokenizer.sep_token_id]
    return ids


def frame(encoded):
    image = Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGB")
    w, h = image.size
    scale = shortest / min(w, h)
    image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), resample)
    w, h = image.size
    left, top = (w - crop["width"]) // 2, (h - crop["height"]) // 2
    image = image.crop((left, top, left + crop["width"], top + crop["height"]))
    return (np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0 - mean) / std


def top(probabilities, ids, k):
    order = sorted(range(len(ids)), key=lambda i: -probabilities[i])[:k]
    return [{"category_id": ids[i], "probability": probabilities[i]} for i in order]


@app.get("/healthz")
def healthz():
    return {"status": "ready"}


@app.post("/v1/classify")
def classify(video: dict):
    started = time.perf_counter()
    try:
        ids = torch.tensor([text_ids(video)])
        count = data["max_frames"]
        if takes_jpeg:
            given = video.get("frames") or []
            chosen = [given[int(i * len(given) / count)] for i in range(count)] if len(given) > count else given
            pixels = np.zeros((count, 3, crop["height"], crop["width"]), dtype=np.float32)
            for slot, encoded in enumerate(chosen):
                pixels[slot] = frame(encoded)
            frames = torch.from_numpy(pixels).unsqueeze(0)
            frame_mask = torch.tensor([[1] * len(chosen) + [0] * (count - len(chosen))])
        else:
            frames = torch.zeros(1, count, model.video_projection.in_features)
            frame_mask = torch.zeros(1, count, dtype=torch.long)
    except Exception as error:  # a bad request, as vidtag refuses it
        raise HTTPException(status_code=400, detail=str(error))
    with lock, torch.inference_mode():
        probabilities = torch.softmax(model(ids, torch.ones_like(ids), frames, frame_mask), -1)[0].tolist()
    k = int(video.get("top_k", 5))
    level1 = {}
    for i, category in enumerate(level2_ids):
        level1[category[:2]] = level1.get(category[:2], 0.0) + probabilities[i]
    groups = sorted(level1)
    return JSONResponse({"predictions": [{"id": str(video.get("id", "0")), "level2": top(probabilities, level2_ids, k),
                                          "level1": top([level1[g] for g in groups], groups, k)}],
                         "took_ms": 1000 * (time.perf_counter() - started)})


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host=a.host, port=a.port, log_level="warning", access_log=False)
