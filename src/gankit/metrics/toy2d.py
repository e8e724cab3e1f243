"""Mode coverage for 2D Gaussian mixtures, as in VEEGAN (Srivastava et al. 2017) and PacGAN
(Lin et al. 2018): a sample is high quality within 3 std of a mean; a mode is captured when at
least 20 of every 2,500 samples (0.8%) land on it with high quality."""

from __future__ import annotations

import math

import torch


def mode_coverage(samples: torch.Tensor, means: torch.Tensor, std: float, *,
                  threshold: float = 3.0, min_fraction: float = 20 / 2500) -> dict[str, float]:
    """Args: samples (N, 2), means (M, 2), the mixture's std.

    Returns `modes` (captured count), `high_quality` (fraction within `threshold` std of a mean),
    `mode_kl` (KL of the captured-sample mode histogram to uniform, in nats; 0 when balanced)
    and `mean_distance` (mean distance to the nearest mean, in data units).
    """
    diff = samples.float()[:, None, :] - means.float().to(samples.device)[None]
    dist, nearest = diff.norm(dim=-1).min(dim=1)  # (N,) distance to, and index of, the nearest mean
    good = dist <= threshold * std
    counts = torch.bincount(nearest[good], minlength=means.shape[0]).float()
    captured = int((counts >= max(1, math.ceil(min_fraction * samples.shape[0]))).sum())
    hist = counts / counts.sum().clamp_min(1)
    nonzero = hist > 0
    mode_kl = float((hist[nonzero] * (hist[nonzero] * means.shape[0]).log()).sum())
    return {"modes": float(captured), "high_quality": float(good.float().mean()),
            "mode_kl": mode_kl, "mean_distance": float(dist.mean())}


def wasserstein1(x: torch.Tensor, y: torch.Tensor) -> float:
    """Exact W1 between two equal-weight point clouds (N, 2) and (M, 2): the optimal transport
    cost with Euclidean ground distance, solved by POT's network simplex (`ot.emd2`)."""
    import numpy as np
    import ot

    a, b = x.detach().double().cpu().numpy(), y.detach().double().cpu().numpy()
    cost = ot.dist(a, b, metric="euclidean")
    return float(ot.emd2(np.full(len(a), 1 / len(a)), np.full(len(b), 1 / len(b)), cost, numItermax=10**7))
