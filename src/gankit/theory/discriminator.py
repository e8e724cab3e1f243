"""Real networks against the closed forms: a discriminator trained towards D* (Goodfellow et al. 2014,
Prop. 1 and Theorem 1) and WGAN critics trained towards W1 (Arjovsky et al. 2017; Gulrajani et al. 2017).

The generator is held fixed as a density we can sample: its "G" is the identity applied to draws from p_g,
so the ordinary `gankit.training.steps.d_step` trains D, with the registered objectives' losses, penalties
and weight clipping. D is gankit's toy MLP discriminator (`mlp2d`: 3 x 128 LeakyReLU), built for 1D or 2D
points. Progress is measured exactly, by quadrature on the grid, not on noisy batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from gankit.config import ModelConfig, ObjectiveConfig
from gankit.errors import GankitError
from gankit.models import MODELS
from gankit.objectives import make_objective
from gankit.theory.densities import Density, Gaussian1D, Grid, Mixture1D
from gankit.theory.identities import _log_density, _optimal_logit, _value
from gankit.training.steps import d_step


def build_discriminator(dim: int, *, model: str = "mlp2d", seed: int = 0) -> nn.Module:
    """The registered model family's D for points of `dim` coordinates: x (N, dim) -> logits (N,)."""
    torch.manual_seed(seed)
    _, D = MODELS.get(model)(ModelConfig(name=model), (dim,))
    return D


def _batch(density: Density, n: int, generator: torch.Generator) -> torch.Tensor:
    return density.sample(n, generator)[0].float()  # (n, d) float32, what D trains on


@torch.no_grad()
def _logits_on(D: nn.Module, grid: Grid, chunk: int = 65536) -> torch.Tensor:
    """D's logits at every grid point, (M,) float64, in chunks to bound memory on large 2D grids."""
    x = grid.points.float()
    return torch.cat([D(x[i:i + chunk]) for i in range(0, len(x), chunk)]).double()


def _linear_decay(opt: torch.optim.Optimizer, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    # lr falls linearly to 0: the last steps average out the minibatch noise, so D settles near D*.
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / steps))


@dataclass
class DiscriminatorRun:
    """What `train_discriminator` measured.

    Attributes:
        curve: rows {step, mean_abs_error, value, value_batch}: the exact E_m |D - D*| and V(D, G) on the grid,
            and the mean minibatch estimate of V over the steps since the previous row.
        value_at_optimum: V(D*, G) = -log 4 + 2 JSD on the same grid, the ceiling of `value`.
        logits: D's final logits at the grid points (M,); d_star: D* there (M,).
    """

    curve: list[dict[str, float]]
    value_at_optimum: float
    logits: torch.Tensor
    d_star: torch.Tensor
    settings: dict = field(default_factory=dict)


