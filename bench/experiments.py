"""Runs vidtag training experiments on the demo data and writes a markdown table of held-out scores.

Each experiment is a named list of `--set` overrides applied on top of a shared base; each runs for every
seed. The held-out (fold 0) scores are read from the run's metrics.jsonl (the best evaluation), the
training time from the wall clock. Used by bench/quality.sh (issue: training run) and bench/ablation.sh
(issue: tricks).

An experiment set may also name ensembles of its experiments: per seed, the members' held-out predictions
(`oof.safetensors`; runs of one seed hold out the same fold) are averaged (equal weights, probabilities, as
`vidtag predict --model A --model B` does) and scored with the challenge metric written out below.

Usage: experiments.py --vidtag BIN --data DIR --out DIR --seeds 1,2,3 --table FILE --experiments NAME
"""
import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from safetensors import safe_open

BASE = [
    "model.kind=single_stream", "model.layers=2", "model.hidden=128", "model.heads=4", "model.intermediate=256",
    "data.title_tokens=24", "data.asr_tokens=24", "data.ocr_tokens=16", "data.max_frames=8",
    "train.epochs=6", "train.batch_size=32", "train.threads=1", "train.log_every=1000",
]

EXPERIMENTS = {
    "quality": [
        ("fused (single-stream, text + frames)", []),
        ("text only", ["model.modalities=text"]),
        ("frames only", ["model.modalities=frames"]),
    ],
    "baseline": [
        ("baseline (BERT + NeXtVLAD + SE)", ["model.kind=baseline", "model.nextvlad_clusters=16",
                                              "model.nextvlad_groups=4", "model.nextvlad_output=256",
                                              "model.fusion_size=256"]),
    ],
    "kinds": [
        ("single-stream", []),
        ("dual-stream (1 video layer, 1 fusion layer)", ["model.kind=dual_stream", "model.video_layers=1",
                                                          "model.fusion_layers=1"]),
        ("baseline (BERT + NeXtVLAD + SE)", ["model.kind=baseline", "model.nextvlad_clusters=16",
                                              "model.nextvlad_groups=4", "model.nextvlad_output=256",
                                              "model.fusion_size=256"]),
    ],
    "ablation": [
        ("plain", []),
        ("+ EMA 0.99", ["tricks.ema_decay=0.99"]),
        ("+ FGM ε=0.5", ["tricks.fgm_epsilon=0.5"]),
        ("+ PGD 3 steps", ["tricks.pgd_steps=3", "tricks.pgd_epsilon=0.5", "tricks.pgd_alpha=0.2"]),
        ("+ multi-sample dropout ×4", ["tricks.head_samples=4"]),
        ("+ R-Drop α=1", ["tricks.rdrop_alpha=1"]),
        ("+ class weights count^-0.3", ["tricks.class_weighting=power", "tricks.class_weight_alpha=0.3"]),
        ("+ label smoothing 0.1", ["tricks.label_smoothing=0.1"]),
        ("+ video head (loss ×0.5)", ["tricks.video_loss_weight=0.5"]),
        ("+ layer-wise lr decay 0.9", ["tricks.layer_decay=0.9"]),
        ("full recipe", ["tricks.ema_decay=0.99", "tricks.fgm_epsilon=0.5", "tricks.head_samples=4",
                         "tricks.class_weighting=power", "tricks.class_weight_alpha=0.3",
                         "tricks.video_loss_weight=0.5", "tricks.layer_decay=0.9"]),
    ],
}


# Ensembles of an experiment set's experiments (by index), scored on the held-out fold of each seed.
ENSEMBLES = {
    "kinds": [
        ("ensemble: single + dual", [0, 1]),
        ("ensemble: single + dual + baseline", [0, 1, 2]),
    ],
}


def f1_scores(truth, predicted):
    """Micro F1 (accuracy, single-label) and macro F1 over the classes present in truth or prediction."""
    micro = float((truth == predicted).mean())
    f1 = []
    for c in np.union1d(truth, predicted):
        tp = np.sum((predicted == c) & (truth == c))
        f1.append(2 * tp / (np.sum(predicted == c) + np.sum(truth == c)))
    return micro, float(np.mean(f1))


def challenge_score(truth, predicted, level2_ids):
    """The WeChat 2022 score: mean of level-1 and level-2 micro and macro F1 (level 1: first two characters)."""
    level1 = np.array([int(i[:2]) for i in level2_ids])
    l1_micro, l1_macro = f1_scores(level1[truth], level1[predicted])
    l2_micro, l2_macro = f1_scores(truth, predicted)
    return {"score": (l1_micro + l1_macro + l2_micro + l2_macro) / 4, "level1_macro_f1": l1_macro,
            "level2_macro_f1": l2_macro, "level2_micro_f1": l2_micro}


def held_out(run):
    with safe_open(os.path.join(run, "oof.safetensors"), "np") as f:
        ids = json.loads(f.metadata()["ids"])
        return ids, f.get_tensor("probabilities").astype(np.float64), f.get_tensor("labels").astype(np.int64)


def ensemble_scores(runs):
    """The challenge score of the equal-weight probability average of `runs`' held-out predictions."""
    members = [held_out(run) for run in runs]
    ids, _, labels = members[0]
    for other_ids, _, other_labels in members[1:]:
        assert other_ids == ids and (other_labels == labels).all(), f"{runs}: members held out other videos"
    with open(os.path.join(runs[0], "labels.json")) as f:
        level2_ids = json.load(f)["category_ids"]
    average = sum(probabilities for _, probabilities, _ in members) / len(members)
    return challenge_score(labels, average.argmax(1), level2_ids)


