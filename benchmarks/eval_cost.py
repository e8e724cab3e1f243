"""Wall time of one evaluation during training on MNIST (`evaluate_generator`, as training/loop.py calls it every
`train.eval_every` steps): before metrics/reference.py (the code of `--before` run in a subprocess: it reloaded the
reference and re-extracted its features every time), with the cache off, and with the cache warm (in memory, as
in a run; on disk, as in a new process).

    OMP_WAIT_POLICY=PASSIVE python benchmarks/eval_cost.py --root ../shared/data/mnist

A freshly built generator of the `--preset` scores `--n` samples with the training defaults for images (fd and
classes). The cache lives in a temporary folder, so the run starts cold. Prints the medians and the speed-up,
then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch


def timed(fn) -> tuple[float, dict]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


# Times `--reps` evaluations with the gankit importable from sys.argv[1]; prints a JSON list of (seconds, figures).
TIMING = """
import json, sys, time, torch
sys.path.insert(0, sys.argv[1])
from gankit import load_config
from gankit.metrics.evaluate import evaluate_generator
from gankit.models import build_models
torch.set_num_threads(int(sys.argv[2]))
cfg = load_config(preset=sys.argv[3], overrides=json.loads(sys.argv[4]))
torch.manual_seed(cfg.train.seed)
G, _ = build_models(cfg.model, (1, 28, 28))
evaluate_generator(G, cfg, seed=cfg.train.seed + 2)  # warm-up, as in the main process
out = []
for _ in range(int(sys.argv[5])):
    start = time.perf_counter()
    figures = evaluate_generator(G, cfg, seed=cfg.train.seed + 2)
    out.append((time.perf_counter() - start, figures))
print(json.dumps(out))
"""


def time_commit(commit: str, args, overrides: list[str]) -> list[tuple[float, dict]]:
    """The evaluations timed with the package as it was at `commit` (extracted from git into a temporary folder)."""
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(repo), "archive", commit, "src"], check=True, capture_output=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        done = subprocess.run([sys.executable, "-c", TIMING, str(Path(tmp) / "src"), str(args.threads), args.preset,
                               json.dumps(overrides), str(args.reps)], check=True, capture_output=True, text=True)
    return [(t, figures) for t, figures in json.loads(done.stdout.splitlines()[-1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="../shared/data/mnist", help="folder of the MNIST .gz files")
    parser.add_argument("--preset", default="mnist-recommended")
    parser.add_argument("--n", type=int, default=10000, help="train.eval_n: generated samples per evaluation")
    parser.add_argument("--reps", type=int, default=5, help="timed evaluations per setting")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--before", default="147054e", help="git commit of gankit before the reference cache")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as cache:
        os.environ["GANKIT_CACHE_DIR"] = cache  # before gankit reads it: start cold, leave ~/.cache alone
        from gankit import load_config
        from gankit.metrics import reference
        from gankit.metrics.evaluate import evaluate_generator
        from gankit.models import build_models

        overrides = [f"data.root={Path(args.root).resolve()}", "data.download=false", f"train.eval_n={args.n}"]
        cfg = load_config(preset=args.preset, overrides=overrides)
        torch.manual_seed(cfg.train.seed)
        G, _ = build_models(cfg.model, (1, 28, 28))
        seed = cfg.train.seed + 2  # the loop's evaluation seed

        def run(cache: bool) -> dict:
            return evaluate_generator(G, cfg, seed=seed, cache=cache)

        run(False)  # warm-up: classifier weights, allocator, first file read
        old = time_commit(args.before, args, overrides)
        off = [timed(lambda: run(False)) for _ in range(args.reps)]
        fill, first = timed(lambda: run(True))  # computes the statistics and writes them
        memory = [timed(lambda: run(True)) for _ in range(args.reps)]
        disk = []
        for _ in range(args.reps):
            reference.clear_memory()
            disk.append(timed(lambda: run(True)))

    base = off[0][1]
    gap = max(abs(out[k] - v) / max(abs(v), 1e-12) for _, out in [(fill, first), *memory, *disk]
              for k, v in base.items())
    gap_before = max(abs(out[k] - v) / max(abs(v), 1e-12) for _, out in old for k, v in base.items())
    med = {name: statistics.median(t for t, _ in runs) for name, runs in
           {"before": old, "off": off, "memory": memory, "disk": disk}.items()}
    print(f"{args.preset}, {args.n} samples, metrics {', '.join(sorted(base))}, {args.threads} threads, "
          f"{args.reps} repetitions (median; all: seconds)")
    print(f"before ({args.before}):    {med['before']:6.2f} s   {[round(t, 2) for t, _ in old]}")
    print(f"cache off:            {med['off']:6.2f} s   {[round(t, 2) for t, _ in off]}")
    print(f"first, filling cache: {fill:6.2f} s")
    print(f"warm cache, memory:   {med['memory']:6.2f} s   {[round(t, 2) for t, _ in memory]}")
    print(f"warm cache, disk:     {med['disk']:6.2f} s   {[round(t, 2) for t, _ in disk]}")
    print(f"speed-up over before: {med['before'] / med['memory']:.2f}x (memory), {med['before'] / med['disk']:.2f}x "
          f"(disk); over the cache off: {med['off'] / med['memory']:.2f}x (memory), {med['off'] / med['disk']:.2f}x "
          f"(disk)")
    print(f"largest relative difference of a figure: {gap:.1e} (cache on vs off), {gap_before:.1e} (vs before)")
    print(json.dumps({"preset": args.preset, "n": args.n, "threads": args.threads, "reps": args.reps,
                      "metrics": sorted(base), "seconds_before": round(med["before"], 3),
                      "seconds_cache_off": round(med["off"], 3),
                      "seconds_fill": round(fill, 3), "seconds_warm_memory": round(med["memory"], 3),
                      "seconds_warm_disk": round(med["disk"], 3),
                      "speedup_memory": round(med["before"] / med["memory"], 2),
                      "speedup_disk": round(med["before"] / med["disk"], 2),
                      "speedup_memory_vs_cache_off": round(med["off"] / med["memory"], 2),
                      "speedup_disk_vs_cache_off": round(med["off"] / med["disk"], 2), "max_relative_difference": gap,
                      "max_relative_difference_vs_before": gap_before, "before_commit": args.before,
                      "figures": {k: round(v, 4) for k, v in base.items()}}))


if __name__ == "__main__":
    main()
