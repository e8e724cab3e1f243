"""Training throughput, side by side in one run: the classic loop (benchmarks/classic_loop.py), a
hand-tuned loop of the engine's math with nothing else in it (benchmarks/hand_tuned_loop.py, fp32) and
gankit's engine (`gankit.train`), same data, model, batch and thread count, against the matrix-product
limit this machine reaches for the model's own matrix shapes (measured here, in the same run).

    python benchmarks/throughput.py            # batch 64, 256, 1024; fp32 and bf16 (~25 min on 2 cores)
    python benchmarks/throughput.py --quick    # shorter measurements (< 5 min here)

Every measurement runs in a fresh process, so each has its own peak memory (the peak resident set
during the loop on the CPU, `max_memory_allocated` on a GPU) and nothing warms up for the next.
Images/s counts real images shown to D (the `nimg` counter), after a warm-up. FLOP per image:
`torch.utils.flop_counter` over one engine iteration (a D step and a G step). Limit: images/s if every
one of those FLOP ran at the speed of the model's own matrix products (forward, input-gradient and
weight-gradient shapes of every Linear layer) timed alone; for convolutional models, a large square
matrix product. Each process times the limit itself just before and just after its loop (the table's
"limit drift" is the change between the two), as this machine's speed drifts by tens of percent over
seconds and minutes. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
RESULTS = Path(__file__).parent / "results"
PRESETS = {"classic-mlp": "classic-mlp-mnist", "dcgan": "dcgan-mnist"}


def config(args, batch: int, precision: str, steps: int = 10**9):
    from gankit import load_config

    data = ["data.name=mnist", f"data.root={args.root}", "data.download=false"] if args.root else ["data.name=mnist-5k"]
    return load_config(preset=PRESETS[args.model], overrides=[
        *data, f"train.batch_size={batch}", f"train.precision={precision}", f"train.threads={args.threads}",
        f"train.device={args.device}", f"train.steps={steps}", "train.ckpt_every=1000000000", "train.log_every=25",
        "train.grid_size=16", "train.alarm_patience=0"])


# ---------------------------------------------------------------------------- workers (one process each)


def run_engine(args) -> dict:
    from gankit import train
    from gankit.training.stats import read_jsonl

    cfg = config(args, args.batch, args.precision)
    cfg.train.time_limit = args.seconds + args.warmup
    with tempfile.TemporaryDirectory() as tmp:
        run = train(cfg, run_dir=Path(tmp) / "run", progress=False)
        lines = [x for x in read_jsonl(run / "stats.jsonl") if "speed/img_per_s" in x]
    timed = [x for x in lines if x["time"] >= args.warmup]  # intervals ending after the warm-up
    first = next(x for x in reversed(lines) if x["time"] < args.warmup) if len(timed) < len(lines) else None
    t0, n0 = (first["time"], first["nimg"]) if first else (0.0, 0)
    return {"img_per_s": (timed[-1]["nimg"] - n0) / (timed[-1]["time"] - t0), "images": timed[-1]["nimg"]}


def data_and_models(args):
    """The fp32 config at this batch, its data set and freshly initialised G and D (seed 0)."""
    from gankit.data import load_dataset
    from gankit.models import build_models

    cfg = config(args, args.batch, "fp32")
    torch.manual_seed(0)
    data = load_dataset(cfg.data)
    return cfg, data, *build_models(cfg.model, data.shape)


def run_classic(args) -> dict:
    from classic_loop import train_classic

    cfg, data, G, D = data_and_models(args)
    images = data.x[:, 0].numpy()  # (N, 28, 28) uint8
    warmup = max(5, int(args.warmup * 1500 / args.batch))  # about `warmup` seconds at the recipe's speed
    return train_classic(G, D, images, z_dim=cfg.model.z_dim, batch_size=args.batch, seconds=args.seconds,
                         warmup_batches=warmup)


def run_hand_tuned(args) -> dict:
    from hand_tuned_loop import train_hand_tuned

    cfg, data, G, D = data_and_models(args)
    low, high = cfg.data.pixel_range
    device = torch.device(args.device)
    x = (data.x.float() * ((high - low) / 255.0) + low).to(device)  # resident as floats: no per-batch conversion
    warmup = max(5, int(args.warmup * 5000 / args.batch))  # about `warmup` seconds
    return train_hand_tuned(G.to(device), D.to(device), x, z_dim=cfg.model.z_dim, batch_size=args.batch,
                            lr=cfg.opt_D.lr, betas=tuple(cfg.opt_D.betas), seconds=args.seconds,
                            warmup_batches=warmup)


def flop_per_image(args) -> float:
    """FLOP per real image of one engine iteration (a D step and a G step), counted on the CPU."""
    from torch.utils.flop_counter import FlopCounterMode

    from gankit.models import sample_z
    from gankit.objectives import make_objective
    from gankit.training.game import make_optimizer
    from gankit.training.steps import d_step, g_step

    cfg, data, G, D = data_and_models(args)
    opt_G, opt_D, objective = make_optimizer(G, cfg.opt_G), make_optimizer(D, cfg.opt_D), make_objective(cfg.objective)
    gen = torch.Generator().manual_seed(0)
    with FlopCounterMode(display=False) as counter:
        d_step(G, D, opt_D, objective=objective, real=data.sample(args.batch, gen)[0],
               z=sample_z(args.batch, cfg.model, generator=gen))
        g_step(G, D, opt_G, objective=objective, z=sample_z(args.batch, cfg.model, generator=gen))
    return counter.get_total_flops() / args.batch


def matmul_shapes(args) -> list[tuple[int, int, int]]:
    """(m, k, n) of the model's own matrix products at this batch: X W^T, dY W and dY^T X for every Linear
    layer; for a convolutional model, a large square product."""
    from gankit.models import build_models

    G, D = build_models(config(args, args.batch, "fp32").model, (1, 28, 28))  # MNIST's shape
    if any(isinstance(m, nn.Conv2d | nn.ConvTranspose2d) for m in D.modules()):
        return [(4096, 4096, 4096)] if args.device == "cuda" else [(1024, 1024, 1024)]
    linears = [m for m in (*G.modules(), *D.modules()) if isinstance(m, nn.Linear)]
    return [s for m in linears for s in ((args.batch, m.in_features, m.out_features),
                                         (args.batch, m.out_features, m.in_features),
                                         (m.out_features, args.batch, m.in_features))]


def matmul_flops(args, shapes: list[tuple[int, int, int]], seconds: float) -> float:
    """FLOP/s of these matrix products (in the run's precision), timed alone for `seconds`."""
    device = torch.device(args.device)
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    pairs = [(torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype))
             for m, k, n in shapes]
    flop = sum(2 * m * k * n for m, k, n in shapes)

    def sweep():
        for a, b in pairs:
            torch.mm(a, b)
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(3):
        sweep()
    rounds, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sweep()
        rounds += 1
    return rounds * flop / (time.perf_counter() - start)


