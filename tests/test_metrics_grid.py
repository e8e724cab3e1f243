"""Grid KL/JS for 2D data: both grids sum to one, an exact KDE gives zero, samples of the data give small values,
and the discrete divergences keep their bounds (KL >= 0, JS <= log 2, JS symmetric)."""

import math

import pytest
import torch

from gankit.data import toy2d
from gankit.errors import GankitError
from gankit.metrics.grid import (
    discrete_divergences,
    grid_densities,
    grid_divergences,
    kde_log_density,
    scott_bandwidth,
)

BOUNDS = (-5.0, 5.0, -5.0, 5.0)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_kde_log_density_is_the_equal_weight_mixture_of_its_samples():
    samples = torch.randn(30, 2, generator=_gen(0))
    points = 2 * torch.randn(50, 2, generator=_gen(1))
    expected = toy2d.GaussianMixture(samples, 0.4).log_prob(points.double())
    assert torch.allclose(kde_log_density(samples, points, 0.4), expected, rtol=0, atol=1e-9)


def test_both_grids_sum_to_one_and_use_image_layout():
    mix = toy2d.GaussianMixture(torch.tensor([[1.0, -2.0]]), 0.3)
    samples = mix.sample(500, _gen(0))[0]
    p, q = grid_densities(samples, mix.log_prob, bounds=BOUNDS, n=101)  # nodes every 0.1, (1, -2) among them
    assert p.shape == q.shape == (101, 101) and p.dtype == q.dtype == torch.float64
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-9) and float(q.sum()) == pytest.approx(1.0, abs=1e-9)
    # row i is y = ys[i], column j is x = xs[j]: the mode (x=1, y=-2) is row 30, column 60
    assert divmod(int(p.argmax()), 101) == (30, 60)


def test_a_kde_equal_to_the_data_density_gives_zero():
    # A GaussianMixture is exactly the KDE of its means with bandwidth = its std: both grids coincide.
    mix = toy2d.grid25()
    out = grid_divergences(mix.means, mix.log_prob, bounds=BOUNDS, n=60, bandwidth=mix.std)
    assert abs(out["kl_data_model"]) < 1e-9 and abs(out["kl_model_data"]) < 1e-9 and abs(out["js"]) < 1e-9
    assert out["bandwidth"] == mix.std


def test_samples_of_the_data_give_small_divergences_and_a_missing_mode_large_ones():
    # Data N(0, I). A KDE of N samples estimates N(0, (1 + h^2) I), with Scott's h = N^(-1/6) = 0.28 at N = 2000:
    # the smoothing bias alone is KL(N(0, I) || N(0, r I)) = 1/r - 1 + log r = 0.0028 (r = 1 + h^2 = 1.08, 2D). The
    # KDE's sampling noise adds more (its variance term grows with the grid's area of tails): over seeds 0-9 we
    # measured kl_data_model 0.0104-0.0171 and js 0.0025-0.0040, hence the two-sided bands below.
    gauss = toy2d.GaussianMixture(torch.zeros(1, 2), 1.0)
    out = grid_divergences(gauss.sample(2000, _gen(0))[0], gauss.log_prob, bounds=BOUNDS, n=80)
    r = 1 + out["bandwidth"] ** 2
    assert out["bandwidth"] == pytest.approx(2000 ** (-1 / 6), rel=0.05)
    assert 1 / r - 1 + math.log(r) < out["kl_data_model"] < 0.03
    assert 0.005 < out["kl_model_data"] < 0.03
    assert 0.001 < out["js"] < 0.008
    # The same sample size from only one of two modes: KL(data || model) pays ~log(p/q) on the missing mode.
    two = toy2d.GaussianMixture(torch.tensor([[-2.0, 0.0], [2.0, 0.0]]), 0.5)
    x = two.sample(4000, _gen(0))[0]
    missing = grid_divergences(x[x[:, 0] > 0], two.log_prob, bounds=BOUNDS, n=80)
    assert missing["kl_data_model"] > 100 * out["kl_data_model"] and missing["js"] > 0.1


def test_far_shifted_cloud_has_js_log_2():
    # Data at the origin, samples 20 std away: the grids barely overlap, so JS = log 2 up to the floor's mass.
    mix = toy2d.GaussianMixture(torch.zeros(1, 2), 0.5)
    samples = mix.sample(500, _gen(0))[0] + torch.tensor([10.0, 0.0])
    out = grid_divergences(samples, mix.log_prob, bounds=(-3.0, 13.0, -3.0, 3.0), n=80)
    assert out["js"] == pytest.approx(math.log(2), abs=1e-6)
    assert out["kl_data_model"] > 10 and out["kl_model_data"] > 10


def test_discrete_divergences_closed_form_bounds_and_symmetry():
    p, q = torch.tensor([0.5, 0.5], dtype=torch.float64), torch.tensor([0.9, 0.1], dtype=torch.float64)
    m = (p + q) / 2
    out = discrete_divergences(p, q)
    assert out["kl_data_model"] == pytest.approx(0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1), rel=1e-9)
    assert out["kl_model_data"] == pytest.approx(0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5), rel=1e-9)
    js = 0.5 * float((p * (p / m).log()).sum() + (q * (q / m).log()).sum())
    assert out["js"] == pytest.approx(js, rel=1e-9)
    for seed in range(20):
        g = _gen(seed)
        # random masses, some cells empty, sometimes disjoint supports (the JS = log 2 extreme)
        a = torch.rand(50, generator=g) * (torch.rand(50, generator=g) > 0.3)
        b = torch.rand(50, generator=g) * (torch.rand(50, generator=g) > 0.3)
        if seed % 5 == 0:
            a[25:], b[:25] = 0, 0
        ab, ba = discrete_divergences(a, b), discrete_divergences(b, a)
        assert ab["kl_data_model"] >= 0 and ab["kl_model_data"] >= 0
        assert 0 <= ab["js"] <= math.log(2) + 1e-12  # 1e-12: rounding in the sum
        assert ab["js"] == pytest.approx(ba["js"], rel=1e-12, abs=1e-15)
        assert ab["kl_data_model"] == pytest.approx(ba["kl_model_data"], rel=1e-12)
    assert discrete_divergences(p, p) == {"kl_data_model": 0.0, "kl_model_data": 0.0, "js": 0.0}


def test_errors_name_the_problem():
    x = torch.randn(10, 2)
    with pytest.raises(GankitError, match="xmin < xmax"):
        grid_densities(x, toy2d.ring8().log_prob, bounds=(1.0, -1.0, -1.0, 1.0))
    with pytest.raises(GankitError, match=r"\(N, 2\)"):
        scott_bandwidth(torch.randn(10, 3))
