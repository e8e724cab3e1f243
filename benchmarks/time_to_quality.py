"""Wall time for the classic MLP recipe to reach a fixed quality, with the classic loop
(benchmarks/classic_loop.py) and with gankit's engine (`gankit.train`), same hyper-parameters: the
classic-mlp-mnist preset (G 256-512-784, D 512-256-128, BCE / ns on logits, Adam 1e-4, batch 64, fp32).

    python benchmarks/time_to_quality.py --root ../shared/data/mnist      # ~25 min on 2 cores
    python benchmarks/time_to_quality.py --seeds 0 1 2 --precisions fp32 --budget 400   # ~45 min

Quality: the Frechet distance in the shipped MNIST feature network (`fd_mnist`, evaluation issue) of
`--eval-n` samples against the MNIST test set, scored by the same function (`evaluate_generator`) for
both loops after every epoch (937 steps of 64 images); "reached" = the first epoch at or below
each of `--thresholds`. Training time only: the evaluations are not counted. With several `--seeds`,
every loop runs once per seed and a speed-up counts at its smallest over the seeds. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
RESULTS = Path(__file__).parent / "results"
EPOCH = 937  # steps of batch 64 in one pass over 60,000 images (the classic loader drops the last partial batch)


def classic(args, cfg) -> list[dict]:
    from classic_loop import train_classic

    from gankit.data import load_dataset
    from gankit.metrics.evaluate import evaluate_generator
    from gankit.models import build_models

    torch.manual_seed(cfg.train.seed)
    data = load_dataset(cfg.data)
    G, D = build_models(cfg.model, data.shape)
    curve: list[dict] = []

    def score(seconds: float, nimg: int) -> bool:
        fd = evaluate_generator(G, cfg, seed=cfg.train.seed + 2)["eval/fd_mnist"]
        curve.append({"seconds": round(seconds, 1), "nimg": nimg, "fd": round(fd, 2)})
        print(f"classic loop: {seconds:6.1f} s, {nimg:,} images, FD {fd:.1f}", flush=True)
        return fd <= args.threshold

    train_classic(G, D, data.x[:, 0].numpy(), z_dim=cfg.model.z_dim, batch_size=64, lr=cfg.opt_G.lr,
                  betas=tuple(cfg.opt_G.betas), seconds=args.budget, warmup_batches=0, on_checkpoint=score)
    return curve


def engine(args, cfg, budget: float) -> list[dict]:
    from gankit import train
    from gankit.training.stats import read_jsonl

    cfg.train.time_limit = budget
    with tempfile.TemporaryDirectory() as tmp:
        run = train(cfg, run_dir=Path(tmp) / "run", progress=False)
        lines = read_jsonl(run / "stats.jsonl")
    times = {x["step"]: x["time"] for x in lines if "time" in x}  # training seconds at each logged step
    curve = [{"seconds": times[x["step"]], "nimg": x["nimg"], "fd": round(x["eval/fd_mnist"], 2)}
             for x in lines if "eval/fd_mnist" in x and x["step"] in times]
    for c in curve:
        print(f"gankit {cfg.train.precision}: {c['seconds']:6.1f} s, {c['nimg']:,} images, FD {c['fd']:.1f}")
    return curve


def reached(curve: list[dict], threshold: float) -> dict | None:
    return next((c for c in curve if c["fd"] <= threshold), None)


def speedup(base: list[dict], curve: list[dict], threshold: float) -> tuple[float | None, bool]:
    """(seconds the classic loop took / seconds gankit took, to reach `threshold`), and whether that is only
    a lower bound: the classic loop never got there, so its whole training time stands in. None: gankit
    never got there."""
    r, b = reached(curve, threshold), reached(base, threshold)
    if r is None:
        return None, False
    return round((b or base[-1])["seconds"] / r["seconds"], 2), b is None


def report(args, runs: dict[int, dict[str, list[dict]]]) -> tuple[list[str], dict]:
    """Per threshold and loop: the seconds to reach it on every seed, and the speed-up over the classic loop
    of the same seed. The figure that counts is the smallest speed-up over the seeds (None when gankit
    missed the threshold on some seed; "at least" when it rests on a classic run that never got there)."""
    seeds = " / ".join(str(seed) for seed in args.seeds)
    figures: dict = {"eval_n": args.eval_n, "threads": args.threads, "seeds": args.seeds}
    rows = [f"| FD threshold | loop | reached at (seed {seeds}) | speed-up over the classic loop (seed {seeds}) "
            "| smallest speed-up |", "|---|---|---|---|---|"]
    for threshold in sorted(args.thresholds, reverse=True):
        for name in runs[args.seeds[0]]:
            hit = [reached(runs[seed][name], threshold) for seed in args.seeds]
            key = f"fd{threshold:g}_{name}"
            figures[f"{key}_seconds"] = [r["seconds"] if r else None for r in hit]
            when = " / ".join(f"{r['seconds']:.0f} s" if r else "not reached" for r in hit)
            if name == "classic":
                rows.append(f"| {threshold:g} | {name} | {when} | - | - |")
                continue
            ups = [speedup(runs[seed]["classic"], runs[seed][name], threshold) for seed in args.seeds]
            smallest = None if any(x is None for x, _ in ups) else min(ups)
            figures[f"{key}_speedup_ratios"] = [x for x, _ in ups]
            figures[f"{key}_speedup_ratio"] = smallest and smallest[0]
            figures[f"{key}_speedup_ratio_is_lower_bound"] = bool(smallest and smallest[1])

            def show(x: float | None, at_least: bool) -> str:
                return "-" if x is None else f"{'>= ' if at_least else ''}{x:.2f}x"

            rows.append(f"| {threshold:g} | {name} | {when} | {' / '.join(show(*u) for u in ups)} | "
                        f"{show(*smallest) if smallest else '-'} |")
    return rows, figures


def main() -> None:
    from gankit import load_config

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="../shared/data/mnist", help="folder of the MNIST .gz files")
    p.add_argument("--thresholds", type=float, nargs="+", default=[1500.0, 1000.0, 700.0, 500.0],
                   help="Frechet distances to reach; the classic loop trains until the lowest (or the budget)")
    p.add_argument("--budget", type=float, default=600.0, help="most training seconds per loop")
    p.add_argument("--eval-n", type=int, default=2500, help="samples per evaluation")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run of every loop per seed")
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], help="gankit precisions to time")
    p.add_argument("--name", default="time_to_quality", help="results file name in benchmarks/results/")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    def config(precision: str, seed: int):
        return load_config(preset="classic-mlp-mnist", overrides=[
            f"data.root={args.root}", "data.download=false", f"train.seed={seed}", f"train.threads={args.threads}",
            "train.steps=100000000", f"train.log_every={EPOCH}", f"train.eval_every={EPOCH}",
            "train.eval_metrics=fd", f"train.eval_n={args.eval_n}", "train.ckpt_every=100000000",
            f"train.precision={precision}", "train.alarm_patience=0"])

    args.threshold = min(args.thresholds)  # the classic loop stops once it reaches the lowest
    runs: dict[int, dict[str, list[dict]]] = {}  # seed -> loop -> FD curve
    for seed in args.seeds:
        curves = runs[seed] = {"classic": classic(args, config("fp32", seed))}
        # gankit trains no longer than the classic loop needed for the lowest threshold it reached (or the budget)
        hits = [r for r in (reached(curves["classic"], t) for t in args.thresholds) if r]
        hit = max(hits, key=lambda r: r["seconds"]) if hits else None
        for precision in args.precisions:
            budget = hit["seconds"] * 1.05 + 5 if hit else args.budget
            curves[f"gankit-{precision}"] = engine(args, config(precision, seed), budget)

    rows, figures = report(args, runs)
    print("\n".join(rows))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.md").write_text(
        f"# {args.name}\n\n`python benchmarks/time_to_quality.py {' '.join(sys.argv[1:])}`: classic-mlp-mnist, "
        f"FD thresholds {args.thresholds} ({args.eval_n} samples, fd_mnist), {args.threads} threads, "
        f"seeds {args.seeds}; training seconds only.\n\n" + "\n".join(rows)
        + "\n\nCurves per seed:\n\n```\n" + json.dumps(runs) + "\n```\n")
    line = json.dumps({"benchmark": "time_to_quality", "results": figures})
    (RESULTS / f"{args.name}.json").write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
