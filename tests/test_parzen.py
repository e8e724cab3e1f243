"""Parzen window log-likelihood (Goodfellow et al. 2014): the batched computation against a direct one, the
one-centre Gaussian closed form, sigma selection, batch invariance and the protocol's bookkeeping."""

import math

import numpy as np
import pytest
import scipy.special
import torch

from gankit.errors import GankitError
from gankit.metrics.parzen import DEFAULT_SIGMAS, parzen_log_likelihood, parzen_protocol, select_sigma


def _direct(centres, points, sigma):
    """log p(x) written out with explicit differences (no ||x||^2 + ||mu||^2 - 2 x.mu expansion), float64."""
    centres, points = np.asarray(centres, dtype=np.float64), np.asarray(points, dtype=np.float64)
    sq = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1)  # (M, N)
    n, d = centres.shape
    log_norm = math.log(n) + d / 2 * math.log(2 * math.pi * sigma**2)
    return scipy.special.logsumexp(-sq / (2 * sigma**2), axis=1) - log_norm


def test_matches_the_direct_computation_on_a_tiny_case():
    rng = np.random.default_rng(0)
    centres, points = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    for sigma in (0.3, 1.0, 2.5):
        got = parzen_log_likelihood(centres, points, sigma, batch_size=2, centre_batch_size=3)
        assert got.shape == (5,) and got.dtype == torch.float64
        assert np.allclose(got.numpy(), _direct(centres, points, sigma), rtol=0, atol=1e-10)


def test_float64_expansion_is_accurate_on_mnist_sized_pixels():
    # The worst case of the matmul expansion: D = 784 pixels in [0, 1] (norms up to 784) at the smallest default
    # sigma 0.1, where the exponent is ~-5,000 and float32 would be off by ~1e-3.
    g = torch.Generator().manual_seed(1)
    centres, points = torch.rand(40, 784, generator=g), torch.rand(10, 784, generator=g)
    got = parzen_log_likelihood(centres, points, 0.1)
    assert np.allclose(got.numpy(), _direct(centres, points, 0.1), rtol=0, atol=1e-8)


def test_one_centre_is_the_gaussian_log_density():
    # N = 1: logsumexp of one term, log N = 0, leaving log N(x; mu, sigma^2 I).
    g = torch.Generator().manual_seed(2)
    mu, x, sigma = torch.randn(1, 4, generator=g), torch.randn(6, 4, generator=g), 0.7
    expected = torch.distributions.Normal(mu[0].double(), sigma).log_prob(x.double()).sum(-1)
    assert torch.allclose(parzen_log_likelihood(mu, x, sigma), expected, rtol=0, atol=1e-12)


def test_batch_sizes_do_not_change_the_result():
    g = torch.Generator().manual_seed(3)
    centres, points = torch.rand(300, 20, generator=g), torch.rand(70, 20, generator=g)
    ref = parzen_log_likelihood(centres, points, 0.2, batch_size=1000, centre_batch_size=10_000)  # one block
    for batch_size, centre_batch_size in [(1, 64), (7, 5), (70, 299), (33, 300)]:
        got = parzen_log_likelihood(centres, points, 0.2, batch_size=batch_size, centre_batch_size=centre_batch_size)
        assert torch.allclose(got, ref, rtol=0, atol=1e-6)


def test_select_sigma_with_one_centre_is_the_maximum_likelihood_width():
    # With a single centre at 0, the mean log-likelihood of valid is -D/2 log(2 pi sigma^2) - mean||x||^2 / (2 sigma^2),
    # maximised at sigma^2 = mean||x||^2 / D exactly. Rescale valid so that this is 0.3^2, a point on the grid.
    d = 5
    valid = torch.randn(400, d, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    valid *= 0.3 / valid.pow(2).sum(1).mean().div(d).sqrt()
    grid = [0.1, 0.2, 0.25, 0.3, 0.35, 0.5, 1.0]
    assert select_sigma(torch.zeros(1, d), valid, grid) == 0.3


def test_select_sigma_is_the_argmax_of_the_mean_log_likelihood():
    # Many centres: the likelihood-optimal width of a KDE of N(0, s^2 I) shrinks with N, like Silverman's
    # s * (4 / ((D + 2) N))^(1 / (D + 4)) = 0.28 here, so the choice is inside the default grid, not on its edge.
    g = torch.Generator().manual_seed(5)
    s, d = 1.0, 2
    centres, valid = s * torch.randn(2000, d, generator=g), s * torch.randn(300, d, generator=g)
    means = [float(parzen_log_likelihood(centres, valid, sigma).mean()) for sigma in DEFAULT_SIGMAS]
    chosen = select_sigma(centres, valid)
    assert chosen == DEFAULT_SIGMAS[int(np.argmax(means))]
    assert DEFAULT_SIGMAS[0] < chosen < DEFAULT_SIGMAS[-1]


def test_protocol_reports_mean_standard_error_and_counts():
    g = torch.Generator().manual_seed(6)
    samples, valid, test = (torch.rand(n, 1, 4, 4, generator=g) for n in (50, 20, 30))  # images are flattened
    out = parzen_protocol(samples, valid, test, sigmas=[0.2, 0.4])
    ll = parzen_log_likelihood(samples, test, out["sigma"])
    assert out["sigma"] == select_sigma(samples, valid, [0.2, 0.4])
    assert out["parzen_ll_mean"] == pytest.approx(float(ll.mean()), rel=1e-12)
    # parzen_ll.py: ll.std() / sqrt(n), numpy's population std (ddof=0)
    assert out["parzen_ll_se"] == pytest.approx(np.std(ll.numpy()) / math.sqrt(30), rel=1e-12)
    assert (out["n_centres"], out["n_valid"], out["n_test"]) == (50, 20, 30)


def test_protocol_rejects_pixels_outside_unit_interval():
    x = torch.rand(10, 16)
    with pytest.raises(GankitError, match=r"\[0, 1\]"):
        parzen_protocol(2 * x - 1, x, x)
    with pytest.raises(GankitError, match="positive"):
        parzen_log_likelihood(x, x, 0.0)
