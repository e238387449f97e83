"""Runs vidtag training experiments on the demo data and writes a markdown table of scores.

The method (so a row cannot flatter itself):
- Selection on the validation fold only: each run holds out fold 0 of the labelled split and keeps the
  weights of its best evaluation there (the score the run chose itself by; reported as "validation",
  optimistic by construction).
- The reported score comes from a split that took no part in training or selection: the demo's test_a,
  scored against test_a_truth.csv with `vidtag evaluate --split test_a --truth DATA/test_a_truth.csv --json`.
- The same folds for every seed and every experiment: folds.json is made once, stratified by category_id
  with --folds-seed (independent of the model seed), and placed in each run folder before training, which
  then reads it instead of cutting folds from its own seed. The spread over seeds is the seed's alone.
- An experiment reruns when its settings change: the settings (base, extra and own overrides, seed, the
  folds and the data set's demo.json) are hashed into the run's experiment.json; a finished run with the
  same hash is reused, any other is trained again.

Each experiment is a named list of `--set` overrides applied on top of a shared base; each runs for every
seed. Used by bench/quality.sh, bench/ablation.sh and bench/pretraining.sh.

Pretrained starts: an override naming {pretrained} (as model.init={pretrained}) fine-tunes the folder of one
`vidtag pretrain` run, made first with the base's model and data settings (and --extra) over
--pretrain-splits, with --pretrain-set overrides and seed --pretrain-seed; it is hashed and reused like
the other runs. Every seed and arm fine-tunes the same pretrained folder, unless an arm names pretrain.*
overrides: those go to its own pretraining run (hashed and shared the same way), not to `vidtag train`.

Usage: experiments.py --vidtag BIN --data DIR --out DIR --seeds 1,2,3 --table FILE --experiments NAME
                      [--folds-seed 0] [--extra KEY=VALUE ...] [--parallel N] [--cost-steps N]
                      [--pretrain-splits unlabeled,test_a] [--pretrain-set KEY=VALUE ...] [--pretrain-seed 1] [--ensembles]
                      [--train-args "--nproc 2"]
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time

BASE = [
    "model.kind=single_stream", "model.layers=2", "model.hidden=128", "model.heads=4", "model.intermediate=256",
    "data.title_tokens=24", "data.asr_tokens=24", "data.ocr_tokens=16", "data.max_frames=8",
    "train.epochs=6", "train.batch_size=32", "train.threads=1", "train.log_every=1000",
]

BASELINE = ["model.kind=baseline", "model.nextvlad_clusters=16", "model.nextvlad_groups=4",
            "model.nextvlad_output=256", "model.fusion_size=256"]

# Fine-tuning from a pretrained folder against from random weights, at the same fine-tuning budget, with
# all labels and with a tenth of them (data.label_fraction: the same videos for both arms of a seed).
# The pretrained arms run at both the fine-tuning learning rates (5e-5 / 5e-4 / 5e-4, the rates of a
# BERT-started init) and the from-scratch rates (1e-3 / 1e-3 / 2e-3, what a randomly started init picks
# since abddb4b; before, every init picked the fine-tuning rates), so that the rates and the init are
# not confounded. The fourth fine-tunes another pretraining run, whose MFM scores by cosine similarity / 0.1
# (UniBERT's normalised variant) instead of the dot product: an arm's pretrain.* overrides go to its
# pretraining run, not to `vidtag train`.
SCRATCH_RATES = ["train.text_learning_rate=1e-3", "train.visual_learning_rate=1e-3", "train.head_learning_rate=2e-3"]
FINE_TUNING_RATES = ["train.text_learning_rate=5e-5", "train.visual_learning_rate=5e-4", "train.head_learning_rate=5e-4"]
PRETRAINING = [
    (f"{arm}, {share} labels", start + label)
    for share, label in [("100 %", []), ("10 %", ["data.label_fraction=0.1"])]
    for arm, start in [("random init", []),
                       ("pretrained, fine-tuning rates", ["model.init={pretrained}"] + FINE_TUNING_RATES),
                       ("pretrained, from-scratch rates", ["model.init={pretrained}"] + SCRATCH_RATES),
                       ("pretrained with cosine MFM, from-scratch rates",
                        ["model.init={pretrained}", "pretrain.mfm_similarity=cosine"] + SCRATCH_RATES)]
]

EXPERIMENTS = {
    "pretraining": PRETRAINING,
    # The same arms on a 1-layer × 32 model for 20 steps: proves the scripts end to end (not a result).
    "pretraining-smoke": [
        (name, overrides + ["model.layers=1", "model.hidden=32", "model.heads=2", "model.intermediate=64",
                            "train.max_steps=20", "train.eval_every=10"])
        for name, overrides in PRETRAINING
    ],
    "quality": [
        ("fused (single-stream, text + frames)", []),
        ("text only", ["model.modalities=text"]),
        ("frames only", ["model.modalities=frames"]),
        ("baseline (BERT + NeXtVLAD + SE)", BASELINE),
    ],
    "baseline": [
        ("baseline (BERT + NeXtVLAD + SE)", BASELINE),
    ],
    # The quality table's first row alone (with --train-args "--nproc 2": data-parallel against one process).
    "fused": [
        ("fused (single-stream, text + frames)", []),
    ],
    # One tiny configuration that proves the method end to end in a minute or two (not a result).
    "smoke": [
        ("smoke (single-stream, 1 layer × 32)", ["model.layers=1", "model.hidden=32", "model.heads=2",
                                                 "model.intermediate=64", "train.max_steps=20",
                                                 "train.eval_every=10"]),
    ],
    "kinds": [
        ("single-stream", []),
        ("dual-stream (1 video layer, 1 fusion layer)", ["model.kind=dual_stream", "model.video_layers=1",
                                                          "model.fusion_layers=1"]),
        ("baseline (BERT + NeXtVLAD + SE)", BASELINE),
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
        ("EMA + label smoothing + FGM", ["tricks.ema_decay=0.99", "tricks.label_smoothing=0.1",
                                         "tricks.fgm_epsilon=0.5"]),
        ("full recipe", ["tricks.ema_decay=0.99", "tricks.fgm_epsilon=0.5", "tricks.head_samples=4",
                         "tricks.class_weighting=power", "tricks.class_weight_alpha=0.3",
                         "tricks.video_loss_weight=0.5", "tricks.layer_decay=0.9"]),
    ],
}

# Ensembles of an experiment's runs, scored per seed on test_a like the rows: each member a (row, seed offset)
# of EXPERIMENTS[name]; the seed offset picks another seed's run of that row (the control: is a gain the
# kinds' different mistakes, or only averaging two runs?). Equal weights, and weights tuned by `vidtag
# tune-weights` on the members' held-out fold 0 predictions (selection on fold 0 again, never on test_a).
ENSEMBLES = {
    "kinds": [
        ("single + dual", [(0, 0), (1, 0)]),
        ("single + baseline", [(0, 0), (2, 0)]),
        ("single + dual + baseline", [(0, 0), (1, 0), (2, 0)]),
        ("control: single + single of the next seed", [(0, 0), (0, 1)]),
    ],
}


def best_eval(metrics_path):
    """The run's best evaluation on its validation fold: the one its kept weights come from."""
    best = None
    with open(metrics_path) as f:
        for line in f:
            record = json.loads(line)
            if record["kind"] == "eval" and (best is None or record["values"]["score"] > best["score"]):
                best = record["values"]
    if best is None:
        sys.exit(f"{metrics_path}: no evaluation on the validation fold (is data.validation_fraction 0?)")
    return best


