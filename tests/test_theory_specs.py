"""gankit.theory.specs and the samplers: the --data / --model syntax, the grid chosen for a pair, density
tables, and sampling from every theory density (the trained discriminators and critics learn from samples)."""

import math

import numpy as np
import pytest
import torch

from gankit.data import toy2d
from gankit.errors import GankitError
from gankit.theory import Blend, Gaussian1D, Gaussian2D, Grid, Mixture1D, Tabulated, check_theorem1, grid_for
from gankit.theory.specs import parse_density, read_table

# ---------------------------------------------------------------------------- parsing


def test_gaussian_specs_in_1d_and_2d():
    g = parse_density("gaussian:mean=0.5,std=1.2")
    assert isinstance(g, Gaussian1D) and (g.mean, g.std) == (0.5, 1.2)
    assert (parse_density("gaussian").mean, parse_density("gaussian").std) == (0.0, 1.0)  # the defaults
    g2 = parse_density("gaussian:mean=0.2;0.1,std=0.5")
    assert isinstance(g2, Gaussian2D)
    assert g2.mean.tolist() == [0.2, 0.1] and torch.allclose(g2.cov, 0.25 * torch.eye(2, dtype=torch.float64))
    # cov = [[sx², ρ sx sy], [ρ sx sy, sy²]] with sx = 0.5, sy = 0.2, ρ = 0.4: off-diagonal 0.04
    g3 = parse_density("gaussian:mean=0;0,std=0.5;0.2,corr=0.4")
    assert torch.allclose(g3.cov, torch.tensor([[0.25, 0.04], [0.04, 0.04]], dtype=torch.float64))


def test_mixture_and_dataset_specs():
    m = parse_density("mixture:means=-2;3,stds=0.5;1,weights=1;3")
    assert isinstance(m, Mixture1D)
    assert m.means.tolist() == [-2.0, 3.0] and m.stds.tolist() == [0.5, 1.0] and m.weights.tolist() == [0.25, 0.75]
    assert parse_density("mixture:means=-2;2,stds=0.5").stds.tolist() == [0.5, 0.5]  # one std for every mean
    ring = parse_density("ring8")
    assert isinstance(ring, toy2d.GaussianMixture) and ring.std == 0.01 and ring.num_modes == 8
    # The exact log density of gankit.data's ring8, not a copy: same means, same values.
    x = torch.randn(5, 2, dtype=torch.float64)
    assert torch.equal(ring.log_prob(x), toy2d.ring8().log_prob(x))
    wide = parse_density("ring8:radius=2,std=0.05")
    assert wide.std == 0.05 and torch.allclose(wide.means.norm(dim=1), torch.full((8,), 2.0))
    assert parse_density("grid25:std=0.1").std == 0.1 and parse_density("grid25").num_modes == 25


@pytest.mark.parametrize("spec, message", [
    ("gauss:mean=0", "unknown density 'gauss'.*valid choices: gaussian, mixture, ring8, grid25, table"),
    ("gaussian:mean=0,sd=1", "'sd=1' is not KEY=VALUE with KEY one of mean, std, corr"),
    ("gaussian:mean", "'mean' is not KEY=VALUE"),
    ("gaussian:mean=abc", "mean='abc' is not a number"),
    ("gaussian:mean=inf", "must be finite"),
    ("gaussian:std=-1", "std > 0"),
    ("gaussian:mean=0;0;0", "mean needs 1 number .1D. or 2 .2D., got 3"),
    ("gaussian:mean=0,corr=0.5", "a 1D gaussian takes one std and no corr"),
    ("gaussian:mean=0;0,corr=1", "-1 < corr < 1"),
    ("gaussian:mean=0,mean=1", "mean is given twice"),
    ("mixture:stds=1", "a mixture needs means"),
    ("mixture:means=0;1;2,stds=1;2", "stds needs 1 or 3 numbers, got 2"),
    ("ring8:std=0", "std must be one number > 0"),
    ("table:path=/no/such/file.csv", "does not exist"),
    ("table", "a table needs path=FILE"),
])
def test_bad_specs_raise_one_line_errors_naming_the_fix(spec, message):
    with pytest.raises(GankitError, match=message) as info:
        parse_density(spec)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------- the grid for a pair


