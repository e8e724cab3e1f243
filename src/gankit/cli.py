"""The command line: each subcommand parses, builds a config, and makes ONE library call.

User mistakes print one line `gankit: error: ...` and exit with code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gankit.errors import GankitError

LISTS = ("presets", "datasets", "objectives", "models", "divergences", "metrics")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gankit", description="Train, sample and inspect generative adversarial networks.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a GAN from a preset or a config file",
                       description="Train a GAN. Any config field can be overridden with "
                                   "--section.key=value, e.g. --train.batch_size=128 --opt_D.lr=1e-4.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", help="a preset name (gankit list presets)")
    src.add_argument("--config", help="a config file: TOML, or a run's config.json")
    src.add_argument("--resume", metavar="RUN", help="continue the run in directory RUN")
    p.add_argument("--run-dir", help="where to write the run (default: runs/<name>)")
    p.add_argument("--steps", type=int, help="generator steps (train.steps)")
    p.add_argument("--seed", type=int, help="random seed (train.seed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("sample", help="draw samples from a trained run",
                       description="Write n samples as a .png picture, or as .npy float32: images "
                                   "(N, 1, 28, 28) in [0, 1], 2D points (N, 2) in data units.")
    p.add_argument("run", metavar="RUN", help="a run directory")
    p.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", required=True, help="output file, .png or .npy")
    p.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")

    p = sub.add_parser("evaluate", help="score a run's samples (or a .npy) against real data",
                       description="Compute the registered metrics (gankit list metrics) for a run or a .npy of "
                                   "samples, beside a real-vs-real baseline; writes eval-<step>.json and .md.")
    p.add_argument("target", metavar="RUN|SAMPLES.npy")
    p.add_argument("--data", help="data to compare with: mnist, fashion-mnist, mnist-5k, ring8, grid25 "
                                  "(default: the run's data)")
    p.add_argument("--metrics", nargs="+", help="metric names (default: all for the data's kind)")
    p.add_argument("--n", type=int, default=10000, help="samples drawn from a run (default 10,000)")
    p.add_argument("--root", help="folder of the data's IDX files (default: the run's data.root, or data/<name>)")
    p.add_argument("--download", action="store_true", help="download missing IDX files")
    p.add_argument("--seed", type=int, default=0, help="latent seed for sampling a run")
    p.add_argument("--no-baseline", action="store_true", help="skip the real-vs-real baseline")

    p = sub.add_parser("features", help="train the feature classifier that image metrics use")
    p.add_argument("action", choices=["train"])
    p.add_argument("--data", required=True, choices=["mnist", "fashion-mnist"])
    p.add_argument("--root", help="folder of the data's IDX files (default data/<name>)")
    p.add_argument("--out", help="weight file to write (default: the one shipped in the package)")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("list", help="list presets, datasets, objectives, models, f-divergences or metrics")
    p.add_argument("what", choices=LISTS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    try:
        if args.command == "train":
            return _train(args, extra)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if args.command == "sample":
            return _sample(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "features":
            return _features(args)
        return _list(args.what)
    except GankitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ngankit: interrupted; the checkpoint is saved, continue with --resume RUN", file=sys.stderr)
        return 130


def _train(args: argparse.Namespace, extra: list[str]) -> int:
    from gankit.config import load_config
    from gankit.training import train

    bad = [e for e in extra if not (e.startswith("--") and "=" in e)]
    if bad:
        raise GankitError(f"unrecognized argument {bad[0]!r}; config overrides look like "
                          "--section.key=value (e.g. --train.batch_size=128)")
    if not (args.preset or args.config or args.resume):
        raise GankitError("say what to train: --preset NAME (see `gankit list presets`), "
                          "--config FILE or --resume RUN")
    overrides = list(extra)
    if args.steps is not None:
        overrides.append(f"train.steps={args.steps}")
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    if args.resume:
        run = Path(args.resume)
        if not (run / "config.json").is_file():
            raise GankitError(f"{args.resume!r} is not a run directory (no config.json in it)")
        cfg = load_config(file=run / "config.json", overrides=overrides)
        run_dir = train(cfg, run_dir=run, resume=True, progress=not args.no_progress)
    else:
        cfg = load_config(preset=args.preset, file=args.config, overrides=overrides)
        run_dir = train(cfg, run_dir=args.run_dir, progress=not args.no_progress)
    print(f"run finished: {run_dir}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    import numpy as np

    from gankit import plots
    from gankit.training import load, sample

    out = Path(args.out)
    if out.suffix not in (".png", ".npy"):
        raise GankitError(f"--out {args.out!r} must end in .png or .npy")
    if not out.parent.is_dir():
        raise GankitError(f"the folder of --out {args.out!r} does not exist")
    run = load(args.run)
    x = sample(run, args.n, seed=args.seed, progress=True)
    if out.suffix == ".npy":
        np.save(out, x)
    elif x.ndim == 4:
        plots.save_grid(x, out)
    else:
        plots.plot_scatter(np.empty((0, 2)), x, out, title=f"{run.config.name}: {args.n} samples")
    print(f"wrote {len(x)} samples {tuple(x.shape[1:])} to {out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from gankit.metrics.evaluate import evaluate, report
    from gankit.training import load, sample

    target = Path(args.target)
    root = args.root
    if target.suffix == ".npy":
        if not target.is_file():
            raise GankitError(f"samples file {args.target!r} does not exist")
        if not args.data:
            raise GankitError("say which data the samples imitate: --data mnist, fashion-mnist, ring8, ...")
        x = np.load(target, allow_pickle=False)  # never unpickle user files
        data, out = args.data, target.with_name(f"{target.stem}-eval")
    else:
        run = load(target)
        data = args.data or run.config.data.name
        root = root or (run.config.data.root if data == run.config.data.name else None)
        x = sample(run, args.n, seed=args.seed, progress=True)
        out = target / f"eval-{run.step}"
    result = evaluate(x, data, metrics=args.metrics, root=root, download=args.download,
                      baseline=not args.no_baseline)
    text = report(result, title=f"{args.target}: {data}")
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(text)
    print(text)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


def _features(args: argparse.Namespace) -> int:
    from importlib import resources

    from gankit.metrics import features

    model, meta = features.train_classifier(args.data, args.root or Path("data") / args.data, seed=args.seed)
    out = Path(args.out) if args.out else Path(str(resources.files("gankit.metrics") / "weights" / f"{args.data}.pt"))
    features.save_classifier(model, meta, out)
    print(f"test accuracy {100 * meta['test_accuracy']:.2f}%; wrote {out}")
    return 0


def _list(what: str) -> int:
    from gankit.config import preset_description, preset_names
    from gankit.data import DATASETS
    from gankit.metrics.evaluate import METRICS
    from gankit.models import MODELS
    from gankit.objectives import OBJECTIVES
    from gankit.objectives.fgan import DIVERGENCES

    if what == "presets":
        rows = [(n, preset_description(n)) for n in preset_names()]
    else:
        registry = {"datasets": DATASETS, "objectives": OBJECTIVES, "models": MODELS,
                    "divergences": DIVERGENCES, "metrics": METRICS}[what]
        rows = [(n, registry.describe(n)) for n in registry.names()]
    width = max(len(n) for n, _ in rows)
    for name, text in rows:
        print(f"{name:<{width}}  {text}")
    return 0
