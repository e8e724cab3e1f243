"""Where one engine iteration's time goes: torch.profiler over gankit's D step + G step for a preset,
grouped into matrix products, the optimizer update, activation functions, dtype casts and the rest.

    python benchmarks/iteration_profile.py                     # classic-mlp-mnist, batch 64 and 1024, fp32 and bf16
    python benchmarks/iteration_profile.py --batches 256 --precisions bf16

throughput.py measures the engine against the matrix-product limit: images/s if every FLOP ran at the speed
of the model's own matrix products timed alone. If the products inside the loop run at that speed, the
fraction of the limit an iteration can reach is at most the share of its time spent in matrix products;
the rest (Adam's update of every parameter, tanh and its gradient, bf16 casts) is the gap no loop
around the same model, loss and optimizer closes. Runs in this process on the CPU at --threads; run it alone.
Ends with one JSON line; writes benchmarks/results/iteration_profile.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

RESULTS = Path(__file__).parent / "results"
# Profiler event name -> group, by exact name; ops not listed (views, sums, the loss, random numbers, cat)
# count as "other". PREFIXES catch families of names: torch's foreach kernels and the optimizers' own frames.
GROUPS = {
    "matrix products": ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::mkldnn_convolution",
                        "aten::convolution_backward", "aten::_convolution"),
    "optimizer": ("aten::_fused_adam_", "aten::_fused_sgd_"),
    "activations": ("aten::tanh", "aten::tanh_backward", "aten::relu", "aten::threshold_backward",
                    "aten::leaky_relu", "aten::leaky_relu_backward", "aten::sigmoid", "aten::sigmoid_backward",
                    "aten::clamp_min", "aten::max", "aten::max_backward"),
    "dtype casts": ("aten::copy_", "aten::_to_copy"),
}
PREFIXES = {"aten::_foreach_": "optimizer", "Optimizer.": "optimizer"}


def group_of(name: str) -> str:
    for group, names in GROUPS.items():
        if name in names:
            return group
    return next((group for prefix, group in PREFIXES.items() if name.startswith(prefix)), "other")


def profile_iterations(preset: str, batch: int, precision: str, iterations: int) -> dict[str, float]:
    """Seconds per iteration in each group, self time of every op (nothing counted twice)."""
    from gankit import load_config
    from gankit.models import build_models, sample_z
    from gankit.objectives import make_objective
    from gankit.training.game import make_optimizer
    from gankit.training.precision import Precision
    from gankit.training.steps import d_step, g_step

    cfg = load_config(preset=preset, overrides=["data.name=mnist-5k", f"train.batch_size={batch}"])
    torch.manual_seed(0)
    G, D = build_models(cfg.model, (1, 28, 28))
    opt_G, opt_D, objective = make_optimizer(G, cfg.opt_G), make_optimizer(D, cfg.opt_D), make_objective(cfg.objective)
    prec = Precision(precision)
    real = torch.rand(batch, 1, 28, 28) * 2 - 1  # what D sees is irrelevant to the time; the shape is not
    gen = torch.Generator().manual_seed(0)

    def iteration() -> None:
        # As the engine between its measured steps: no gradient norms.
        d_step(G, D, opt_D, objective=objective, real=real, z=sample_z(batch, cfg.model, generator=gen), precision=prec,
               measure_grad=False)
        g_step(G, D, opt_G, objective=objective, z=sample_z(batch, cfg.model, generator=gen), precision=prec,
               measure_grad=False)

    for _ in range(10):
        iteration()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(iterations):
            iteration()
    seconds = {group: 0.0 for group in (*GROUPS, "other")}
    for event in prof.key_averages():
        seconds[group_of(event.key)] += event.self_cpu_time_total / 1e6 / iterations
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="classic-mlp-mnist")
    p.add_argument("--batches", type=int, nargs="+", default=[64, 1024])
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iterations", type=int, default=50)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    rows, figures = [], {}
    for batch in args.batches:
        for precision in args.precisions:
            seconds = profile_iterations(args.preset, batch, precision, args.iterations)
            total = sum(seconds.values())
            shares = {group: s / total for group, s in seconds.items()}
            figures[f"batch{batch}_{precision}"] = {"ms_per_iteration": round(total * 1e3, 3),
                                                    **{k: round(v, 3) for k, v in shares.items()}}
            rows.append(f"| {batch} | {precision} | {total * 1e3:.2f} | "
                        + " | ".join(f"{shares[g]:.0%}" for g in (*GROUPS, "other")) + " |")
    header = "| batch | precision | ms / iteration (profiled) | " + " | ".join((*GROUPS, "other")) + " |"
    table = [header, "|" + "---|" * (header.count("|") - 1), *rows]
    print("\n".join(table))
    line = {"benchmark": "iteration_profile", "preset": args.preset, "threads": args.threads,
            "iterations": args.iterations, "torch": torch.__version__, "results": figures}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "iteration_profile.md").write_text(
        f"# iteration_profile\n\n`python benchmarks/iteration_profile.py {' '.join(sys.argv[1:])}`, preset "
        f"{args.preset}, {args.threads} threads, {args.iterations} profiled iterations (a D step and a G step "
        "each); shares of the self time of every op. The matrix products' share bounds the fraction of the "
        "matrix-product limit (throughput.py) a loop around this model, loss and optimizer can reach.\n\n"
        + "\n".join(table) + "\n")
    (RESULTS / "iteration_profile.json").write_text(json.dumps(line) + "\n")
    print(json.dumps(line))


if __name__ == "__main__":
    main()
