"""The optimal discriminator and the value function of Goodfellow et al. (2014), Sec. 4, by quadrature.

Proposition 1: for fixed G, D*(x) = p_data(x) / (p_data(x) + p_g(x)). Theorem 1: then
V(D*, G) = -log 4 + 2 JSD(p_data || p_g), minimal exactly when p_g = p_data. p plays p_data, q plays p_g.
Every integral is a sum over a `Grid` in float64; divergences are in nats.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from gankit.theory.densities import Density, Grid

# How far a density's mass on the grid may stray from 1 before we refuse: a sanity guard against a grid
# that misses a mode or steps over a narrow one, not the precision of the results (see Grid's docstring).
MASS_TOLERANCE = 1e-4


def _log_density(p: Density, grid: Grid) -> torch.Tensor:
    """log p at the grid points, (M,) float64, after checking that p's mass on the grid is 1."""
    logp = p.log_prob(grid.points).to(torch.float64)
    mass = grid.integrate(logp.exp())
    if not abs(mass - 1) <= MASS_TOLERANCE:
        raise GankitError(f"{type(p).__name__} has mass {mass:.6g} on this grid, not 1: widen the grid to "
                          f"cover it, or refine it to a step below its narrowest std")
    return logp


def _expect(logp: torch.Tensor, f: torch.Tensor, grid: Grid) -> float:
    """∫ p f dx, with p log p-style terms taken as 0 where p = 0 (f may be ±inf or NaN there)."""
    p = logp.exp()
    return grid.integrate(torch.where(p > 0, p * f, torch.zeros_like(p)))


