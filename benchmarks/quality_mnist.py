"""The foundation presets trained for a fixed CPU budget on full MNIST, then every image metric
(and the Parzen figure) beside the real-vs-real baseline.

    python benchmarks/quality_mnist.py --root ../shared/data/mnist --budget 300
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from gankit import load, load_config, sample, train
from gankit.metrics.evaluate import evaluate, report

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="../shared/data/mnist", help="folder of the MNIST .gz files")
    parser.add_argument("--presets", nargs="+", default=["classic-mlp-mnist", "goodfellow2014-mnist"])
    parser.add_argument("--budget", type=float, default=300.0, help="training seconds per preset")
    parser.add_argument("--n", type=int, default=10000, help="samples scored per preset")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    figures, sections = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            cfg = load_config(preset=preset, overrides=[f"data.root={args.root}", "data.download=false",
                                                        f"train.time_limit={args.budget}", "train.steps=10000000",
                                                        "train.ckpt_every=10000000"])
            start = time.perf_counter()
            run = load(train(cfg, run_dir=Path(tmp) / preset))
            seconds = time.perf_counter() - start
            result = evaluate(sample(run, args.n, seed=0), "mnist", root=args.root)
            result["protocol"].update({"preset": preset, "train_seconds": round(seconds, 1), "steps": run.step,
                                       "images_seen": run.nimg})
            sections.append(report(result, title=f"{preset}: {run.step} steps in {seconds:.0f} s"))
            figures[preset] = {"steps": run.step, **{k: round(v, 4) for k, v in result["metrics"].items()}}
            figures["real-vs-real"] = {k: round(v, 4) for k, v in result["baseline"].items()}
            print(sections[-1], flush=True)
    (RESULTS / "quality_mnist.md").write_text(
        f"# quality_mnist\n\nBudget {args.budget:.0f} s of training per preset, {args.n} samples, "
        f"{args.threads} torch threads.\n\n" + "\n".join(sections))
    line = json.dumps({"benchmark": "quality_mnist", "budget_s": args.budget, "n": args.n, "results": figures})
    (RESULTS / "quality_mnist.json").write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
