"""Reference for `vidtag-bench annotations`: records per second reading an annotation file the way the
challenge code does (json.load of the whole array), then touching each record's texts.

Usage: annotation_read_bench.py --file FILE
"""
import argparse
import json
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", required=True)
    args = parser.parse_args()
    start = time.perf_counter()
    with open(args.file, encoding="utf-8") as handle:
        records = json.load(handle)
    characters = 0
    for record in records:
        characters += len(record.get("title", "").encode()) + len(record.get("asr", "").encode()) + len(record.get("ocr", []))
    seconds = time.perf_counter() - start
    print(f"records_per_second={len(records) / seconds:.1f} records={len(records)} text_bytes={characters}")


if __name__ == "__main__":
    main()
