"""The training loop: `train(cfg) -> run_dir`, read top to bottom (Goodfellow et al. 2014, Alg. 1:
k discriminator steps, each on a fresh real batch, then one generator step). With `model.cond`
set, the real batch's labels go to D and its fakes, and G is asked for labels drawn from p(y)
(Mirza & Osindero 2014). Under torchrun every rank trains on its share of the global batch through
DistributedDataParallel (`dist.py`; one process is world size 1, the same code); rank 0 writes the run.
"""

from __future__ import annotations

import copy
import math
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from gankit import plots
from gankit.checks import validate
from gankit.config import Config, OptimConfig, TrainConfig, resolve_device, to_dict
from gankit.data import conditional_classes, load_dataset, to_pixels
from gankit.errors import GankitError
from gankit.fileio import remove_temp_files
from gankit.metrics.evaluate import evaluate_generator
from gankit.models import build_models, sample_z
from gankit.objectives import make_objective
from gankit.training import dist
from gankit.training.alarms import NonFinite, Watch, finite
from gankit.training.checkpoint import (
    CHECKPOINT,
    latest_checkpoint,
    load_checkpoint,
    write_run_checkpoint,
)
from gankit.training.precision import Precision, compile_module, is_convolutional
from gankit.training.rundir import new_run_dir
from gankit.training.stats import (
    TensorBoard,
    accumulate,
    append_jsonl,
    read_jsonl,
    stats_line,
    truncate_stats,
    write_json,
)
from gankit.training.steps import d_step, g_step

GRAD_NORM_EVERY = 4  # steps between measured gradient norms (a mean over a log interval needs no more)


def train(cfg: Config, *, run_dir: str | Path | None = None, resume: bool = False,
          progress: bool = True) -> Path:
    """Train a GAN as `cfg` says and return its run directory.

    Args:
        cfg: the resolved config (see `gankit.config.load_config`).
        run_dir: where to write; default runs/<cfg.name> (suffixed -2, -3 ... when taken).
        resume: continue the run in `run_dir` from its newest checkpoint, up to `cfg.train.steps`.
        progress: show a tqdm progress bar.
    """
    validate(cfg)
    device, started = dist.init(resolve_device(cfg.train.device))  # joins torchrun's process group, if any
    try:
        return _train(cfg, device, run_dir=run_dir, resume=resume, progress=progress)
    finally:
        dist.shutdown(started)


