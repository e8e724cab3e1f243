"""Quality against wall time: the classic recipe (classic-mlp-mnist) and the recommended presets, for the
same training budgets on the same threads, several seeds, on full MNIST (and Fashion-MNIST at the last
budget), scored with gankit's evaluation (Frechet distance, classifier score, class KL to uniform,
smallest class fraction, precision/recall) beside the real-vs-real baseline.

    python benchmarks/quality_vs_time.py --root ../shared/data/mnist --fashion-root ../shared/data/fashion-mnist

Each (preset, seed) is ONE run, stopped at every budget by `train.time_limit` (training seconds:
evaluations and checkpoints are not counted), scored, and resumed to the next budget. Resume is exact,
so the figure at 2.5 minutes is the one a 2.5-minute run gives. Every scored point is appended to
benchmarks/results/quality_vs_time.jsonl as it comes (`--resume` skips points already there). Ends with
the goals (`GOALS`) and one JSON line; writes quality_vs_time.md and quality_vs_time.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch
from throughput import device_name  # benchmarks/throughput.py: this folder is on sys.path

from gankit import load, load_config, sample, train
from gankit.metrics.evaluate import evaluate
from gankit.training.stats import read_jsonl

RESULTS = Path(__file__).parent / "results"
POINTS = RESULTS / "quality_vs_time.jsonl"
KEYS = {"fd": "fd_{data}", "score": "classifier_score_{data}", "class_kl": "class_kl_uniform",
        "class_min": "class_min_fraction", "precision": "precision", "recall": "recall"}


def figures(metrics: dict, data: str) -> dict:
    short = data.replace("fashion-mnist", "fashion")
    out = {}
    for name, key in KEYS.items():
        for k in (key.format(data=data), key.format(data=short)):
            if k in metrics:
                out[name] = round(float(metrics[k]), 4)
    return out


def run_points(args, data: str, root: str, preset: str, seed: int, budgets: list[float], done: set) -> None:
    """Train `preset` on `data` with `seed`, scoring at every budget; append each point to POINTS."""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        for i, budget in enumerate(budgets):
            cfg = load_config(preset=preset, overrides=[
                f"data.name={data}", f"data.root={root}", "data.download=false", f"train.seed={seed}",
                f"train.threads={args.threads}", f"train.time_limit={budget}", "train.steps=100000000",
                "train.ckpt_every=100000000", "train.alarm_patience=0"])
            train(cfg, run_dir=run_dir, resume=i > 0, progress=False)
            key = (data, preset, seed, budget)
            if key in done:
                continue
            run = load(run_dir)
            seconds = max(x["time"] for x in read_jsonl(run_dir / "stats.jsonl") if "time" in x)
            result = evaluate(sample(run, args.n, seed=seed), data, metrics=["fd", "classes", "pr"], root=root)
            point = {"data": data, "preset": preset, "seed": seed, "budget_s": budget, "steps": run.step,
                     "nimg": run.nimg, "train_s": round(seconds, 1), **figures(result["metrics"], data),
                     "baseline": figures(result["baseline"], data), "n": args.n, "threads": args.threads,
                     "cpu": device_name("cpu")}
            with open(POINTS, "a") as f:
                f.write(json.dumps(point) + "\n")
            print(f"{data} {preset} seed {seed} at {budget:g} s ({run.step} steps): FD {point['fd']:.1f} "
                  f"(real {point['baseline']['fd']:.2f}), recall {point['recall']:.2f}, KL {point['class_kl']:.3f}",
                  flush=True)


# At the last budget, on every seed: MNIST's FD within 6x the real-vs-real baseline, recall >= 0.75 and class
# KL to uniform < 0.02; Fashion-MNIST's FD at most 15 and recall >= 0.7.
GOALS = {"mnist": {"fd_ratio": 6.0, "recall": 0.75, "class_kl": 0.02},
         "fashion-mnist": {"fd": 15.0, "recall": 0.7}}


def goals(points: list[dict], classic: str, recommended: dict[str, str]) -> dict:
    """The goals (GOALS) met by the recommended presets, from the recorded points, and the classic recipe's FD
    over theirs at each budget (smallest ratio)."""
    out: dict = {}
    for data, preset in recommended.items():
        mine = [p for p in points if p["data"] == data and p["preset"] == preset]
        if not mine:
            continue
        last = max(p["budget_s"] for p in mine)
        at_last = [p for p in mine if p["budget_s"] == last]
        g = GOALS[data]
        if "fd_ratio" in g:
            out[f"{data}_fd_within_{g['fd_ratio']:g}x_real_every_seed"] = all(
                p["fd"] <= g["fd_ratio"] * p["baseline"]["fd"] for p in at_last)
        if "fd" in g:
            out[f"{data}_fd_at_most_{g['fd']:g}_every_seed"] = all(p["fd"] <= g["fd"] for p in at_last)
        out[f"{data}_recall_at_least_{g['recall']:g}_every_seed"] = all(p["recall"] >= g["recall"] for p in at_last)
        if "class_kl" in g:
            out[f"{data}_class_kl_below_{g['class_kl']:g}_every_seed"] = all(
                p["class_kl"] < g["class_kl"] for p in at_last)
        out[f"{data}_worst_fd_at_last_budget"] = max(p["fd"] for p in at_last)
        ratios = []
        for p in mine:
            base = [q for q in points if q["data"] == data and q["preset"] == classic and q["seed"] == p["seed"]
                    and q["budget_s"] == p["budget_s"]]
            if base:
                ratios.append(base[0]["fd"] / p["fd"])
        if ratios:
            out[f"{data}_min_fd_ratio_classic_over_recommended"] = round(min(ratios), 2)
    return out


def plot(points: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datas = sorted({p["data"] for p in points})
    fig, axes = plt.subplots(1, len(datas), figsize=(5.5 * len(datas), 4), squeeze=False)
    for ax, data in zip(axes[0], datas):
        mine = [p for p in points if p["data"] == data]
        for preset in sorted({p["preset"] for p in mine}):
            pts = [p for p in mine if p["preset"] == preset]
            ax.scatter([p["budget_s"] / 60 for p in pts], [p["fd"] for p in pts], s=18, alpha=0.6)
            budgets = sorted({p["budget_s"] for p in pts})
            means = [sum(p["fd"] for p in pts if p["budget_s"] == b) / sum(p["budget_s"] == b for p in pts)
                     for b in budgets]
            ax.plot([b / 60 for b in budgets], means, marker="o", label=preset)
        real = sum(p["baseline"]["fd"] for p in mine) / len(mine)
        ax.axhline(real, color="gray", ls="--", label=f"real vs real ({real:.2f})")
        if data == "mnist":
            ax.axhline(6 * real, color="gray", ls=":", label="6x real (goal)")
        else:
            ax.axhline(GOALS[data]["fd"], color="gray", ls=":", label=f"FD {GOALS[data]['fd']:g} (goal)")
        ax.set(yscale="log", xlabel="training minutes (2 CPU threads)", ylabel="Frechet distance",
               title=f"{data}: quality against wall time")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="../shared/data/mnist", help="folder of the MNIST .gz files")
    p.add_argument("--fashion-root", default="../shared/data/fashion-mnist", help="Fashion-MNIST .gz files")
    p.add_argument("--budgets", type=float, nargs="+", default=[150.0, 300.0, 600.0], help="training seconds")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--classic", default="classic-mlp-mnist")
    p.add_argument("--recommended", default="mnist-recommended")
    p.add_argument("--fashion-recommended", default="fashion-mnist-recommended")
    p.add_argument("--only", choices=["mnist", "fashion-mnist"], help="one data set only")
    p.add_argument("--n", type=int, default=10000, help="samples scored per point")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--resume", action="store_true", help="keep the points in quality_vs_time.jsonl, add the rest")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    RESULTS.mkdir(exist_ok=True)
    if not args.resume:
        POINTS.unlink(missing_ok=True)
    done = {(q["data"], q["preset"], q["seed"], q["budget_s"]) for q in _read(POINTS)}

    budgets = sorted(args.budgets)
    plan = []
    if args.only != "fashion-mnist":
        plan += [("mnist", args.root, preset, budgets) for preset in (args.classic, args.recommended)]
    if args.only != "mnist":  # Fashion-MNIST at the last budget only
        plan += [("fashion-mnist", args.fashion_root, preset, budgets[-1:])
                 for preset in (args.classic, args.fashion_recommended)]
    for data, root, preset, bs in plan:
        for seed in args.seeds:
            if all((data, preset, seed, b) in done for b in bs):
                continue
            run_points(args, data, root, preset, seed, bs, done)

    points = _read(POINTS)
    recommended = {"mnist": args.recommended, "fashion-mnist": args.fashion_recommended}
    result = goals(points, args.classic, recommended)
    rows = ["| data | preset | budget | seed | steps | FD | real FD | score | class KL | min class | P | R |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for q in sorted(points, key=lambda q: (q["data"], q["preset"], q["budget_s"], q["seed"])):
        rows.append(f"| {q['data']} | {q['preset']} | {q['budget_s'] / 60:g} min | {q['seed']} | {q['steps']:,} | "
                    f"{q['fd']:.1f} | {q['baseline']['fd']:.2f} | {q['score']:.2f} | {q['class_kl']:.3f} | "
                    f"{q['class_min']:.3f} | {q['precision']:.2f} | {q['recall']:.2f} |")
    cpus = sorted({q["cpu"] for q in points if "cpu" in q})
    machines = f" CPUs of the points that record one (`cpu` in the .jsonl): {', '.join(cpus)}." if cpus else ""
    print("\n".join(rows))
    plot(points, RESULTS / "quality_vs_time.png")
    (RESULTS / "quality_vs_time.md").write_text(
        f"# quality_vs_time\n\n`python benchmarks/quality_vs_time.py {' '.join(sys.argv[1:])}`: {args.n} samples "
        f"per point, {args.threads} torch threads, training seconds only.{machines}\n\n![](quality_vs_time.png)\n\n"
        + "\n".join(rows) + "\n\nGoals: " + json.dumps(result) + "\n")
    line = {"benchmark": "quality_vs_time", "goals": result, "points": len(points)}
    (RESULTS / "quality_vs_time.json").write_text(json.dumps(line) + "\n")
    print(json.dumps(line))


def _read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.is_file() else []


if __name__ == "__main__":
    main()