def _optimal_logit(logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
    """logit D* = log p - log q. Outside both supports D* is arbitrary (Prop. 1 holds only on supp p ∪ supp q);
    we take ½, the logit 0, instead of -inf - (-inf) = NaN."""
    logit = logp - logq
    return torch.where(torch.isnan(logit), torch.zeros_like(logit), logit)


def optimal_discriminator(p: Density, q: Density, grid: Grid, *, logits: bool = False) -> torch.Tensor:
    """D*(x) = p(x) / (p(x) + q(x)) (Proposition 1) at the grid points, (M,) in [0, 1].

    Computed as sigmoid(log p - log q), so it stays exact where both densities underflow. With logits=True,
    returns log p - log q itself, in [-inf, inf]: D* rounds to 0 or 1 in float64 once |logit| > ~37, and only
    the logit keeps V(D*, G) finite and exact there (see `value`).
    """
    logit = _optimal_logit(_log_density(p, grid), _log_density(q, grid))
    return logit if logits else torch.sigmoid(logit)


def _value(logp: torch.Tensor, logq: torch.Tensor, logit: torch.Tensor, grid: Grid) -> float:
    # log D = -softplus(-l) and log(1 - D) = -softplus(l), as in gankit.objectives.adversarial.value.
    return _expect(logp, -F.softplus(-logit), grid) + _expect(logq, -F.softplus(logit), grid)


def value(p: Density, q: Density, D: torch.Tensor, grid: Grid, *, logits: bool = False) -> float:
    """V(D, G) = ∫ p log D dx + ∫ q log(1 - D) dx, eq. (1) with p_data = p and p_g = q.

    Args:
        D: (M,) discriminator outputs at the grid points: probabilities in [0, 1], or logits when
            logits=True. A probability D = 1 where q > 0 (or D = 0 where p > 0) gives -inf, which is the
            true value of that rounded D; pass logits for a D that saturates, such as D* in the tails.
    """
    D = torch.as_tensor(D, dtype=torch.float64)
    if D.shape != (grid.points.shape[0],):
        raise GankitError(f"D must hold one value per grid point, shape ({grid.points.shape[0]},), "
                          f"got {tuple(D.shape)}")
    logp, logq = _log_density(p, grid), _log_density(q, grid)
    if logits:
        return _value(logp, logq, D, grid)
    # xlogy is 0 where its first argument is 0, the convention 0 log 0 = 0 of the integrals.
    return grid.integrate(torch.xlogy(logp.exp(), D) + torch.xlogy(logq.exp(), 1 - D))


# The divergences work on log densities at the grid points, so check_theorem1 evaluates each density once.
def _kl(logp: torch.Tensor, logq: torch.Tensor, grid: Grid) -> float:
    return _expect(logp, logp - logq, grid)


def _jsd(logp: torch.Tensor, logq: torch.Tensor, grid: Grid) -> float:
    logm = torch.logaddexp(logp, logq) - math.log(2)  # m = (p + q) / 2
    return 0.5 * _kl(logp, logm, grid) + 0.5 * _kl(logq, logm, grid)


def _entropy(logp: torch.Tensor, grid: Grid) -> float:
    return -_expect(logp, logp, grid)


def kl(p: Density, q: Density, grid: Grid) -> float:
    """KL(p || q) = ∫ p log(p / q) dx, in nats; +inf when p puts mass where q has none."""
    return _kl(_log_density(p, grid), _log_density(q, grid), grid)


def jsd(p: Density, q: Density, grid: Grid) -> float:
    """JSD(p || q) = ½ KL(p || m) + ½ KL(q || m) with m = (p + q) / 2, in nats, in [0, log 2]."""
    return _jsd(_log_density(p, grid), _log_density(q, grid), grid)


def entropy(p: Density, grid: Grid) -> float:
    """Differential entropy H(p) = -∫ p log p dx, in nats."""
    return _entropy(_log_density(p, grid), grid)


def check_theorem1(p: Density, q: Density, grid: Grid) -> dict[str, float]:
    """Both sides of Theorem 1, V(D*, G) = -log 4 + 2 JSD(p || q), and the quantities around it.

    V(D*, G) is integrated from the optimal logit, so no D* that rounds to 0 or 1 costs precision. Note that
    the identity holds for any quadrature whose masses are exactly 1: the difference is
    log 2 * (mass_p + mass_q - 2) plus rounding, so it mostly measures how well the grid captures both densities.

    Returns: value_at_optimum, minus_log4_plus_2jsd, difference (their difference), jsd, kl_pq, kl_qp,
    entropy_p, entropy_q, mass_p, mass_q.
    """
    return theorem1_from_logs(_log_density(p, grid), _log_density(q, grid), grid)


def theorem1_from_logs(logp: torch.Tensor, logq: torch.Tensor, grid: Grid) -> dict[str, float]:
    """`check_theorem1` from log p and log q at the grid points, (M,) float64 each (masses not checked here)."""
    v_star = _value(logp, logq, _optimal_logit(logp, logq), grid)
    j = _jsd(logp, logq, grid)
    rhs = -math.log(4) + 2 * j
    return {
        "value_at_optimum": v_star,
        "minus_log4_plus_2jsd": rhs,
        "difference": v_star - rhs,
        "jsd": j,
        "kl_pq": _kl(logp, logq, grid),
        "kl_qp": _kl(logq, logp, grid),
        "entropy_p": _entropy(logp, grid),
        "entropy_q": _entropy(logq, grid),
        "mass_p": grid.integrate(logp.exp()),
        "mass_q": grid.integrate(logq.exp()),
    }


def wasserstein1_1d(p: Density, q: Density, grid: Grid) -> float:
    """W1(p, q) = ∫ |F_p(x) - F_q(x)| dx, the CDF formula of the 1D optimal transport cost.

    The CDFs are cumulative trapezoid sums (each point counts half its own cell). Their error is about
    h²/12 p'(x), so W1 is off by O(h²) where F_p - F_q changes sign (about 2e-5 for N(0, 0.5²) vs N(0, 0.3²)
    at h = 0.01); a plain cumulative sum would be O(h) there.
    """
    if grid.dim != 1:
        raise GankitError(f"wasserstein1_1d needs a 1D grid (Grid.line), got a {grid.dim}D one; "
                          f"use wasserstein1_2d_samples for the plane")
    p_vals, q_vals = _log_density(p, grid).exp(), _log_density(q, grid).exp()
    cdf_p = grid.cell * (p_vals.cumsum(0) - 0.5 * p_vals)
    cdf_q = grid.cell * (q_vals.cumsum(0) - 0.5 * q_vals)
    return grid.integrate((cdf_p - cdf_q).abs())


def wasserstein1_2d_samples(p_samples: torch.Tensor, q_samples: torch.Tensor) -> float:
    """Exact W1 between two equal-weight 2D point clouds (N, 2) and (K, 2), by gankit.metrics.toy2d."""
    from gankit.metrics.toy2d import wasserstein1  # imports POT; kept out of `import gankit.theory`

    return wasserstein1(p_samples, q_samples)


def wasserstein1(p: Density, q: Density, grid: Grid, *, samples: int = 1000, seed: int = 0) -> dict[str, float]:
    """W1(p, q) between two densities: exact by the CDF integral on a 1D grid; in 2D the exact optimal
    transport cost between `samples` draws of each (p and q must have `sample`, as gankit's densities do).

    The 2D figure is an estimate with an upward finite-sample bias, so it comes with its baseline: W1 between
    two independent draws of p, what the same estimator reports for p against itself (0 for the densities).

    Returns: w1, baseline (0.0 in 1D), samples (0 in 1D).
    """
    if grid.dim == 1:
        return {"w1": wasserstein1_1d(p, q, grid), "baseline": 0.0, "samples": 0}
    generator = torch.Generator().manual_seed(seed)
    xp, xq, xp2 = (d.sample(samples, generator)[0].double() for d in (p, q, p))
    return {"w1": wasserstein1_2d_samples(xp, xq), "baseline": wasserstein1_2d_samples(xp, xp2),
            "samples": samples}