def device_name(device: str) -> str:
    """The machine's accelerator or CPU model, for the record."""
    if device == "cuda":
        return torch.cuda.get_device_name()
    cpuinfo = Path("/proc/cpuinfo")
    names = [x.split(":", 1)[1].strip() for x in cpuinfo.read_text().splitlines()
             if x.startswith("model name")] if cpuinfo.exists() else []
    return names[0] if names else "cpu"


def reset_peak_memory(device: str) -> None:
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    elif Path("/proc/self/clear_refs").exists():
        Path("/proc/self/clear_refs").write_text("5")  # Linux: the peak resident set restarts from now


def peak_memory_mib(device: str) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    status = Path("/proc/self/status")
    if status.exists():
        line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux; since the start


def worker(args) -> None:
    """One loop's images/s, with the matrix-product limit measured in the same process just before and
    just after it: a limit measured in another process minutes apart gave fractions above 100%."""
    torch.set_num_threads(args.threads)
    shapes = matmul_shapes(args)
    before = matmul_flops(args, shapes, args.seconds / 8)
    reset_peak_memory(args.device)
    result = {"engine": run_engine, "classic": run_classic, "hand": run_hand_tuned}[args.worker](args)
    result["peak_mib"] = peak_memory_mib(args.device)
    after = matmul_flops(args, shapes, args.seconds / 8)
    result |= {"limit_flops": (before + after) / 2, "limit_drift": after / before}
    print("RESULT " + json.dumps(result), flush=True)


