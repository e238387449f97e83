"""Reference for `vidtag-bench frames`: evaluation clips per second from frame zips with the
challenge code's path (zipfile + PIL decode + torchvision-style Resize/CenterCrop/ToTensor/Normalize,
here PIL resize + NumPy, which is what torchvision does on PIL images) on N threads.

Usage: frames_bench.py --directory DIR [--threads 2] [--frames 8] [--size 224] [--draft]
"""

import argparse
import io
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32).reshape(3, 1, 1)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32).reshape(3, 1, 1)


def resize_shorter(image, size):
    width, height = image.size
    if width <= height:
        new = (size, int(size * height / width))
    else:
        new = (int(size * width / height), size)
    return image.resize(new, Image.BILINEAR)


def center_crop(image, size):
    width, height = image.size
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def read_clip(path, max_frames, size, draft):
    """The reference data helper's evaluation path (even stride, pad with a mask)."""
    frames = np.zeros((max_frames, 3, size, size), dtype=np.float32)
    mask = np.zeros((max_frames,), dtype=np.int64)
    with zipfile.ZipFile(path) as handle:
        names = sorted(handle.namelist())
        count = len(names)
        if count <= max_frames:
            indices = list(range(count))
        else:
            indices = list(range(0, count, count // max_frames))[:max_frames]
        for slot, index in enumerate(indices):
            image = Image.open(io.BytesIO(handle.read(names[index])))
            if draft:
                image.draft("RGB", (size, size))
            image = center_crop(resize_shorter(image.convert("RGB"), size), size)
            chw = np.asarray(image, dtype=np.uint8).transpose(2, 0, 1).astype(np.float32) / np.float32(255)
            frames[slot] = (chw - MEAN) / STD
            mask[slot] = 1
    return frames, mask


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--directory", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--draft", action="store_true", help="let PIL decode at a reduced DCT scale (1/2, 1/4, 1/8)")
    args = parser.parse_args()

    paths = sorted(Path(args.directory).glob("*/*.zip"))
    if not paths:
        raise SystemExit(f"no .zip files under {args.directory}")
    lock = threading.Lock()
    position = [0]
    checksum = [0.0]

    def worker():
        total = 0.0
        while True:
            with lock:
                index = position[0]
                position[0] += 1
            if index >= len(paths):
                break
            frames, _ = read_clip(paths[index], args.frames, args.size, args.draft)
            total += float(frames.reshape(-1)[frames.size // 2])
        with lock:
            checksum[0] += total

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    print(f"python frames: {len(paths)} clips in {seconds:.3f} s on {args.threads} threads")
    print(f"clips_per_second={len(paths) / seconds:.2f}")
    print(f"checksum {checksum[0]}")


if __name__ == "__main__":
    main()
