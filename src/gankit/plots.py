"""Pictures of a run: sample grids (Pillow), loss curves and 2D scatters (matplotlib, Agg)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image


def save_grid(images: np.ndarray, path: str | Path, *, pad: int = 2, cols: int | None = None) -> None:
    """Tile images (N, C, H, W) in [0, 1] into a grid PNG (C = 1 or 3), `cols` wide (default near-square)."""
    n, c, h, w = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), dtype=np.float32)
    for i, img in enumerate(images):
        r, q = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        grid[top:top + h, left:left + w] = img.transpose(1, 2, 0)
    pixels = (grid.clip(0, 1) * 255).round().astype(np.uint8)
    Image.fromarray(pixels[:, :, 0] if c == 1 else pixels).save(path)


# Steps beyond this are not a run's (and would overflow matplotlib's floats); values beyond it are dropped too
LARGEST = 1e300


def read_stats(path: str | Path) -> list[dict]:
    """The lines of a stats.jsonl; a line cut short by a killed process, garbage bytes (invalid UTF-8, a
    line too deep or too large for json) or anything that is not a stats line is skipped."""
    path = Path(path)
    try:
        data = path.read_bytes() if path.is_file() else b""
    except OSError:  # unreadable: as good as missing; callers say so
        return []
    out = []
    for raw in data.splitlines():
        try:
            line = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            continue
        if isinstance(line, dict) and type(line.get("step")) is int and 0 <= line["step"] < LARGEST:
            out.append(line)
    return out


def plot_losses(stats: list[dict], path: str | Path, *, title: str = "") -> None:
    """Losses, D's mean outputs, the objective's estimates and evaluations against generator steps;
    alarms as red dotted lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({k for s in stats for k in s})
    alarms = [s for s in stats if "alarm" in s]
    groups = [
        ("losses", [k for k in ("loss/D", "loss/G") if k in keys]),
        ("D outputs", [k for k in ("D/real", "D/fake") if k in keys]),
        ("estimates", [k for k in keys if k.startswith("estimate/")]),
    ]
    # one panel per headline evaluation figure (their scales differ): modes, W1, Frechet distance, ...
    headline = ("eval/modes", "eval/high_quality", "eval/w1", "eval/fd_", "eval/classifier_score_")
    groups += [(key, [key]) for key in keys if key.startswith(headline) and not key.endswith("_std")][:3]
    groups = [(name, keys) for name, keys in groups if keys]
    fig, axes = plt.subplots(1, max(len(groups), 1), figsize=(4.5 * max(len(groups), 1), 3.4),
                             squeeze=False)
    for ax, (name, keys) in zip(axes[0], groups):
        for key in keys:  # each key on the lines that have it (eval/ lines are separate)
            points = [(s["step"], s[key]) for s in stats
                      if isinstance(s.get(key), (int, float)) and abs(s[key]) < LARGEST]
            ax.plot([p[0] for p in points], [p[1] for p in points], label=key, marker="." if len(points) < 30 else None)
        if "estimate/value" in keys:  # V(D, G) >= -log 4 at the optimal D (Goodfellow 2014, Thm 1)
            ax.axhline(-math.log(4), color="gray", ls="--", lw=1, label="-log 4")
        for i, s in enumerate(alarms):  # NaN/Inf, saturation, collapse (training/alarms.py)
            ax.axvline(s["step"], color="red", ls=":", lw=1, label="alarm" if i == 0 else None)
        ax.set_title(name)
        ax.set_xlabel("generator step")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_scatter(real: np.ndarray, fake: np.ndarray, path: str | Path, *, title: str = "",
                 fake_labels: np.ndarray | None = None) -> None:
    """Real against generated 2D points (N, 2), on shared axes; generated points coloured by their
    class when `fake_labels` (N,) are given (conditional GANs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    if fake_labels is None:
        ax.scatter(real[:, 0], real[:, 1], s=4, alpha=0.4, label="real", color="tab:blue")
        ax.scatter(fake[:, 0], fake[:, 1], s=4, alpha=0.4, label="generated", color="tab:orange")
    else:
        ax.scatter(real[:, 0], real[:, 1], s=4, alpha=0.3, label="real", color="0.6")
        ax.scatter(fake[:, 0], fake[:, 1], s=4, alpha=0.6, label="generated, coloured by y", c=fake_labels,
                   cmap="tab20" if fake_labels.max() >= 10 else "tab10")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
