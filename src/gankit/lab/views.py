"""What the lab draws, computed from the live networks: D over the plane, the generator's manifold, the
direction G's loss moves each generated point, the optimal D* = p_data / (p_data + p_g) (Goodfellow et al.
2014, Proposition 1) with p_g a KDE of generated points, and W1 / grid KL and JS against the data.

Tensors here are small (a 48 x 48 grid, ~500 points), so each layer costs milliseconds on one CPU thread.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.data.toy2d import GaussianMixture
from gankit.metrics.grid import grid_divergences, kde_log_density, scott_bandwidth
from gankit.metrics.toy2d import wasserstein1
from gankit.models.conditioning import bind_labels
from gankit.objectives import Objective, fgan


def plane_grid(bounds: tuple[float, float, float, float], n: int) -> torch.Tensor:
    """(n * n, 2) points, row-major: row i at y = ys[i] (from ymin up), column j at x = xs[j]."""
    xs = torch.linspace(bounds[0], bounds[1], n)
    ys = torch.linspace(bounds[2], bounds[3], n)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


def d_values(D: nn.Module, points: torch.Tensor, *, d_output: str, divergence=None, critic_bound: float = 0.0,
             num_classes: int = 0) -> torch.Tensor:
    """D over points (M, 2) read as the objective's `d_output` says: sigmoid of the logit for "probability"
    (P(real)), T = g_f(V) for "fgan" (V squashed into (-critic_bound, critic_bound) first when bounded), the raw
    output for a critic or score. Conditional D: the mean over the classes of D(x, y)."""
    with torch.no_grad():
        if num_classes:
            outs = [D(points, torch.full((len(points),), c, dtype=torch.long)) for c in range(num_classes)]
        else:
            outs = [D(points)]
        values = []
        for out in outs:
            if d_output == "probability":
                out = torch.sigmoid(out)
            elif d_output == "fgan" and divergence is not None:
                out = divergence.g_f(fgan.bounded(out, critic_bound))
            values.append(out.float())
        return torch.stack(values).mean(0)


def d_label(d_output: str, objective_name: str, divergence_name: str) -> str:
    if d_output == "probability":
        return "D(x) = P(real)"
    if d_output == "fgan":
        return f"T(x) = g_f(V(x)), {divergence_name}"
    return f"{'critic' if d_output == 'critic' else 'score'} D(x) ({objective_name})"


def generator_arrows(G: nn.Module, D: nn.Module, objective: Objective, z: torch.Tensor,
                     y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Generated points G(z) (N, 2) and -d(loss_G)/d(fake) per point (N, 2): where G's loss pushes each one.

    g_loss is a mean over the batch, so its gradient is scaled by N to give each point's own loss gradient.
    """
    with torch.no_grad():
        fake = bind_labels(G, y)(z)
    fake = fake.detach().requires_grad_(True)
    loss = objective.g_loss(bind_labels(D, y)(fake))
    (grad,) = torch.autograd.grad(loss, fake)
    return fake.detach(), -grad * len(fake)


def z_range(cfg: ModelConfig) -> tuple[float, float, float]:
    """(low, high, centre) of the latent grid along each axis: +-2 std for N(0, I), the support otherwise."""
    if cfg.z_dist == "uniform":
        return -math.sqrt(3), math.sqrt(3), 0.0
    if cfg.z_dist == "uniform01":
        return 0.0, 1.0, 0.5
    return -2.0, 2.0, 0.0


