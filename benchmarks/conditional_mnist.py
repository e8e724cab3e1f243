"""Conditional MNIST GANs: label accuracy of class-controlled samples, judged by gankit's shipped
MNIST classifier, with wall time.

Each preset trains on full MNIST (CPU, `--threads` torch threads) for its own step count, stopped at
`--budget` seconds if that comes first; then 1,000 samples per class (10,000, from the EMA generator
where the preset keeps one) are classified, and label accuracy = the fraction classified as the
label they were drawn for. Goal: 95% or more with cgan-mnist within 15 minutes on 2 CPU cores.

    python benchmarks/conditional_mnist.py --root ../shared/data/mnist                  # the full run
    python benchmarks/conditional_mnist.py --root ../shared/data/mnist --budget 20 --n-per-class 50 \\
        --out /tmp/conditional_mnist.md                                                # a smoke test
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gankit import load, load_config, sample, train
from gankit.metrics import features
from gankit.metrics.evaluate import evaluate

RESULTS = Path(__file__).parent / "results"
MODERN = "cgan-mnist"
GOAL, GOAL_SECONDS = 0.95, 900.0


def run_preset(preset: str, args: argparse.Namespace, workdir: Path) -> dict:
    overrides = [f"data.root={args.root}", "data.download=false", "train.device=cpu",
                 f"train.time_limit={args.budget}", "train.ckpt_every=100000000"]
    if args.steps:
        overrides.append(f"train.steps={args.steps}")
    cfg = load_config(preset=preset, overrides=overrides)
    start = time.perf_counter()
    run = load(train(cfg, run_dir=workdir / preset, progress=args.progress))
    train_seconds = time.perf_counter() - start
    labels = np.repeat(np.arange(10), args.n_per_class)
    start = time.perf_counter()
    images = sample(run, len(labels), seed=args.seed, labels=labels)
    sample_seconds = time.perf_counter() - start
    if not np.isfinite(images).all():  # the run diverged: say so, and when, rather than score NaNs
        stats = [json.loads(line) for line in (workdir / preset / "stats.jsonl").open()]
        finite = [all(np.isfinite(v) for v in r.values() if isinstance(v, float)) for r in stats]
        bad = next((r["step"] for r, ok in zip(stats, finite) if not ok), None)
        return {"preset": preset, "steps": run.step, "planned_steps": cfg.train.steps, "images_seen": run.nimg,
                "threads": args.threads, "budget_s": args.budget, "train_seconds": round(train_seconds, 1),
                "diverged_by_step": bad, "label_accuracy": float("nan"),
                "per_class": [float("nan")] * 10, "worst_class": -1}
    scores = evaluate(images, "mnist", metrics=["labels"], labels=labels, root=args.root, baseline=False)["metrics"]
    accuracy, per_class = scores["label_accuracy"], [scores[f"label_accuracy_{c}"] for c in range(10)]
    return {"preset": preset, "steps": run.step, "planned_steps": cfg.train.steps, "images_seen": run.nimg,
            "threads": args.threads, "budget_s": args.budget,
            "train_seconds": round(train_seconds, 1), "sample_seconds": round(sample_seconds, 1),
            "label_accuracy": round(accuracy, 4), "per_class": [round(a, 4) for a in per_class],
            "worst_class": int(np.argmin(per_class)), "ema": "G_ema" if cfg.train.ema_halflife else "G"}


def _time(r: dict) -> str:
    return f"{r['train_seconds']:.0f} ({r.get('budget_s', 900):.0f}, {r.get('threads', 2)})"  # first rows: 900 s, 2


def _summary(r: dict) -> str:
    if r["worst_class"] < 0:
        return f"diverged: non-finite losses by step {r['diverged_by_step']} ({r['train_seconds']:.0f} s of training)"
    return (f"label accuracy {100 * r['label_accuracy']:.2f}% after {r['steps']} steps ({r['train_seconds']:.0f} s "
            f"of training); worst class {r['worst_class']} {100 * min(r['per_class']):.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="../shared/data/mnist", help="folder of the MNIST .gz files")
    parser.add_argument("--presets", nargs="+", default=[MODERN, "mirza2014-cgan"])
    parser.add_argument("--budget", type=float, default=GOAL_SECONDS, help="training seconds per preset, at most")
    parser.add_argument("--steps", type=int, default=None, help="override the presets' step counts")
    parser.add_argument("--n-per-class", type=int, default=1000, help="samples per class (default 1,000)")
    parser.add_argument("--seed", type=int, default=0, help="latent seed for sampling")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--progress", action="store_true", help="show training progress bars")
    parser.add_argument("--out", default=str(RESULTS / "conditional_mnist.md"), help="the .md report (.json beside)")
    parser.add_argument("--keep-others", action="store_true",
                        help="keep the recorded rows of presets not run this time (from the .json beside --out)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            rows.append(run_preset(preset, args, Path(tmp)))
            print(f"{preset}: {_summary(rows[-1])}", flush=True)
    out = Path(args.out)
    if args.keep_others and out.with_suffix(".json").is_file():  # rows of presets not re-run this time
        before = json.loads(out.with_suffix(".json").read_text())["results"]
        rows += [r for name, r in before.items() if name not in args.presets]

    judge = features.classifier_meta("mnist")
    protocol = (f"{10 * args.n_per_class} samples ({args.n_per_class} per class, latent seed {args.seed}) from "
                f"each run's sampling generator (EMA where the preset keeps one), judged by the gankit MNIST "
                f"classifier (test accuracy {100 * judge['test_accuracy']:.2f}% on the 10,000 real test digits); "
                f"training on the 60,000 MNIST train digits, CPU, torch threads and time budget per row; "
                f"torch {torch.__version__}.")
    lines = ["# conditional_mnist", "", protocol, "",
             "| preset | steps (planned) | train s (budget, threads) | label accuracy | worst class "
             "| per class 0-9 (%) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r.get("diverged_by_step") is not None or r["worst_class"] < 0:
            lines.append(f"| {r['preset']} | {r['steps']} ({r['planned_steps']}) | {_time(r)} | "
                         f"diverged (non-finite losses by step {r.get('diverged_by_step')}) | | |")
            continue
        per_class = " ".join(f"{100 * a:.1f}" for a in r["per_class"])
        lines.append(f"| {r['preset']} | {r['steps']} ({r['planned_steps']}) | {_time(r)} | "
                     f"{100 * r['label_accuracy']:.2f}% | {r['worst_class']}: {100 * min(r['per_class']):.1f}% | "
                     f"{per_class} |")
    modern = next((r for r in rows if r["preset"] == MODERN), None)
    if modern:
        met = modern["label_accuracy"] >= GOAL and modern["train_seconds"] <= GOAL_SECONDS
        lines += ["", f"Goal ({100 * GOAL:.0f}% or more with {MODERN} within {GOAL_SECONDS / 60:.0f} minutes on 2 "
                      f"CPU cores): {'met' if met else 'not met'} ({100 * modern['label_accuracy']:.2f}% in "
                      f"{modern['train_seconds']:.0f} s, {modern.get('threads', 2)} torch threads)."]
    out.write_text("\n".join(lines) + "\n")
    line = json.dumps({"benchmark": "conditional_mnist", "budget_s": args.budget, "n_per_class": args.n_per_class,
                       "threads": args.threads, "results": {r["preset"]: r for r in rows}})
    out.with_suffix(".json").write_text(line + "\n")
    print("\n".join(lines))
    print(line)


if __name__ == "__main__":
    main()