def measure(args, what: str, batch: int, precision: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", what, "--batch", str(batch), "--precision", precision,
           "--threads", str(args.threads), "--seconds", str(args.seconds), "--warmup", str(args.warmup),
           "--model", args.model, "--device", args.device, *(["--root", args.root] if args.root else [])]
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if out.returncode or not lines:
        raise SystemExit(f"{what} batch {batch} {precision} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


# ---------------------------------------------------------------------------- the comparison


def goals_met(figures: dict, args) -> dict:
    """The goals, as fractions of the limit measured in the same run: on the CPU fp32 at least 75% at batch
    64 and 85% at batch 1024, bf16 at least 75% at batch 1024; on a GPU the DCGAN at least 50% at batch 256
    or more (the device is named in the JSON line)."""
    goals = {}
    if args.device == "cpu":
        for batch, prec, goal in ((64, "fp32", 0.75), (1024, "fp32", 0.85), (1024, "bf16", 0.75)):
            if f"batch{batch}" in figures:
                goals[f"{prec}_b{batch}_at_least_{goal:.0%}_of_limit"] = \
                    figures[f"batch{batch}"][f"{prec}_fraction_of_limit"] >= goal
    else:
        for key, f in figures.items():
            if int(key[len("batch"):]) >= 256:
                goals[f"{args.model}_{key}_at_least_50%_of_limit"] = max(f["fp32_fraction_of_limit"],
                                                                         f["bf16_fraction_of_limit"]) >= 0.5
    return goals


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short measurements (< 5 minutes on 2 cores)")
    p.add_argument("--root", default="", help="folder of the MNIST .gz files (default: the embedded 5k digits)")
    p.add_argument("--model", default="classic-mlp", choices=sorted(PRESETS))
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batches", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--seconds", type=float, default=None, help="measured seconds per figure and round")
    p.add_argument("--rounds", type=int, default=None, help="alternating rounds; each figure is the best")
    p.add_argument("--warmup", type=float, default=None, help="seconds of warm-up before measuring")
    p.add_argument("--worker", choices=["engine", "classic", "hand"], help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    p.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.seconds = args.seconds or (4.0 if args.quick else 12.0)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (2.0 if args.quick else 4.0)
    if args.worker:
        return worker(args)

    rows, figures = [], {}
    for batch in args.batches:
        args.batch = batch
        flop = flop_per_image(args)  # in this process, on the CPU: the workers only time
        # Rounds alternate between the loops and each figure is the best of its rounds; each worker also
        # measures the limit itself, around its own run (see worker()).
        best: dict[str, dict] = {}
        for _ in range(args.rounds):
            for key, what, prec in (("classic", "classic", "fp32"), ("hand", "hand", "fp32"),
                                    ("fp32", "engine", "fp32"), ("bf16", "engine", "bf16")):
                r = measure(args, what, batch, prec)
                r["limit_img_per_s"] = r["limit_flops"] / flop
                r["fraction"] = r["img_per_s"] / r["limit_img_per_s"]
                if key not in best or r["img_per_s"] > best[key]["img_per_s"]:
                    best[key] = r
        classic, hand, engine = best["classic"], best["hand"], {"fp32": best["fp32"], "bf16": best["bf16"]}
        rows += [("classic loop", batch, "fp32", classic), ("hand-tuned loop", batch, "fp32", hand)]
        rows += [("gankit", batch, prec, engine[prec]) for prec in ("fp32", "bf16")]
        f = {"flop_per_img": flop}
        for name, r in (("classic", classic), ("hand_tuned", hand), ("fp32", engine["fp32"]), ("bf16", engine["bf16"])):
            f |= {f"{name}_img_per_s": r["img_per_s"], f"{name}_peak_mib": r["peak_mib"],
                  f"{name}_limit_img_per_s": r["limit_img_per_s"], f"{name}_fraction_of_limit": r["fraction"]}
        for prec in ("fp32", "bf16"):
            f[f"{prec}_vs_classic_ratio"] = engine[prec]["img_per_s"] / classic["img_per_s"]
        f["bf16_vs_fp32_ratio"] = engine["bf16"]["img_per_s"] / engine["fp32"]["img_per_s"]
        f["fp32_vs_hand_tuned_ratio"] = engine["fp32"]["img_per_s"] / hand["img_per_s"]
        # The ceiling: how many times the classic loop's images/s a loop running at 100% of the fp32 limit
        # (measured around the classic loop) would reach.
        f["limit_vs_classic_ratio"] = classic["limit_img_per_s"] / classic["img_per_s"]
        figures[f"batch{batch}"] = {k: round(v, 3) for k, v in f.items()}
        print(f"batch {batch}: classic {classic['img_per_s']:,.0f} img/s, "
              f"gankit fp32 {engine['fp32']['img_per_s']:,.0f} "
              f"({f['fp32_vs_classic_ratio']:.2f}x, {f['fp32_fraction_of_limit']:.0%} of limit; hand-tuned loop "
              f"{hand['img_per_s']:,.0f}, {f['hand_tuned_fraction_of_limit']:.0%}), bf16 "
              f"{engine['bf16']['img_per_s']:,.0f} ({f['bf16_vs_fp32_ratio']:.2f}x fp32)", flush=True)

    table = ["| loop | batch | precision | img/s | limit img/s | fraction of limit | limit drift | peak memory MiB |",
             "|---|---|---|---|---|---|---|---|"]
    for name, batch, prec, r in rows:
        table.append(f"| {name} | {batch} | {prec} | {r['img_per_s']:,.0f} | {r['limit_img_per_s']:,.0f} | "
                     f"{r['fraction']:.0%} | {r['limit_drift'] - 1:+.0%} | {r['peak_mib']:,.0f} |")
    print("\n".join(table))
    goals = goals_met(figures, args)
    if "batch64" in figures:
        b = figures["batch64"]
        print(f"batch 64: a loop at 100% of the fp32 limit would be {b['limit_vs_classic_ratio']:.2f}x the classic "
              f"loop; gankit reaches {b['fp32_fraction_of_limit']:.0%} of it", flush=True)
    line = {"benchmark": "throughput", "quick": args.quick, "rounds": args.rounds, "model": args.model,
            "device": args.device, "device_name": device_name(args.device), "threads": args.threads,
            "data": args.root or "mnist-5k", "seconds": args.seconds,
            "goals": goals, "results": figures}
    name = f"throughput-{args.model}-{args.device}" + ("-quick" if args.quick else "")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text(
        f"# {name}\n\n`python benchmarks/throughput.py {' '.join(sys.argv[1:])}` on {device_name(args.device)}, "
        f"{args.threads} threads, "
        f"data {args.root or 'mnist-5k'}, best of {args.rounds} alternating rounds of {args.seconds:g} s per figure "
        f"after {args.warmup:g} s warm-up.\n\n"
        + "\n".join(table) + "\n\nGoals: " + json.dumps(goals) + "\n")
    (RESULTS / f"{name}.json").write_text(json.dumps(line) + "\n")
    print(json.dumps(line))


if __name__ == "__main__":
    main()
