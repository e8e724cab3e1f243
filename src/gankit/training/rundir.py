"""Run directories and what can be done with a finished run: load it, sample from it.

A run directory holds config.json, stats.jsonl, checkpoint.pt (the newest of checkpoint-<step>.pt)
and pictures (see the README).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from gankit.config import Config, from_dict
from gankit.data import to_pixels
from gankit.errors import GankitError
from gankit.models import build_models, sample_z
from gankit.training.checkpoint import CHECKPOINT, latest_checkpoint, load_checkpoint

__all__ = ["CHECKPOINT", "Run", "checkpoint_of", "draw_labels", "find_latest_run", "load", "new_run_dir", "sample"]


def new_run_dir(name: str, base: str | Path = "runs") -> Path:
    """runs/<name>, or runs/<name>-2, -3, ... when taken: an earlier run is never overwritten."""
    base = Path(base)
    path, i = base / name, 1
    while path.exists():
        i += 1
        path = base / f"{name}-{i}"
    return path


def find_latest_run(name: str, base: str | Path = "runs") -> Path:
    """The run of config `name` under `base` (runs/<name>, runs/<name>-2, ...: any folder whose
    config.json has that name) with the most recently written checkpoint: what `--resume` with no
    RUN continues."""
    base = Path(base)
    found = []
    for folder in base.iterdir() if base.is_dir() else []:
        try:  # a folder that is not a readable run (damaged `latest`, config.json of garbage) is passed over
            ckpt = latest_checkpoint(folder) if folder.is_dir() else None
            if ckpt is None or not ckpt.is_file() or not (folder / "config.json").is_file():
                continue
            same = json.loads((folder / "config.json").read_text()).get("name") == name
        except (ValueError, OSError, AttributeError, RecursionError):  # ValueError: JSON, UTF-8 decoding
            continue
        if same:
            found.append((ckpt.stat().st_mtime, folder.name, folder))
    if not found:
        raise GankitError(f"no run of {name!r} with a checkpoint under {str(base)!r} to resume; start one "
                          f"without --resume, or give the run: --resume {base / name}")
    return max(found)[2]


def checkpoint_of(run_dir: str | Path) -> Path:
    """The run's newest checkpoint (`latest_checkpoint`), with a damaged `latest` pointer (garbage bytes, a
    folder) a `GankitError` instead of a decoding error."""
    try:
        return latest_checkpoint(run_dir)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise GankitError(f"{str(Path(run_dir) / 'latest')!r} does not name a checkpoint ({type(e).__name__}); "
                          f"delete it to use the newest checkpoint-<step>.pt") from None


@dataclass
class Run:
    """A trained run: its config, networks (eval mode) and counters."""

    path: Path
    config: Config
    G: nn.Module
    D: nn.Module
    step: int
    nimg: int
    shape: tuple[int, ...]
    num_classes: int = 0  # classes G and D are conditioned on; 0 = unconditional


def load(run_dir: str | Path, device: str = "cpu") -> Run:
    """Load a run directory's checkpoint (safely: weights only)."""
    path = Path(run_dir)
    if not path.is_dir():
        raise GankitError(f"run directory {str(path)!r} does not exist")
    state = load_checkpoint(checkpoint_of(path), map_location=device)
    cfg = from_dict(state["config"])
    shape = tuple(state["shape"])
    num_classes = int(state.get("num_classes", 0))
    G, D = build_models(cfg.model, shape, num_classes)
    try:
        G.load_state_dict(state.get("G_ema", state["G"]))  # sample from the EMA generator when there is one
        D.load_state_dict(state["D"])
    except RuntimeError as e:
        raise GankitError(f"{path / CHECKPOINT}: weights do not fit the model {cfg.model.name!r}: "
                          f"{str(e).splitlines()[0]}") from None
    G.to(device).eval()
    D.to(device).eval()
    return Run(path, cfg, G, D, state["step"], state["nimg"], shape, num_classes)


def draw_labels(run: Run, n: int, labels: int | Sequence[int] | np.ndarray | torch.Tensor | None = None, *,
                seed: int = 0) -> torch.Tensor | None:
    """The labels (n,) int64 that `sample` asks a conditional G for, checked against the run.

    `labels`: None draws them uniformly from the run's classes (seeded by `seed`); an int asks for
    that class n times; a sequence gives one label per sample. None for an unconditional run.
    """
    if not run.num_classes:
        if labels is not None:
            raise GankitError(f"run {str(run.path)!r} is unconditional (model.cond='none'): it takes no class "
                              "labels; sample it without them (no --class, no --grid)")
        return None
    c = run.num_classes
    if labels is None:
        return torch.randint(c, (n,), generator=torch.Generator().manual_seed(seed))
    if isinstance(labels, (int, np.integer)):
        labels = [int(labels)] * n
    y = torch.as_tensor(np.asarray(labels))
    if y.shape != (n,) or y.is_floating_point() or y.is_complex():
        raise GankitError(f"need {n} integer labels, one per sample; got {y.dtype} of shape {tuple(y.shape)}")
    y = y.long()
    bad = y[(y < 0) | (y >= c)]
    if len(bad):
        raise GankitError(f"class {bad[0].item()} is out of range: run {str(run.path)!r} has {c} classes, "
                          f"0 to {c - 1}")
    return y


@torch.no_grad()
def sample(run: Run, n: int, *, seed: int = 0, labels: int | Sequence[int] | np.ndarray | torch.Tensor | None = None,
           batch_size: int = 1000, progress: bool = False) -> np.ndarray:
    """n samples as float32: images (n, C, H, W) in [0, 1] pixel scale, points (n, 2) in data units.

    A conditional run draws them from G(z | y) for `labels` (see `draw_labels`: an int, one label
    per sample, or None for labels drawn uniformly with `seed`).
    """
    if n < 1:
        raise GankitError(f"--n must be at least 1, got {n}")
    y = draw_labels(run, n, labels, seed=seed)
    device = next(run.G.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    out = []
    for start in tqdm(range(0, n, batch_size), desc="sampling", unit="batch", disable=not progress):
        z = sample_z(min(batch_size, n - start), run.config.model, generator=generator)
        x = (run.G(z) if y is None else run.G(z, y[start:start + len(z)].to(device))).float()
        out.append(to_pixels(x, run.config.data.pixel_range) if x.dim() == 4 else x)
    return torch.cat(out).cpu().numpy().astype(np.float32)