def setting(overrides, name, default):
    """The value the last `name=value` of `overrides` gives `name` (as `vidtag --set` applies them), else
    `default`."""
    value = default
    for item in overrides:
        key, _, text = item.partition("=")
        if key == name:
            value = type(default)(text)
    return value


def validation_fraction(overrides):
    return setting(overrides, "data.validation_fraction", 0.1)  # RunConfig's default


def make_folds(data, fold_count, seed, path):
    """folds.json in vidtag's format: labelled ids stratified by category_id, dealt round-robin per class
    after a shuffle drawn from `seed` alone."""
    with open(os.path.join(data, "annotations", "labeled.json"), encoding="utf-8") as f:
        records = json.load(f)
    by_label = {}
    for record in records:
        if record.get("category_id") is None:
            sys.exit(f"{data}/annotations/labeled.json: record {record.get('id')} has no category_id")
        by_label.setdefault(str(record["category_id"]), []).append(str(record["id"]))
    generator = random.Random(seed)
    folds = [[] for _ in range(fold_count)]
    dealt = 0
    for label in sorted(by_label):
        members = sorted(by_label[label])
        generator.shuffle(members)
        for member in members:
            folds[dealt % fold_count].append(member)
            dealt += 1
    with open(path + ".partial", "w") as f:
        json.dump({"format": "vidtag-folds", "version": 1, "seed": seed, "fold_count": fold_count,
                   "stratified_by": "category_id", "folds": folds}, f)
    os.replace(path + ".partial", path)  # whole or absent, for a reader that finds it


