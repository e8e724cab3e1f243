"""Training speed on a busy machine: gankit's default threading against the best explicit setting.

OpenMP threads that spin while waiting for work fight any other busy process for the cores; `gankit` therefore
starts torch with OMP_WAIT_POLICY=PASSIVE when it finds a core busy at start, unless the environment says otherwise
(gankit.cli.choose_threading).
This script times the same training runs (wall clock of the whole `gankit train` command) with and without one
competing CPU-bound process, under:

- "gankit default": the `gankit` command as a user runs it (the policy chosen by the load, torch's default threads);
- "previous default": the same training with OpenMP's own wait policy (what gankit did before);
- explicit settings: OMP_WAIT_POLICY=PASSIVE or ACTIVE with --train.threads=1 or 2.

Goals: under load the default within 1.3x of the best explicit setting; idle, within 5% of the previous default.
Runs of one workload are interleaved (A B A B ...) and the median of `--repeats` is kept. Run it alone:

    python benchmarks/busy_machine.py [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKLOADS = {
    "mnist-mlp": ["--preset", "mnist-recommended", "--data.name=mnist-5k", "--steps", "200"],
    "ring8": ["--preset", "ring8-ns", "--steps", "1000"],
}
# name: (OMP_WAIT_POLICY or None for OpenMP's own, --train.threads or None for torch's default, via `gankit`)
SETTINGS = {
    "gankit default": (None, None, True),
    "previous default": (None, None, False),
    "PASSIVE, 1 thread": ("PASSIVE", 1, True),
    "PASSIVE, 2 threads": ("PASSIVE", 2, True),
    "ACTIVE, 1 thread": ("ACTIVE", 1, True),
    "ACTIVE, 2 threads": ("ACTIVE", 2, True),
}
EXPLICIT = [name for name in SETTINGS if "default" not in name]
# The previous default ran `main` without choose_threading, so torch started with OpenMP's own policy.
PREVIOUS = "import sys; from gankit.cli import main; sys.exit(main(sys.argv[1:]))"


def run_once(workload: list[str], setting: str, out: Path) -> float:
    policy, threads, via_entry = SETTINGS[setting]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    args = ["train", *workload, "--run-dir", str(out), "--no-progress", "--train.log_every=100"]
    if threads:
        args.append(f"--train.threads={threads}")
    cmd = [sys.executable, "-m", "gankit", *args] if via_entry else [sys.executable, "-c", PREVIOUS, *args]
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def competitor() -> subprocess.Popen:
    """One CPU-bound process: a Python loop that keeps one core busy."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def measure(settings: list[str], workload: str, repeats: int, loaded: bool, tmp: Path) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in settings}
    hog = competitor() if loaded else None
    try:
        for r in range(repeats):
            for name in settings:  # interleaved, so the machine's drift touches every setting alike
                out = tmp / f"{workload}-{name.replace(' ', '_').replace(',', '')}-{loaded}-{r}"
                times[name].append(run_once(WORKLOADS[workload], name, out))
    finally:
        if hog:
            hog.kill()
            hog.wait()
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one repeat, and no ACTIVE settings under load "
                                                             "(the slowest runs)")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    figures: dict = {"cores": os.cpu_count(), "repeats": repeats}
    with tempfile.TemporaryDirectory() as tmp:
        for workload_name, workload in WORKLOADS.items():
            idle = measure(["gankit default", "previous default"], workload_name, repeats, False, Path(tmp))
            loaded_settings = ["gankit default", "previous default"] + [
                s for s in EXPLICIT if not (args.quick and s.startswith("ACTIVE"))]
            loaded = measure(loaded_settings, workload_name, repeats, True, Path(tmp))
            best = min(EXPLICIT, key=lambda s: loaded.get(s, float("inf")))
            under_load = loaded["gankit default"] / loaded[best]
            idle_ratio = idle["gankit default"] / idle["previous default"]
            print(f"\n{workload_name} ({' '.join(workload)}), wall seconds, median of {repeats}:")
            print(f"  idle:  gankit default {idle['gankit default']:.1f}, previous default "
                  f"{idle['previous default']:.1f} -> {idle_ratio:.3f}x (goal <= 1.05)")
            for name, seconds in loaded.items():
                print(f"  busy:  {name:20s} {seconds:6.1f}")
            print(f"  busy:  gankit default / best explicit ({best}) = {under_load:.2f}x (goal <= 1.3); "
                  f"previous default / best = {loaded['previous default'] / loaded[best]:.2f}x")
            figures[workload_name] = {
                "idle_default_s": round(idle["gankit default"], 2),
                "idle_previous_s": round(idle["previous default"], 2),
                "idle_default_vs_previous": round(idle_ratio, 3),
                "busy": {k: round(v, 2) for k, v in loaded.items()}, "busy_best_explicit": best,
                "busy_default_vs_best": round(under_load, 3),
                "busy_previous_vs_best": round(loaded["previous default"] / loaded[best], 3),
                "goals_met": under_load <= 1.3 and idle_ratio <= 1.05,
            }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
