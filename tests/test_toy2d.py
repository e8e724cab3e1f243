"""2D toy data: mixture definitions, exact log densities, samplers, mode coverage."""

import math

import pytest
import torch

from gankit.data import toy2d
from gankit.metrics.toy2d import mode_coverage


def test_ring8_and_grid25_definitions():
    ring = toy2d.ring8()
    assert ring.num_modes == 8 and ring.std == 0.01
    assert torch.allclose(ring.means.norm(dim=1), torch.ones(8), atol=1e-6)  # radius 1
    grid = toy2d.grid25()
    assert grid.num_modes == 25 and grid.std == 0.05
    assert sorted(set(grid.means[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


@pytest.mark.parametrize("mix", [toy2d.ring8(), toy2d.grid25()], ids=["ring8", "grid25"])
def test_log_prob_matches_torch_distributions(mix):
    comp = torch.distributions.Independent(torch.distributions.Normal(mix.means, mix.std), 1)
    ref = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(mix.num_modes)), comp)
    x = mix.sample(500, torch.Generator().manual_seed(0))[0]
    assert torch.allclose(mix.log_prob(x), ref.log_prob(x), atol=1e-4)


def test_log_prob_integrates_to_one_on_a_grid():
    mix = toy2d.GaussianMixture(torch.tensor([[0.0, 0.0], [1.0, 0.5]]), 0.2)
    ticks = torch.linspace(-2, 3, 401)
    xy = torch.cartesian_prod(ticks, ticks)
    cell = (ticks[1] - ticks[0]) ** 2
    assert (mix.log_prob(xy).exp().sum() * cell).item() == pytest.approx(1.0, abs=1e-3)


def test_sampler_labels_and_spread():
    mix = toy2d.ring8()
    x, y = mix.sample(20000, torch.Generator().manual_seed(1))
    offsets = x - mix.means[y]
    assert offsets.std().item() == pytest.approx(0.01, rel=0.05)
    counts = torch.bincount(y, minlength=8).float()
    assert (counts / 20000 - 1 / 8).abs().max() < 0.015


@pytest.mark.parametrize("make", [toy2d.SwissRoll, toy2d.TwoMoons])
def test_other_toys_are_bounded(make):
    x, _ = make().sample(2000, torch.Generator().manual_seed(0))
    assert x.shape == (2000, 2) and x.abs().max() < 2.0


def test_mode_coverage_counts_modes():
    mix = toy2d.ring8()
    x, y = mix.sample(2500, torch.Generator().manual_seed(0))
    full = mode_coverage(x, mix.means, mix.std)
    assert full["modes"] == 8 and full["high_quality"] > 0.98 and full["mode_kl"] < 0.01
    half = mode_coverage(x[y < 4], mix.means, mix.std)  # 4 modes only: KL to uniform = log 2
    assert half["modes"] == 4 and half["mode_kl"] == pytest.approx(math.log(2), abs=0.01)
    far = mode_coverage(torch.zeros(100, 2), mix.means, mix.std)  # the centre is 1 away from all
    assert far["modes"] == 0 and far["high_quality"] == 0 and far["mean_distance"] == pytest.approx(1.0)


def test_wasserstein1_closed_forms():
    from gankit.metrics.toy2d import wasserstein1

    x = torch.randn(300, 2, generator=torch.Generator().manual_seed(0))
    # translating a cloud by a vector v moves every point by |v|, and that plan is optimal: W1 = |v|
    assert wasserstein1(x, x + torch.tensor([3.0, 4.0])) == pytest.approx(5.0, rel=1e-6)
    assert wasserstein1(x, x) == pytest.approx(0.0, abs=1e-9)
    # two point masses: all mass moves between them
    assert wasserstein1(torch.zeros(4, 2), torch.ones(6, 2)) == pytest.approx(math.sqrt(2), rel=1e-9)


def test_user_point_sets_csv_and_npy(tmp_path):
    import numpy as np

    from gankit.config import DataConfig
    from gankit.data import load_dataset
    from gankit.errors import GankitError

    pts = np.array([[0.0, 1.0, 0], [2.0, 3.0, 1], [4.0, 5.0, 1]])
    np.savetxt(tmp_path / "p.csv", pts, delimiter=",")
    np.save(tmp_path / "p.npy", pts[:, :2])
    labelled = load_dataset(DataConfig(name="points", path=str(tmp_path / "p.csv")))
    assert labelled.num_classes == 2 and labelled.labels.tolist() == [0, 1, 1]
    x, y = labelled.sample(50, torch.Generator().manual_seed(0))
    assert set(map(tuple, x.tolist())) <= {(0.0, 1.0), (2.0, 3.0), (4.0, 5.0)}  # only the given points
    assert load_dataset(DataConfig(name="points", path=str(tmp_path / "p.npy"))).labels is None
    (tmp_path / "bad.csv").write_text("1,2\n3,nan\n")
    with pytest.raises(GankitError, match="NaN"):
        load_dataset(DataConfig(name="points", path=str(tmp_path / "bad.csv")))
    (tmp_path / "text.csv").write_text("a,b\nc,d\n")
    with pytest.raises(GankitError, match="could not be read"):
        load_dataset(DataConfig(name="points", path=str(tmp_path / "text.csv")))