def file_digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def slug(name):
    """A row's name as a folder name: its first 40 letters, digits and dashes, and for a longer name a digest
    of the whole (two long names with the same beginning once shared a folder, the second run replacing the
    first's)."""
    plain = "".join(c if c.isalnum() else "-" for c in name).strip("-")
    if len(plain) <= 40:
        return plain
    return plain[:40] + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]


def test_score(a, *runs, weights=None):
    """The runs' kept models (an ensemble when several, with `weights` or equal ones) scored on test_a, a split
    none of them saw in training or selection."""
    truth = os.path.join(a.data, "test_a_truth.csv")
    command = [a.vidtag, "evaluate", "--data", a.data, "--split", "test_a", "--truth", truth, "--json"]
    command += [item for run in runs for item in ("--model", run)]
    if weights:
        command += ["--weights", ",".join(f"{w:.6f}" for w in weights)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out[out.index("{"):])  # one JSON line (older builds printed it over several lines)


def measure_cost(a):
    """Training throughput of each experiment, one run at a time on an otherwise idle machine."""
    rows = []
    for name, overrides in EXPERIMENTS[a.experiments]:
        run = os.path.join(a.out, "cost-" + slug(name))
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


def ensemble_lines(a, seeds, rows):
    """ENSEMBLES[a.experiments] scored on test_a per seed, beside the best of its members on that seed."""
    results = []
    for name, members in ENSEMBLES[a.experiments]:
        per_seed = []
        for index, seed in enumerate(seeds):
            runs = [rows[row][2][(index + offset) % len(seeds)] for row, offset in members]
            folders = [run_folder(a, rows[row][0], seeds[(index + offset) % len(seeds)]) for row, offset in members]
            models = [item for folder in folders for item in ("--model", folder)]
            weights_path = os.path.join(a.out, "ensembles", f"{slug(name)}-seed{seed}", "weights.json")
            os.makedirs(os.path.dirname(weights_path), exist_ok=True)
            subprocess.run([a.vidtag, "tune-weights", "--data", a.data, "--out", weights_path] + models,
                           check=True, stdout=subprocess.DEVNULL)
            with open(weights_path) as f:
                tuned = json.load(f)["weights"]
            scores = {"equal": test_score(a, *folders)["score"], "tuned": test_score(a, *folders, weights=tuned)["score"]}
            best_member = max(run["test_a"]["score"] for run in runs)
            print(f"{name} seed {seed}: equal {scores['equal']:.4f}, tuned {scores['tuned']:.4f} "
                  f"(weights {', '.join(f'{w:.2f}' for w in tuned)}), best member {best_member:.4f}", flush=True)
            per_seed.append((scores["equal"], scores["tuned"], best_member))
        results.append((name, per_seed))

    def spread(values):
        return f"{statistics.mean(values):.4f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.4f}"

    lines = ["Ensembles of one seed's runs (the control pairs a run with the same row's run of the next seed), "
             "probabilities averaged, scored on test_a; tuned weights come from `vidtag tune-weights` on the "
             "members' held-out fold 0 predictions.",
             "",
             "| ensemble | test_a, equal weights | test_a, tuned weights | best member on the same seed | "
             "equal − best member, per seed |",
             "|---|---|---|---|---|"]
    for name, per_seed in results:
        gains = " / ".join(f"{equal - best:+.4f}" for equal, _, best in per_seed)
        lines.append(f"| {name} | {spread([p[0] for p in per_seed])} | {spread([p[1] for p in per_seed])} | "
                     f"{spread([p[2] for p in per_seed])} | {gains} |")
    return lines


def run_folder(a, name, seed):
    return os.path.join(a.out, f"{slug(name)}-seed{seed}")