def train_discriminator(p: Density, q: Density, grid: Grid, *, steps: int = 1000, batch_size: int = 256,
                        lr: float = 1e-3, eval_every: int = 50, seed: int = 0) -> DiscriminatorRun:
    """Train D to maximise V(D, G) = E_p log D + E_q log(1 - D), p = p_data, q = p_g fixed, with Adam.

    Measured every `eval_every` steps on the grid: the mean error E_{x~m} |D(x) - D*(x)| under the mixture
    m = (p + q) / 2 that D is trained on (where D* matters; off the supports D* is arbitrary), and the
    exact V(D, G). Since D* maximises V pointwise, V(D, G) <= V(D*, G) = -log 4 + 2 JSD: V approaches it
    from below. The minibatch estimate has no such bound.
    """
    if steps < 1 or batch_size < 1 or eval_every < 1:
        raise GankitError("the discriminator's steps, batch size and eval interval must be >= 1")
    D = build_discriminator(grid.dim, seed=seed)
    opt_D = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.9, 0.999))
    schedule = _linear_decay(opt_D, steps)
    objective = make_objective(ObjectiveConfig(name="ns"))  # D's loss is the same BCE for minimax and ns
    G = nn.Identity()  # the fixed generator: G(z) = z with z ~ p_g
    generator = torch.Generator().manual_seed(seed)

    logp, logq = _log_density(p, grid), _log_density(q, grid)
    d_star_logit = _optimal_logit(logp, logq)
    d_star = torch.sigmoid(d_star_logit)
    m = 0.5 * (logp.exp() + logq.exp())  # the mixture D is trained on, (M,)
    curve, batch_values = [], []

    def measure(step: int) -> None:
        logits = _logits_on(D, grid)
        curve.append({"step": step,
                      "mean_abs_error": grid.integrate((torch.sigmoid(logits) - d_star).abs() * m),
                      "value": _value(logp, logq, logits, grid),
                      "value_batch": sum(batch_values) / len(batch_values) if batch_values else math.nan})
        batch_values.clear()

    for step in range(steps):
        if step % eval_every == 0:
            measure(step)
        stats = d_step(G, D, opt_D, objective=objective, real=_batch(p, batch_size, generator),
                       z=_batch(q, batch_size, generator))
        batch_values.append(float(stats["estimate/value"]))
        schedule.step()
    measure(steps)
    return DiscriminatorRun(curve, _value(logp, logq, d_star_logit, grid), _logits_on(D, grid), d_star,
                            {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed, "model": "mlp2d"})


# ---------------------------------------------------------------------------- WGAN critics against W1

# Per critic: the registered objective and the optimizer of its paper, with a larger lr decayed linearly to 0,
# so a fixed pair converges in hundreds of steps (the papers use constant lrs 5e-5 and 1e-4, tens of thousands).
CRITICS = {
    "clip": ("wgan", lambda params, lr: torch.optim.RMSprop(params, lr=lr)),  # Arjovsky et al. 2017, Alg. 1
    "gp": ("wgan-gp", lambda params, lr: torch.optim.Adam(params, lr=lr, betas=(0.0, 0.9))),  # Gulrajani, Alg. 1
}


def train_critic(p: Density, q: Density, grid: Grid, *, critic: str = "gp", steps: int = 500,
                 batch_size: int = 256, lr: float = 1e-3, clip: float = 0.01, gp_lambda: float = 10.0,
                 eval_every: int = 25, seed: int = 0) -> list[dict[str, float]]:
    """Train a WGAN critic f on fixed p = p_data and q = p_g; return rows {step, estimate, estimate_batch}.

    `estimate` is the critic's population value E_p f - E_q f = ∫ f (p - q) dx by quadrature on the grid;
    `estimate_batch` averages the logged minibatch `estimate/wasserstein` since the previous row.
    Kantorovich-Rubinstein: W1 = sup over 1-Lipschitz f of E_p f - E_q f. A gradient-penalty critic is
    pushed towards |grad f| = 1, so its estimate approaches W1 from below; a clipped critic ranges over
    K-Lipschitz functions for some K fixed by the architecture and `clip`, unknown in advance, so it
    estimates K * W1.
    """
    if critic not in CRITICS:
        raise GankitError(f"unknown critic {critic!r}; valid choices: {', '.join(CRITICS)}")
    name, make_opt = CRITICS[critic]
    D = build_discriminator(grid.dim, seed=seed)
    opt_D = make_opt(D.parameters(), lr)
    objective = make_objective(ObjectiveConfig(name=name, clip=clip, gp_lambda=gp_lambda))
    if objective.clip > 0:  # start inside the clipping box, as the first update would put it there anyway
        with torch.no_grad():
            for w in D.parameters():
                w.clamp_(-objective.clip, objective.clip)
    schedule = _linear_decay(opt_D, steps)
    G, generator = nn.Identity(), torch.Generator().manual_seed(seed)
    diff = _log_density(p, grid).exp() - _log_density(q, grid).exp()  # p - q at the grid points, (M,)
    curve, batch_values = [], []

    def measure(step: int) -> None:
        curve.append({"step": step, "estimate": grid.integrate(_logits_on(D, grid) * diff),
                      "estimate_batch": sum(batch_values) / len(batch_values) if batch_values else math.nan})
        batch_values.clear()

    for step in range(steps):
        if step % eval_every == 0:
            measure(step)
        stats = d_step(G, D, opt_D, objective=objective, real=_batch(p, batch_size, generator),
                       z=_batch(q, batch_size, generator), index=step)
        batch_values.append(float(stats["estimate/wasserstein"]))
        schedule.step()
    measure(steps)
    return curve