@pytest.mark.parametrize("data, model", [
    ("gaussian:mean=0,std=1", "gaussian:mean=3,std=0.2"),
    ("mixture:means=-5;0;5,stds=0.1;1;2", "gaussian:mean=0,std=4"),
    ("gaussian:mean=0.2;0.1,std=0.5;0.3,corr=0.8", "gaussian:mean=0;0,std=0.4"),  # narrow rotated axis: std 0.17
    ("ring8", "gaussian:mean=0.2;0.1,std=0.5"),
    ("grid25", "gaussian:mean=0;0,std=2"),
])
def test_the_chosen_grid_integrates_both_densities_so_theorem1_holds_to_1e6(data, model):
    p, q = parse_density(data), parse_density(model)
    r = check_theorem1(p, q, grid_for(p, q))
    # The Theorem 1 difference is log 2 (mass_p + mass_q - 2) plus rounding (check_theorem1's docstring); the grid
    # is built for masses within ~1e-8 of 1 (6-10 std margins, a step no larger than the narrowest std).
    assert r["mass_p"] == pytest.approx(1.0, abs=1e-7) and r["mass_q"] == pytest.approx(1.0, abs=1e-7)
    assert abs(r["difference"]) < 1e-6


def test_grid_errors_name_the_problem():
    with pytest.raises(GankitError, match="p_data is 2D but p_g is 1D"):
        grid_for(parse_density("ring8"), parse_density("gaussian"))
    with pytest.raises(GankitError, match="need a .* grid"):  # std 0.01 over a box of ±12: 2,400 points per axis
        grid_for(parse_density("ring8"), parse_density("gaussian:mean=0;0,std=2"))
    g = grid_for(parse_density("ring8"), parse_density("gaussian:mean=0;0,std=2"), points=101)
    assert g.shape == (101, 101)


# ---------------------------------------------------------------------------- tables


def test_a_table_in_any_row_order_is_the_tabulated_density(tmp_path):
    grid = Grid.line(-6.0, 6.0, 1201)
    x = grid.points[:, 0]
    values = torch.exp(-x.abs()) * (1 + 0.5 * torch.sin(3 * x))  # Laplace-like, not normalised, >= 0
    rows = torch.stack([x, values], dim=1).numpy()[np.random.default_rng(0).permutation(1201)]
    np.savetxt(tmp_path / "d.csv", rows, delimiter=",")
    from_file = parse_density(f"table:path={tmp_path / 'd.csv'}")
    direct = Tabulated(grid, values)
    assert torch.allclose(from_file.density, direct.density, rtol=1e-12, atol=0)
    assert grid_for(from_file, Gaussian1D(0, 1)).shape == (1201,)  # a table fixes the grid


def test_a_2d_table_from_npy_keeps_the_row_major_order(tmp_path):
    plane = Grid.plane((-1.0, 1.0, -2.0, 2.0), (21, 41))
    g = Gaussian2D([0.1, -0.3], [[0.2, 0.05], [0.05, 0.5]])
    values = g.log_prob(plane.points).exp()
    rows = torch.cat([plane.points, values[:, None]], dim=1).numpy()[::-1].copy()  # reversed rows
    np.save(tmp_path / "d.npy", rows)
    tab = read_table(str(tmp_path / "d.npy"))
    assert tab.grid.shape == (21, 41)
    assert torch.allclose(tab.log_prob(plane.points), Tabulated(plane, values).log_prob(plane.points), atol=1e-12)


def test_irregular_tables_are_refused(tmp_path):
    np.savetxt(tmp_path / "bad.csv", np.array([[0.0, 1.0], [1.0, 1.0], [3.0, 1.0]]), delimiter=",")
    with pytest.raises(GankitError, match="regular grid"):
        read_table(str(tmp_path / "bad.csv"))
    np.savetxt(tmp_path / "holes.csv", np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]), delimiter=",")
    with pytest.raises(GankitError, match="do not fill the 2 x 2 grid"):
        read_table(str(tmp_path / "holes.csv"))