def pretrained_folder(a, model_overrides, data_digest):
    """The folder of the one `vidtag pretrain` run the {pretrained} arms fine-tune: the base's model and data
    settings, `model_overrides` (an arm's model.* shape keys), --extra and --pretrain-set; trained once, reused
    while its settings hold."""
    shape = [s for s in BASE + a.extra + model_overrides
             if s.split("=")[0].startswith(("model.", "data.", "train.threads", "train.batch_size", "pretrain."))
             and not s.startswith(("model.init=", "data.label_fraction=", "data.validation_fraction="))]
    settings = shape + a.pretrain_set + [f"seed={a.pretrain_seed}"]
    digest = hashlib.sha256(json.dumps({"settings": settings, "splits": a.pretrain_splits, "data": data_digest},
                                       sort_keys=True).encode()).hexdigest()
    run = os.path.join(a.out, f"pretrained-{digest[:12]}")
    record_path = os.path.join(run, "experiment.json")
    if os.path.exists(record_path):
        return run
    if os.path.exists(run):
        shutil.rmtree(run)
    command = [a.vidtag, "pretrain", "--data", a.data, "--out", run, "--splits", a.pretrain_splits, "--quiet"]
    for item in settings:
        command += ["--set", item]
    started = time.time()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(run, "metrics.jsonl")) as f:
        last = [json.loads(line) for line in f if '"train"' in line][-1]
    with open(record_path, "w") as f:
        json.dump({"settings": settings, "splits": a.pretrain_splits, "seconds": time.time() - started,
                   "last_losses": last["values"]}, f, indent=1, sort_keys=True)
    print(f"pretrained {run} in {time.time() - started:.0f} s: last losses {last['values']}", flush=True)
    return run


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vidtag", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--table", required=True)
    p.add_argument("--experiments", choices=EXPERIMENTS.keys(), required=True)
    p.add_argument("--extra", action="append", default=[], help="more --set overrides for every run")
    p.add_argument("--folds-seed", type=int, default=0,
                   help="seed of the one fold assignment every run shares (independent of the model seeds)")
    p.add_argument("--parallel", type=int, default=1, help="runs at once (each uses train.threads)")
    p.add_argument("--cost-steps", type=int, default=0,
                   help="instead of scores: train each experiment alone for N steps (no evaluation) and report "
                        "its training samples/s relative to the first")
    p.add_argument("--pretrain-splits", default="unlabeled,test_a", help="splits the {pretrained} folder is pretrained on")
    p.add_argument("--pretrain-set", action="append", default=[],
                   help="--set overrides of the pretraining run, after the base's model and data settings "
                        "(default: train.epochs=5)")
    p.add_argument("--pretrain-seed", type=int, default=1)
    p.add_argument("--train-args", default="",
                   help="more arguments of every `vidtag train` (as \"--nproc 2\"); part of the runs' settings")
    p.add_argument("--ensembles", action="store_true",
                   help="also score ENSEMBLES[experiment] of each seed's runs on test_a (equal and tuned weights)")
    a = p.parse_args()
    if a.ensembles and a.experiments not in ENSEMBLES:
        sys.exit(f"--ensembles: no ensembles defined for experiment {a.experiments} (have: {', '.join(ENSEMBLES)})")
    a.pretrain_set = a.pretrain_set or ["train.epochs=5"]
    seeds = [int(s) for s in a.seeds.split(",")]
    if a.cost_steps:
        return measure_cost(a)
    truth = os.path.join(a.data, "test_a_truth.csv")
    if not os.path.exists(truth):
        sys.exit(f"{truth}: missing; the reported score needs test_a's truth (vidtag make-demo writes it)")
    os.makedirs(a.out, exist_ok=True)
    folds_path = os.path.join(a.out, f"folds-seed{a.folds_seed}.json")

    folds_lock = threading.Lock()

    def folds_for(overrides):
        """The shared folds file of these overrides' fold count, made by the first run that needs it (under
        --parallel the others wait for it, instead of copying it half written)."""
        fraction = validation_fraction(BASE + a.extra + overrides)
        if fraction <= 0:
            sys.exit("data.validation_fraction is 0: nothing to select on")
        count = max(2, round(1 / fraction))
        path = folds_path.replace(".json", f"-k{count}.json")
        with folds_lock:
            if not os.path.exists(path):
                make_folds(a.data, count, a.folds_seed, path)
        return path

    data_digest = file_digest(os.path.join(a.data, "demo.json")) if os.path.exists(os.path.join(a.data, "demo.json")) else None

    pretrained_lock = threading.Lock()

    def run_one(name, overrides, seed):
        run = run_folder(a, name, seed)
        pretraining = [s for s in overrides if s.startswith("pretrain.")]  # an arm's own pretraining settings
        overrides = [s for s in overrides if not s.startswith("pretrain.")]
        if any("{pretrained}" in item for item in overrides):
            with pretrained_lock:
                folder = pretrained_folder(a, [s for s in overrides if "{pretrained}" not in s] + pretraining, data_digest)
            overrides = [item.replace("{pretrained}", os.path.abspath(folder)) for item in overrides]
        settings = BASE + a.extra + overrides + [f"seed={seed}"] + ([f"train-args={a.train_args}"] if a.train_args else [])
        folds = folds_for(overrides)
        digest = hashlib.sha256(json.dumps({"settings": settings, "folds": file_digest(folds),
                                            "data": data_digest}, sort_keys=True).encode()).hexdigest()
        record_path = os.path.join(run, "experiment.json")
        record = None
        if os.path.exists(record_path):
            with open(record_path) as f:
                record = json.load(f)
            if record.get("settings_sha256") != digest:
                record = None  # settings changed since: train again
        if record is None:
            if os.path.exists(run):
                shutil.rmtree(run)
            os.makedirs(run)
            shutil.copy(folds, os.path.join(run, "folds.json"))  # read by training instead of its own cut
            command = [a.vidtag, "train", "--data", a.data, "--out", run, "--quiet"] + a.train_args.split()
            for item in settings:
                if not item.startswith("train-args="):
                    command += ["--set", item]
            started = time.time()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            seconds = time.time() - started
            if file_digest(os.path.join(run, "folds.json")) != file_digest(folds):
                sys.exit(f"{run}/folds.json: training replaced the shared folds")
            record = {"settings_sha256": digest, "settings": settings, "folds": os.path.basename(folds),
                      "folds_seed": a.folds_seed, "seconds": seconds,
                      "validation": best_eval(os.path.join(run, "metrics.jsonl")), "test_a": test_score(a, run)}
            with open(record_path, "w") as f:
                json.dump(record, f, indent=1, sort_keys=True)
        print(f"{name} seed {seed}: validation {record['validation']['score']:.4f}, "
              f"test_a {record['test_a']['score']:.4f} (l2 macro {record['test_a']['level2_macro_f1']:.4f}), "
              f"{record['seconds']:.0f} s", flush=True)
        return record

    jobs = [(name, overrides, seed) for name, overrides in EXPERIMENTS[a.experiments] for seed in seeds]
    with concurrent.futures.ThreadPoolExecutor(a.parallel) as pool:
        outcomes = list(pool.map(lambda job: run_one(*job), jobs))
    rows = []
    for index, (name, overrides) in enumerate(EXPERIMENTS[a.experiments]):
        rows.append((name, overrides, outcomes[index * len(seeds):(index + 1) * len(seeds)]))

    def cell(results, part, key):
        values = [r[part][key] for r in results]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.4f} ± {spread:.4f}"

    plain_seconds = statistics.mean(r["seconds"] for r in rows[0][2])
    lines = [f"Selection on fold 0 of `labeled` (folds seed {a.folds_seed}, the same for every seed); reported on "
             f"test_a against test_a_truth.csv. Mean ± sd over seeds {a.seeds}.",
             "",
             "| experiment | test_a score | test_a level-1 macro F1 | test_a level-2 macro F1 | "
             "test_a level-2 micro F1 | validation score (selection fold, optimistic) | time vs first row | overrides |",
             "|---|---|---|---|---|---|---|---|"]
    for name, overrides, results in rows:
        seconds = statistics.mean(r["seconds"] for r in results)
        lines.append(f"| {name} | {cell(results, 'test_a', 'score')} | {cell(results, 'test_a', 'level1_macro_f1')} | "
                     f"{cell(results, 'test_a', 'level2_macro_f1')} | {cell(results, 'test_a', 'level2_micro_f1')} | "
                     f"{cell(results, 'validation', 'score')} | {seconds / plain_seconds:.2f}× | "
                     f"{' '.join(overrides) or '—'} |")
    if a.ensembles:
        lines += [""] + ensemble_lines(a, seeds, rows)
    with open(a.table, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