def manifold(G: nn.Module, cfg: ModelConfig, num_classes: int = 0, *, n: int = 16) -> list[dict]:
    """G pushed over a grid of z: the first two latent axes vary (one for z_dim = 1), the rest sit at the centre.

    Returns one entry per class (one in all when unconditional): {"label", "rows", "cols", "points" (rows*cols, 2)},
    points row-major, so the page draws the grid lines of the warped sheet.
    """
    lo, hi, centre = z_range(cfg)
    n = n if not num_classes else max(6, n // 2)
    axis = torch.linspace(lo, hi, n)
    rows = 1 if cfg.z_dim == 1 else n
    cols = n * 4 if cfg.z_dim == 1 else n
    z = torch.full((rows * cols, cfg.z_dim), centre)
    if cfg.z_dim == 1:
        z[:, 0] = torch.linspace(lo, hi, cols)
    else:
        gy, gx = torch.meshgrid(axis, axis, indexing="ij")
        z[:, 0], z[:, 1] = gx.reshape(-1), gy.reshape(-1)
    out = []
    with torch.no_grad():
        for label in range(num_classes) if num_classes else [None]:
            y = None if label is None else torch.full((len(z),), label, dtype=torch.long)
            out.append({"label": label, "rows": rows, "cols": cols, "points": bind_labels(G, y)(z)})
    return out


def optimal_d(mixture: GaussianMixture, fake: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, float]:
    """D*(x) = p(x) / (p(x) + q(x)) at points (M, 2), p the exact data density and q a Gaussian KDE of the
    generated points (N, 2) with Scott's bandwidth; returns (M,) values and the bandwidth.

    Computed as sigmoid(log p - log q), as `gankit.theory.optimal_discriminator` does; that function also checks
    both masses on a fine quadrature grid, which a 48 x 48 display grid cannot pass for modes of std 0.01.
    """
    fake = fake[torch.isfinite(fake).all(dim=1)].double()
    if len(fake) < 2:
        return torch.full((len(points),), float("nan")), float("nan")
    h = max(scott_bandwidth(fake), 1e-3)
    log_p = mixture.log_prob(points.double())
    log_q = kde_log_density(fake, points.double(), h)
    logit = log_p - log_q
    logit = torch.where(torch.isnan(logit), torch.zeros_like(logit), logit)  # outside both supports: 1/2
    return torch.sigmoid(logit).float(), h


def sample_metrics(fake: torch.Tensor, real: torch.Tensor, mixture: GaussianMixture | None, *,
                   grid: int = 100) -> dict[str, float | int | None]:
    """Exact W1 between the generated and real point sets, and, for a Gaussian mixture, KL both ways and JS on a
    grid x grid lattice between the data density and a KDE of the samples, both smoothed by the same kernel as
    `gankit evaluate`'s grid metric (bandwidth max(2 std, grid step), here on a coarser grid for speed)."""
    fake = fake[torch.isfinite(fake).all(dim=1)]
    out: dict[str, float | int | None] = {"n": len(fake), "n_real": len(real), "w1": None, "kl_data_model": None,
                                          "kl_model_data": None, "js": None, "grid": None, "bandwidth": None}
    if len(fake) < 2 or fake.abs().max() > 1e4:
        return out
    out["w1"] = wasserstein1(fake, real)
    if mixture is not None:
        reach = float(mixture.means.abs().max()) + 0.5
        h = max(2 * mixture.std, 2 * reach / (grid - 1))
        smoothed = GaussianMixture(mixture.means, math.sqrt(mixture.std**2 + h**2))
        result = grid_divergences(fake.double(), smoothed.log_prob, bounds=(-reach, reach, -reach, reach),
                                  n=grid, bandwidth=h)
        out.update({k: result[k] for k in ("kl_data_model", "kl_model_data", "js")}, grid=grid, bandwidth=h)
    return out


def rounded(t: torch.Tensor, decimals: int = 4) -> list:
    """A tensor as nested lists for JSON, rounded; NaN and infinities become None (JSON has neither)."""
    t = t.detach().double().cpu()  # rounded in float64, so 0.95 is sent as 0.95, not 0.949999988
    finite = torch.isfinite(t)
    values = torch.round(torch.where(finite, t, torch.zeros_like(t)), decimals=decimals).tolist()
    if bool(finite.all()):
        return values
    mask = finite.tolist()

    def clean(v, m):
        return [clean(a, b) for a, b in zip(v, m)] if isinstance(v, list) else (v if m else None)

    return clean(values, mask)


def number(value) -> float | None:
    """A float for JSON, or None when it is not finite."""
    value = float(value)
    return value if math.isfinite(value) else None


def layer_widths(net: nn.Module) -> list[int]:
    """A network's layer widths, input to output, read from its Linear layers: [2, 128, 128, 1] for a toy D; []
    for a network without Linear layers."""
    linear = [m for m in net.modules() if isinstance(m, nn.Linear)]
    return [linear[0].in_features, *(m.out_features for m in linear)] if linear else []
