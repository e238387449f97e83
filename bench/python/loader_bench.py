"""Reference for `vidtag-bench loader`: samples per second with the challenge code's data path.

Per sample, as the WeChat 2022 baseline's data helper does in __getitem__: tokenize title / asr / ocr
(transformers' BertTokenizerFast, budgets 98 / 90 / 68), read frames -- features: the "{id}.npy" member
of zip_feats/{split}.zip with zipfile + numpy (one ZipFile per thread); frames: the video's zip with
zipfile, PIL decode, Resize(224, bilinear) + CenterCrop(224) + ToTensor + Normalize (CLIP statistics)
done with PIL + NumPy as torchvision does on PIL images -- even stride to max_frames, pad with a mask;
then collate a batch into NumPy arrays. Batches are built on N threads with a bounded window ahead,
like a DataLoader with N workers and prefetch 2. The timed job includes reading the annotations.

Usage: loader_bench.py --data DIR --vocab VOCAB [--split labeled] [--source features|frames]
                       [--threads 2] [--batch-size 32] [--max-frames 8] [--size 224]
"""

import argparse
import io
import json
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
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


class Dataset:
    def __init__(self, args):
        self.args = args
        root = Path(args.data)
        self.root = root
        self.records = json.load(open(root / "annotations" / f"{args.split}.json", encoding="utf-8"))
        self.tokenizer = BertTokenizerFast(vocab_file=args.vocab)
        self.local = threading.local()

    def text(self, record):
        ids = [self.tokenizer.cls_token_id]
        ocr = " ".join(piece["text"] for piece in sorted(record["ocr"], key=lambda p: p["time"]) if piece["text"])
        for text, budget in zip((record["title"], record["asr"], ocr), BUDGETS):
            ids += self.tokenizer(text, add_special_tokens=False)["input_ids"][:budget]
            ids.append(self.tokenizer.sep_token_id)
        return ids

    def frames(self, video_id):
        args = self.args
        if args.source == "features":
            archive = getattr(self.local, "archive", None)
            if archive is None:
                archive = self.local.archive = zipfile.ZipFile(self.root / "zip_feats" / f"{args.split}.zip")
            features = np.load(io.BytesIO(archive.read(f"{video_id}.npy"))).astype(np.float32)
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

    def batch(self, positions):
        texts, frames, masks = [], [], []
        for position in positions:
            record = self.records[position]
            texts.append(self.text(record))
            frame, mask = self.frames(record["id"])
            frames.append(frame)
            masks.append(mask)
        length = max(len(ids) for ids in texts)
        ids = np.zeros((len(texts), length), dtype=np.int64)
        attention = np.zeros_like(ids)
        for row, tokens in enumerate(texts):
            ids[row, : len(tokens)] = tokens
            attention[row, : len(tokens)] = 1
        return ids, attention, np.stack(frames), np.stack(masks)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--vocab", required=True)
    parser.add_argument("--split", default="labeled")
    parser.add_argument("--source", default="features", choices=["features", "frames"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()

    start = time.perf_counter()
    dataset = Dataset(args)
    order = np.random.default_rng(0).permutation(len(dataset.records))
    batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    samples, checksum = 0, 0.0
    window = 2 * args.threads
    with ThreadPoolExecutor(args.threads) as pool:
        pending = [pool.submit(dataset.batch, b) for b in batches[:window]]
        submitted = len(pending)
        while pending:
            ids, attention, frames, masks = pending.pop(0).result()
            if submitted < len(batches):
                pending.append(pool.submit(dataset.batch, batches[submitted]))
                submitted += 1
            samples += len(ids)
            checksum += float(frames.reshape(-1)[frames.size // 2]) + ids.size
    seconds = time.perf_counter() - start
    print(f"python loader ({args.source}, {args.split}): {samples} samples in {seconds:.3f} s on {args.threads} threads")
    print(f"samples_per_second={samples / seconds:.2f}")
    print(f"checksum {checksum}")


if __name__ == "__main__":
    main()
