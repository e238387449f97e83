"""Reference for `vidtag-bench features`: feature members per second read by id from a feature zip the
way the challenge code does (zipfile + numpy.load, float16 -> float32, a finiteness check), on N threads,
each thread with its own ZipFile handle (a shared handle is not safe across workers). Opening is not in the
timed part on either side: the handles are opened (each reads the central directory) before the clock
starts, and the time of one open is printed apart, as vidtag-bench features does for its FeatureArchive.

Usage: feature_read_bench.py --zip FILE --ids FILE [--threads 2] [--passes 1]
"""
import argparse
import io
import itertools
import threading
import time
import zipfile

import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zip", required=True)
    parser.add_argument("--ids", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--passes", type=int, default=1)
    args = parser.parse_args()
    order = open(args.ids).read().split()
    start_open = time.perf_counter()
    zipfile.ZipFile(args.zip).close()
    open_ms = (time.perf_counter() - start_open) * 1000
    work = len(order) * args.passes
    counter = itertools.count()
    lock = threading.Lock()
    totals = {"frames": 0, "checksum": 0.0, "failures": 0}

    archives = [zipfile.ZipFile(args.zip) for _ in range(args.threads)]  # one handle per thread, untimed

    def worker(archive):
        frames, checksum, failures = 0, 0.0, 0
        while True:
            index = next(counter)
            if index >= work:
                break
            array = np.load(io.BytesIO(archive.read(f"{order[index % len(order)]}.npy"))).astype(np.float32)
            if not np.isfinite(array).all():
                failures += 1
            frames += array.shape[0]
            checksum += float(array.flat[0]) if array.size else 0.0
        with lock:
            totals["frames"] += frames
            totals["checksum"] += checksum
            totals["failures"] += failures

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(archive,)) for archive in archives]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    print(f"open (central directory) {open_ms:.1f} ms")
    print(f"features_per_second={work / seconds:.1f} frames={totals['frames']} failures={totals['failures']} "
          f"checksum={totals['checksum']:.4f}")


if __name__ == "__main__":
    main()
