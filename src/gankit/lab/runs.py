"""Run directories from the lab: a game exported as config.json + checkpoint.pt + stats.jsonl in the format and with
the state keys `gankit train` writes (so `gankit train --resume RUN` continues it and `gankit sample RUN` reads it),
and a 2D run directory read back. Checkpoints hold state dicts only and load with weights_only=True.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from gankit.config import Config, from_dict, to_dict
from gankit.data.sets import read_points
from gankit.errors import GankitError
from gankit.fileio import write_text_atomic
from gankit.lab.messages import RUN_NAME, datasets_2d, inapplicable, setting_fields
from gankit.training.checkpoint import load_checkpoint, save_checkpoint
from gankit.training.rundir import CHECKPOINT
from gankit.training.stats import write_json

if TYPE_CHECKING:
    from gankit.lab.session import LabSession

CONTINUE_STEPS = 2000  # an exported run's train.steps = its step + this, so a plain --resume continues at once
MAX_LISTED = 200


def export_run(session: LabSession, run_dir: str | Path) -> Path:
    """Write the session's game into `run_dir` (never over an existing run). Drawn data goes beside it as
    points.npy (x, y[, label]), which the config names by its absolute path."""
    run_dir = Path(run_dir)
    if (run_dir / CHECKPOINT).exists():
        raise GankitError(f"{run_dir} already holds a run; choose another name")
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = copy.deepcopy(session.cfg)
    cfg.name = run_dir.name
    cfg.train.steps = session.step + CONTINUE_STEPS
    defaults, fields = Config(), setting_fields()
    for key in inapplicable(cfg.objective.name):  # what the objective never reads is left at its default
        section, name = fields[key].path.split(".")
        setattr(getattr(cfg, section), name, copy.deepcopy(getattr(getattr(defaults, section), name)))
    if cfg.data.name == "points":
        columns = [session.points.numpy()]
        if session.point_labels is not None:
            columns.append(session.point_labels.numpy()[:, None])
        np.save(run_dir / "points.npy", np.concatenate(columns, axis=1).astype(np.float32))
        cfg.data.path = str((run_dir / "points.npy").resolve())
    write_json(run_dir / "config.json", to_dict(cfg))
    save_checkpoint({**session.game.state_dict(), "config": to_dict(cfg)}, run_dir / CHECKPOINT)  # as train writes
    lines = [{k: v for k, v in r.items() if k != "seq"} for r in session.history]
    lines += [{"step": m["step"], "nimg": m["nimg"], "eval/w1": m["w1"], "eval/js": m["js"]}
              for m in session.metrics_history]
    lines.sort(key=lambda line: line["step"])  # stable: a step's training line before its metrics line
    write_text_atomic(run_dir / "stats.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    return run_dir


def read_run(run_dir: str | Path) -> tuple[Config, dict, tuple[torch.Tensor, torch.Tensor | None] | None]:
    """A 2D run's config, checkpoint state and, for drawn or user points, its points (N, 2) and labels."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GankitError(f"run directory {str(run_dir)!r} does not exist")
    state = load_checkpoint(run_dir / CHECKPOINT)
    if list(state.get("shape", [])) != [2]:
        raise GankitError(f"{run_dir} is not a 2D run (data shape {state.get('shape')}); the lab plays 2D games only")
    cfg = from_dict(state["config"])
    points = read_points(cfg.data.path) if cfg.data.name == "points" else None
    return cfg, state, points


def read_history(run_dir: str | Path, limit: int) -> tuple[list[dict], list[dict]]:
    """A run's stats.jsonl as the lab's charts read it: the training records (lines with losses) and the
    metrics ({step, nimg, w1, js} from eval/w1 and eval/js), each thinned to at most `limit` evenly spaced
    entries. A missing or unreadable file gives empty charts; unreadable lines are skipped."""
    records: list[dict] = []
    metrics: list[dict] = []
    try:
        text = (Path(run_dir) / "stats.jsonl").read_text()
    except (OSError, UnicodeDecodeError):
        return records, metrics
    for line in text.splitlines():
        try:
            raw = json.loads(line)
        except ValueError:
            continue
        if not isinstance(raw, dict) or not isinstance(raw.get("step"), int):
            continue
        numbers = {k: v for k, v in raw.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                   and math.isfinite(v)}
        if "loss/D" in numbers or "loss/G" in numbers:
            records.append({k: v for k, v in numbers.items() if k != "seq"})
        if "eval/w1" in numbers or "eval/js" in numbers:
            metrics.append({"step": raw["step"], "nimg": numbers.get("nimg"), "w1": numbers.get("eval/w1"),
                            "js": numbers.get("eval/js"), "kl_data_model": numbers.get("eval/kl_data_model"),
                            "kl_model_data": numbers.get("eval/kl_model_data")})
    return _thin(records, limit), _thin(metrics, limit)


def _thin(items: list, limit: int) -> list:
    """At most `limit` items, evenly spaced, the last one kept."""
    if len(items) <= limit:
        return items
    stride = -(-len(items) // limit)
    return items[::-1][::stride][::-1]


def list_runs(runs_dir: str | Path) -> list[str]:
    """Names of the 2D runs directly in `runs_dir` (at most MAX_LISTED), for the page's Load list."""
    runs_dir, names, plane = Path(runs_dir), [], datasets_2d()
    if not runs_dir.is_dir():
        return names
    for path in sorted(runs_dir.iterdir()):
        if not (RUN_NAME.fullmatch(path.name) and (path / CHECKPOINT).is_file()):
            continue
        try:
            data = json.loads((path / "config.json").read_text()).get("data", {}).get("name")
        except (OSError, ValueError, AttributeError):
            continue
        if data in plane:
            names.append(path.name)
        if len(names) >= MAX_LISTED:
            break
    return names
