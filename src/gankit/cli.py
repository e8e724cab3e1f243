"""The command line: each subcommand parses, builds a config, and makes ONE library call.

User mistakes print one line `gankit: error: ...` and exit with code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import NoReturn

from gankit import __version__
from gankit.errors import GankitError

LISTS = ("presets", "datasets", "objectives", "models", "divergences", "metrics")
MAX_NPROC = 256  # processes per machine for --nproc: beyond this a typo, not a machine
# Library messages name the config keys (--data.download=true, --data.root); evaluate and features take
# flags of their own, which their errors must name instead.
EVALUATE_FLAGS = {"--data.download=true": "--download", "--data.root": "--root"}
FEATURES_FLAGS = {"set --data.download=true or put": "put", "download it again (--data.download=true)":
                  "put the official file there again", "--data.root": "--root"}


class Parser(argparse.ArgumentParser):
    """argparse with gankit's error format: one line `gankit: error: ...` and exit code 2, instead of a usage
    block (the subcommands' parsers are made of this class too: argparse builds them with type(self))."""

    def error(self, message: str) -> NoReturn:
        print(f"gankit: error: {message}; see `{self.prog} --help`", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="gankit", description="Train, sample and inspect generative adversarial networks.")
    parser.add_argument("--version", action="version", version=f"gankit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a GAN from a preset or a config file",
                       description="Train a GAN. Any config field can be overridden with "
                                   "--section.key=value, e.g. --train.batch_size=128 --opt_D.lr=1e-4; "
                                   "`gankit config --show [--preset NAME]` lists every field with its value "
                                   "and what it does.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", help="a preset name (gankit list presets)")
    src.add_argument("--config", help="a config file: TOML, or a run's config.json")
    p.add_argument("--resume", metavar="RUN", nargs="?", const="",
                   help="continue the run in directory RUN from its newest checkpoint; without RUN, the newest "
                        "run of the --preset/--config under runs/ (or the --run-dir)")
    p.add_argument("--run-dir", help="where to write the run (default: runs/<name>)")
    p.add_argument("--steps", type=int, help="generator steps (train.steps)")
    p.add_argument("--seed", type=int, help="random seed (train.seed)")
    p.add_argument("--nproc", type=int, metavar="N",
                   help="train in N processes on this machine (DistributedDataParallel through torchrun; "
                        "train.batch_size is the global batch)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("config", help="show every config field with its value and what it does",
                       description="Print every config field as `section.key = value  # comment`: the defaults, "
                                   "or a preset's or file's values after --section.key=value overrides; a `*` "
                                   "marks a value that differs from the default.")
    p.add_argument("--show", action="store_true", required=True, help="print the resolved config")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", help="a preset name (gankit list presets)")
    src.add_argument("--config", help="a config file: TOML, or a run's config.json")

    p = sub.add_parser("plot", help="redraw a run's loss curves from its stats.jsonl",
                       description="Redraw losses.png (losses, D outputs, estimates, evaluations, alarms) from "
                                   "RUN/stats.jsonl, e.g. while the run trains or after copying only the stats.")
    p.add_argument("run", metavar="RUN", help="a run directory")
    p.add_argument("--out", help="picture to write, .png, .pdf or .svg (default RUN/losses.png)")

    p = sub.add_parser("sample", help="draw samples from a trained run",
                       description="Write n samples as a .png picture, or as .npy float32: images "
                                   "(N, 1, 28, 28) in [0, 1], 2D points (N, 2) in data units. For a conditional "
                                   "run the labels go beside them, in <out>-labels.npy (int64).")
    p.add_argument("run", metavar="RUN", help="a run directory")
    p.add_argument("--n", type=int, help="number of samples (default 64); with --grid, samples per class (default 10)")
    p.add_argument("--out", required=True, help="output file, .png or .npy")
    p.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    p.add_argument("--class", dest="label", type=int, metavar="Y",
                   help="conditional runs: draw every sample for class Y (default: labels drawn uniformly)")
    p.add_argument("--grid", action="store_true", help="conditional runs: one row per class, --n samples each")

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

    p = sub.add_parser("theory", help="the theory report: optimal D, V(D*, G) = -log 4 + 2 JSD, W1, saturation",
                       description="Write a Markdown report (report.md, PNG figures, a CSV per figure) on "
                                   "Goodfellow et al. 2014, Sec. 4 for p_data = --data against p_g = --model, with "
                                   "trained discriminators and WGAN critics against the closed forms; with neither, "
                                   "a default set of 1D and 2D cases. A density SPEC is NAME or NAME:KEY=VALUE,...: "
                                   "gaussian:mean=0.5,std=1.2 | gaussian:mean=0.2;0.1,std=0.5[,corr=R] (2D) | "
                                   "mixture:means=-2;2,stds=0.5[,weights=1;3] | ring8[:radius=R,std=S] | "
                                   "grid25[:std=S] | table:path=FILE.csv (x, density or x, y, density). Quote a SPEC "
                                   "holding ';' in the shell.")
    p.add_argument("--data", metavar="SPEC", help="p_data, e.g. ring8 or gaussian:mean=0,std=1")
    p.add_argument("--model", metavar="SPEC", help="p_g, e.g. gaussian:mean=0.2;0.1,std=0.5")
    p.add_argument("--out", required=True, help="folder for report.md, its figures and CSVs")
    p.add_argument("--d-steps", type=int, metavar="N",
                   help="discriminator steps per case, towards D* (default 1000; 0 skips)")
    p.add_argument("--critic-steps", type=int, metavar="N",
                   help="steps per WGAN critic and pair (default 400; 0 skips)")
    p.add_argument("--saturation-steps", type=int, metavar="N",
                   help="D steps of the measured saturation (default 200; 0 skips)")
    p.add_argument("--no-mnist", action="store_true", help="measure the saturation on ring8 only, not mnist-5k")
    p.add_argument("--w1-samples", type=int, metavar="N", help="samples of each density for W1 in 2D (default 1000)")
    p.add_argument("--grid-points", type=int, metavar="N",
                   help="grid points per axis (default: chosen from the densities)")
    p.add_argument("--seed", type=int, metavar="N", help="seed of every network and sample (default 0)")
    p.add_argument("--threads", type=int, default=0, metavar="N", help="torch CPU threads (default: torch's own)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("lab", help="the browser lab: watch and steer a 2D GAN live (needs: pip install 'gankit[lab]')",
                       description="Start the browser lab: a local web page that trains a 2D GAN with gankit's own "
                                   "engine and shows D, G's manifold, gradients, D* and metrics live. Serves 127.0.0.1 "
                                   "only unless --host says otherwise; nothing is fetched from the internet.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; the lab has no login, so widen it with care)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--no-browser", action="store_true", help="do not open the page in the default browser")
    p.add_argument("--runs-dir", default="runs", help="where Export writes run directories and Load finds them "
                                                      "(default runs)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads for the lab's training (default 1)")

    p = sub.add_parser("list", help="list presets, datasets, objectives, models, f-divergences or metrics")
    p.add_argument("what", choices=LISTS)
    return parser


def entry() -> NoReturn:
    """The `gankit` command and `python -m gankit`: `main`, then exit with its code."""
    choose_threading()
    try:
        code = main()
        sys.stdout.flush()  # inside the try: a reader that left (`| head -1`) shows here, not at exit
    except BrokenPipeError:
        # Python's recipe: point stdout at devnull, so the interpreter's final flush cannot fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    # One of torchrun's ranks: skip Python's teardown (dist.under_torchrun(), read here without importing
    # torch, which commands such as `gankit list` never load)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        from gankit.training.dist import exit_worker

        exit_worker(code)
    raise SystemExit(code)


def choose_threading(environ: dict | None = None, busy: float | None = None) -> None:
    """Before torch loads (OpenMP reads this once): on a machine where another process keeps a core busy,
    OpenMP's idle threads sleep instead of spinning (OMP_WAIT_POLICY=PASSIVE). Spinning threads fight the other
    process for the cores and slow training several-fold, while on an idle machine spinning is faster, so the
    policy follows the load seen at start (`busy`: cores in use, measured over 0.1 s). A policy already in the
    environment is kept;
    the number of threads stays torch's default, or train.threads / --threads. benchmarks/busy_machine.py
    measures both cases."""
    environ = os.environ if environ is None else environ
    if "OMP_WAIT_POLICY" in environ:
        return
    if (busy_cores() if busy is None else busy) >= 0.5:
        environ["OMP_WAIT_POLICY"] = "PASSIVE"


def busy_cores(interval: float = 0.1) -> float:
    """How many cores other processes keep busy now, from /proc/stat over `interval` seconds; where it cannot
    be read (not Linux), every core, so the choice falls on the side that is safe under load."""
    def times() -> tuple[int, int]:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        return sum(values[:8]), idle

    try:
        total0, idle0 = times()
        time.sleep(interval)
        total1, idle1 = times()
    except (OSError, ValueError, IndexError):
        return float(os.cpu_count() or 1)
    if total1 <= total0:
        return 0.0
    return (1 - (idle1 - idle0) / (total1 - total0)) * (os.cpu_count() or 1)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    try:
        if args.command == "train":
            return _train(args, extra, sys.argv[1:] if argv is None else list(argv))
        if args.command == "config":
            return _config(args, extra)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if args.command == "sample":
            return _sample(args)
        if args.command == "plot":
            return _plot(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "features":
            return _features(args)
        if args.command == "theory":
            return _theory(args)
        if args.command == "lab":
            return _lab(args)
        return _list(args.what)
    except GankitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ngankit: interrupted; the checkpoint is saved, continue with --resume RUN", file=sys.stderr)
        return 130


def _check_overrides(extra: list[str]) -> None:
    bad = [e for e in extra if not (e.startswith("--") and "=" in e)]
    if bad:
        raise GankitError(f"unrecognized argument {bad[0]!r}; config overrides look like "
                          "--section.key=value (e.g. --train.batch_size=128)")


def _config(args: argparse.Namespace, extra: list[str]) -> int:
    from gankit.checks import load_config
    from gankit.config import show_config

    _check_overrides(extra)
    print(show_config(load_config(preset=args.preset, file=args.config, overrides=extra)))
    return 0


def _train(args: argparse.Namespace, extra: list[str], argv: list[str]) -> int:
    from gankit.checks import load_config
    from gankit.paths import check_output_dir
    from gankit.training import dist, train
    from gankit.training.rundir import checkpoint_of, find_latest_run, new_run_dir

    _check_overrides(extra)
    if not (args.preset or args.config or args.resume is not None):
        raise GankitError("say what to train: --preset NAME (see `gankit list presets`), "
                          "--config FILE or --resume RUN")
    overrides = list(extra)
    if args.steps is not None:
        overrides.append(f"train.steps={args.steps}")
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    run = check_output_dir(args.run_dir, "--run-dir") if args.run_dir else None
    if args.resume:  # --resume RUN: the run's own config
        if args.preset or args.config:
            raise GankitError("--resume RUN continues RUN with its own config.json: leave out --preset/--config "
                              "(or give --resume without RUN to continue the newest run of a preset)")
        run = check_output_dir(args.resume, "--resume")
    elif args.resume == "" and run is None:  # --resume alone: the newest run of this config under runs/
        if not (args.preset or args.config):
            raise GankitError("--resume without RUN continues the newest run of a config: give --preset NAME or "
                              "--config FILE (or --run-dir DIR, or --resume RUN)")
        run = find_latest_run(load_config(preset=args.preset, file=args.config, overrides=overrides).name)
    if args.resume is not None:
        if not (run / "config.json").is_file():
            raise GankitError(f"{str(run)!r} is not a run directory (no config.json in it)")
        checkpoint_of(run)  # a damaged `latest` pointer fails here, in one line
        stats = run / "stats.jsonl"
        if stats.exists() and not stats.is_file():
            raise GankitError(f"{str(stats)!r} is not a file: a resumed run appends its stats there; move it away")
        cfg = load_config(file=run / "config.json", overrides=overrides)
    else:
        cfg = load_config(preset=args.preset, file=args.config, overrides=overrides)
        if run is None:  # runs/<name>: the config's name must make a folder name
            check_output_dir(Path("runs") / cfg.name, "the run directory runs/<name>")
    if args.nproc is not None:  # check here, once, then start the processes
        if not 1 <= args.nproc <= MAX_NPROC:
            raise GankitError(f"--nproc must be from 1 to {MAX_NPROC}, got {args.nproc}")
        if dist.under_torchrun():
            raise GankitError("--nproc starts the processes itself: under torchrun leave it out")
        if cfg.train.batch_size % args.nproc:
            raise GankitError(f"train.batch_size {cfg.train.batch_size} is the global batch and must divide by "
                              f"--nproc {args.nproc}")
        if args.nproc > 1:
            argv = _without_option(argv, "--nproc")
            if run is None:  # a new run: its directory chosen here, so a failure can name it
                run = new_run_dir(cfg.name)
                argv += ["--run-dir", str(run)]
            return dist.launch(args.nproc, argv, str(run))
    run_dir = train(cfg, run_dir=run, resume=args.resume is not None, progress=not args.no_progress)
    from gankit.plots import read_stats

    last = (read_stats(run_dir / "stats.jsonl") or [{}])[-1]
    stopped = "alarm" in last and last.get("action") == "stop"  # exit 3: a NaN/Inf or a runaway G stopped it
    if os.environ.get("RANK", "0") == "0":
        print(f"run stopped by an alarm (see above): {run_dir}" if stopped else f"run finished: {run_dir}")
    return 3 if stopped else 0


def _without_option(argv: list[str], option: str) -> list[str]:
    """argv less `option VALUE` and `option=VALUE`."""
    out, skip = [], False
    for arg in argv:
        if skip or arg.startswith(option + "="):
            skip = False
            continue
        if arg == option:
            skip = True
            continue
        out.append(arg)
    return out


def _plot(args: argparse.Namespace) -> int:
    import json

    from gankit import plots
    from gankit.paths import check_output_file

    run = Path(args.run)
    if not run.is_dir():
        raise GankitError(f"run directory {args.run!r} does not exist")
    out = Path(args.out) if args.out else run / "losses.png"
    if out.suffix not in (".png", ".pdf", ".svg"):
        raise GankitError(f"--out {args.out!r} must end in .png, .pdf or .svg")
    check_output_file(out, "--out" if args.out else "the picture RUN/losses.png")
    if (run / "stats.jsonl").exists() and not (run / "stats.jsonl").is_file():
        raise GankitError(f"{str(run / 'stats.jsonl')!r} is a folder, not the run's stats file")
    stats = plots.read_stats(run / "stats.jsonl")
    if not stats:
        raise GankitError(f"{str(run / 'stats.jsonl')!r} is missing or holds no stats lines yet")
    try:
        name = json.loads((run / "config.json").read_text()).get("name", run.name)
    except (OSError, ValueError, AttributeError, RecursionError):  # a damaged config.json costs only the title
        name = run.name
    plots.plot_losses(stats, out, title=f"{name}, step {max(s['step'] for s in stats)}")
    alarms = [s for s in stats if "alarm" in s]
    print(f"wrote {out} ({len(stats) - len(alarms)} lines, {len(alarms)} alarms)")
    return 0


def _sample(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from gankit import memory, plots
    from gankit.config import check_seed
    from gankit.paths import check_output_file
    from gankit.training import draw_labels, load, sample

    out = Path(args.out)
    if out.suffix not in (".png", ".npy"):
        raise GankitError(f"--out {args.out!r} must end in .png or .npy")
    check_output_file(out, "--out")
    check_output_file(out.with_name(f"{out.stem}-labels.npy"), "the labels file beside --out")
    check_seed(args.seed, "--seed")
    if args.grid and args.label is not None:
        raise GankitError("give --class Y (samples of one class) or --grid (one row per class), not both")
    if args.n is not None and args.n < 1:
        raise GankitError(f"--n must be at least 1, got {args.n}")
    run = load(args.run)
    if (args.grid or args.label is not None) and not run.num_classes:
        raise GankitError(f"run {args.run!r} is unconditional (model.cond='none'): it takes no class label; "
                          "sample it without --class or --grid")
    n = args.n if args.n is not None else (10 if args.grid else 64)
    total = n * (run.num_classes if args.grid else 1)
    memory.check_fits(memory.samples_bytes(total, run.shape), f"--n {n} samples of shape {run.shape}")
    if args.grid:  # rows of n samples: class 0, class 1, ...
        y = torch.arange(run.num_classes).repeat_interleave(n)
    else:
        y = draw_labels(run, n, args.label, seed=args.seed)
    x = sample(run, len(y) if y is not None else n, seed=args.seed, labels=y, progress=True)
    if out.suffix == ".npy":
        np.save(out, x)
    elif x.ndim == 4:
        plots.save_grid(x, out, cols=n if args.grid else None)
    else:
        plots.plot_scatter(np.empty((0, 2)), x, out, title=f"{run.config.name}: {len(x)} samples",
                           fake_labels=None if y is None else y.numpy())
    print(f"wrote {len(x)} samples {tuple(x.shape[1:])} to {out}")
    if y is not None and (out.suffix == ".npy" or (args.label is None and not args.grid)):  # random labels
        labels = out.with_name(f"{out.stem}-labels.npy")
        np.save(labels, y.numpy())
        print(f"wrote their labels ({len(y)},) to {labels}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from gankit import memory
    from gankit.config import check_seed
    from gankit.metrics.evaluate import METRICS, evaluable, evaluate, load_npy, report
    from gankit.paths import check_output_file
    from gankit.training import load, sample

    # Every input checked before the samples are drawn and scored (a minute or more): the data, the metric
    # names, the seed, the sample count, and the two report files.
    target = Path(args.target)
    root = args.root
    check_seed(args.seed, "--seed")
    if args.data:
        evaluable(args.data)
    for name in args.metrics or []:
        METRICS.get(name)
    if target.suffix == ".npy":
        if not target.is_file():
            raise GankitError(f"samples file {args.target!r} does not exist")
        if not args.data:
            raise GankitError("say which data the samples imitate: --data mnist, fashion-mnist, ring8, ...")
        data, out = args.data, target.with_name(f"{target.stem}-eval")
        _check_reports(out, check_output_file)
        x = load_npy(target, "samples file").astype(np.float32)
        beside = target.with_name(f"{target.stem}-labels.npy")  # written by `gankit sample` for a conditional run
        labels = load_npy(beside, "labels file", kinds="iu").astype(np.int64) if beside.is_file() else None
    else:
        if args.n < 10:
            raise GankitError(f"--n must be at least 10 samples, got {args.n}")
        run = load(target)
        data = args.data or run.config.data.name
        evaluable(data)
        out = target / f"eval-{run.step}"
        _check_reports(out, check_output_file)
        memory.check_fits(memory.samples_bytes(args.n, run.shape), f"--n {args.n} samples of shape {run.shape}")
        root = root or (run.config.data.root if data == run.config.data.name else None)
        labels = np.arange(args.n) % run.num_classes if run.num_classes else None  # every class equally
        x = sample(run, args.n, seed=args.seed, labels=labels, progress=True)
    with _flags(EVALUATE_FLAGS):
        result = evaluate(x, data, metrics=args.metrics, root=root, download=args.download,
                          baseline=not args.no_baseline, labels=labels, progress=None)  # bars on a terminal
    text = report(result, title=f"{args.target}: {data}")
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(text)
    print(text)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


@contextlib.contextmanager
def _flags(names: dict[str, str]):
    """Re-word a library error that names a config key so that it names this subcommand's flag instead."""
    try:
        yield
    except GankitError as e:
        text = str(e)
        for key, flag in names.items():
            text = text.replace(key, flag)
        raise GankitError(text) from None


def _check_reports(out: Path, check) -> None:
    for suffix in (".json", ".md"):
        check(out.with_suffix(suffix), "the report")


def _theory(args: argparse.Namespace) -> int:
    import torch

    from gankit.config import MAX_THREADS
    from gankit.paths import check_output_dir
    from gankit.theory.report import TheoryOptions, make_case, theory_report

    if (args.data is None) != (args.model is None):
        raise GankitError("give both --data SPEC and --model SPEC (p_data and p_g), or neither for the default cases")
    check_output_dir(args.out, "--out")
    if not 0 <= args.threads <= MAX_THREADS:
        raise GankitError(f"--threads must be from 0 to {MAX_THREADS} (0 = torch's default), got {args.threads}")
    given = {"d_steps": args.d_steps, "critic_steps": args.critic_steps, "saturation_steps": args.saturation_steps,
             "w1_samples": args.w1_samples, "grid_points": args.grid_points, "seed": args.seed}
    options = TheoryOptions(mnist=not args.no_mnist, **{k: v for k, v in given.items() if v is not None})
    options.validate()
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = None if args.data is None else [make_case(args.data, args.model, grid_points=args.grid_points)]
    summary = theory_report(args.out, cases, options=options, progress=not args.no_progress)
    for i, case in enumerate(summary["cases"], 1):
        r = case["theorem1"]
        print(f"case {i}: {case['data']} vs {case['model']}: V(D*, G) = {r['value_at_optimum']:.9f}, "
              f"-log 4 + 2 JSD = {r['minus_log4_plus_2jsd']:.9f}, W1 = {case['w1']['w1']:.6f}")
    print(f"wrote {Path(args.out) / 'report.md'} ({summary['seconds']:.0f} s)")
    return 0


def _lab(args: argparse.Namespace) -> int:
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn", "websockets") if importlib.util.find_spec(m) is None]
    if missing:
        raise GankitError(f"the lab needs its extra (missing: {', '.join(missing)}): pip install 'gankit[lab]'")
    if not 0 <= args.port <= 65535:
        raise GankitError(f"--port must be from 0 to 65535, got {args.port}")
    if not 1 <= args.threads <= 64:
        raise GankitError(f"--threads must be from 1 to 64, got {args.threads}")
    _check_host(args.host)
    if Path(args.runs_dir).exists() and not Path(args.runs_dir).is_dir():
        raise GankitError(f"--runs-dir {args.runs_dir!r} is a file, not a folder")
    from gankit.lab.server import serve

    try:
        serve(host=args.host, port=args.port, open_browser=not args.no_browser, runs_dir=args.runs_dir,
              threads=args.threads)
    except KeyboardInterrupt:
        pass
    return 0


def _check_host(host: str) -> None:
    """An address the lab can listen on: an IP address or a host name this machine resolves."""
    import ipaddress
    import socket

    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    valid = 0 < len(host) <= 253 and all(0 < len(p) <= 63 and p.replace("-", "").isalnum() and p.isascii()
                                         and not p.startswith("-") and not p.endswith("-")
                                         for p in host.rstrip(".").split("."))
    try:
        if valid:
            socket.getaddrinfo(host, None)
            return
    except (OSError, UnicodeError):
        pass
    raise GankitError(f"--host {host!r} is not an IP address or a host name this machine resolves; "
                      "e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)")


def _features(args: argparse.Namespace) -> int:
    from importlib import resources

    from gankit.config import check_seed
    from gankit.metrics import features
    from gankit.paths import check_output_file

    check_seed(args.seed, "--seed")
    out = Path(args.out) if args.out else Path(str(resources.files("gankit.metrics") / "weights" / f"{args.data}.pt"))
    check_output_file(out, "--out" if args.out else "the shipped weights file")  # before minutes of training
    with _flags(FEATURES_FLAGS):
        model, meta = features.train_classifier(args.data, args.root or Path("data") / args.data, seed=args.seed)
    features.save_classifier(model, meta, out)
    print(f"test accuracy {100 * meta['test_accuracy']:.2f}%; wrote {out}")
    return 0


def _list(what: str) -> int:
    from gankit.config import preset_description, preset_names
    from gankit.data import DATASETS
    from gankit.metrics.evaluate import METRICS
    from gankit.models import MODELS, family
    from gankit.objectives import OBJECTIVES, reading, toy
    from gankit.objectives.fgan import DIVERGENCES

    notes = {}  # name -> a second line: the settings that work on the 2D toy data
    if what == "presets":
        rows = [(n, preset_description(n)) for n in preset_names()]
    elif what == "objectives":  # what D outputs, and the logged statistic that estimates the divergence
        rows = [(n, f"[D: {reading(n).d_output}{_estimate_key(reading(n).estimate)}] {OBJECTIVES.describe(n)}")
                for n in OBJECTIVES.names()]
        notes = {n: toy.describe(n) for n in OBJECTIVES.names() if n in toy.RECIPES}
        notes["fgan"] = "toy data: settings per divergence in `gankit list divergences`"
    elif what == "divergences":  # the registered ones, then the parametric families
        rows = [(n, DIVERGENCES.describe(n)) for n in DIVERGENCES.names()] + list(DIVERGENCES.families().items())
        notes = {n: toy.describe(toy.key("fgan", n)) for n in DIVERGENCES.names() if toy.key("fgan", n) in toy.RECIPES}
    elif what == "datasets":  # kind, shape, classes, what evaluates it
        from gankit.data import dataset_summary

        rows = [(n, f"{DATASETS.describe(n)} [{dataset_summary(n)}]") for n in DATASETS.names()]
    elif what == "models":  # the fields each family reads besides z_dim and the widths
        rows = [(n, f"{MODELS.describe(n)}{_family_notes(family(n))}") for n in MODELS.names()]
    else:
        rows = [(n, METRICS.describe(n)) for n in METRICS.names()]
    width = max(len(n) for n, _ in rows)
    for name, text in rows:
        print(f"{name:<{width}}  {text}")
        if name in notes:
            print(f"{'':<{width}}    {notes[name]}")
    return 0


def _estimate_key(estimate) -> str:
    return f"; logs {estimate.key}" if estimate else ""


def _family_notes(fam) -> str:
    notes = [f"reads {', '.join(sorted(fam.reads))}"] if fam.reads else []
    notes += [f"{n} {side} width{'s' if n > 1 else ''}" for side, n in (("G", fam.g_widths), ("D", fam.d_widths))
              if n is not None]
    notes += [f"model.cond={fam.native_cond} built in"] if fam.native_cond else []
    return f" [{'; '.join(notes)}]" if notes else ""
