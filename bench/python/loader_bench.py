"""Reference for `vidtag-bench loader`: samples per second with the challenge code's data path, as users
run it: a torch.utils.data.Dataset whose __getitem__ does what the WeChat 2022 baseline's data helper does,
fed through torch.utils.data.DataLoader with worker processes (num_workers=N, persistent_workers,
prefetch_factor 2, the default fork start on Linux).

Per sample: tokenize title / asr / ocr (transformers' BertTokenizerFast, budgets 98 / 90 / 68), read frames --
features: the "{id}.npy" member of zip_feats/{split}.zip with zipfile + numpy (each worker opens its own
ZipFile on first use: a handle cannot be shared across processes); frames: the video's zip with zipfile, PIL
decode, Resize(224, bilinear) + CenterCrop(224) + ToTensor + Normalize (CLIP statistics) done with PIL + NumPy
as torchvision does on PIL images -- even stride to max_frames, pad with a mask; then collate a batch into
tensors. The timed job, like the Swift side's, starts before the annotations are read and ends after the last
batch of one epoch (so it includes starting the workers); a second epoch on the same persistent workers is
timed apart (steady_samples_per_second).

Usage: loader_bench.py --data DIR --vocab VOCAB [--split labeled] [--source features|frames]
                       [--threads 2] [--batch-size 32] [--max-frames 8] [--size 224] [--epochs 2]
"""

import argparse
import io
import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.utils.data
from PIL import Image
from transformers import BertTokenizerFast

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32).reshape(3, 1, 1)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32).reshape(3, 1, 1)
BUDGETS = (98, 90, 68)


def even_stride(count, max_frames):
    if count <= max_frames:
        return list(range(count))
    return list(range(0, count, count // max_frames))[:max_frames]


def image_frame(data, size):
    image = Image.open(io.BytesIO(data)).convert("RGB")
    width, height = image.size
    new = (size, int(size * height / width)) if width <= height else (int(size * width / height), size)
    image = image.resize(new, Image.BILINEAR)
    left, top = int(round((new[0] - size) / 2.0)), int(round((new[1] - size) / 2.0))
    image = image.crop((left, top, left + size, top + size))
    array = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return (array - MEAN) / STD


class Dataset(torch.utils.data.Dataset):
    def __init__(self, args):
        self.args = args
        root = Path(args.data)
        self.root = root
        self.records = json.load(open(root / "annotations" / f"{args.split}.json", encoding="utf-8"))
        self.tokenizer = BertTokenizerFast(vocab_file=args.vocab)
        self.archive = None  # this process's feature zip, opened on first use in each worker
        self.archive_pid = None

    def __len__(self):
        return len(self.records)

    def text(self, record):
        ids = [self.tokenizer.cls_token_id]
        ocr = " ".join(piece["text"] for piece in sorted(record["ocr"], key=lambda p: p["time"]) if piece["text"])
        for text, budget in zip((record["title"], record["asr"], ocr), BUDGETS):
            ids += self.tokenizer(text, add_special_tokens=False)["input_ids"][:budget]
            ids.append(self.tokenizer.sep_token_id)
        return ids

    def feature_archive(self):
        if self.archive is None or self.archive_pid != os.getpid():
            self.archive = zipfile.ZipFile(self.root / "zip_feats" / f"{self.args.split}.zip")
            self.archive_pid = os.getpid()
        return self.archive

    def frames(self, video_id):
        args = self.args
        if args.source == "features":
            features = np.load(io.BytesIO(self.feature_archive().read(f"{video_id}.npy"))).astype(np.float32)
            output = np.zeros((args.max_frames, features.shape[1]), dtype=np.float32)
            chosen = even_stride(len(features), args.max_frames)
            output[: len(chosen)] = features[chosen]
        else:
            output = np.zeros((args.max_frames, 3, args.size, args.size), dtype=np.float32)
            chosen = []
            path = self.root / "zip_frames" / args.split / video_id[-3:] / f"{video_id}.zip"
            with zipfile.ZipFile(path) as archive:
                names = sorted(archive.namelist())
                slot = 0
                for index in even_stride(len(names), args.max_frames):
                    try:
                        output[slot] = image_frame(archive.read(names[index]), args.size)
                    except Exception:
                        continue
                    slot += 1
                chosen = range(slot)
        mask = np.zeros(args.max_frames, dtype=np.int64)
        mask[: len(chosen)] = 1
        return output, mask

    def __getitem__(self, position):
        record = self.records[position]
        frames, mask = self.frames(record["id"])
        return self.text(record), frames, mask


def collate(samples):
    """Pads the token ids to the batch's longest and stacks everything into tensors."""
    texts = [text for text, _, _ in samples]
    length = max(len(ids) for ids in texts)
    ids = torch.zeros((len(texts), length), dtype=torch.long)
    attention = torch.zeros_like(ids)
    for row, tokens in enumerate(texts):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        attention[row, : len(tokens)] = 1
    frames = torch.from_numpy(np.stack([frames for _, frames, _ in samples]))
    masks = torch.from_numpy(np.stack([mask for _, _, mask in samples]))
    return ids, attention, frames, masks


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--vocab", required=True)
    parser.add_argument("--split", default="labeled")
    parser.add_argument("--source", default="features", choices=["features", "frames"])
    parser.add_argument("--threads", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--epochs", type=int, default=2, help="1: first epoch only; 2: also a steady-state epoch")
    args = parser.parse_args()
    torch.set_num_threads(1)

    start = time.perf_counter()
    dataset = Dataset(args)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=args.batch_size, shuffle=True, generator=torch.Generator().manual_seed(0),
        num_workers=args.threads, persistent_workers=args.threads > 0, prefetch_factor=2 if args.threads > 0 else None,
        collate_fn=collate)
    rates = []
    checksum = 0.0
    for epoch in range(args.epochs):
        samples = 0
        for ids, attention, frames, masks in loader:
            samples += len(ids)
            checksum += float(frames.reshape(-1)[frames.numel() // 2]) + ids.numel()
        seconds = time.perf_counter() - start
        rates.append(samples / seconds)
        print(f"python DataLoader ({args.source}, {args.split}) epoch {epoch}: {samples} samples in {seconds:.3f} s "
              f"on {args.threads} worker processes")
        start = time.perf_counter()
    print(f"samples_per_second={rates[0]:.2f}" + (f" steady_samples_per_second={rates[1]:.2f}" if len(rates) > 1 else ""))
    print(f"checksum {checksum}")


if __name__ == "__main__":
    main()
