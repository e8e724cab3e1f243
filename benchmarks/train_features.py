"""Trains the feature classifier of one data set and writes the weights gankit ships (metrics/features.py).

The shipped files came from these commands (fixed seed 0; one thread because the two cores were shared):

    python benchmarks/train_features.py --data mnist --root ../shared/data/mnist --threads 1
    python benchmarks/train_features.py --data fashion-mnist --root ../shared/data/fashion-mnist --threads 1

Prints the test accuracy and the wall time, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from gankit.metrics.features import CLASSIFIERS, EPOCHS, save_classifier, train_classifier

WEIGHTS = Path(__file__).resolve().parents[1] / "src" / "gankit" / "metrics" / "weights"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, choices=CLASSIFIERS)
    parser.add_argument("--root", required=True, help="folder with the data set's four official .gz files")
    parser.add_argument("--out", type=Path, help="weight file (default: src/gankit/metrics/weights/<data>.pt)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    # On a machine busy with other jobs, one thread can be several times faster than two (spinning threads wait
    # for each other); the results do not depend on it.
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    out = args.out or WEIGHTS / f"{args.data}.pt"
    start = time.perf_counter()
    progress = not args.no_progress
    model, meta = train_classifier(args.data, args.root, seed=args.seed, epochs=args.epochs, progress=progress)
    save_classifier(model, meta, out)
    wall = time.perf_counter() - start

    print(f"{args.data}: test accuracy {meta['test_accuracy']:.4f} on {meta['test_images']} images")
    print(f"wall time {wall:.0f} s (training {meta['train_seconds']:.0f} s), {meta['parameters']} parameters")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    print(json.dumps({**meta, "wall_seconds": round(wall, 1), "file": str(out), "bytes": out.stat().st_size}))


if __name__ == "__main__":
    main()
