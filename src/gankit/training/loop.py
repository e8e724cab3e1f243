"""The training loop: `train(cfg) -> run_dir`, read top to bottom. One iteration of the game (k D steps,
then one G step: `game.py`) per generator step, and around it what a run needs: logging, evaluation,
checkpoints, NaN/Inf rollbacks, alarms, a time limit. Under torchrun every rank trains on its share of the
global batch through DistributedDataParallel (`dist.py`; one process is world size 1, the same code); rank
0 writes the run directory.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from gankit import plots
from gankit.checks import validate
from gankit.config import Config, resolve_device, to_dict
from gankit.data import load_dataset, to_pixels
from gankit.errors import GankitError
from gankit.fileio import remove_temp_files
from gankit.metrics.evaluate import evaluate_generator
from gankit.models import sample_z
from gankit.training import dist
from gankit.training.alarms import NonFinite, Runaway, Watch, finite
from gankit.training.checkpoint import CHECKPOINT, latest_checkpoint, load_checkpoint, write_run_checkpoint
from gankit.training.game import Game
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


@dataclass
class Interval:
    """One log interval: the steps' stats summed as device tensors (no step waits for the device), and the
    wall-clock time and image count at its start."""

    started: float
    nimg: int
    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, stats: list[dict[str, torch.Tensor]]) -> None:
        for step_stats in stats:
            accumulate(self.sums, self.counts, step_stats)


class Log:
    """Where a run reports: stats.jsonl (rank 0), TensorBoard, the progress bar, and the alarms raised
    (summarised at the end)."""

    def __init__(self, cfg: Config, run_dir: Path, *, step: int, progress: bool):
        self.main = dist.rank() == 0
        self.name, self.path = cfg.name, run_dir / "stats.jsonl"
        self.board = TensorBoard(run_dir) if cfg.train.tensorboard and self.main else None
        self.bar = tqdm(total=cfg.train.steps, initial=step, desc=cfg.name, unit="step", dynamic_ncols=True,
                        disable=not progress or not self.main, mininterval=0.5)
        self.alarms: list[str] = []

    def __call__(self, line: dict) -> None:
        """A line of stats.jsonl (and TensorBoard); an alarm also goes on the bar and into the summary."""
        if "alarm" in line:
            self.alarms.append(line["message"])
            self.bar.set_description_str(f"{self.name} [alarm: {line['alarm']}]")
        if self.main:
            append_jsonl(self.path, line)
            if self.board:
                self.board.line(line)

    def close(self) -> None:
        self.bar.close()
        if self.board:
            self.board.close()


def _train(cfg: Config, device: torch.device, *, run_dir: str | Path | None, resume: bool, progress: bool) -> Path:
    t = cfg.train
    main = dist.rank() == 0  # only rank 0 writes files
    if t.tensorboard:
        TensorBoard.writer_class()  # installed? (before anything is written)
    if t.threads:
        torch.set_num_threads(t.threads)

    # The game: data on the device (or pinned host batches), networks, optimizers, random streams.
    dataset = load_dataset(cfg.data).to(device, cfg.data.placement)
    game = Game(cfg, dataset, device)
    if t.precision == "fp16" and device.type == "cpu" and main:
        print("gankit: note: fp16 on the CPU has no fast matrix units and runs slower than fp32; "
              "bf16 is the CPU's fast half precision (--train.precision=bf16)", file=sys.stderr)

    # The run directory: a fresh one, or the one being resumed with the game restored from its checkpoint.
    run_dir = _open_run_dir(cfg, game, run_dir, resume=resume, device=device)
    if resume and game.step >= t.steps and main:
        print(f"gankit: note: {run_dir} already reached step {game.step} of train.steps={t.steps}: nothing to "
              f"train. Train longer with: gankit train --resume {run_dir} --steps {2 * max(game.step, 1)}",
              file=sys.stderr)
    log = Log(cfg, run_dir, step=game.step, progress=progress)
    watch = Watch(patience=t.alarm_patience, collapse_drop=t.collapse_drop)  # saturation, mode collapse
    watch.replay(read_jsonl(run_dir / "stats.jsonl") if resume else [])
    nonfinite = NonFinite(device)
    runaway = Runaway(dataset.sample(512, torch.Generator(device).manual_seed(t.seed + 3))[0]) \
        if dataset.kind == "points" else None  # 2D: G's samples running off, compared with the data's scale
    good_step = game.step if resume else None  # the step of the newest checkpoint: what a rollback returns to
    if t.on_nonfinite == "rollback" and not resume:
        good_step = _checkpoint(game, run_dir, log)  # step 0: something to roll back to

    interval = Interval(time.perf_counter(), game.nimg)
    try:
        while game.step < t.steps:
            # One iteration; |grad D| and |grad G| on every few steps and the last (each log interval has some).
            step = game.step + 1
            measure = step % min(GRAD_NORM_EVERY, t.log_every) == 0 or step == t.steps
            stats = game.iterate(measure_grad=measure)
            interval.add(stats)
            d_stats = next(s for s in reversed(stats) if "loss/D" in s)  # the last D and G steps' stats, read
            nonfinite.update(step, d_stats, stats[-1])  # at the next check
            log.bar.update(1)

            # What is due now. train.time_limit: every rank stops at the same step.
            out_of_time = bool(t.time_limit) and dist.any_rank(
                game.elapsed + time.perf_counter() - interval.started >= t.time_limit, device)
            log_now = step % t.log_every == 0 or step == t.steps or out_of_time
            ckpt_now = step % t.ckpt_every == 0 or step == t.steps or out_of_time
            eval_now = bool(t.eval_every) and step % t.eval_every == 0

            # NaN/Inf: checked before anything is logged, scored or saved, so every checkpoint is a good one.
            bad = (nonfinite.check(step, game.G, game.D, dist.minimum(nonfinite.first))
                   if log_now or ckpt_now or eval_now else None)
            if bad:
                if not _roll_back(game, bad, good_step, run_dir, log, device):
                    break
                nonfinite.reset()
                interval = Interval(time.perf_counter(), game.nimg)
                continue

            if log_now:
                now = time.perf_counter()
                seconds, game.elapsed = now - interval.started, game.elapsed + now - interval.started
                keys = sorted(interval.sums)
                means = dict(zip(keys, dist.mean([interval.sums[k] for k in keys])))  # over ranks
                line = stats_line(step, game.nimg, game.elapsed, means, interval.counts, interval.nimg, seconds)
                log(line)
                _alarm(watch, line, game, log)  # D saturated?
                far = runaway.check(_probe(game), step) if runaway else None  # G's samples run off?
                if dist.any_rank(far is not None, device):  # every rank stops at the same step
                    if far:
                        log({"nimg": game.nimg, **far, "message": f"{far['message']}; {_kept(good_step)}"})
                    break
                log.bar.set_postfix({"D": f"{line['loss/D']:.3f}", "G": f"{line['loss/G']:.3f}"})
                interval = Interval(time.perf_counter(), game.nimg)

            # Evaluation and checkpoints are not training time: the interval's clock skips them.
            paused = time.perf_counter()
            if eval_now and main:  # metrics of the sampling generator
                line = {"step": step, "nimg": game.nimg, **evaluate_generator(game.sampling_G, cfg, seed=t.seed + 2)}
                log(line)
                _alarm(watch, line, game, log)  # modes or classes lost?
            if ckpt_now:
                good_step = _checkpoint(game, run_dir, log)
            interval.started += time.perf_counter() - paused
            if out_of_time:
                if main and step < t.steps:
                    print(f"gankit: stopped by train.time_limit={t.time_limit:g}s at step {step} of {t.steps} "
                          f"(checkpointed); continue with: gankit train --resume {run_dir}", file=sys.stderr)
                break
    except KeyboardInterrupt:
        if dist.world_size() == 1 and finite(game.G) and finite(game.D):
            _checkpoint(game, run_dir, log)  # nothing lost: continue with `gankit train --resume RUN`
        raise
    finally:
        log.close()
    if main:
        for message in log.alarms:  # the summary: one line per alarm
            print(f"gankit: alarm: {message}", file=sys.stderr)
    return run_dir


def _open_run_dir(cfg: Config, game: Game, run_dir: str | Path | None, *, resume: bool,
                  device: torch.device) -> Path:
    """A new run directory (rank 0's choice, never one that holds a run), or the resumed one with the game
    restored from its newest checkpoint and the stats logged after that checkpoint dropped."""
    main = dist.rank() == 0
    if resume:
        if run_dir is None:
            raise GankitError("resume needs the run directory to continue")
        run_dir = Path(run_dir)
        if (run_dir / "stats.jsonl").exists() and not (run_dir / "stats.jsonl").is_file():
            raise GankitError(f"{run_dir / 'stats.jsonl'} is not a file; a run directory's stats.jsonl holds its "
                              "log lines (move the folder away to resume)")
        path = latest_checkpoint(run_dir)
        game.load_state_dict(load_checkpoint(path, map_location=device), source=str(path))
        if main:
            remove_temp_files(run_dir)  # left by a killed process
            truncate_stats(run_dir / "stats.jsonl", game.step)  # drop lines logged after the checkpoint
    else:
        run_dir = Path(dist.broadcast(str(run_dir or new_run_dir(cfg.name))))
        if dist.broadcast((run_dir / CHECKPOINT).exists()):
            raise GankitError(f"{run_dir} already holds a run; continue it with --resume {run_dir} "
                              "or choose another --run-dir")
        if main:
            run_dir.mkdir(parents=True, exist_ok=True)
    if main:
        write_json(run_dir / "config.json", to_dict(cfg))
    return run_dir


def _checkpoint(game: Game, run_dir: Path, log: Log) -> int:
    """Write a checkpoint (rank 0) and the pictures; every rank calls this. Returns its step."""
    state = game.state_dict()  # collective: gathers every rank's random streams
    dist.check_consistency(game.G, game.D)
    if dist.rank() == 0:
        write_run_checkpoint(run_dir, state, step=game.step, keep=game.cfg.train.keep)
        picture = _save_pictures(game, run_dir)
        if log.board:
            log.board.picture(picture, game.step)
    dist.barrier()  # no rank reads the run (resume, rollback) or returns before rank 0 has written it
    return game.step


def _roll_back(game: Game, bad: dict, good_step: int | None, run_dir: Path, log: Log,
               device: torch.device) -> bool:
    """After NaN/Inf: log the alarm, then either restore the last good checkpoint with lower learning rates
    (train.on_nonfinite = "rollback", while rollbacks remain; returns True) or stop (returns False)."""
    t = game.cfg.train
    roll = t.on_nonfinite == "rollback" and game.rollbacks < t.max_rollbacks and good_step is not None
    scale, count = game.lr_scale * t.rollback_lr_factor, game.rollbacks + 1
    what = (f"rolled back to step {good_step}, learning rates x{scale:g}" if roll
            else f"training stopped; {_kept(good_step)}")
    log({"step": game.step, "nimg": game.nimg, "alarm": "nonfinite", "network": bad["network"],
         "first_step": bad["step"], "action": "rollback" if roll else "stop", "message": f"{bad['message']}: {what}"})
    if not roll:
        return False
    path = latest_checkpoint(run_dir)
    game.load_state_dict(load_checkpoint(path, map_location=device), source=str(path))
    game.lr_scale, game.rollbacks = scale, count
    if dist.rank() == 0:
        truncate_stats(run_dir / "stats.jsonl", game.step)
    log.bar.n = game.step
    log.bar.refresh()
    return True


def _kept(good_step: int | None) -> str:
    """What a stopped run keeps: its newest checkpoint, written before anything went wrong."""
    return (f"the last good checkpoint (step {good_step}) is kept" if good_step is not None
            else "no checkpoint had been written yet")


def _alarm(watch: Watch, line: dict, game: Game, log: Log) -> None:
    alarm = watch.on_line(line)
    if alarm:
        log({"nimg": game.nimg, **alarm})


@torch.no_grad()
def _probe(game: Game, n: int = 512) -> torch.Tensor:
    """G's samples on a fixed noise batch (the same on every call and every rank)."""
    cfg, device = game.cfg, game.device
    z = sample_z(n, cfg.model, generator=torch.Generator(device).manual_seed(cfg.train.seed + 3))
    y = torch.arange(n, device=device) % game.num_classes if game.num_classes else None
    was_training = game.G.training
    game.G.eval()
    fake = game.G(z) if y is None else game.G(z, y)
    game.G.train(was_training)
    return fake


@torch.no_grad()
def _save_pictures(game: Game, run_dir: Path) -> Path:
    """The sample grid (images; one row per class when conditional) or real-vs-generated scatter
    (2D; coloured by class when conditional) of the sampling generator, and the loss curves. Returns the
    picture's path."""
    cfg, G, dataset, step, num_classes = game.cfg, game.sampling_G, game.dataset, game.step, game.num_classes
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
