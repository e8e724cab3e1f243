"""Densities with an exact log p(x), and the regular grid the Sec. 4 identities of Goodfellow et al. (2014)
are integrated on (Proposition 1 and Theorem 1 need p_data and p_g in closed form).

Everything is float64: the Theorem 1 checks compare numbers to 1e-6, which float32 quadrature cannot reach.
`gankit.data.toy2d.GaussianMixture` (ring8, grid25) already fits the `Density` protocol: its `log_prob`
computes in the dtype of x, so it is used as is, with no wrapper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

from gankit.errors import GankitError


class Density(Protocol):
    """Anything with an exact, normalised log density: log_prob(x (M, d) float64) -> (M,).

    The densities here (and `gankit.data.toy2d.GaussianMixture`) can also be sampled:
    sample(n, generator) -> (points (n, d), labels or None), the convention of `gankit.data.toy2d`.
    """

    def log_prob(self, x: torch.Tensor) -> torch.Tensor: ...


def _axis(lo: float, hi: float, n: int) -> torch.Tensor:
    if not (n >= 2 and hi > lo):
        raise GankitError(f"a grid axis needs hi > lo and n >= 2, got lo={lo}, hi={hi}, n={n}")
    return torch.linspace(lo, hi, n, dtype=torch.float64)


@dataclass(frozen=True)
class Grid:
    """A regular grid in 1 or 2 dimensions, for quadrature: ∫ f dx ≈ cell * Σ f(points).

    For a smooth density that vanishes at the grid's edges this plain sum is the trapezoid rule, and by
    Poisson summation its error for a Gaussian of std s is about exp(-2 π² s² / h²) with step h: a step
    equal to the narrowest std already integrates to 1e-8.

    Attributes:
        points: (M, d) float64, row-major over `shape` (the last axis varies fastest).
        cell: the volume of one cell (length in 1D, area in 2D).
        shape: points per axis, (n,) or (nx, ny).
        lo, step: (d,) float64, the first point and the spacing of each axis.
    """

    points: torch.Tensor
    cell: float
    shape: tuple[int, ...]
    lo: torch.Tensor
    step: torch.Tensor

    @classmethod
    def line(cls, lo: float, hi: float, n: int) -> Grid:
        """n equally spaced points from lo to hi, both included."""
        x = _axis(lo, hi, n)
        step = float(x[1] - x[0])
        return cls(x[:, None], step, (n,), x[:1].clone(), torch.tensor([step], dtype=torch.float64))

    @classmethod
    def plane(cls, bounds: tuple[float, float, float, float], n: int | tuple[int, int]) -> Grid:
        """An nx by ny grid over bounds = (x0, x1, y0, y1); n is one count for both axes or (nx, ny)."""
        nx, ny = (n, n) if isinstance(n, int) else n
        x, y = _axis(bounds[0], bounds[1], nx), _axis(bounds[2], bounds[3], ny)
        step = torch.stack([x[1] - x[0], y[1] - y[0]])
        points = torch.cartesian_prod(x, y)  # (nx * ny, 2); index i * ny + j is (x_i, y_j)
        return cls(points, float(step.prod()), (nx, ny), torch.stack([x[0], y[0]]), step)

    @property
    def dim(self) -> int:
        return self.points.shape[1]

    def integrate(self, values: torch.Tensor) -> float:
        """∫ f dx for f given at the points, values (M,)."""
        return float(values.sum() * self.cell)


class Gaussian1D:
    """N(mean, std²) on the real line."""

    def __init__(self, mean: float, std: float):
        if not std > 0:
            raise GankitError(f"Gaussian1D needs std > 0, got {std}")
        self.mean, self.std = float(mean), float(std)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """x (M, 1) -> (M,): -(x - mean)² / (2 std²) - log std - ½ log 2π."""
        z = (x[:, 0] - self.mean) / self.std
        return -0.5 * z**2 - math.log(self.std) - 0.5 * math.log(2 * math.pi)

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, None]:
        """(n, 1) float64 draws mean + std * N(0, 1)."""
        return self.mean + self.std * torch.randn(n, 1, generator=generator, dtype=torch.float64), None


class Mixture1D:
    """Σ_k w_k N(mean_k, std_k²); weights default to equal and are normalised to sum to one."""

    def __init__(self, means, stds, weights=None):
        self.means = torch.as_tensor(means, dtype=torch.float64)  # (K,)
        self.stds = torch.as_tensor(stds, dtype=torch.float64).expand_as(self.means)
        w = torch.ones_like(self.means) if weights is None else torch.as_tensor(weights, dtype=torch.float64)
        if not (bool((self.stds > 0).all()) and bool((w >= 0).all()) and float(w.sum()) > 0):
            raise GankitError(f"Mixture1D needs stds > 0 and weights >= 0 (not all 0), got {self.stds}, {w}")
        self.weights = w / w.sum()

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """x (M, 1) -> (M,): logsumexp_k of log w_k + log N(x; mean_k, std_k²)."""
        z = (x - self.means) / self.stds  # (M, K) by broadcasting x's trailing axis of 1
        log_normal = -0.5 * z**2 - self.stds.log() - 0.5 * math.log(2 * math.pi)
        return torch.logsumexp(log_normal + self.weights.log(), dim=1)

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, 1) float64 draws and their component index (n,) as the label."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, generator=generator, dtype=torch.float64)
        return (self.means[k] + self.stds[k] * noise)[:, None], k


class Gaussian2D:
    """N(mean, cov) in the plane, with a full 2 by 2 covariance."""

    def __init__(self, mean, cov):
        self.mean = torch.as_tensor(mean, dtype=torch.float64).reshape(2)
        self.cov = torch.as_tensor(cov, dtype=torch.float64).reshape(2, 2)
        chol, info = torch.linalg.cholesky_ex(self.cov)
        if int(info) != 0 or not torch.equal(self.cov, self.cov.T):
            raise GankitError(f"Gaussian2D needs a symmetric positive definite cov, got {self.cov.tolist()}")
        self.chol = chol  # cov = L Lᵀ, so (x - mean)ᵀ cov⁻¹ (x - mean) = |L⁻¹ (x - mean)|²

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """x (M, 2) -> (M,): -½ |L⁻¹(x - mean)|² - log det L - log 2π."""
        white = torch.linalg.solve_triangular(self.chol, (x - self.mean).T, upper=False)  # (2, M)
        return -0.5 * white.pow(2).sum(0) - self.chol.diagonal().log().sum() - math.log(2 * math.pi)

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, None]:
        """(n, 2) float64 draws mean + L z with z ~ N(0, I), so their covariance is L Lᵀ = cov."""
        z = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return self.mean + z @ self.chol.T, None


class Tabulated:
    """Any density given by its values on a grid, piecewise constant on the grid's cells.

    The values are normalised so that grid.integrate(density) = 1; a point takes the value of its nearest
    grid point, and points outside the grid's cells have density 0 (log_prob -inf).
    """

    def __init__(self, grid: Grid, values: torch.Tensor):
        values = torch.as_tensor(values, dtype=torch.float64).reshape(-1)
        if values.shape[0] != grid.points.shape[0]:
            raise GankitError(f"Tabulated needs one value per grid point ({grid.points.shape[0]}), "
                              f"got {values.shape[0]}")
        if not bool(torch.isfinite(values).all()) or bool((values < 0).any()):
            raise GankitError("Tabulated needs finite values >= 0: got negative, NaN or infinite entries")
        mass = grid.integrate(values)
        if not mass > 0:
            raise GankitError("Tabulated needs some positive value: all values are 0")
        self.grid, self.density = grid, values / mass  # (M,)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, d) -> (N,): log of the value at the nearest grid point, -inf outside the grid's cells."""
        idx = torch.round((x - self.grid.lo) / self.grid.step).long()  # (N, d) index along each axis
        shape = torch.tensor(self.grid.shape)
        inside = ((idx >= 0) & (idx < shape)).all(dim=1)
        flat = idx[:, 0] if self.grid.dim == 1 else idx[:, 0] * self.grid.shape[1] + idx[:, 1]  # row-major
        out = torch.full((x.shape[0],), -math.inf, dtype=torch.float64)
        out[inside] = self.density[flat[inside]].log()
        return out

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, None]:
        """(n, d) float64 draws: a grid cell with probability density * cell, then a uniform point in it."""
        idx = torch.multinomial(self.density, n, replacement=True, generator=generator)
        jitter = torch.rand(n, self.grid.dim, generator=generator, dtype=torch.float64) - 0.5
        return self.grid.points[idx] + jitter * self.grid.step, None