def fitted_ratio(estimates: list[float], w1: list[float]) -> float:
    """K minimising Σ (estimate - K W1)²: the least-squares slope through the origin, Σ e w / Σ w²."""
    return sum(e * w for e, w in zip(estimates, w1)) / sum(w * w for w in w1)


def _components(p: Density) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(weights, means, stds), each (K,) float64, of a 1D Gaussian or Gaussian mixture."""
    if isinstance(p, Gaussian1D):
        return tuple(torch.tensor([v], dtype=torch.float64) for v in (1.0, p.mean, p.std))
    if isinstance(p, Mixture1D):
        return p.weights, p.means, p.stds
    raise GankitError(f"the gradient-penalty optimum is computed for 1D Gaussians and mixtures, not {type(p).__name__}")


def gradient_penalty_optimum(p: Density, q: Density, grid: Grid, *, gp_lambda: float = 10.0,
                             eps_points: int = 400) -> float:
    """What a WGAN-GP critic's estimate E_p f - E_q f converges to in 1D, for 1D Gaussians or mixtures p, q.

    The critic maximises E_p f - E_q f - λ E (|f'(x̂)| - 1)² with x̂ = ε X + (1 - ε) Y, X ~ p, Y ~ q, ε ~ U[0, 1]
    (one ε per pair, as `gradient_penalty` draws it); let ρ be the density of x̂. Integrating by parts,
    E_p f - E_q f = ∫ f'(x) g(x) dx with g = F_q - F_p, so the objective is ∫ [f' g - λ ρ (|f'| - 1)²] dx,
    maximised pointwise by f' = sign(g) (1 + |g| / (2 λ ρ)). At that f the estimate is
        ∫ |g| dx + ∫ g² / (2 λ ρ) dx = W1 + (1 / 2λ) ∫ (F_p - F_q)² / ρ dx,
    above W1: the penalty is soft, and the critic trades a little of it for a larger difference.
    ρ(x) = ∫₀¹ Σ_jk w_j v_k N(x; ε m_j + (1 - ε) n_k, ε² s_j² + (1 - ε)² r_k²) dε, by the midpoint rule in ε.
    """
    if grid.dim != 1:
        raise GankitError("the gradient-penalty optimum is computed on a 1D grid")
    (w, m, s), (v, n, r) = _components(p), _components(q)
    x = grid.points[:, 0]  # (M,)

    def cdf(weights: torch.Tensor, means: torch.Tensor, stds: torch.Tensor) -> torch.Tensor:
        return (weights * torch.special.ndtr((x[:, None] - means) / stds)).sum(1)  # (M,), exact

    g = cdf(v, n, r) - cdf(w, m, s)  # F_q - F_p, (M,)
    rho = torch.zeros_like(x)
    for eps in ((torch.arange(eps_points, dtype=torch.float64) + 0.5) / eps_points).split(50):
        e = eps[:, None, None]  # (E, 1, 1) against components (J, 1) of p and (1, K) of q
        mean = e * m[:, None] + (1 - e) * n[None, :]  # (E, J, K)
        std = (e**2 * s[:, None] ** 2 + (1 - e) ** 2 * r[None, :] ** 2).sqrt()
        weight = w[:, None] * v[None, :]  # (J, K)
        z = (x[:, None, None, None] - mean) / std  # (M, E, J, K)
        pdf = torch.exp(-0.5 * z**2) / (std * math.sqrt(2 * math.pi))
        rho += (weight * pdf).sum((1, 2, 3)) / eps_points
    return grid.integrate(g.abs()) + grid.integrate(g**2 / rho) / (2 * gp_lambda)
