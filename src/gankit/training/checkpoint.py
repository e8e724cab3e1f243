"""Checkpoints: state dicts + config + counters + RNG states, written atomically, loaded safely.

Nothing is pickled: `torch.load(..., weights_only=True)` accepts tensors, dicts, lists and numbers.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch

from gankit.errors import GankitError

FORMAT = "gankit-checkpoint"
VERSION = 1


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Write to a temp file in the same folder, then rename: a crash leaves the old file intact."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save({"format": FORMAT, "version": VERSION, **state}, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