def best_eval(metrics_path):
    best = None
    with open(metrics_path) as f:
        for line in f:
            record = json.loads(line)
            if record["kind"] == "eval" and (best is None or record["values"]["score"] > best["score"]):
                best = record["values"]
    return best


def measure_cost(a):
    """Training throughput of each experiment, one run at a time on an otherwise idle machine."""
    rows = []
    for name, overrides in EXPERIMENTS[a.experiments]:
        run = os.path.join(a.out, "cost-" + "".join(c if c.isalnum() else "-" for c in name).strip("-")[:40])
        command = [a.vidtag, "train", "--data", a.data, "--out", run, "--force"]
        for s in BASE + a.extra + overrides + [f"train.max_steps={a.cost_steps}", "data.validation_fraction=0"]:
            command += ["--set", s]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(run, "metrics.jsonl")) as f:
            last = [json.loads(line) for line in f if '"train"' in line][-1]
        rows.append((name, last["values"]["samples_per_second"]))
        print(f"{name}: {rows[-1][1]:.1f} samples/s", flush=True)
    lines = ["| experiment | training samples/s | time per sample vs first row |", "|---|---|---|"]
    lines += [f"| {name} | {rate:.1f} | {rows[0][1] / rate:.2f}× |" for name, rate in rows]
    with open(a.table, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vidtag", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--table", required=True)
    p.add_argument("--experiments", choices=EXPERIMENTS.keys(), required=True)
    p.add_argument("--extra", action="append", default=[], help="more --set overrides for every run")
    p.add_argument("--parallel", type=int, default=1, help="runs at once (each uses train.threads)")
    p.add_argument("--cost-steps", type=int, default=0,
                   help="instead of scores: train each experiment alone for N steps (no evaluation) and report "
                        "its training samples/s relative to the first")
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    if a.cost_steps:
        return measure_cost(a)
    def run_folder(name, seed):
        slug = "".join(c if c.isalnum() else "-" for c in name).strip("-")[:40]
        return os.path.join(a.out, f"{slug}-seed{seed}")

    def run_one(name, overrides, seed):
        run = run_folder(name, seed)
        command = [a.vidtag, "train", "--data", a.data, "--out", run, "--force"]
        for s in BASE + a.extra + overrides + [f"seed={seed}"]:
            command += ["--set", s]
        done_marker = os.path.join(run, "experiment_seconds.txt")
        if os.path.exists(done_marker) and os.path.exists(os.path.join(run, "oof.safetensors")):
            seconds = float(open(done_marker).read())  # finished by an earlier invocation
        else:
            started = time.time()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            seconds = time.time() - started
            with open(done_marker, "w") as f:
                f.write(f"{seconds}\n")
        values = best_eval(os.path.join(run, "metrics.jsonl"))
        values["seconds"] = seconds
        rescored = ensemble_scores([run])["score"]  # the held-out predictions of the best weights, scored here
        assert abs(rescored - values["score"]) < 1e-6, f"{run}: metric here {rescored}, vidtag {values['score']}"
        print(f"{name} seed {seed}: score {values['score']:.4f}, l2 macro {values['level2_macro_f1']:.4f}, "
              f"{values['seconds']:.0f} s", flush=True)
        return values

    jobs = [(name, overrides, seed) for name, overrides in EXPERIMENTS[a.experiments] for seed in seeds]
    with concurrent.futures.ThreadPoolExecutor(a.parallel) as pool:
        outcomes = list(pool.map(lambda job: run_one(*job), jobs))
    rows = []
    for index, (name, overrides) in enumerate(EXPERIMENTS[a.experiments]):
        rows.append((name, overrides, outcomes[index * len(seeds):(index + 1) * len(seeds)]))

    def cell(results, key):
        values = [r[key] for r in results]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.4f} ± {spread:.4f}"

    experiments = EXPERIMENTS[a.experiments]
    for name, members in ENSEMBLES.get(a.experiments, []):
        results = []
        for seed in seeds:
            values = ensemble_scores([run_folder(experiments[m][0], seed) for m in members])
            values["seconds"] = sum(outcomes[m * len(seeds) + seeds.index(seed)]["seconds"] for m in members)
            results.append(values)
            print(f"{name} seed {seed}: score {values['score']:.4f}", flush=True)
        rows.append((name, [f"mean of rows {', '.join(str(m + 1) for m in members)}"], results))

    plain_seconds = statistics.mean(r["seconds"] for r in rows[0][2])
    lines = [f"| experiment | score (mean ± sd, {len(seeds)} seeds) | level-1 macro F1 | level-2 macro F1 | "
             f"level-2 micro F1 | time vs first row | overrides |",
             "|---|---|---|---|---|---|---|"]
    for name, overrides, results in rows:
        seconds = statistics.mean(r["seconds"] for r in results)
        lines.append(f"| {name} | {cell(results, 'score')} | {cell(results, 'level1_macro_f1')} | "
                     f"{cell(results, 'level2_macro_f1')} | {cell(results, 'level2_micro_f1')} | "
                     f"{seconds / plain_seconds:.2f}× | {' '.join(overrides) or '—'} |")
    with open(a.table, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