class Blend:
    """The mixture (1 - t) p + t q of two densities on the same space, t in [0, 1].

    Used to walk p_g towards p_data: Blend(p_data, p_g, t) is p_data at t = 0 and p_g at t = 1, and
    JSD(p_data || Blend(p_data, p_g, t)) is convex in t with its minimum 0 at t = 0 (Theorem 1's minimum).
    """

    def __init__(self, p: Density, q: Density, t: float):
        if not 0 <= t <= 1:
            raise GankitError(f"Blend needs a weight t in [0, 1], got {t}")
        self.p, self.q, self.t = p, q, float(t)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """x (M, d) -> (M,): log((1 - t) p + t q)."""
        return self.mix_logs(self.p.log_prob(x).to(torch.float64), self.q.log_prob(x).to(torch.float64), self.t)

    @staticmethod
    def mix_logs(logp: torch.Tensor, logq: torch.Tensor, t: float) -> torch.Tensor:
        """log((1 - t) p + t q) from log p and log q, with log 0 = -inf for the weights at t = 0 and t = 1."""
        log_wp = math.log(1 - t) if t < 1 else -math.inf
        log_wq = math.log(t) if t > 0 else -math.inf
        return torch.logaddexp(logp + log_wp, logq + log_wq)

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, None]:
        """(n, d) float64 draws: from q with probability t, else from p."""
        from_q = torch.rand(n, generator=generator) < self.t
        xp = self.p.sample(n, generator)[0].to(torch.float64)
        xq = self.q.sample(n, generator)[0].to(torch.float64)
        return torch.where(from_q[:, None], xq, xp), None
