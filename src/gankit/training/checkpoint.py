"""Checkpoints: `Game.state_dict()` (state dicts, config, counters, RNG states) under a format marker and a
schema version, written atomically, loaded safely and checked against the schema.

Nothing is pickled: `torch.load(..., weights_only=True)` accepts tensors, dicts, lists and numbers.
A run keeps its newest `train.keep` checkpoints as checkpoint-<step>.pt; `checkpoint.pt` is the
newest of them (a hard link, so no extra disk) and the one-line text file `latest` names it.
"""

from __future__ import annotations

import pickle
import re
import struct
import warnings
import zipfile
from pathlib import Path

import torch

from gankit.errors import GankitError
from gankit.fileio import atomic_open, link_atomic, write_text_atomic

FORMAT = "gankit-checkpoint"
VERSION = 2  # 2: the schema below is checked on load. Version 1 files have the same keys and are read as they are
READABLE = (1, 2)
# What every checkpoint holds (key: its type); `Game.state_dict()` writes these and the optional ones.
SCHEMA: dict[str, type | tuple[type, ...]] = {
    "config": dict, "shape": list, "num_classes": int, "step": int, "nimg": int, "elapsed": (int, float),
    "G": dict, "D": dict, "opt_G": dict, "opt_D": dict, "rng": dict,
}
OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "G_ema": dict, "scaler_G": dict, "scaler_D": dict, "rng_ranks": list, "lr_scale": (int, float),
    "rollbacks": int, "world_size": int,
}
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
        try:
            named = run_dir / pointer.read_text().strip()
        except (OSError, UnicodeDecodeError, ValueError):  # a damaged pointer: fall back to the numbered files
            named = run_dir / CHECKPOINT
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
        with warnings.catch_warnings():  # torch warns about some foreign files before failing: the error says enough
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    # Damaged bytes reach torch's weights-only unpickler as any error at all (IndexError, KeyError, struct.error,
    # UnicodeDecodeError, ... seen with random bytes); nothing in a file the loader refused is a gankit bug.
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, OSError, ValueError,
            LookupError, TypeError, AttributeError, UnicodeDecodeError, struct.error) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GankitError(f"{path} is not a readable checkpoint (corrupt or not saved by gankit): {first}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise GankitError(f"{path} is not a gankit checkpoint (no '{FORMAT}' marker)")
    if state.get("version") not in READABLE:
        raise GankitError(f"{path} has checkpoint version {state.get('version')!r}; this gankit reads versions "
                          f"{', '.join(map(str, READABLE))}")
    check_schema(state, path)
    return state


def check_schema(state: dict, path: str | Path) -> None:
    """A `GankitError` naming the first key that is missing or of the wrong type, so an incomplete or
    tampered file fails here, in one line, not as a KeyError deep in a restore."""
    for key, kind in [*SCHEMA.items(), *OPTIONAL.items()]:
        if key not in state:
            if key in SCHEMA:
                raise GankitError(f"{path} is not a complete gankit checkpoint: it has no {key!r}")
            continue
        value = state[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise GankitError(f"{path} is not a valid gankit checkpoint: {key!r} must be {names}, "
                              f"got {type(value).__name__}")
    for net in ("G", "D", "G_ema"):
        if net in state and not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state[net].items()):
            raise GankitError(f"{path} is not a valid gankit checkpoint: {net!r} must map names to tensors")
    shape = state["shape"]
    if not shape or not all(isinstance(n, int) and n > 0 for n in shape):
        raise GankitError(f"{path} is not a valid gankit checkpoint: 'shape' must be positive sizes, got {shape}")
    rng = state["rng"]
    if not all(isinstance(rng.get(k), torch.Tensor) for k in ("torch", "data")):
        raise GankitError(f"{path} is not a valid gankit checkpoint: 'rng' must hold the 'torch' and 'data' states")
