"""Checkpoints: state dicts + config + counters + RNG states, written atomically, loaded safely.

Nothing is pickled: `torch.load(..., weights_only=True)` accepts tensors, dicts, lists and numbers.
A run keeps its newest `train.keep` checkpoints as checkpoint-<step>.pt; `checkpoint.pt` is the
newest of them (a hard link, so no extra disk) and the one-line text file `latest` names it.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path

import torch

from gankit.errors import GankitError
from gankit.fileio import atomic_open, link_atomic, write_text_atomic

FORMAT = "gankit-checkpoint"
VERSION = 1
CHECKPOINT = "checkpoint.pt"  # the newest checkpoint: what load, sample, evaluate and resume read
LATEST = "latest"  # text: the file name of the newest checkpoint-<step>.pt
NUMBERED = re.compile(r"checkpoint-(\d+)\.pt")


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Write to a temp file in the same folder, then rename: a crash leaves the old file intact."""
    with atomic_open(path) as f:
        torch.save({"format": FORMAT, "version": VERSION, **state}, f)


def write_run_checkpoint(run_dir: str | Path, state: dict, *, step: int, keep: int) -> Path:
    """Save checkpoint-<step>.pt, point checkpoint.pt and `latest` at it, and delete all but the
    newest `keep` numbered checkpoints. Each move is atomic (temp file + rename), in this order, so a
    crash at any point leaves checkpoint.pt a complete checkpoint: the new one or the previous one."""
    run_dir = Path(run_dir)
    path = run_dir / f"checkpoint-{step}.pt"
    save_checkpoint(state, path)
    link_atomic(path, run_dir / CHECKPOINT)
    write_text_atomic(run_dir / LATEST, path.name + "\n")
    for old in numbered_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def numbered_checkpoints(run_dir: str | Path) -> list[Path]:
    """checkpoint-<step>.pt files of a run, oldest step first."""
    found = [(int(m.group(1)), p) for p in Path(run_dir).iterdir() if (m := NUMBERED.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | Path) -> Path:
    """The newest checkpoint of a run: checkpoint.pt (also what other tools write), else the file
    `latest` names, else the newest checkpoint-<step>.pt."""
    run_dir = Path(run_dir)
    if (run_dir / CHECKPOINT).is_file():
        return run_dir / CHECKPOINT
    pointer = run_dir / LATEST
    if pointer.is_file():
        named = run_dir / pointer.read_text().strip()
        if NUMBERED.fullmatch(named.name) and named.is_file():
            return named
    numbered = numbered_checkpoints(run_dir)
    return numbered[-1] if numbered else run_dir / CHECKPOINT


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a gankit checkpoint; a missing, corrupt or foreign file is a `GankitError`."""
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GankitError(f"{path} is not a readable checkpoint (corrupt or not saved by gankit): {first}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise GankitError(f"{path} is not a gankit checkpoint (no '{FORMAT}' marker)")
    if state.get("version") != VERSION:
        raise GankitError(f"{path} has checkpoint version {state.get('version')}; this gankit reads {VERSION}")
    return state
