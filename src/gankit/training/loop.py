"""The training loop: `train(cfg) -> run_dir`, read top to bottom (Goodfellow et al. 2014, Alg. 1:
k discriminator steps, each on a fresh real batch, then one generator step). With `model.cond`
set, the real batch's labels go to D and its fakes, and G is asked for labels drawn from p(y)
(Mirza & Osindero 2014)."""

from __future__ import annotations

import copy
import json
import math
import os
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from gankit import plots
from gankit.config import Config, OptimConfig, TrainConfig, resolve_device, to_dict, validate
from gankit.data import conditional_classes, load_dataset, to_pixels
from gankit.errors import GankitError
from gankit.metrics.evaluate import evaluate_generator
from gankit.models import build_models, sample_z
from gankit.objectives import make_objective
from gankit.training.checkpoint import load_checkpoint, save_checkpoint
from gankit.training.rundir import CHECKPOINT, new_run_dir
from gankit.training.steps import d_step, g_step


def train(cfg: Config, *, run_dir: str | Path | None = None, resume: bool = False,
          progress: bool = True) -> Path:
    """Train a GAN as `cfg` says and return its run directory.

    Args:
        cfg: the resolved config (see `gankit.config.load_config`).
        run_dir: where to write; default runs/<cfg.name> (suffixed -2, -3 ... when taken).
        resume: continue the run in `run_dir` from its checkpoint, up to `cfg.train.steps`.
        progress: show a tqdm progress bar.
    """
    validate(cfg)
    t = cfg.train
    device = resolve_device(t.device)
    if t.threads:
        torch.set_num_threads(t.threads)

    # Data, models, optimizers, objective. The global RNG seeds the weights and dropout; one
    # torch.Generator on the device draws data batches and latents, so a run is reproducible.
    torch.manual_seed(t.seed)
    dataset = load_dataset(cfg.data).to(device)
    num_classes = conditional_classes(dataset, cfg.data.name, cfg.model.cond)  # 0: unconditional
    G, D = build_models(cfg.model, dataset.shape, num_classes)
    G.to(device).train()
    D.to(device).train()
    opt_G, opt_D = make_optimizer(G, cfg.opt_G), make_optimizer(D, cfg.opt_D)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False) if t.ema_halflife else None
    objective = make_objective(cfg.objective)
    generator = torch.Generator(device).manual_seed(t.seed)
    step, nimg, elapsed = 0, 0, 0.0

    # Run directory: a fresh one, or the one being resumed with all state restored.
    if resume:
        if run_dir is None:
            raise GankitError("resume needs the run directory to continue")
        run_dir = Path(run_dir)
        state = load_checkpoint(run_dir / CHECKPOINT, map_location=device)
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        opt_G.load_state_dict(state["opt_G"])
        opt_D.load_state_dict(state["opt_D"])
        if G_ema is not None:
            G_ema.load_state_dict(state.get("G_ema", state["G"]))  # EMA switched on at resume: start from G
        step, nimg, elapsed = state["step"], state["nimg"], state["elapsed"]
        torch.set_rng_state(state["rng"]["torch"].cpu())
        generator.set_state(state["rng"]["data"].cpu())
        if device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"].cpu(), device)
        _truncate_stats(run_dir / "stats.jsonl", step)  # drop lines logged after the checkpoint
    else:
        run_dir = Path(run_dir) if run_dir else new_run_dir(cfg.name)
        if (run_dir / CHECKPOINT).exists():
            raise GankitError(f"{run_dir} already holds a run; continue it with --resume {run_dir} "
                              "or choose another --run-dir")
        run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(run_dir / "config.json", to_dict(cfg))

    def checkpoint() -> None:
        rng = {"torch": torch.get_rng_state(), "data": generator.get_state().cpu()}
        if device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(device)
        save_checkpoint({"config": to_dict(cfg), "shape": list(dataset.shape), "num_classes": num_classes,
                         "step": step, "nimg": nimg, "elapsed": elapsed, "G": G.state_dict(), "D": D.state_dict(),
                         "opt_G": opt_G.state_dict(), "opt_D": opt_D.state_dict(), "rng": rng,
                         **({"G_ema": G_ema.state_dict()} if G_ema is not None else {})},
                        run_dir / CHECKPOINT)
        _save_pictures(cfg, run_dir, G_ema if G_ema is not None else G, dataset, step, num_classes)

    # The loop. Stats stay tensors until a log line, so no step waits for the device.
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    t_log, nimg_log = time.perf_counter(), nimg
    bar = tqdm(total=t.steps, initial=step, desc=cfg.name, unit="step", disable=not progress,
               dynamic_ncols=True, mininterval=0.5)
    try:
        while step < t.steps:
            _schedule(opt_G, cfg.opt_G, step)
            _schedule(opt_D, cfg.opt_D, step)
            for _ in range(critic_steps(step, t)):  # k D steps, each on a fresh real batch
                real, labels = dataset.sample(t.batch_size, generator)
                z = sample_z(t.batch_size, cfg.model, generator=generator)
                y = labels if num_classes else None  # conditional: fakes for the real batch's labels
                _accumulate(sums, counts, d_step(G, D, opt_D, objective=objective, real=real, z=z, y=y,
                                                 index=nimg // t.batch_size))
                nimg += t.batch_size  # real images shown to D
            z = sample_z(t.batch_size, cfg.model, generator=generator)
            y = dataset.sample_labels(t.batch_size, generator) if num_classes else None  # y ~ p(y)
            _accumulate(sums, counts, g_step(G, D, opt_G, objective=objective, z=z, y=y))
            if G_ema is not None:  # beta per step from a half-life in images (Karras et al. 2019)
                update_ema(G_ema, G, beta=0.5 ** (t.batch_size / t.ema_halflife))
            step += 1
            bar.update(1)

            # Stop early at train.time_limit (wall-clock budgets), logging the partial interval.
            out_of_time = bool(t.time_limit) and elapsed + time.perf_counter() - t_log >= t.time_limit
            if step % t.log_every == 0 or step == t.steps or out_of_time:
                now = time.perf_counter()
                interval, elapsed = now - t_log, elapsed + now - t_log
                line = _stats_line(step, nimg, elapsed, sums, counts, nimg_log, interval)
                _append_jsonl(run_dir / "stats.jsonl", line)
                bar.set_postfix({"D": f"{line['loss/D']:.3f}", "G": f"{line['loss/G']:.3f}"})
                sums.clear()
                counts.clear()
                t_log, nimg_log = time.perf_counter(), nimg
            if t.eval_every and step % t.eval_every == 0:  # metrics of the sampling generator
                G_eval = G_ema if G_ema is not None else G
                _append_jsonl(run_dir / "stats.jsonl", {"step": step, "nimg": nimg,
                                                        **evaluate_generator(G_eval, cfg, seed=t.seed + 2)})
            if step % t.ckpt_every == 0 or step == t.steps or out_of_time:
                checkpoint()
            if out_of_time:
                break
    except KeyboardInterrupt:
        checkpoint()  # nothing lost: continue with `gankit train --resume RUN`
        raise
    finally:
        bar.close()
    return run_dir


def critic_steps(step: int, t: TrainConfig) -> int:
    """k, or with `critic_boost` the WGAN reference code's schedule: 100 critic steps for the first
    25 generator steps and at every 500th (Arjovsky et al. 2017, github.com/martinarjovsky/WassersteinGAN)."""
    if t.critic_boost and (step < 25 or step % 500 == 0):
        return 100
    return t.d_steps


@torch.no_grad()
def update_ema(G_ema: torch.nn.Module, G: torch.nn.Module, *, beta: float) -> None:
    """G_ema <- beta * G_ema + (1 - beta) * G for parameters; buffers are copied."""
    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
        p_ema.lerp_(p, 1.0 - beta)
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)


def make_optimizer(module: torch.nn.Module, o: OptimConfig) -> torch.optim.Optimizer:
    params = module.parameters()
    if o.name == "adam":
        return torch.optim.Adam(params, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay)
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    return torch.optim.RMSprop(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)


def _schedule(opt: torch.optim.Optimizer, o: OptimConfig, step: int) -> None:
    """lr / lr_decay^step floored at lr_min (pylearn2 ExponentialDecay); linear momentum ramp
    from `momentum` to `momentum_end` over `momentum_ramp` steps (pylearn2 MomentumAdjustor)."""
    lr = max(o.lr / o.lr_decay**step, o.lr_min) if o.lr_decay != 1.0 else o.lr
    for group in opt.param_groups:
        group["lr"] = lr
        if o.momentum_end >= 0 and o.name != "adam":
            frac = min(step / max(o.momentum_ramp, 1), 1.0)
            group["momentum"] = o.momentum + frac * (o.momentum_end - o.momentum)


def _stats_line(step: int, nimg: int, elapsed: float, sums: dict, counts: dict, nimg_log: int,
                interval: float) -> dict:
    """One stats.jsonl line: counters, the interval's mean of every logged scalar, throughput."""
    line = {"step": step, "nimg": nimg, "time": round(elapsed, 3)}
    line.update({k: sums[k].item() / counts[k] for k in sorted(sums)})
    line["speed/img_per_s"] = (nimg - nimg_log) / max(interval, 1e-9)
    return line


def _accumulate(sums: dict, counts: dict, stats: dict[str, torch.Tensor]) -> None:
    for key, value in stats.items():
        sums[key] = sums[key] + value if key in sums else value.float()
        counts[key] = counts.get(key, 0) + 1


@torch.no_grad()
def _save_pictures(cfg: Config, run_dir: Path, G: torch.nn.Module, dataset, step: int, num_classes: int) -> None:
    """The sample grid (images; one row per class when conditional) or real-vs-generated scatter
    (2D; coloured by class when conditional), and the loss curves."""
    device = next(G.parameters()).device
    fixed = torch.Generator(device).manual_seed(cfg.train.seed + 1)
    was_training = G.training
    G.eval()
    title = f"{cfg.name}, step {step}"
    if dataset.kind == "image":
        cols = math.ceil(math.sqrt(cfg.train.grid_size)) if num_classes else None
        n = num_classes * cols if num_classes else cfg.train.grid_size
        y = torch.arange(n, device=device) // cols if num_classes else None  # row i: class i
        z = sample_z(n, cfg.model, generator=fixed)
        x = G(z) if y is None else G(z, y)
        plots.save_grid(to_pixels(x, cfg.data.pixel_range).float().cpu().numpy(), run_dir / "samples.png",
                        cols=cols)
    else:
        z = sample_z(2000, cfg.model, generator=fixed)
        real, _ = dataset.sample(2000, fixed)
        y = torch.arange(2000, device=device) % num_classes if num_classes else None
        fake = G(z) if y is None else G(z, y)
        plots.plot_scatter(real.float().cpu().numpy(), fake.float().cpu().numpy(), run_dir / "scatter.png",
                           title=title, fake_labels=None if y is None else y.cpu().numpy())
    G.train(was_training)
    stats = plots.read_stats(run_dir / "stats.jsonl")
    if stats:
        plots.plot_losses(stats, run_dir / "losses.png", title=title)


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def _append_jsonl(path: Path, line: dict) -> None:
    clean = {k: (v if not isinstance(v, float) or math.isfinite(v) else str(v)) for k, v in line.items()}
    with open(path, "a") as f:
        f.write(json.dumps(clean) + "\n")


def _truncate_stats(path: Path, step: int) -> None:
    """Keep only lines up to `step`, so a resumed run does not log an interval twice."""
    if path.is_file():
        kept = [line for line in plots.read_stats(path) if line["step"] <= step]
        path.write_text("".join(json.dumps(line) + "\n" for line in kept))

