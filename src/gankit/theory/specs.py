"""A small text syntax for densities (`gankit theory --data SPEC --model SPEC`) and the grid a pair of them
is integrated on.

A spec is NAME or NAME:KEY=VALUE,KEY=VALUE; a VALUE with several numbers separates them by ';' (quote such a
spec in the shell, where ';' ends a command: --model 'gaussian:mean=0.2;0.1,std=0.5'):

    gaussian:mean=0.5,std=1.2              N(0.5, 1.2²) on the line (defaults: mean=0, std=1)
    gaussian:mean=0.2;0.1,std=0.5          N((0.2, 0.1), 0.5² I) in the plane: two numbers in mean make it 2D
    gaussian:mean=0;0,std=0.5;0.3,corr=0.4 per-axis stds and a correlation in (-1, 1)
    mixture:means=-2;2,stds=0.5,weights=1;3  a 1D mixture; stds and weights: one number or one per mean
    ring8  ring8:radius=1,std=0.01         8 Gaussians on a circle (gankit.data.toy2d, exact log density)
    grid25  grid25:std=0.05                25 Gaussians on {-4, -2, 0, 2, 4}²
    table:path=FILE                        a density tabulated on a regular grid: a .csv or .npy with
                                           columns x, density (1D) or x, y, density (2D), any row order
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gankit.data import toy2d
from gankit.errors import GankitError
from gankit.theory.densities import Blend, Density, Gaussian1D, Gaussian2D, Grid, Mixture1D, Tabulated

# name -> (keys it takes, an example); the error for a bad spec lists these.
FAMILIES: dict[str, tuple[tuple[str, ...], str]] = {
    "gaussian": (("mean", "std", "corr"), "gaussian:mean=0.5,std=1.2 or gaussian:mean=0.2;0.1,std=0.5"),
    "mixture": (("means", "stds", "weights"), "mixture:means=-2;2,stds=0.5"),
    "ring8": (("radius", "std"), "ring8 or ring8:std=0.05"),
    "grid25": (("std",), "grid25 or grid25:std=0.1"),
    "table": (("path",), "table:path=density.csv (columns x, density or x, y, density)"),
}
SPEC_HELP = "; ".join(example for _, example in FAMILIES.values())


def _numbers(spec: str, key: str, text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(";")]
    except ValueError:
        raise GankitError(f"density spec {spec!r}: {key}={text!r} is not a number or numbers separated "
                          "by ';' (e.g. mean=0.2;0.1)") from None
    if not all(math.isfinite(v) for v in values):
        raise GankitError(f"density spec {spec!r}: {key}={text!r} must be finite")
    return values


def _fields(spec: str) -> tuple[str, dict[str, str]]:
    name, _, rest = spec.strip().partition(":")
    if name not in FAMILIES:
        raise GankitError(f"unknown density {name!r} in spec {spec!r}; valid choices: "
                          f"{', '.join(FAMILIES)} (e.g. {SPEC_HELP})")
    keys, example = FAMILIES[name]
    fields: dict[str, str] = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in keys:
            raise GankitError(f"density spec {spec!r}: {item!r} is not KEY=VALUE with KEY one of "
                              f"{', '.join(keys)} (e.g. {example})")
        if key in fields:
            raise GankitError(f"density spec {spec!r}: {key} is given twice")
        fields[key] = value.strip()
    return name, fields


def _one_or_n(spec: str, key: str, values: list[float], n: int) -> list[float]:
    if len(values) not in (1, n):
        raise GankitError(f"density spec {spec!r}: {key} needs 1 or {n} numbers, got {len(values)}")
    return values * n if len(values) == 1 else values


def parse_density(spec: str) -> Density:
    """The density a spec names (see the module docstring); a bad spec raises a one-line GankitError."""
    name, fields = _fields(spec)
    num = {k: _numbers(spec, k, v) for k, v in fields.items() if k != "path"}
    if name == "gaussian":
        mean = num.get("mean", [0.0])
        if len(mean) == 1:
            if "corr" in num or len(num.get("std", [1.0])) != 1:
                raise GankitError(f"density spec {spec!r}: a 1D gaussian takes one std and no corr; "
                                  "give mean=X;Y for a 2D one")
            return Gaussian1D(mean[0], num.get("std", [1.0])[0])
        if len(mean) != 2:
            raise GankitError(f"density spec {spec!r}: mean needs 1 number (1D) or 2 (2D), got {len(mean)}")
        sx, sy = _one_or_n(spec, "std", num.get("std", [1.0]), 2)
        corr = _one_or_n(spec, "corr", num.get("corr", [0.0]), 1)[0]
        if not (sx > 0 and sy > 0 and -1 < corr < 1):
            raise GankitError(f"density spec {spec!r}: a 2D gaussian needs std > 0 and -1 < corr < 1")
        return Gaussian2D(mean, [[sx * sx, corr * sx * sy], [corr * sx * sy, sy * sy]])
    if name == "mixture":
        if "means" not in num:
            raise GankitError(f"density spec {spec!r}: a mixture needs means=A;B;... "
                              "(e.g. mixture:means=-2;2,stds=0.5)")
        k = len(num["means"])
        stds = _one_or_n(spec, "stds", num.get("stds", [1.0]), k)
        weights = _one_or_n(spec, "weights", num.get("weights", [1.0]), k)
        return Mixture1D(num["means"], stds, weights)
    if name in ("ring8", "grid25"):
        std = num.get("std", [0.01 if name == "ring8" else 0.05])
        if len(std) != 1 or not std[0] > 0:
            raise GankitError(f"density spec {spec!r}: std must be one number > 0")
        if name == "grid25":
            return toy2d.grid25(std[0])
        return toy2d.ring8(_one_or_n(spec, "radius", num.get("radius", [1.0]), 1)[0], std[0])
    if "path" not in fields:
        raise GankitError(f"density spec {spec!r}: a table needs path=FILE (.csv or .npy)")
    return read_table(fields["path"])


def read_table(path: str) -> Tabulated:
    """A density tabulated on a regular grid, from a .csv or .npy of rows (x, density) or (x, y, density).

    The rows may come in any order; together they must fill a regular grid (equal spacing on each axis).
    The values are normalised to integrate to 1, and the density is piecewise constant on the grid's cells.
    """
    file = Path(path)
    if not file.is_file():
        raise GankitError(f"density table {path!r} does not exist")
    try:
        if file.suffix == ".npy":
            rows = np.load(file, allow_pickle=False)  # never unpickle user files
        elif file.suffix == ".csv":
            rows = np.loadtxt(file, delimiter=",", ndmin=2)
        else:
            raise GankitError(f"density table {path!r} must be a .csv or .npy file")
    except ValueError as e:
        if isinstance(e, GankitError):
            raise
        raise GankitError(f"density table {path!r} could not be read as numbers: {e}") from None
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] not in (2, 3) or not np.isfinite(rows).all():
        raise GankitError(f"density table {path!r} must hold finite rows (x, density) or (x, y, density), "
                          f"got shape {rows.shape}")
    axes = [np.unique(rows[:, i]) for i in range(rows.shape[1] - 1)]
    for axis in axes:
        gaps = np.diff(axis)
        if len(axis) < 2 or not np.allclose(gaps, gaps[0], rtol=1e-6, atol=0):
            raise GankitError(f"density table {path!r}: the points must lie on a regular grid with at least "
                              "2 equally spaced values per axis")
    if len(rows) != math.prod(len(a) for a in axes):
        raise GankitError(f"density table {path!r}: {len(rows)} rows do not fill the "
                          f"{' x '.join(str(len(a)) for a in axes)} grid of its coordinates (each point once)")
    order = np.lexsort(rows[:, :-1].T[::-1])  # sort by x, then y: the row-major order of Grid.plane
    values = torch.from_numpy(rows[order, -1].copy())
    if len(axes) == 1:
        grid = Grid.line(axes[0][0], axes[0][-1], len(axes[0]))
    else:
        grid = Grid.plane((axes[0][0], axes[0][-1], axes[1][0], axes[1][-1]), (len(axes[0]), len(axes[1])))
    return Tabulated(grid, values)


# ---------------------------------------------------------------------------- the grid for a pair


@dataclass(frozen=True)
class Extent:
    """Where a density lives: lo, hi per axis (its mass beyond is negligible) and its narrowest std."""

    lo: tuple[float, ...]
    hi: tuple[float, ...]
    scale: float


def dim_of(p: Density) -> int:
    """1 or 2: the dimension of the points p.log_prob takes."""
    if isinstance(p, (Gaussian1D, Mixture1D)):
        return 1
    if isinstance(p, (Gaussian2D, toy2d.GaussianMixture)):
        return 2
    if isinstance(p, Tabulated):
        return p.grid.dim
    if isinstance(p, Blend):
        return dim_of(p.p)
    raise GankitError(f"cannot tell the dimension of a {type(p).__name__}: pass a Grid for it")


def extent(p: Density, *, margin: float) -> Extent:
    """The box holding all but a Gaussian tail of `margin` stds of p's mass, and p's narrowest std."""
    if isinstance(p, Gaussian1D):
        return Extent((p.mean - margin * p.std,), (p.mean + margin * p.std,), p.std)
    if isinstance(p, Mixture1D):
        return Extent((float((p.means - margin * p.stds).min()),), (float((p.means + margin * p.stds).max()),),
                      float(p.stds.min()))
    if isinstance(p, Gaussian2D):
        half = margin * p.cov.diagonal().sqrt()  # the marginal stds bound the box
        scale = float(torch.linalg.eigvalsh(p.cov)[0].sqrt())  # the narrowest direction sets the step
        return Extent(tuple((p.mean - half).tolist()), tuple((p.mean + half).tolist()), scale)
    if isinstance(p, toy2d.GaussianMixture):
        means = p.means.double()
        return Extent(tuple((means.min(0).values - margin * p.std).tolist()),
                      tuple((means.max(0).values + margin * p.std).tolist()), p.std)
    if isinstance(p, Blend):
        a, b = extent(p.p, margin=margin), extent(p.q, margin=margin)
        return Extent(tuple(map(min, a.lo, b.lo)), tuple(map(max, a.hi, b.hi)), min(a.scale, b.scale))
    raise GankitError(f"cannot choose a grid for a {type(p).__name__}: pass a Grid for it")


def _tables(p: Density) -> list[Tabulated]:
    if isinstance(p, Tabulated):
        return [p]
    return _tables(p.p) + _tables(p.q) if isinstance(p, Blend) else []


def grid_for(p: Density, q: Density, *, points: int | None = None, max_points: int = 801) -> Grid:
    """A grid that integrates both p and q to 1 within ~1e-9, so Theorem 1 can be checked to 1e-6.

    A tabulated density fixes the grid: its own (two tables must share one). Otherwise the box covers
    10 stds around every mode in 1D (tail mass ~1e-23) and 6 in 2D (~1e-9, keeping the grid small), and
    the step is the narrowest std / 50 in 1D (W1's CDF quadrature errs by O(step²)) and the narrowest std
    in 2D, where the grid sum's error is ~exp(-2π²) ≈ 3e-9 (see Grid). `points` overrides the count per axis.
    """
    dim = dim_of(p)
    if dim_of(q) != dim:
        raise GankitError(f"p_data is {dim}D but p_g is {dim_of(q)}D: both densities must live in the same space")
    tables = _tables(p) + _tables(q)
    if tables:
        grid = tables[0].grid
        if any(t.grid.shape != grid.shape or not torch.equal(t.grid.points, grid.points) for t in tables[1:]):
            raise GankitError("two tabulated densities must share one grid (the same x, y values)")
        return grid
    margin = 10.0 if dim == 1 else 6.0
    a, b = extent(p, margin=margin), extent(q, margin=margin)
    lo, hi, scale = tuple(map(min, a.lo, b.lo)), tuple(map(max, a.hi, b.hi)), min(a.scale, b.scale)
    if dim == 1:
        n = points or min(20001, math.ceil((hi[0] - lo[0]) / (scale / 50)) + 1)
        return Grid.line(lo[0], hi[0], n)
    if points is None:
        n = math.ceil(max(h - l for l, h in zip(lo, hi)) / scale) + 1
        if n > max_points:
            raise GankitError(f"these densities need a {n} x {n} grid (box {lo} to {hi} at step {scale:.3g}, "
                              f"the narrowest std); choose a narrower or a wider pair, or set the points per axis")
    else:
        n = points
    return Grid.plane((lo[0], hi[0], lo[1], hi[1]), n)


def as_density(spec: str | Density) -> Density:
    """A spec string parsed by parse_density; a density object is returned as it is."""
    return parse_density(spec) if isinstance(spec, str) else spec
