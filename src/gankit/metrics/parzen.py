"""Parzen window log-likelihood, as Goodfellow et al. (2014, "Generative Adversarial Nets", Table 1) measured it
with their `parzen_ll.py` (after Breuleux et al. 2011): an isotropic Gaussian KDE centred on generated samples,
its width chosen on validation data, then the mean log-likelihood of the test set with its standard error.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

import numpy as np
import torch

from gankit.errors import GankitError

# parzen_ll.py's defaults: numpy.logspace(sigma_start=-1, sigma_end=0, num=cross_val=10).
DEFAULT_SIGMAS: tuple[float, ...] = tuple(np.logspace(-1, 0, 10).tolist())


def _as_flat(x, name: str) -> torch.Tensor:
    """Tensor or array (N, ...) -> float64 CPU tensor (N, D), trailing dimensions flattened (images -> pixels)."""
    x = torch.as_tensor(x).detach().cpu().to(torch.float64)
    if x.ndim < 2 or len(x) == 0:
        raise GankitError(f"{name} must be a non-empty batch (N, D) or (N, C, H, W); got shape {tuple(x.shape)}")
    return x.reshape(len(x), -1)


def _log_kernel_sums(centres: torch.Tensor, points: torch.Tensor, sigmas: Sequence[float], *,
                     batch_size: int, centre_batch_size: int) -> torch.Tensor:
    """(S, M): logsumexp_i(-||x_m - mu_i||^2 / (2 sigma_s^2)) for every sigma and point, from centres (N, D) and
    points (M, D) in float64.

    Memory stays at a few (batch_size, centre_batch_size) blocks. Squared distances use
    ||x||^2 + ||mu||^2 - 2 x.mu, one matmul per block, in float64: for pixels in [0, 1] the norms are at most D, so
    the cancellation error is ~1e-16 * 2D ~ 1e-13 even at D = 784, i.e. ~1e-11 in the exponent at sigma = 0.1
    (float32 would leave ~1e-3 there). One block's distances serve every sigma, so choosing sigma costs one pass.
    The logsumexp streams over centre blocks: each block's logsumexp is kept and one more logsumexp combines them.
    """
    if batch_size < 1 or centre_batch_size < 1:
        raise GankitError(f"batch sizes must be >= 1; got {batch_size} and {centre_batch_size}")
    neg_inv_two_var = [-1 / (2 * s**2) for s in sigmas]
    centre_sq = centres.pow(2).sum(1)  # (N,)
    out = torch.empty(len(sigmas), len(points), dtype=torch.float64)
    for start in range(0, len(points), batch_size):
        x = points[start:start + batch_size]  # (B, D)
        x_sq = x.pow(2).sum(1)  # (B,)
        partial = [[] for _ in sigmas]  # per sigma: (B,) logsumexp over each centre block
        for c0 in range(0, len(centres), centre_batch_size):
            mu = centres[c0:c0 + centre_batch_size]  # (C, D)
            sq = (x_sq[:, None] + centre_sq[None, c0:c0 + len(mu)] - 2 * x @ mu.T).clamp_min(0)  # (B, C)
            for s, scale in enumerate(neg_inv_two_var):
                partial[s].append(torch.logsumexp(sq * scale, dim=1))
        for s in range(len(sigmas)):
            out[s, start:start + len(x)] = torch.logsumexp(torch.stack(partial[s], dim=1), dim=1)
    return out


def _check_sigmas(sigmas: Sequence[float]) -> list[float]:
    sigmas = [float(s) for s in np.atleast_1d(np.asarray(sigmas, dtype=np.float64))]
    if not sigmas or not all(s > 0 and math.isfinite(s) for s in sigmas):
        raise GankitError(f"sigmas must be positive and finite; got {sigmas}")
    return sigmas


def _log_likelihoods(centres: torch.Tensor, points: torch.Tensor, sigmas: list[float], *,
                     batch_size: int, centre_batch_size: int) -> torch.Tensor:
    """(S, M) Parzen log p(x) for each sigma: the kernel logsumexp minus log N and the Gaussian's normaliser."""
    if centres.shape[1] != points.shape[1]:
        raise GankitError(f"centres and points differ in dimension: {centres.shape[1]} vs {points.shape[1]}")
    sums = _log_kernel_sums(centres, points, sigmas, batch_size=batch_size, centre_batch_size=centre_batch_size)
    dim = centres.shape[1]
    log_norm = torch.tensor([math.log(len(centres)) + dim / 2 * math.log(2 * math.pi * s**2) for s in sigmas],
                            dtype=torch.float64)
    return sums - log_norm[:, None]


