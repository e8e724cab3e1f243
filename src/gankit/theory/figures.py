"""The theory report's figures, each written as a PNG beside a CSV of exactly the numbers it draws.

Matplotlib with the Agg backend, in the style of `gankit.plots`: one row of panels, light grids, small legends.
CSV files have a header row and one row per point; numbers are written with Python's repr (round-trips exactly).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

LOG4 = math.log(4)


def write_csv(path: Path, columns: dict[str, Sequence]) -> None:
    """One column per key, all of the same length; floats as repr, other values as str."""
    names = list(columns)
    lengths = {len(columns[n]) for n in names}
    if len(lengths) != 1:
        raise ValueError(f"columns of unequal lengths {sorted(lengths)} for {path.name}")
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(names)
        for row in zip(*(columns[n] for n in names)):
            writer.writerow([repr(float(v)) if isinstance(v, (float, np.floating)) else v for v in row])


def read_csv(path: str | Path) -> dict[str, list]:
    """The columns of a CSV written by `write_csv`; values that parse as numbers become floats."""
    with Path(path).open(newline="") as f:
        rows = list(csv.reader(f))

    def number(v: str):
        try:
            return float(v)
        except ValueError:
            return v

    return {name: [number(r[i]) for r in rows[1:]] for i, name in enumerate(rows[0])}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, title: str) -> None:
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)


def plot_densities_1d(path: Path, x, p, q, d_star, d_trained, *, title: str = "") -> None:
    """p_data, p_g on the left axis; D* = p_data / (p_data + p_g) and the trained D on the right, in [0, 1]."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(x, p, color="tab:blue", label="p_data")
    ax.plot(x, q, color="tab:orange", label="p_g")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.grid(alpha=0.3)
    right = ax.twinx()
    right.plot(x, d_star, color="black", lw=1.5, label="D* = p_data / (p_data + p_g)")
    if d_trained is not None:
        right.plot(x, d_trained, color="tab:red", ls="--", lw=1.2, label="trained D")
    right.axhline(0.5, color="gray", ls=":", lw=1)
    right.set_ylim(-0.02, 1.02)
    mass = np.asarray(p) + np.asarray(q)
    seen = np.nonzero(mass > 1e-4 * mass.max())[0]  # show where the densities are, not the whole grid
    pad = 0.1 * (x[seen[-1]] - x[seen[0]])
    ax.set_xlim(x[seen[0]] - pad, x[seen[-1]] + pad)
    right.set_ylabel("D(x)")
    lines = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(lines, [h.get_label() for h in lines], fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16),
              ncol=4, frameon=False)  # below the axes: the curves fill the panel
    _save(fig, path, title)


def plot_densities_2d(path: Path, xs, ys, panels: dict[str, np.ndarray], *, title: str = "") -> None:
    """One heat map per panel, each (len(xs), len(ys)) with x along the first axis; D panels on [0, 1]."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.6), squeeze=False)
    extent = (xs[0], xs[-1], ys[0], ys[-1])
    for ax, (name, values) in zip(axes[0], panels.items()):
        is_d = name.startswith("D")
        im = ax.imshow(values.T, origin="lower", extent=extent, aspect="equal", cmap="RdBu_r" if is_d else "viridis",
                       vmin=0 if is_d else None, vmax=1 if is_d else None)
        ax.set_title(name, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    _save(fig, path, title)


def plot_minimum(path: Path, t, value, jsd, mean_dev, *, title: str = "") -> None:
    """C(t) = V(D*, G_t) along p_g,t = (1 - t) p_data + t p_g, against -log 4; and E_p_data |D*_t - 1/2|."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].plot(t, value, marker=".", label="V(D*, G_t)")
    axes[0].plot(t, [-LOG4 + 2 * j for j in jsd], ls="--", color="tab:green", label="-log 4 + 2 JSD")
    axes[0].axhline(-LOG4, color="gray", ls=":", lw=1, label="-log 4")
    axes[0].set_xlabel("t  (t = 0: p_g = p_data)")
    axes[0].set_title("value at the optimal D", fontsize=9)
    axes[1].plot(t, mean_dev, marker=".", color="black")
    axes[1].set_xlabel("t")
    axes[1].set_title("E_p_data |D*_t(x) - 1/2|", fontsize=9)
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    _save(fig, path, title)


