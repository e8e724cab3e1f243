"""Wall time for the classic MLP recipe to reach a fixed quality, with the classic loop
(benchmarks/classic_loop.py) and with gankit's engine (`gankit.train`), same hyper-parameters: the
classic-mlp-mnist preset (G 256-512-784, D 512-256-128, BCE / ns on logits, Adam 1e-4, batch 64, fp32).

    python benchmarks/time_to_quality.py --root ../shared/data/mnist      # ~15 min on 2 cores

Quality: the Frechet distance in the shipped MNIST feature network (`fd_mnist`, evaluation issue) of
`--eval-n` samples against the MNIST test set, scored by the same function (`evaluate_generator`) for
both loops after every epoch (937 steps of 64 images); "reached" = the first epoch at or below
each of `--thresholds`. Training time only: the evaluations are not counted. Ends with one JSON line.
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

    torch.manual_seed(args.seed)
    data = load_dataset(cfg.data)
    G, D = build_models(cfg.model, data.shape)
    curve: list[dict] = []

    def score(seconds: float, nimg: int) -> bool:
        fd = evaluate_generator(G, cfg, seed=args.seed + 2)["eval/fd_mnist"]
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


def main() -> None:
    from gankit import load_config

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default="../shared/data/mnist", help="folder of the MNIST .gz files")
    p.add_argument("--thresholds", type=float, nargs="+", default=[1500.0, 1000.0, 700.0, 500.0],
                   help="Frechet distances to reach; the classic loop trains until the lowest (or the budget)")
    p.add_argument("--budget", type=float, default=600.0, help="most training seconds per loop")
    p.add_argument("--eval-n", type=int, default=2500, help="samples per evaluation")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], help="gankit precisions to time")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    def config(precision: str):
        return load_config(preset="classic-mlp-mnist", overrides=[
            f"data.root={args.root}", "data.download=false", f"train.seed={args.seed}", f"train.threads={args.threads}",
            "train.steps=100000000", f"train.log_every={EPOCH}", f"train.eval_every={EPOCH}",
            "train.eval_metrics=fd", f"train.eval_n={args.eval_n}", "train.ckpt_every=100000000",
            f"train.precision={precision}", "train.alarm_patience=0"])

    args.threshold = min(args.thresholds)  # the classic loop stops once it reaches the lowest
    curves = {"classic": classic(args, config("fp32"))}
    # gankit trains no longer than the classic loop needed for the lowest threshold it reached (or the budget)
    hits = [r for r in (reached(curves["classic"], t) for t in args.thresholds) if r]
    hit = max(hits, key=lambda r: r["seconds"]) if hits else None
    for precision in args.precisions:
        budget = hit["seconds"] * 1.05 + 5 if hit else args.budget
        curves[f"gankit-{precision}"] = engine(args, config(precision), budget)

    figures: dict = {"eval_n": args.eval_n, "threads": args.threads}
    rows = ["| FD threshold | loop | reached at | images seen | speed-up over the classic loop |",
            "|---|---|---|---|---|"]
    for threshold in sorted(args.thresholds, reverse=True):
        base = reached(curves["classic"], threshold)
        for name, curve in curves.items():
            r = reached(curve, threshold)
            key = f"fd{threshold:g}_{name}"
            figures[f"{key}_seconds"] = r["seconds"] if r else None
            ratio = round(base["seconds"] / r["seconds"], 2) if r and base else None
            if name != "classic":
                figures[f"{key}_speedup_ratio"] = ratio
            when, seen = (f"{r['seconds']:.1f} s", f"{r['nimg']:,}") if r else ("not reached", "-")
            rows.append(f"| {threshold:g} | {name} | {when} | {seen} | {'-' if ratio is None else f'{ratio:.2f}x'} |")
    print("\n".join(rows))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "time_to_quality.md").write_text(
        f"# time_to_quality\n\n`python benchmarks/time_to_quality.py {' '.join(sys.argv[1:])}`: classic-mlp-mnist, "
        f"FD thresholds {args.thresholds} ({args.eval_n} samples, fd_mnist), {args.threads} threads, seed {args.seed}; "
        f"training seconds only.\n\n" + "\n".join(rows) + "\n\nCurves:\n\n```\n" + json.dumps(curves) + "\n```\n")
    line = json.dumps({"benchmark": "time_to_quality", "results": figures})
    (RESULTS / "time_to_quality.json").write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