def parzen_log_likelihood(centres, points, sigma: float, *, batch_size: int = 1000,
                          centre_batch_size: int = 2048) -> torch.Tensor:
    """Log-likelihood of each point under the Gaussian KDE with the given centres:
    log p(x) = logsumexp_i(-||x - mu_i||^2 / (2 sigma^2)) - log N - D/2 log(2 pi sigma^2).

    Args:
        centres: (N, D) kernel centres (the generated samples); (N, C, H, W) is flattened.
        points: (M, D) points to score, same D.
        sigma: kernel standard deviation, in the units of the data.
        batch_size, centre_batch_size: points and centres per block; any values give the same result.

    Returns: (M,) float64 log densities in nats.
    """
    centres, points = _as_flat(centres, "centres"), _as_flat(points, "points")
    sigmas = _check_sigmas([sigma])
    return _log_likelihoods(centres, points, sigmas, batch_size=batch_size, centre_batch_size=centre_batch_size)[0]


def select_sigma(centres, valid, sigmas: Sequence[float] = DEFAULT_SIGMAS, *, batch_size: int = 1000,
                 centre_batch_size: int = 2048, progress: bool = False) -> float:
    """The sigma of `sigmas` with the highest mean Parzen log-likelihood of `valid` (N, D); the first on ties, as
    parzen_ll.py's numpy.argmax. With progress=True, prints each sigma's mean to stderr."""
    centres, valid = _as_flat(centres, "centres"), _as_flat(valid, "valid")
    sigmas = _check_sigmas(sigmas)
    means = _log_likelihoods(centres, valid, sigmas, batch_size=batch_size,
                             centre_batch_size=centre_batch_size).mean(dim=1)
    if progress:
        for s, m in zip(sigmas, means.tolist()):
            print(f"parzen: sigma {s:.4f}: mean log-likelihood on valid {m:.2f}", file=sys.stderr, flush=True)
    return sigmas[int(torch.argmax(means))]  # torch.argmax also returns the first maximum


def parzen_protocol(samples, valid, test, *, sigmas: Sequence[float] | None = None,
                    progress: bool = False) -> dict[str, float]:
    """Goodfellow et al.'s Parzen evaluation: choose sigma on `valid`, then score `test`.

    Args:
        samples: (N, D) generated images, flattened, pixels in [0, 1] (the paper used N = 10,000).
        valid: (V, D) validation images in [0, 1] (the paper: the first 1,000 of MNIST train[50000:60000]).
        test: (T, D) test images in [0, 1] (the paper: the 10,000 MNIST test images).
        sigmas: candidate widths; None -> DEFAULT_SIGMAS, parzen_ll.py's logspace(-1, 0, 10).
        progress: print each candidate's validation score to stderr.

    Returns: `parzen_ll_mean` (nats per image) and `parzen_ll_se` = std / sqrt(T) with the population std
    (numpy's default, as parzen_ll.py), the chosen `sigma`, and the counts `n_centres`, `n_valid`, `n_test`
    (the figure depends on them; record them beside it).
    """
    centres, valid, test = _as_flat(samples, "samples"), _as_flat(valid, "valid"), _as_flat(test, "test")
    for name, x in (("samples", centres), ("valid", valid), ("test", test)):
        lo, hi = float(x.min()), float(x.max())
        if lo < -1e-6 or hi > 1 + 1e-6:  # the published numbers are for [0, 1] pixels; others are not comparable
            raise GankitError(f"parzen_protocol expects {name} pixels in [0, 1]; got [{lo:.3g}, {hi:.3g}] "
                              "(map tanh outputs with (x + 1) / 2)")
    sigma = select_sigma(centres, valid, DEFAULT_SIGMAS if sigmas is None else sigmas, progress=progress)
    ll = parzen_log_likelihood(centres, test, sigma)  # (T,)
    result = {"parzen_ll_mean": float(ll.mean()), "parzen_ll_se": float(ll.std(correction=0)) / math.sqrt(len(ll)),
              "sigma": sigma, "n_centres": len(centres), "n_valid": len(valid), "n_test": len(test)}
    if progress:
        print(f"parzen: sigma {sigma:.4f}: test log-likelihood {result['parzen_ll_mean']:.2f} "
              f"+- {result['parzen_ll_se']:.2f}", file=sys.stderr, flush=True)
    return result