# ---------------------------------------------------------------------------- sampling


def _gen():
    return torch.Generator().manual_seed(0)


def test_samples_have_the_densities_moments():
    # n = 200,000: the standard error of a mean is std / 447, so 5e-3 tolerances are > 4 standard errors.
    n = 200_000
    x = Gaussian1D(0.5, 2.0).sample(n, _gen())[0]
    assert x.shape == (n, 1) and x.dtype == torch.float64
    assert float(x.mean()) == pytest.approx(0.5, abs=0.02) and float(x.std()) == pytest.approx(2.0, abs=0.02)
    cov = torch.tensor([[0.2, 0.05], [0.05, 0.5]], dtype=torch.float64)
    y = Gaussian2D([0.1, -0.3], cov).sample(n, _gen())[0]
    assert torch.allclose(y.mean(0), torch.tensor([0.1, -0.3], dtype=torch.float64), atol=5e-3)
    assert torch.allclose(torch.cov(y.T), cov, atol=5e-3)
    # Mixture 0.25 N(-2, 0.5²) + 0.75 N(3, 1): mean 0.25 (-2) + 0.75 (3) = 1.75, and label 1 with frequency 0.75.
    m, labels = Mixture1D([-2.0, 3.0], [0.5, 1.0], [1.0, 3.0]).sample(n, _gen())
    assert float(m.mean()) == pytest.approx(1.75, abs=0.02)
    assert float(labels.double().mean()) == pytest.approx(0.75, abs=5e-3)


def test_tabulated_and_blend_samples_follow_their_densities():
    # Tabulated: a point lands in cell i with probability density_i * cell; here 3 cells of masses 1/6, 2/6, 3/6.
    tab = Tabulated(Grid.line(0.0, 2.0, 3), torch.tensor([1.0, 2.0, 3.0]))
    x = tab.sample(60_000, _gen())[0][:, 0]
    cell = torch.round(x).long()
    assert bool(((x - cell).abs() <= 0.5).all())  # uniform within the cell [i - 1/2, i + 1/2]
    freq = torch.bincount(cell, minlength=3).double() / len(x)
    assert torch.allclose(freq, torch.tensor([1 / 6, 2 / 6, 3 / 6], dtype=torch.float64), atol=0.01)
    # Blend: a fraction t from q. With p = N(-5, 0.1²), q = N(5, 0.1²) the sign tells them apart.
    b = Blend(Gaussian1D(-5, 0.1), Gaussian1D(5, 0.1), 0.3).sample(60_000, _gen())[0]
    assert float((b > 0).double().mean()) == pytest.approx(0.3, abs=0.01)


def test_blend_log_prob_is_the_mixture_and_its_ends_are_p_and_q():
    p, q = Gaussian1D(0, 1), Mixture1D([-1.0, 2.0], [0.5, 0.7])
    x = torch.linspace(-4, 4, 9, dtype=torch.float64)[:, None]
    assert torch.equal(Blend(p, q, 0.0).log_prob(x), p.log_prob(x))
    assert torch.equal(Blend(p, q, 1.0).log_prob(x), q.log_prob(x))
    expected = (0.7 * p.log_prob(x).exp() + 0.3 * q.log_prob(x).exp()).log()
    assert torch.allclose(Blend(p, q, 0.3).log_prob(x), expected, rtol=1e-12, atol=0)
    with pytest.raises(GankitError, match=r"t in \[0, 1\]"):
        Blend(p, q, 1.5)


def test_entropy_of_ring8_from_its_spec_matches_the_closed_form():
    # Modes 1.41 apart at std 0.01 do not overlap: H = log 8 + H(N(0, s² I)) = log 8 + log(2πe s²).
    p, q = parse_density("ring8"), parse_density("gaussian:mean=0;0,std=0.4")
    r = check_theorem1(p, q, grid_for(p, q))
    assert r["entropy_p"] == pytest.approx(math.log(8) + math.log(2 * math.pi * math.e * 1e-4), abs=1e-6)
