"""The command line: each subcommand parses, builds a config, and makes ONE library call.

User mistakes print one line `gankit: error: ...` and exit with code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gankit.errors import GankitError

LISTS = ("presets", "datasets", "objectives", "models", "divergences")


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

    p = sub.add_parser("list", help="list presets, datasets, objectives, models or f-divergences")
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


def _list(what: str) -> int:
    from gankit.config import preset_description, preset_names
    from gankit.data import DATASETS
    from gankit.models import MODELS
    from gankit.objectives import OBJECTIVES
    from gankit.objectives.fgan import DIVERGENCES

    if what == "presets":
        rows = [(n, preset_description(n)) for n in preset_names()]
    else:
        registry = {"datasets": DATASETS, "objectives": OBJECTIVES, "models": MODELS,
                    "divergences": DIVERGENCES}[what]
        rows = [(n, registry.describe(n)) for n in registry.names()]
    width = max(len(n) for n, _ in rows)
    for name, text in rows:
        print(f"{name:<{width}}  {text}")
    return 0
