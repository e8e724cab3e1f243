"""Feature statistics and distances: closed forms for the Fréchet distance, batch-split invariance of the
accumulator, KID's estimator against a direct formula, and precision/recall and density/coverage on sets whose
answers are known by construction."""

import numpy as np
import pytest
import scipy.linalg
import torch

from gankit.errors import GankitError
from gankit.metrics.distances import FeatureStats, density_coverage, frechet_distance, kid, precision_recall


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _random_spd(d, seed):
    a = torch.randn(d, d, generator=_gen(seed), dtype=torch.float64)
    return (a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)).numpy()


# --- FeatureStats ----------------------------------------------------------------------------------------------


def test_feature_stats_do_not_depend_on_batch_split():
    # An offset of 100 with unit spread is where E[xx^T] - mu mu^T would lose ~4 digits; the pairwise update does not.
    x = 100 + torch.randn(1000, 8, generator=_gen(0))
    whole = FeatureStats()
    whole.update(x)
    split = FeatureStats()
    for chunk in torch.split(x, [1, 2, 300, 0, 97, 500, 100]):  # 7 uneven batches, one empty
        split.update(chunk)
    assert whole.n == split.n == 1000
    assert whole.mean.dtype == whole.cov.dtype == torch.float64
    assert torch.allclose(whole.mean, split.mean, rtol=0, atol=1e-12)
    assert torch.allclose(whole.cov, split.cov, rtol=0, atol=1e-12)
    x64 = x.double().numpy()  # float32 inputs, float64 statistics
    assert np.allclose(whole.mean.numpy(), x64.mean(0), rtol=0, atol=1e-12)
    assert np.allclose(whole.cov.numpy(), np.cov(x64, rowvar=False, ddof=1), rtol=0, atol=1e-12)


def test_feature_stats_keep_and_errors():
    kept = FeatureStats(keep=True)
    x = np.random.default_rng(0).normal(size=(10, 3))
    kept.update(x[:4])
    kept.update(torch.from_numpy(x[4:]))  # arrays and tensors mix
    assert torch.equal(kept.features, torch.from_numpy(x))
    with pytest.raises(GankitError, match="keep=True"):
        _ = FeatureStats().features
    with pytest.raises(GankitError, match="dimension changed"):
        kept.update(np.zeros((2, 4)))
    stats = FeatureStats()
    stats.update(x[:1])
    with pytest.raises(GankitError, match="at least 2"):
        _ = stats.cov


# --- Fréchet distance ------------------------------------------------------------------------------------------


def test_frechet_distance_diagonal_closed_form():
    # Diagonal C1 = diag(s1^2), C2 = diag(s2^2) commute, so (C1 C2)^{1/2} = diag(s1 s2) and
    # Tr(C1 + C2 - 2 (C1 C2)^{1/2}) = sum(s1^2 + s2^2 - 2 s1 s2) = sum((s1 - s2)^2).
    mu1, mu2 = np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, 1.0, 0.0, 0.0])
    s1, s2 = np.array([1.0, 2.0, 0.5, 3.0]), np.array([2.0, 2.0, 1.5, 0.1])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((s1 - s2) ** 2)  # 1 + 0 + 4 + 0.25 + 1 + 0 + 1 + 8.41 = 15.66
    assert expected == pytest.approx(15.66)
    assert frechet_distance(mu1, np.diag(s1**2), mu2, np.diag(s2**2)) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_general_pair_matches_scipy_sqrtm():
    d = 6
    mu1, mu2 = np.arange(d, dtype=float), np.ones(d)
    cov1, cov2 = _random_spd(d, 1), _random_spd(d, 2)
    trace_sqrt = np.trace(scipy.linalg.sqrtm(cov1 @ cov2)).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * trace_sqrt
    got = frechet_distance(torch.from_numpy(mu1), torch.from_numpy(cov1), mu2, cov2)  # tensors or arrays
    assert got == pytest.approx(expected, rel=1e-10)
    assert frechet_distance(mu2, cov2, mu1, cov1) == pytest.approx(got, rel=1e-10)  # symmetric


def test_frechet_distance_of_a_set_with_itself_is_zero_even_when_singular():
    # 20 samples in 32 dimensions: a rank-19 covariance, where sqrtm(C @ C) picks up complex parts and eigenvalues of
    # S C S leave ~1e-8 per null direction (3e-7 here); the singular values of S S leave ~1e-16 each.
    for n, d in [(500, 8), (20, 32)]:
        stats = FeatureStats()
        stats.update(torch.randn(n, d, generator=_gen(3)))
        fd = frechet_distance(stats.mean, stats.cov, stats.mean, stats.cov)
        assert abs(fd) < 1e-12 * float(stats.cov.trace())


# --- KID -------------------------------------------------------------------------------------------------------


def _mmd2_direct(x, y):
    """Unbiased MMD^2 written out: mean over i != j of k(x_i, x_j), same for y, minus twice the mean k(x_i, y_j)."""
    d, m = x.shape[1], len(x)
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    off = ~np.eye(m, dtype=bool)
    return k(x, x)[off].mean() + k(y, y)[off].mean() - 2 * k(x, y).mean()