def _train(cfg: Config, device: torch.device, *, run_dir: str | Path | None, resume: bool, progress: bool) -> Path:
    t = cfg.train
    main = dist.rank() == 0  # only rank 0 writes files
    batch = dist.local_batch(t.batch_size)  # this rank's share of the global batch
    if t.tensorboard:
        TensorBoard.writer_class()  # installed? (before anything is written)
    if t.threads:
        torch.set_num_threads(t.threads)

    # Data, models, optimizers, objective. The global RNG seeds the weights and dropout; one
    # torch.Generator per rank on the device draws data batches and latents, so a run is reproducible.
    torch.manual_seed(t.seed)
    dataset = load_dataset(cfg.data).to(device, cfg.data.placement)  # on the device, or pinned host batches
    num_classes = conditional_classes(dataset, cfg.data.name, cfg.model.cond)  # 0: unconditional
    G, D = build_models(cfg.model, dataset.shape, num_classes)
    # Channels-last memory suits convolutions (cuDNN, oneDNN); MLPs and 2D points are left as they are.
    layout = torch.channels_last if t.channels_last and is_convolutional(D) else torch.contiguous_format
    G.to(device, memory_format=layout).train()
    D.to(device, memory_format=layout).train()
    G_ema = copy.deepcopy(G).eval().requires_grad_(False) if t.ema_halflife else None
    G_ddp, D_ddp = dist.wrap(G, device), dist.wrap(D, device)  # rank 0's weights on every rank; G, D themselves
    opt_G, opt_D = make_optimizer(G, cfg.opt_G), make_optimizer(D, cfg.opt_D)
    precision = Precision(t.precision, device)  # bf16/fp16 autocast; fp16 loss scaling, one scaler per optimizer
    if t.precision == "fp16" and device.type == "cpu" and main:
        print("gankit: note: fp16 on the CPU has no fast matrix units and runs slower than fp32; "
              "bf16 is the CPU's fast half precision (--train.precision=bf16)", file=sys.stderr)
    scaler_G, scaler_D = precision.scaler(), precision.scaler()
    # What the steps call: optionally compiled; the plain G, D keep the weights (shared) for EMA and checkpoints.
    G_run, D_run = compile_module(G, t.compile), compile_module(D, t.compile)
    # One process: the "DDP" modules are G and D themselves, so they share (not repeat) the compiled wrappers.
    G_ddp_run = G_run if G_ddp is G else compile_module(G_ddp, t.compile)
    D_ddp_run = D_run if D_ddp is D else compile_module(D_ddp, t.compile)
    objective = make_objective(cfg.objective)
    generator = torch.Generator(device).manual_seed(dist.rank_seed(t.seed))
    # Data kept in host memory draws its batch indices on the CPU: indices from the GPU would make every batch wait.
    index_generator = generator if dataset.on_device else torch.Generator().manual_seed(dist.rank_seed(t.seed) + 1)
    if dist.rank():
        torch.manual_seed(dist.rank_seed(t.seed))  # each rank its own dropout masks
    step, nimg, elapsed = 0, 0, 0.0
    lr_scale, rollbacks, good_step = 1.0, 0, None  # NaN/Inf rollbacks; the step of the newest checkpoint

    def restore(path: Path) -> None:
        """Weights, optimizers, counters and this rank's RNG states from a checkpoint."""
        nonlocal step, nimg, elapsed, lr_scale, rollbacks, good_step
        state = load_checkpoint(path, map_location=device)
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        opt_G.load_state_dict(state["opt_G"])
        opt_D.load_state_dict(state["opt_D"])
        if "scaler_G" in state and precision.scaled:
            scaler_G.load_state_dict(state["scaler_G"])
            scaler_D.load_state_dict(state["scaler_D"])
        if G_ema is not None:
            G_ema.load_state_dict(state.get("G_ema", state["G"]))  # EMA switched on at resume: start from G
        step, nimg, elapsed = state["step"], state["nimg"], state["elapsed"]
        lr_scale, rollbacks, good_step = state.get("lr_scale", 1.0), state.get("rollbacks", 0), step
        ranks = state.get("rng_ranks") or [state["rng"]]
        if len(ranks) == dist.world_size():
            _set_rng_state(ranks[dist.rank()], generator, index_generator, device)
        else:  # another number of processes: fresh streams, seeded by rank and step
            torch.manual_seed(dist.rank_seed(t.seed) + step)
            generator.manual_seed(dist.rank_seed(t.seed) + step)
            if index_generator is not generator:
                index_generator.manual_seed(dist.rank_seed(t.seed) + step + 1)
            if main:
                print(f"gankit: note: {path} was written by {len(ranks)} process(es), this run has "
                      f"{dist.world_size()}: data and latents continue from new seeds", file=sys.stderr)

    # Run directory: a fresh one, or the one being resumed with all state restored.
    if resume:
        if run_dir is None:
            raise GankitError("resume needs the run directory to continue")
        run_dir = Path(run_dir)
        restore(latest_checkpoint(run_dir))
        if main:
            remove_temp_files(run_dir)  # left by a killed process
            truncate_stats(run_dir / "stats.jsonl", step)  # drop lines logged after the checkpoint
    else:
        run_dir = Path(dist.broadcast(str(run_dir or new_run_dir(cfg.name))))  # rank 0's choice
        if dist.broadcast((run_dir / CHECKPOINT).exists()):
            raise GankitError(f"{run_dir} already holds a run; continue it with --resume {run_dir} "
                              "or choose another --run-dir")
        if main:
            run_dir.mkdir(parents=True, exist_ok=True)
    if main:
        write_json(run_dir / "config.json", to_dict(cfg))
    board = TensorBoard(run_dir) if t.tensorboard and main else None
    watch = Watch(patience=t.alarm_patience, collapse_drop=t.collapse_drop)  # saturation, mode collapse
    watch.replay(read_jsonl(run_dir / "stats.jsonl") if resume else [])
    nonfinite = NonFinite(device)
    raised: list[str] = []  # alarm messages, summarised at the end

    def checkpoint() -> None:
        nonlocal good_step
        rng = _rng_state(generator, index_generator, device)
        ranks = dist.gather(rng) if dist.world_size() > 1 else None  # every rank's streams, for an exact resume
        dist.check_consistency(G, D)
        good_step = step
        if main:
            _write_checkpoint(rng, ranks)
        dist.barrier()  # no rank reads the run (resume, rollback) or returns before rank 0 has written it

    def _write_checkpoint(rng: dict, ranks: list | None) -> None:
        write_run_checkpoint(run_dir, {
            "config": to_dict(cfg), "shape": list(dataset.shape), "num_classes": num_classes, "step": step,
            "nimg": nimg, "elapsed": elapsed, "G": G.state_dict(), "D": D.state_dict(), "opt_G": opt_G.state_dict(),
            "opt_D": opt_D.state_dict(), "rng": rng, "lr_scale": lr_scale, "rollbacks": rollbacks,
            "world_size": dist.world_size(), **({"rng_ranks": ranks} if ranks else {}),
            **({"scaler_G": scaler_G.state_dict(), "scaler_D": scaler_D.state_dict()} if precision.scaled else {}),
            **({"G_ema": G_ema.state_dict()} if G_ema is not None else {})}, step=step, keep=t.keep)
        picture = _save_pictures(cfg, run_dir, G_ema if G_ema is not None else G, dataset, step, num_classes)
        if board:
            board.picture(picture, step)

    def log(line: dict) -> None:
        """A line of stats.jsonl (and TensorBoard); an alarm also goes on the bar and into the summary."""
        if "alarm" in line:
            raised.append(line["message"])
            bar.set_description_str(f"{cfg.name} [alarm: {line['alarm']}]")
        if main:
            append_jsonl(run_dir / "stats.jsonl", line)
            if board:
                board.line(line)

    if t.on_nonfinite == "rollback" and not resume:
        checkpoint()  # step 0: something to roll back to

    # The loop. Stats stay tensors until a log line, so no step waits for the device.
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    t_log, nimg_log = time.perf_counter(), nimg
    bar = tqdm(total=t.steps, initial=step, desc=cfg.name, unit="step", disable=not progress or not main,
               dynamic_ncols=True, mininterval=0.5)
    try:
        while step < t.steps:
            schedule(opt_G, cfg.opt_G, step, lr_scale)
            schedule(opt_D, cfg.opt_D, step, lr_scale)
            # |grad D| and |grad G| on every few steps (steps.py) and the last: every log interval has some
            measure = (step + 1) % min(GRAD_NORM_EVERY, t.log_every) == 0 or step + 1 == t.steps
            k = critic_steps(step, t)
            for i in range(k):  # k D steps, each on a fresh real batch
                real, labels = dataset.sample(batch, index_generator)
                real = real.contiguous(memory_format=layout) if real.ndim == 4 else real
                z = sample_z(batch, cfg.model, generator=generator)
                y = labels if num_classes else None  # conditional: fakes for the real batch's labels
                d_stats = d_step(G_run, D_ddp_run, opt_D, objective=objective, real=real, z=z, y=y,
                                 index=nimg // t.batch_size, precision=precision, scaler=scaler_D,
                                 measure_grad=measure and i == k - 1)
                accumulate(sums, counts, d_stats)
                nimg += t.batch_size  # real images shown to D, on all ranks together
            z = sample_z(batch, cfg.model, generator=generator)
            y = dataset.sample_labels(batch, index_generator) if num_classes else None  # y ~ p(y)
            g_stats = g_step(G_ddp_run, D_run, opt_G, objective=objective, z=z, y=y, precision=precision,
                             scaler=scaler_G, measure_grad=measure)
            accumulate(sums, counts, g_stats)
            if G_ema is not None:  # beta per step from a half-life in images (Karras et al. 2019)
                update_ema(G_ema, G, beta=0.5 ** (t.batch_size / t.ema_halflife))
            step += 1
            nonfinite.update(step, d_stats, g_stats)  # on the device: read at the next log
            bar.update(1)

            # Stop early at train.time_limit (wall-clock budgets; every rank stops at the same step).
            out_of_time = bool(t.time_limit) and dist.any_rank(
                elapsed + time.perf_counter() - t_log >= t.time_limit, device)
            log_now = step % t.log_every == 0 or step == t.steps or out_of_time
            ckpt_now = step % t.ckpt_every == 0 or step == t.steps or out_of_time
            eval_now = bool(t.eval_every) and step % t.eval_every == 0

            # NaN/Inf: checked before anything is logged, scored or saved, so every checkpoint is a good one.
            check_now = log_now or ckpt_now or eval_now
            bad = nonfinite.check(step, G, D, dist.minimum(nonfinite.first)) if check_now else None
            if bad:
                roll = t.on_nonfinite == "rollback" and rollbacks < t.max_rollbacks and good_step is not None
                kept = (f"the last good checkpoint (step {good_step}) is kept" if good_step is not None
                        else "no checkpoint had been written yet")
                what = (f"rolled back to step {good_step}, learning rates x{lr_scale * t.rollback_lr_factor:g}"
                        if roll else f"training stopped; {kept}")
                log({"step": step, "nimg": nimg, "alarm": "nonfinite", "network": bad["network"],
                     "first_step": bad["step"], "action": "rollback" if roll else "stop",
                     "message": f"{bad['message']}: {what}"})
                if not roll:
                    break
                scale, count = lr_scale * t.rollback_lr_factor, rollbacks + 1
                restore(latest_checkpoint(run_dir))
                lr_scale, rollbacks = scale, count
                if main:
                    truncate_stats(run_dir / "stats.jsonl", step)
                sums.clear()
                counts.clear()
                nonfinite.reset()
                t_log, nimg_log = time.perf_counter(), nimg
                bar.n = step
                bar.refresh()
                continue

            if log_now:
                now = time.perf_counter()
                interval, elapsed = now - t_log, elapsed + now - t_log
                means = dict(zip(sorted(sums), dist.mean([sums[k] for k in sorted(sums)])))  # over ranks
                line = stats_line(step, nimg, elapsed, means, counts, nimg_log, interval)
                log(line)
                alarm = watch.on_line(line)  # D saturated?
                if alarm:
                    log({"nimg": nimg, **alarm})
                bar.set_postfix({"D": f"{line['loss/D']:.3f}", "G": f"{line['loss/G']:.3f}"})
                sums.clear()
                counts.clear()
                t_log, nimg_log = time.perf_counter(), nimg
            paused = time.perf_counter()  # evaluation and checkpoints are not training time
            if eval_now and main:  # metrics of the sampling generator
                G_eval = G_ema if G_ema is not None else G
                line = {"step": step, "nimg": nimg, **evaluate_generator(G_eval, cfg, seed=t.seed + 2)}
                log(line)
                alarm = watch.on_line(line)  # modes or classes lost?
                if alarm:
                    log({"nimg": nimg, **alarm})
            if ckpt_now:
                checkpoint()
            t_log += time.perf_counter() - paused  # so `elapsed`, img/s and time_limit count training only
            if out_of_time:
                break
    except KeyboardInterrupt:
        if dist.world_size() == 1 and finite(G) and finite(D):
            checkpoint()  # nothing lost: continue with `gankit train --resume RUN`
        raise
    finally:
        bar.close()
        if board:
            board.close()
    if main:
        for message in raised:  # the summary: one line per alarm
            print(f"gankit: alarm: {message}", file=sys.stderr)
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
    params = list(module.parameters())
    # Fused kernels (one pass over all parameters instead of ~10 small ops each) where torch has them for
    # these parameters' device and dtype; same update, to rounding.
    fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params) or None
    if o.name == "adam":
        opt = torch.optim.Adam(params, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay, fused=fused)
    elif o.name == "sgd":
        opt = torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay, fused=fused)
    else:
        opt = torch.optim.RMSprop(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    if o.max_norm > 0:
        opt.register_step_post_hook(lambda opt, args, kwargs: max_norm_(module, o.max_norm))
    return opt


@torch.no_grad()
def max_norm_(module: torch.nn.Module, max_norm: float) -> None:
    """pylearn2's max_col_norm: every unit's incoming weight vector (a row of a Linear weight
    (out, in), or of a conv kernel flattened) is rescaled to L2 norm at most `max_norm`."""
    for p in module.parameters():
        if p.ndim >= 2:
            p.copy_(torch.renorm(p, 2, 0, max_norm))


def schedule(opt: torch.optim.Optimizer, o: OptimConfig, step: int, scale: float = 1.0) -> None:
    """lr / lr_decay^step floored at lr_min (pylearn2 ExponentialDecay), times `scale` (lowered by
    NaN/Inf rollbacks); linear momentum ramp from `momentum` to `momentum_end` over `momentum_ramp`
    steps (pylearn2 MomentumAdjustor)."""
    lr = max(o.lr / o.lr_decay**step, o.lr_min) if o.lr_decay != 1.0 else o.lr
    for group in opt.param_groups:
        group["lr"] = lr * scale
        if o.momentum_end >= 0 and o.name != "adam":
            frac = min(step / max(o.momentum_ramp, 1), 1.0)
            group["momentum"] = o.momentum + frac * (o.momentum_end - o.momentum)


def _rng_state(generator: torch.Generator, index_generator: torch.Generator, device: torch.device) -> dict:
    rng = {"torch": torch.get_rng_state(), "data": generator.get_state().cpu()}
    if index_generator is not generator:
        rng["index"] = index_generator.get_state()
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return rng


def _set_rng_state(rng: dict, generator: torch.Generator, index_generator: torch.Generator,
                   device: torch.device) -> None:
    torch.set_rng_state(rng["torch"].cpu())
    generator.set_state(rng["data"].cpu())
    if index_generator is not generator and "index" in rng:
        index_generator.set_state(rng["index"].cpu())
    if device.type == "cuda" and "cuda" in rng:
        torch.cuda.set_rng_state(rng["cuda"].cpu(), device)


@torch.no_grad()
def _save_pictures(cfg: Config, run_dir: Path, G: torch.nn.Module, dataset, step: int, num_classes: int) -> Path:
    """The sample grid (images; one row per class when conditional) or real-vs-generated scatter
    (2D; coloured by class when conditional), and the loss curves. Returns the picture's path."""
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
        picture = run_dir / "samples.png"
        plots.save_grid(to_pixels(x, cfg.data.pixel_range).float().cpu().numpy(), picture, cols=cols)
    else:
        z = sample_z(2000, cfg.model, generator=fixed)
        real, _ = dataset.sample(2000, fixed)
        y = torch.arange(2000, device=device) % num_classes if num_classes else None
        fake = G(z) if y is None else G(z, y)
        picture = run_dir / "scatter.png"
        plots.plot_scatter(real.float().cpu().numpy(), fake.float().cpu().numpy(), picture,
                           title=title, fake_labels=None if y is None else y.cpu().numpy())
    G.train(was_training)
    stats = read_jsonl(run_dir / "stats.jsonl")
    if stats:
        plots.plot_losses(stats, run_dir / "losses.png", title=title)
    return picture
