"""KL and Jensen-Shannon divergences (Lin 1991) between a 2D data density and a Gaussian KDE of model samples
(Scott's rule bandwidth, Scott 1992), both evaluated on an n x n grid and each normalised to sum to one there.

Normalising both grids makes them two discrete distributions over the same cells, so KL >= 0 and JS <= log 2 hold
exactly; a reference density that does not sum to one (as in a peer's browser tool) breaks both.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from gankit.errors import GankitError
from gankit.metrics.parzen import parzen_log_likelihood

# Mass of a uniform distribution mixed into both grids before taking logs: each grid still sums to one, and where
# the KDE underflows to 0 far from every sample, log(p / q) is at most log(n^2 / FLOOR) (~38 nats at n = 200)
# instead of inf. Where both grids are positive it moves a divergence by O(FLOOR), far below any reported digit.
FLOOR = 1e-12


def scott_bandwidth(samples) -> float:
    """Scott's rule for an isotropic 2D Gaussian KDE: h = N^(-1/6) * sqrt(mean of the two coordinate variances).

    It is the AMISE-optimal width for Gaussian data; for sharp multimodal data (ring8, grid25) it oversmooths, since
    the spread between modes sets it, so pass a bandwidth near the mode width there."""
    x = torch.as_tensor(samples).to(torch.float64)
    if x.ndim != 2 or x.shape[1] != 2 or len(x) < 2:
        raise GankitError(f"samples must be at least 2 points (N, 2); got shape {tuple(x.shape)}")
    return float(len(x) ** (-1 / 6) * x.var(dim=0).mean().sqrt())


def kde_log_density(samples, grid_points, bandwidth: float) -> torch.Tensor:
    """Log density of the Gaussian KDE (1/N) sum_i N(g; x_i, h^2 I) at each grid point.

    Args: samples (N, 2) kernel centres; grid_points (M, 2); bandwidth h > 0 in data units.
    Returns: (M,) float64 log densities in nats (a Parzen window, so the computation is `parzen_log_likelihood`'s).
    """
    return parzen_log_likelihood(samples, grid_points, bandwidth)


def grid_densities(samples, log_prob: Callable[[torch.Tensor], torch.Tensor], *,
                   bounds: tuple[float, float, float, float], n: int = 200,
                   bandwidth: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The data density and the samples' KDE on an n x n grid, each normalised to sum to one over the grid.

    Args:
        samples: (N, 2) model samples.
        log_prob: exact data log density, (M, 2) float64 points -> (M,) (e.g. `GaussianMixture.log_prob`).
        bounds: (xmin, xmax, ymin, ymax); the grid's nodes are n evenly spaced values on each, edges included.
        n: grid nodes per axis.
        bandwidth: KDE width in data units; None -> `scott_bandwidth(samples)`.

    Returns: (p_data, q_model), each (n, n) float64 summing to one, row i at y = ys[i], column j at x = xs[j]
    (image layout: plot with origin="lower").
    """
    xmin, xmax, ymin, ymax = (float(b) for b in bounds)
    if not (xmin < xmax and ymin < ymax) or n < 2:
        raise GankitError(f"need xmin < xmax, ymin < ymax and n >= 2; got bounds {bounds}, n {n}")
    h = scott_bandwidth(samples) if bandwidth is None else float(bandwidth)
    xs = torch.linspace(xmin, xmax, n, dtype=torch.float64)
    ys = torch.linspace(ymin, ymax, n, dtype=torch.float64)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)  # (n*n, 2), y-major to match the (n, n) layout
    log_p = torch.as_tensor(log_prob(points)).to(torch.float64).reshape(-1)
    if log_p.shape != (n * n,) or torch.isnan(log_p).any() or not torch.isfinite(log_p).any():
        raise GankitError("log_prob must map (M, 2) points to (M,) log densities, finite somewhere on the grid; "
                          "check it and the bounds")
    log_q = kde_log_density(samples, points, h)
    # softmax = exp(log density - logsumexp): the normalisation happens in log space, so neither grid underflows
    # as a whole however sharp the density; the cell area cancels in the normalisation.
    return torch.softmax(log_p, dim=0).reshape(n, n), torch.softmax(log_q, dim=0).reshape(n, n)


def discrete_divergences(p: torch.Tensor, q: torch.Tensor, *, floor: float = FLOOR) -> dict[str, float]:
    """KL(p || q), KL(q || p) and JS(p, q) = KL(p || m)/2 + KL(q || m)/2 with m = (p + q)/2, in nats, between two
    distributions over the same cells (any shape; each is renormalised to sum to one, then mixed with `floor` of
    uniform mass, see FLOOR). KL >= 0, 0 <= JS <= log 2, and JS is symmetric.

    Returns `kl_data_model` = KL(p || q), `kl_model_data` = KL(q || p) and `js`, reading p as data and q as model.
    """
    p, q = torch.as_tensor(p).to(torch.float64).reshape(-1), torch.as_tensor(q).to(torch.float64).reshape(-1)
    if p.shape != q.shape or (p < 0).any() or (q < 0).any() or p.sum() <= 0 or q.sum() <= 0:
        raise GankitError(f"p and q must be non-negative masses over the same cells; got shapes {tuple(p.shape)} "
                          f"and {tuple(q.shape)}")
    cells = len(p)
    p = (1 - floor) * (p / p.sum()) + floor / cells
    q = (1 - floor) * (q / q.sum()) + floor / cells
    log_p, log_q, log_m = p.log(), q.log(), ((p + q) / 2).log()
    kl_pq = float((p * (log_p - log_q)).sum())
    kl_qp = float((q * (log_q - log_p)).sum())
    js = float(0.5 * (p * (log_p - log_m)).sum() + 0.5 * (q * (log_q - log_m)).sum())
    return {"kl_data_model": kl_pq, "kl_model_data": kl_qp, "js": js}


def grid_divergences(samples, log_prob: Callable[[torch.Tensor], torch.Tensor], *,
                     bounds: tuple[float, float, float, float], n: int = 200,
                     bandwidth: float | None = None) -> dict[str, float]:
    """KL(data || model), KL(model || data) and JS between the data density and a KDE of the samples on an n x n
    grid over `bounds` (see `grid_densities` for the arguments), in nats.

    Returns `kl_data_model`, `kl_model_data`, `js` and the `bandwidth` used (Scott's rule when None), which the
    numbers depend on along with n, bounds and the sample count.
    """
    h = scott_bandwidth(samples) if bandwidth is None else float(bandwidth)
    if not (h > 0 and math.isfinite(h)):
        raise GankitError(f"bandwidth must be positive and finite; got {h}")
    p_data, q_model = grid_densities(samples, log_prob, bounds=bounds, n=n, bandwidth=h)
    return {**discrete_divergences(p_data, q_model), "bandwidth": h}
