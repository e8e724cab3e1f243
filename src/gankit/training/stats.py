"""What a run logs: stats.jsonl always (one JSON line per log interval, evaluation or alarm), and
TensorBoard event files with `train.tensorboard = true` when the `tensorboard` package is installed
(`pip install 'gankit[tb]'`). Scalars stay tensors until a log line, so no step waits for the device.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.fileio import write_text_atomic
from gankit.plots import read_stats


def accumulate(sums: dict, counts: dict, stats: dict[str, torch.Tensor]) -> None:
    """Add one step's scalar tensors to the interval's running sums (on the device)."""
    for key, value in stats.items():
        sums[key] = sums[key] + value if key in sums else value.float()
        counts[key] = counts.get(key, 0) + 1


def stats_line(step: int, nimg: int, elapsed: float, sums: dict, counts: dict, nimg_log: int,
               interval: float) -> dict:
    """One stats.jsonl line: counters, the interval's mean of every logged scalar, throughput.
    `sums` may already be averaged over ranks (`dist.mean`): the counts are the same on every rank."""
    line = {"step": step, "nimg": nimg, "time": round(elapsed, 3)}
    line.update({k: sums[k].item() / counts[k] for k in sorted(sums)})
    line["speed/img_per_s"] = (nimg - nimg_log) / max(interval, 1e-9)
    return line


def append_jsonl(path: Path, line: dict) -> None:
    clean = {k: (v if not isinstance(v, float) or math.isfinite(v) else str(v)) for k, v in line.items()}
    with open(path, "a") as f:
        f.write(json.dumps(clean) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    """The lines of stats.jsonl; a line cut short by a killed process is skipped."""
    return read_stats(path)


def truncate_stats(path: Path, step: int) -> None:
    """Keep only lines up to `step` (and every alarm, a record of what happened), so a resumed or
    rolled-back run does not log an interval twice."""
    if path.is_file():
        kept = [line for line in read_jsonl(path) if line["step"] <= step or "alarm" in line]
        write_text_atomic(path, "".join(json.dumps(line) + "\n" for line in kept))


def write_json(path: Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


class TensorBoard:
    """TensorBoard event files in RUN/tensorboard: every stats line's scalars, sample pictures and alarms."""

    def __init__(self, run_dir: Path):
        self.writer = self.writer_class()(log_dir=str(run_dir / "tensorboard"))

    @staticmethod
    def writer_class():
        """torch's SummaryWriter; a `GankitError` when the tensorboard package is missing."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise GankitError("train.tensorboard = true needs the tensorboard package: pip install 'gankit[tb]' "
                              "(or set train.tensorboard=false; stats.jsonl is always written)") from None
        return SummaryWriter

    def line(self, line: dict) -> None:
        """Every number of a stats or evaluation line as a scalar; an alarm as text."""
        if "alarm" in line:
            self.writer.add_text(f"alarm/{line['alarm']}", str(line.get("message", "")), line["step"])
            return
        for key, value in line.items():
            if key not in ("step", "time") and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(key, value, line["step"])

    def picture(self, path: Path, step: int) -> None:
        """A PNG the run wrote (sample grid or scatter), as an image at `step`."""
        if path.is_file():
            from PIL import Image

            pixels = np.asarray(Image.open(path).convert("RGB"))  # (H, W, 3) uint8
            self.writer.add_image(path.stem, pixels, step, dataformats="HWC")

    def close(self) -> None:
        self.writer.close()