def plot_discriminator(path: Path, steps, error, value, value_batch, value_at_optimum: float, *,
                       title: str = "") -> None:
    """E_m |D - D*|, V(D, G) (exact and minibatch) with its ceiling -log 4 + 2 JSD, and the exact gap to it, all
    against D steps. The gap is >= 0 for every D (D* maximises V pointwise): drawn on a log scale it shows V
    approaching the ceiling from below."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    axes[0].plot(steps, error, marker=".")
    axes[0].set_yscale("log")
    axes[0].set_title("mean |D - D*| under (p_data + p_g) / 2", fontsize=9)
    axes[1].plot(steps, value_batch, color="tab:gray", alpha=0.6, label="V(D, G), minibatch mean")
    axes[1].plot(steps, value, marker=".", label="V(D, G), exact on the grid")
    axes[1].axhline(value_at_optimum, color="tab:green", ls="--", label="-log 4 + 2 JSD = V(D*, G)")
    axes[1].axhline(-LOG4, color="gray", ls=":", lw=1, label="-log 4")
    axes[1].set_title("value of the trained D", fontsize=9)
    axes[1].legend(fontsize=8)
    axes[2].plot(steps, [max(value_at_optimum - v, 1e-12) for v in value], marker=".", color="tab:green")
    axes[2].set_yscale("log")
    axes[2].set_title("V(D*, G) - V(D, G), exact (>= 0)", fontsize=9)
    for ax in axes:
        ax.set_xlabel("discriminator step")
        ax.grid(alpha=0.3, which="both")
    _save(fig, path, title)


def plot_saturation_analytic(path: Path, d, minimax, ns) -> None:
    """|dL/dl| against D(G(z)) for both generator losses, log-log."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.loglog(d, minimax, label="minimax: log(1 - D), |dL/dl| = D")
    ax.loglog(d, ns, label="non-saturating: -log D, |dL/dl| = 1 - D")
    ax.set_xlabel("D(G(z))")
    ax.set_ylabel("|dL / d logit|")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    _save(fig, path, "the generator's gradient through D's logit")


def plot_saturation_measured(path: Path, runs: dict[str, list[dict]]) -> None:
    """Per run: G's gradient norms under both losses against D steps, and their ratio against D(G(z))."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, (name, rows) in enumerate(runs.items()):
        color = f"C{i}"
        steps = [r["step"] for r in rows]
        axes[0].semilogy(steps, [r["minimax"] for r in rows], color=color, label=f"{name}: minimax")
        axes[0].semilogy(steps, [r["ns"] for r in rows], color=color, ls="--", label=f"{name}: ns")
        axes[1].loglog([r["d_fake"] for r in rows], [r["ratio"] for r in rows], marker=".", color=color, label=name)
    d = np.logspace(-4, math.log10(0.6), 100)
    axes[1].loglog(d, d / (1 - d), color="gray", ls=":", label="D / (1 - D)")
    axes[0].set_xlabel("discriminator step (G fixed)")
    axes[0].set_title("|grad of G's loss w.r.t. G's weights|", fontsize=9)
    axes[1].set_xlabel("mean D(G(z))")
    axes[1].set_title("minimax / non-saturating gradient norm", fontsize=9)
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    _save(fig, path, "")


def plot_critic(path: Path, curves: dict[tuple[str, str], list[dict]], w1: dict[str, float],
                ratios: dict[str, float]) -> None:
    """estimate / W1 against critic steps per (pair, critic); the final estimates against W1 with K * W1."""
    plt = _pyplot()
    critics = sorted({c for _, c in curves})
    fig, axes = plt.subplots(1, 1 + len(critics), figsize=(4.2 * (1 + len(critics)), 3.6), squeeze=False)
    axes = axes[0]
    pairs = list(dict.fromkeys(p for p, _ in curves))
    for (pair, critic), rows in curves.items():
        color = f"C{pairs.index(pair)}"
        axes[0].plot([r["step"] for r in rows], [max(r["estimate"], 1e-6) / w1[pair] for r in rows], color=color,
                     ls="-" if critic == critics[0] else "--", label=f"{critic}: {pair}")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("critic step")
    axes[0].set_title("critic estimate / exact W1", fontsize=9)
    axes[0].legend(fontsize=6)
    for ax, critic in zip(axes[1:], critics):
        xs = [w1[p] for p in pairs]
        ys = [curves[(p, critic)][-1]["estimate"] for p in pairs]
        ax.scatter(xs, ys, c=[f"C{i}" for i in range(len(pairs))], zorder=3)
        line = np.linspace(0, max(xs) * 1.05, 10)
        ax.plot(line, ratios[critic] * line, color="black", lw=1, label=f"K W1, fitted K = {ratios[critic]:.4g}")
        ax.set_xlabel("exact W1")
        ax.set_ylabel("final estimate")
        ax.set_title(f"{critic} critic", fontsize=9)
        ax.legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    _save(fig, path, "")
