"""One pseudo-label round and a distilled smaller student on the demo data, by bench/experiments.py's method.

Selection on fold 0 of `labeled` (one folds.json, made once with --folds-seed, placed in every run folder, so
teachers and students hold out the same videos, which the pseudo-label guard checks); the reported score is
test_a against test_a_truth.csv, a split no run trained or selected on. For each seed s:

  teacher-s    the demo-size single-stream model (experiments.py's BASE), seed s
  pl-s         `vidtag pseudo-label --model teacher-s --split unlabeled` (one round, --threshold, --top-k)
  student-s    the teacher's config and seed, trained with data.pseudo_labels=pl-s (one pseudo-label round)
  small-s      a smaller model (SMALL), seed s, hard labels only
  distil-s     the smaller model distilled from the ensemble of every seed's teacher: the ensemble's soft labels
               of `labeled` (its held-out fold 0 left out, no threshold: a target for every training video) and
               of `unlabeled` (--threshold), tricks.distill_weight / distill_temperature

  long-s       control: the teacher's config trained for the student's step count (more epochs)
  small-long-s control: the smaller model, hard labels only, trained for the distilled student's step count

A student sees its labelled videos and the pseudo-labelled ones each epoch, so at the same epochs it takes more
steps than the model it is compared with; the demo model still improves past 6 epochs, so the controls say how
much of a student's gain is steps alone. Their epochs: round(epochs × student's steps / plain model's steps).

Rows: the single teacher, + one pseudo-label round, its control, the teacher ensemble (all seeds' teachers
averaged), the small model alone, the small model distilled, its control. Mean ± sd over seeds (the ensemble
is one figure).

Usage: pseudo_labels.py --vidtag BIN --data DIR --out DIR --seeds 1,2,3 --table FILE
                        [--folds-seed 0] [--extra KEY=VALUE ...] [--small KEY=VALUE ...] [--threshold 0.5]
                        [--top-k 5] [--pseudo-weight 0.5] [--distill-weight 0.5] [--temperature 2]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import experiments as ex  # noqa: E402  (the method's helpers: folds, selection, test_a score)

SMALL = ["model.layers=1", "model.hidden=64", "model.heads=2", "model.intermediate=128"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vidtag", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--table", required=True)
    p.add_argument("--folds-seed", type=int, default=0)
    p.add_argument("--extra", action="append", default=[], help="more --set overrides for every run")
    p.add_argument("--small", action="append", default=None, help="the smaller student's overrides (default: SMALL)")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--pseudo-weight", type=float, default=0.5)
    p.add_argument("--distill-weight", type=float, default=0.5)
    p.add_argument("--temperature", type=float, default=2.0)
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    small = a.small if a.small is not None else SMALL
    truth = os.path.join(a.data, "test_a_truth.csv")
    if not os.path.exists(truth):
        sys.exit(f"{truth}: missing; the reported score needs test_a's truth (vidtag make-demo writes it)")
    os.makedirs(a.out, exist_ok=True)
    fraction = ex.validation_fraction(ex.BASE + a.extra)
    folds = os.path.join(a.out, f"folds-seed{a.folds_seed}-k{max(2, round(1 / fraction))}.json")
    if not os.path.exists(folds):
        ex.make_folds(a.data, max(2, round(1 / fraction)), a.folds_seed, folds)

    def train(name, overrides):
        """Trains (or reuses) a run; returns its record: settings, validation (fold 0) and test_a scores."""
        run = os.path.join(a.out, name)
        settings = ex.BASE + a.extra + overrides
        record_path = os.path.join(run, "experiment.json")
        if os.path.exists(record_path):
            with open(record_path) as f:
                record = json.load(f)
            if record["settings"] == settings and record["folds"] == ex.file_digest(folds):
                return record
        if os.path.exists(run):
            shutil.rmtree(run)
        os.makedirs(run)
        shutil.copy(folds, os.path.join(run, "folds.json"))
        command = [a.vidtag, "train", "--data", a.data, "--out", run, "--quiet"]
        for item in settings:
            command += ["--set", item]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        record = {"settings": settings, "folds": ex.file_digest(folds),
                  "validation": ex.best_eval(os.path.join(run, "metrics.jsonl")), "test_a": ex.test_score(a, run)}
        with open(record_path, "w") as f:
            json.dump(record, f, indent=1, sort_keys=True)
        print(f"{name}: validation {record['validation']['score']:.4f}, test_a {record['test_a']['score']:.4f}", flush=True)
        return record

    def last_step(name):
        with open(os.path.join(a.out, name, "metrics.jsonl")) as f:
            return max(json.loads(line)["step"] for line in f if line.strip())

    def epochs_for_steps(student, plain):
        """The epochs at which `plain`'s config takes about as many steps as `student` took."""
        epochs = ex.setting(ex.BASE + a.extra, "train.epochs", 3)  # RunConfig's default
        return max(epochs, round(epochs * last_step(student) / last_step(plain)))

    def pseudo_label(name, models, split, threshold):
        out = os.path.join(a.out, name)
        if not os.path.exists(os.path.join(out, "pseudo_labels.json")):
            command = [a.vidtag, "pseudo-label", "--data", a.data, "--split", split, "--out", out,
                       "--top-k", str(a.top_k), "--threshold", str(threshold)]
            for model in models:
                command += ["--model", os.path.join(a.out, model)]
            subprocess.run(command, check=True)
        return out

    teachers = {s: train(f"teacher-seed{s}", [f"seed={s}"]) for s in seeds}
    students = {}
    for s in seeds:
        labels = pseudo_label(f"pl-seed{s}", [f"teacher-seed{s}"], "unlabeled", a.threshold)
        students[s] = train(f"student-seed{s}", [f"seed={s}", f"data.pseudo_labels={os.path.abspath(labels)}",
                                                 f"data.pseudo_weight={a.pseudo_weight}"])
    long_epochs = epochs_for_steps(f"student-seed{seeds[0]}", f"teacher-seed{seeds[0]}")
    longs = {s: train(f"long-seed{s}", [f"seed={s}", f"train.epochs={long_epochs}"]) for s in seeds}
    ensemble_models = [f"teacher-seed{s}" for s in seeds]
    command = [a.vidtag, "evaluate", "--data", a.data, "--split", "test_a", "--truth", truth, "--json"]
    for model in ensemble_models:
        command += ["--model", os.path.join(a.out, model)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    ensemble = json.loads(out[out.index("{"):])
    # Distillation targets for every labelled training video (no threshold); unlabelled ones filtered.
    labelled = pseudo_label("pl-ensemble-labeled", ensemble_models, "labeled", 0.0)
    unlabelled = pseudo_label("pl-ensemble-unlabeled", ensemble_models, "unlabeled", a.threshold)
    smalls = {s: train(f"small-seed{s}", small + [f"seed={s}"]) for s in seeds}
    distilled = {s: train(f"distil-seed{s}", small + [
        f"seed={s}", f"data.pseudo_labels={os.path.abspath(labelled)},{os.path.abspath(unlabelled)}",
        f"data.pseudo_weight={a.pseudo_weight}", f"tricks.distill_weight={a.distill_weight}",
        f"tricks.distill_temperature={a.temperature}"]) for s in seeds}
    small_long_epochs = epochs_for_steps(f"distil-seed{seeds[0]}", f"small-seed{seeds[0]}")
    small_longs = {s: train(f"small-long-seed{s}", small + [f"seed={s}", f"train.epochs={small_long_epochs}"])
                   for s in seeds}

    def cell(records, part, key):
        values = [r[part][key] for r in records.values()]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.4f} ± {spread:.4f}"

    kept = {}
    for name in [f"pl-seed{s}" for s in seeds] + ["pl-ensemble-labeled", "pl-ensemble-unlabeled"]:
        with open(os.path.join(a.out, name, "pseudo_labels.json")) as f:
            description = json.load(f)
        kept[name] = f"{description['videos_kept']} of {description['videos_predicted']}"
    lines = [f"Selection on fold 0 of `labeled` (folds seed {a.folds_seed}, shared by every run); reported on test_a "
             f"against test_a_truth.csv. Mean ± sd over seeds {a.seeds}. Pseudo-labels: top {a.top_k}, threshold "
             f"{a.threshold}, pseudo_weight {a.pseudo_weight}; distillation weight {a.distill_weight}, temperature "
             f"{a.temperature}. Videos kept: " + ", ".join(f"{k} {v}" for k, v in kept.items()) + ".",
             "",
             "| model | test_a score | test_a level-2 macro F1 | validation score (fold 0, optimistic) | overrides |",
             "|---|---|---|---|---|",
             f"| single model (teacher) | {cell(teachers, 'test_a', 'score')} | "
             f"{cell(teachers, 'test_a', 'level2_macro_f1')} | {cell(teachers, 'validation', 'score')} | — |",
             f"| + one pseudo-label round (unlabeled) | {cell(students, 'test_a', 'score')} | "
             f"{cell(students, 'test_a', 'level2_macro_f1')} | {cell(students, 'validation', 'score')} | "
             f"data.pseudo_labels=pl-seed{{s}} |",
             f"| control: single model, {long_epochs} epochs (the student's steps) | {cell(longs, 'test_a', 'score')} | "
             f"{cell(longs, 'test_a', 'level2_macro_f1')} | {cell(longs, 'validation', 'score')} | "
             f"train.epochs={long_epochs} |",
             f"| teacher ensemble ({len(seeds)} seeds, probabilities averaged) | {ensemble['score']:.4f} | "
             f"{ensemble['level2_macro_f1']:.4f} | — | — |",
             f"| small model alone | {cell(smalls, 'test_a', 'score')} | {cell(smalls, 'test_a', 'level2_macro_f1')} | "
             f"{cell(smalls, 'validation', 'score')} | {' '.join(small)} |",
             f"| small model distilled from the ensemble | {cell(distilled, 'test_a', 'score')} | "
             f"{cell(distilled, 'test_a', 'level2_macro_f1')} | {cell(distilled, 'validation', 'score')} | "
             f"{' '.join(small)}, labeled + unlabeled soft labels |",
             f"| control: small model alone, {small_long_epochs} epochs (the distilled student's steps) | "
             f"{cell(small_longs, 'test_a', 'score')} | {cell(small_longs, 'test_a', 'level2_macro_f1')} | "
             f"{cell(small_longs, 'validation', 'score')} | {' '.join(small)} train.epochs={small_long_epochs} |"]
    with open(a.table, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
