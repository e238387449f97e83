#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into fuzz/corpus/<target>/ (small, valid or nearly valid inputs).

Standard library only: run with any python3 from the repository root (`python3 fuzz/make_corpus.py`).
Seeds come from the committed test fixtures where those exist, plus a few made here; libFuzzer's
mutations start from them. Files the fuzzers add while running stay out of the repository.
"""
import io
import json
import shutil
import struct
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
FIXTURES = ROOT / "Tests" / "Fixtures"


def folder(target):
    path = CORPUS / target
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def npy(shape, descr="<f2", values=None, version=(1, 0)):
    """A .npy file as numpy.save writes it (header padded to 64 bytes)."""
    count = 1
    for size in shape:
        count *= size
    shape_text = f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}"
    length_bytes = 2 if version[0] == 1 else 4
    unpadded = 8 + length_bytes + len(header) + 1
    header += " " * ((64 - unpadded % 64) % 64) + "\n"
    length = struct.pack("<H" if length_bytes == 2 else "<I", len(header))
    width = 2 if descr.endswith("2") else 4
    values = values if values is not None else [float(i % 7) / 4 for i in range(count)]
    fmt = "<" + ("e" if width == 2 else "f") * count
    return b"\x93NUMPY" + bytes(version) + length + header.encode() + struct.pack(fmt, *values)


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes), laid out in order."""
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def zip_bytes(members, compression):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in members:
            info = zipfile.ZipInfo(name, date_time=(2022, 1, 1, 0, 0, 0))
            info.compress_type = compression
            archive.writestr(info, content)
    return buffer.getvalue()


def write(path, name, content):
    (path / name).write_bytes(content if isinstance(content, bytes) else content.encode())


def main():
    target = folder("fuzz-safetensors")
    shutil.copy(FIXTURES / "torch" / "python_written.safetensors", target / "python_written")
    write(target, "two_f32", safetensors([("a", "F32", [2], b"\0" * 8), ("b", "F32", [2], b"\1" * 8)]))
    write(target, "mixed", safetensors(
        [("e", "F16", [0, 3], b""), ("i", "I64", [1], b"\7" * 8), ("m", "U8", [2, 2], b"\1\2\3\4"),
         ("z", "BOOL", [1], b"\1")], metadata={"format": "pt"}))

    target = folder("fuzz-npy")
    for fixture in sorted((FIXTURES / "npy").glob("*.npy")):
        shutil.copy(fixture, target / fixture.stem)
    write(target, "f32_v2", npy([2, 4], "<f4", version=(2, 0)))

    target = folder("fuzz-feature-zip")
    members = [("a.npy", npy([3, 4])), ("b.npy", npy([2, 4], "<f4")), ("c/d.npy", npy([1, 4])), ("notes.txt", b"x")]
    write(target, "stored.zip", zip_bytes(members, zipfile.ZIP_STORED))
    write(target, "deflated.zip", zip_bytes(members, zipfile.ZIP_DEFLATED))
    for fixture in ("features_mixed.zip", "features_zip64.zip"):
        shutil.copy(FIXTURES / "npy" / fixture, target / fixture)

    target = folder("fuzz-annotations")
    records = [
        {"id": "13477278056527828998", "category_id": "0102", "title": "标题", "asr": "说话", "ocr": [{"time": 0, "text": "字幕"}]},
        {"id": "2", "title": "t", "asr": "", "ocr": [{"time": 1.0, "text": "a\\u00e9\""}]},
        {"id": "3", "category_id": None, "ocr": None},
    ]
    write(target, "records.json", json.dumps(records, ensure_ascii=False, indent=1))
    write(target, "compact.json", json.dumps(records, separators=(",", ":")))
    write(target, "bad_records.json", '[{"id": 5}, {"title": "no id"}, 17, "x", [1], {"id": "9", "ocr": [3]}]')
    write(target, "bom_empty.json", "\ufeff[ ]")

    target = folder("fuzz-jpeg-frame")
    for fixture in sorted((FIXTURES / "frames").glob("*.jpg")):
        shutil.copy(fixture, target / fixture.stem)

    target = folder("fuzz-frame-zip")
    for fixture in ("clip_stored.zip", "clip_deflated.zip", "clip_damaged.zip"):
        shutil.copy(FIXTURES / "frames" / fixture, target / fixture)

    target = folder("fuzz-config")
    write(target, "empty.json", "{}")
    write(target, "overrides.json", json.dumps({
        "seed": 7, "train": {"epochs": 2, "learning_rate": 0.0001}, "model": {"kind": "baseline"},
        "data": {"max_frames": 8}, "tricks": {"ema": True}}))
    shutil.copy(FIXTURES / "vision" / "clip" / "config.json", target / "not_a_run_config.json")


if __name__ == "__main__":
    main()