def test_kid_one_full_subset_is_the_unbiased_mmd():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(60, 5)), rng.normal(0.3, 1.0, size=(80, 5))
    # subset_size is capped at 60; a subset of all 60 real points is a permutation, and MMD^2 ignores order. Fake
    # has 80 points, so compare with the same 60 fake points the seeded RandomState draws (fake first, as
    # torch-fidelity).
    rs = np.random.RandomState(7)
    fake_idx = rs.choice(80, 60, replace=False)
    out = kid(real, fake, subsets=1, subset_size=1000, seed=7)
    assert out["kid_mean"] == pytest.approx(_mmd2_direct(fake[fake_idx], real), rel=1e-10)
    assert out["kid_std"] == 0.0


def test_kid_near_zero_for_one_distribution_and_positive_for_a_shift():
    g = _gen(0)
    real, fake = torch.randn(1000, 16, generator=g), torch.randn(1000, 16, generator=g)
    same = kid(real, fake, subsets=20, subset_size=200)
    shifted = kid(real, fake + 1.0, subsets=20, subset_size=200)
    # Same distribution: the estimator is unbiased, so the mean sits within its subset-to-subset spread of 0.
    assert abs(same["kid_mean"]) < 3 * same["kid_std"]
    # A unit shift in all 16 dims moves the kernel mean embedding far: hundreds of times the null spread.
    assert shifted["kid_mean"] > 100 * same["kid_std"] and shifted["kid_mean"] > 50 * abs(same["kid_mean"])


# --- precision / recall and density / coverage -------------------------------------------------------------------


def _two_clusters(n, d, seed):
    """n points at the origin and n at 100 * (1, ..., 1), unit spread: no k-NN ball reaches across."""
    g = _gen(seed)
    near = torch.randn(n, d, generator=g, dtype=torch.float64)
    return near, torch.randn(n, d, generator=g, dtype=torch.float64) + 100


def test_precision_recall_on_constructed_sets():
    near, far = _two_clusters(300, 4, seed=0)
    real = torch.cat([near, far])
    # Identical sets (shuffled): each fake point is a real point, inside its own ball (distance 0 <= radius).
    shuffled = real[torch.randperm(len(real), generator=_gen(1))]
    assert precision_recall(real, shuffled) == {"precision": 1.0, "recall": 1.0}
    # Far away: every distance (~400) dwarfs every radius (~1).
    assert precision_recall(real, real + 1000) == {"precision": 0.0, "recall": 0.0}
    # Fake = exactly the near cluster: every fake point is real (precision 1); the near half of real is inside the
    # fake manifold, the far half is not (recall 1/2 exactly).
    assert precision_recall(real, near.clone()) == {"precision": 1.0, "recall": 0.5}


def test_precision_recall_with_fresh_samples_of_one_cluster():
    near, far = _two_clusters(500, 2, seed=1)
    fresh = torch.randn(500, 2, generator=_gen(2), dtype=torch.float64)  # a new draw of the near cluster only
    out = precision_recall(torch.cat([near, far]), fresh)
    # In 2D the k = 3 balls of 500 points cover the bulk of a Gaussian: a fresh point lands inside with probability
    # ~0.97, so precision ~ 0.97 and recall ~ 0.97 / 2 (measured over 10 other seeds: 0.952-0.992 and 0.478-0.496).
    assert out["precision"] == pytest.approx(0.975, abs=0.03)
    assert out["recall"] == pytest.approx(0.4875, abs=0.015)


def test_density_coverage_on_constructed_sets():
    near, far = _two_clusters(300, 4, seed=3)
    real = torch.cat([near, far])
    # Identical sets: the open ball of real_i (radius = distance to its 5th neighbour) holds real_i itself and its
    # 1st..4th neighbours, and the 5th lies on the boundary, so every ball holds exactly k fake points:
    # density = (N * k) / (k * N) = 1 exactly, and every ball is covered. Shuffling the copy moves each pair to
    # another place in the distance blocks; exact distances must still put the 5th neighbour on the boundary.
    shuffled = real[torch.randperm(len(real), generator=_gen(4))]
    assert density_coverage(real, shuffled, k=5) == {"density": 1.0, "coverage": 1.0}
    assert density_coverage(real, real + 1000, k=5) == {"density": 0.0, "coverage": 0.0}
    # Fake = the near cluster: the near balls hold k each (as above), the far ones none:
    # density = (300 * 5) / (5 * 300) = 1, coverage = 1/2.
    assert density_coverage(real, near.clone(), k=5) == {"density": 1.0, "coverage": 0.5}


def test_manifold_metrics_need_more_points_than_k():
    with pytest.raises(GankitError, match="at least 4"):
        precision_recall(np.zeros((3, 2)), np.zeros((10, 2)), k=3)
    with pytest.raises(GankitError, match="dimension"):
        density_coverage(np.zeros((10, 2)), np.zeros((10, 3)))
