"""gankit.theory: Proposition 1 and Theorem 1 of Goodfellow et al. (2014) on known densities, the
divergences and W1 against closed forms, and the saturation of the minimax generator loss."""

import math

import pytest
import torch
from scipy import integrate, stats

from gankit.data import toy2d
from gankit.errors import GankitError
from gankit.theory import (
    Gaussian1D,
    Gaussian2D,
    Grid,
    Mixture1D,
    Tabulated,
    check_theorem1,
    entropy,
    generator_gradients,
    jsd,
    kl,
    optimal_discriminator,
    value,
    wasserstein1_1d,
    wasserstein1_2d_samples,
)

LINE = Grid.line(-15.0, 15.0, 3001)  # step 0.01; covers every 1D density below to > 7 std
LOG4 = math.log(4)


def _tabulated_on_line():
    """A skewed, non-Gaussian density known only by its values: a Gamma(3) shape shifted to start at -2."""
    x = LINE.points[:, 0] + 2
    return Tabulated(LINE, torch.where(x > 0, x.clamp_min(0) ** 2 * torch.exp(-x), torch.zeros_like(x)))


# ring8's std is 0.01: a step of 0.01 (= std) integrates each narrow mode to ~1e-8 (Grid's docstring),
# and the box ±2 holds all but ~1e-11 of the N(0, 0.3² I) it is compared with (6.7 std).
PLANE = Grid.plane((-2.0, 2.0, -2.0, 2.0), 401)

THEOREM1_CASES = {
    "two-gaussians": (Gaussian1D(0.0, 1.0), Gaussian1D(1.5, 0.7), LINE),
    "mixture-vs-gaussian": (Mixture1D([-2.0, 3.0], [0.5, 1.0], [0.3, 0.7]), Gaussian1D(0.5, 2.0), LINE),
    "ring8-vs-gaussian2d": (toy2d.ring8(), Gaussian2D([0.2, -0.1], [[0.09, 0.02], [0.02, 0.06]]), PLANE),
    "tabulated-vs-gaussian": (_tabulated_on_line(), Gaussian1D(1.0, 1.5), LINE),
}


# ---------------------------------------------------------------------------- densities


@pytest.mark.parametrize("density, grid", [
    (Gaussian1D(0.3, 0.2), LINE),
    (Mixture1D([-3.0, 0.0, 4.0], [0.3, 1.0, 2.0], [1.0, 2.0, 1.0]), LINE),
    (_tabulated_on_line(), LINE),
    (Gaussian2D([0.1, 0.2], [[0.1, -0.03], [-0.03, 0.08]]), PLANE),  # largest std 0.32: ±2 is 6 std
    (toy2d.ring8(), PLANE),
    (toy2d.grid25(), Grid.plane((-5.0, 5.0, -5.0, 5.0), 201)),  # step 0.05 = grid25's std
], ids=["gaussian1d", "mixture1d", "tabulated", "gaussian2d", "ring8", "grid25"])
def test_each_density_integrates_to_one_on_its_grid(density, grid):
    logp = density.log_prob(grid.points)
    assert logp.dtype == torch.float64 and logp.shape == (grid.points.shape[0],)
    assert grid.integrate(logp.exp()) == pytest.approx(1.0, abs=1e-6)


def test_log_probs_match_scipy():
    x = torch.linspace(-4, 4, 17, dtype=torch.float64)[:, None]
    assert torch.allclose(Gaussian1D(0.5, 1.5).log_prob(x), torch.from_numpy(stats.norm(0.5, 1.5).logpdf(x[:, 0])))
    mix = Mixture1D([-1.0, 2.0], [0.5, 1.0], [0.25, 0.75])
    ref = 0.25 * stats.norm(-1, 0.5).pdf(x[:, 0]) + 0.75 * stats.norm(2, 1).pdf(x[:, 0])
    assert torch.allclose(mix.log_prob(x), torch.from_numpy(ref).log())
    xy = torch.randn(20, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    mean, cov = [0.1, -0.2], [[0.5, 0.1], [0.1, 0.3]]
    ref = stats.multivariate_normal(mean, cov).logpdf(xy.numpy())
    assert torch.allclose(Gaussian2D(mean, cov).log_prob(xy), torch.from_numpy(ref))


def test_tabulated_is_piecewise_constant_and_zero_outside_the_grid():
    grid = Grid.line(0.0, 3.0, 4)  # points 0, 1, 2, 3; cells [-0.5, 3.5]
    tab = Tabulated(grid, torch.tensor([1.0, 2.0, 3.0, 2.0]))  # mass 8 -> normalised by 1/8
    x = torch.tensor([[0.0], [0.4], [1.6], [3.4], [3.6], [-0.6]], dtype=torch.float64)
    expected = torch.tensor([1 / 8, 1 / 8, 3 / 8, 2 / 8, 0.0, 0.0], dtype=torch.float64)
    assert torch.allclose(tab.log_prob(x).exp(), expected)
    # In 2D the flat index is row-major: point (x_i, y_j) is entry i * ny + j.
    plane = Grid.plane((0.0, 1.0, 0.0, 2.0), (2, 3))
    values = torch.zeros(6, dtype=torch.float64)
    values[1 * 3 + 2] = 1.0  # only (x=1, y=2)
    tab2 = Tabulated(plane, values)
    at = tab2.log_prob(torch.tensor([[1.0, 2.0], [0.0, 2.0]], dtype=torch.float64)).exp()
    assert at.tolist() == [1 / plane.cell, 0.0]


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf], ids=["negative", "nan", "inf"])
def test_tabulated_rejects_invalid_values(bad):
    values = torch.ones(LINE.points.shape[0], dtype=torch.float64)
    values[10] = bad
    with pytest.raises(GankitError, match="Tabulated"):
        Tabulated(LINE, values)


def test_invalid_parameters_and_grids_raise():
    for make in (lambda: Gaussian1D(0.0, 0.0), lambda: Mixture1D([0.0], [1.0], [-1.0]),
                 lambda: Gaussian2D([0, 0], [[1.0, 2.0], [2.0, 1.0]]), lambda: Grid.line(1.0, 0.0, 10),
                 lambda: Tabulated(LINE, torch.zeros(3001))):
        with pytest.raises(GankitError):
            make()
    # A grid whose step (0.1) is 10x ring8's std steps over its modes: the mass check refuses it.
    with pytest.raises(GankitError, match="mass"):
        jsd(toy2d.ring8(), Gaussian2D([0, 0], [[0.1, 0], [0, 0.1]]), Grid.plane((-2, 2, -2, 2), 41))
    with pytest.raises(GankitError, match="1D grid"):
        wasserstein1_1d(Gaussian2D([0, 0], [[1, 0], [0, 1]]), Gaussian2D([1, 0], [[1, 0], [0, 1]]), PLANE)


# ---------------------------------------------------------------------------- Proposition 1 and Theorem 1


@pytest.mark.parametrize("case", THEOREM1_CASES.values(), ids=THEOREM1_CASES.keys())
def test_theorem1_value_at_optimal_d_is_minus_log4_plus_2jsd(case):
    p, q, grid = case
    r = check_theorem1(p, q, grid)
    # Derivation: with D* = p / (p + q) and m = (p + q) / 2,
    #   V(D*) = ∫ p log(p / 2m) + ∫ q log(q / 2m) = -log 2 ∫ p - log 2 ∫ q + 2 JSD = -log 4 + 2 JSD
    # once both masses are 1: the check is that the grid captures both densities and that the three code
    # paths (logit form of V, value() on D* probabilities, JSD via logaddexp) agree.
    assert r["value_at_optimum"] == pytest.approx(r["minus_log4_plus_2jsd"], abs=1e-6)
    assert abs(r["difference"]) < 1e-6
    assert r["mass_p"] == pytest.approx(1.0, abs=1e-6) and r["mass_q"] == pytest.approx(1.0, abs=1e-6)
    d_star_logit = optimal_discriminator(p, q, grid, logits=True)
    assert value(p, q, d_star_logit, grid, logits=True) == pytest.approx(r["value_at_optimum"], abs=1e-12)
    assert 0 < r["jsd"] < math.log(2) and r["kl_pq"] > 0 and r["kl_qp"] > 0
    # The value lies in [-log 4, 0], since JSD is in [0, log 2].
    assert -LOG4 < r["value_at_optimum"] < 0


def test_jsd_matches_an_independent_quadrature():
    # scipy's adaptive quadrature of the JSD integrand, sharing no code with the grid sum.
    a, b = stats.norm(0, 1), stats.norm(1.5, 0.7)

    def integrand(x):
        pa, pb = a.pdf(x), b.pdf(x)
        m = (pa + pb) / 2
        return 0.5 * (pa * math.log(pa / m) if pa > 0 else 0) + 0.5 * (pb * math.log(pb / m) if pb > 0 else 0)

    ref = integrate.quad(integrand, -15, 15, points=[0, 1.5], limit=200)[0]
    assert jsd(Gaussian1D(0, 1), Gaussian1D(1.5, 0.7), LINE) == pytest.approx(ref, abs=1e-8)


def test_value_on_probabilities_matches_value_on_logits_until_d_saturates():
    # Equal stds: log p - log q = 1.125 - 1.5 x, at most 23.6 in size on LINE, so D* never rounds to 0 or 1.
    p, q = Gaussian1D(0.0, 1.0), Gaussian1D(1.5, 1.0)
    logit = optimal_discriminator(p, q, LINE, logits=True)
    assert torch.equal(torch.sigmoid(logit), optimal_discriminator(p, q, LINE))
    assert value(p, q, torch.sigmoid(logit), LINE) == pytest.approx(value(p, q, logit, LINE, logits=True), abs=1e-12)
    # Unequal stds: the logit is quadratic, D* rounds to exactly 1 in the tails where q is still > 0, and that
    # rounded D is worth -inf (log(1 - 1) weighted by q > 0): only the logit form gives the true V(D*, G).
    p, q = Gaussian1D(0.0, 1.0), Gaussian1D(1.5, 0.7)
    assert value(p, q, optimal_discriminator(p, q, LINE), LINE) == -math.inf
    assert math.isfinite(value(p, q, optimal_discriminator(p, q, LINE, logits=True), LINE, logits=True))


def test_when_q_equals_p_d_star_is_half_and_value_is_minus_log4():
    for p, _, grid in THEOREM1_CASES.values():
        d_star = optimal_discriminator(p, p, grid)
        assert torch.allclose(d_star, torch.full_like(d_star, 0.5))
        r = check_theorem1(p, p, grid)
        assert r["value_at_optimum"] == pytest.approx(-LOG4, abs=1e-6)
        assert r["jsd"] == pytest.approx(0.0, abs=1e-12) and r["kl_pq"] == pytest.approx(0.0, abs=1e-12)


def test_value_at_optimal_d_is_minimised_at_p_g_equals_p_data():
    # C(G_t) = V(D*, G_t) for q_t = N(t, 1) against p = N(0, 1): Theorem 1 says the global minimum -log 4
    # is reached only at t = 0; the JSD between translated Gaussians grows with |t| and is even in t.
    p = Gaussian1D(0.0, 1.0)
    ts = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0]
    c = {t: check_theorem1(p, Gaussian1D(t, 1.0), LINE)["value_at_optimum"] for t in ts}
    assert c[0.0] == pytest.approx(-LOG4, abs=1e-9)
    assert min(c, key=c.get) == 0.0
    assert c[0.0] < c[0.5] < c[1.0] < c[2.0]
    for t in (0.5, 1.0, 2.0):
        assert c[t] == pytest.approx(c[-t], abs=1e-9)


@pytest.mark.parametrize("case", THEOREM1_CASES.values(), ids=THEOREM1_CASES.keys())
def test_optimal_d_maximises_the_value(case):
    p, q, grid = case
    logit = optimal_discriminator(p, q, grid, logits=True)
    d_star = torch.sigmoid(logit)
    v_star = value(p, q, logit, grid, logits=True)
    # D = 1/2 everywhere gives exactly log ½ (∫ p + ∫ q) = -log 4, whatever p and q are.
    assert value(p, q, torch.full_like(d_star, 0.5), grid) == pytest.approx(-LOG4, abs=1e-6)
    assert v_star > -LOG4
    # Perturb D*'s logit by eps * h(x). D* is a stationary point (dV/dlogit = p (1 - D*) - q D* = 0), so the
    # loss in value is second order: gap(eps) ≈ eps² / 2 ∫ (p + q) D*(1 - D*) h², and halving eps divides it by 4.
    h = torch.sin(3 * grid.points.sum(dim=1))
    gaps = [v_star - value(p, q, logit + eps * h, grid, logits=True) for eps in (0.02, 0.01)]
    assert gaps[0] > 0 and gaps[1] > 0
    assert gaps[0] / gaps[1] == pytest.approx(4.0, rel=0.02)


def test_disjoint_supports_give_the_extremes():
    # Tabulated densities on disjoint halves of the line: D* is exactly 1 on p's half and 0 on q's, so
    # V(D*) = 0, JSD = log 2 and both KLs are infinite: the case where the JS gradient vanishes for G.
    x = LINE.points[:, 0]
    p = Tabulated(LINE, torch.where((x > -3) & (x < -1), 1.0, 0.0))
    q = Tabulated(LINE, torch.where((x > 1) & (x < 4), 1.0, 0.0))
    r = check_theorem1(p, q, LINE)
    assert r["value_at_optimum"] == pytest.approx(0.0, abs=1e-12)
    assert r["jsd"] == pytest.approx(math.log(2), abs=1e-12)
    assert r["kl_pq"] == math.inf and r["kl_qp"] == math.inf
    assert value(p, q, optimal_discriminator(p, q, LINE), LINE) == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------------------- divergences in closed form


@pytest.mark.parametrize("m1, s1, m2, s2", [(0.0, 1.0, 0.0, 1.0), (0.0, 1.0, 1.0, 1.0), (0.5, 0.6, -1.0, 2.0),
                                            (-1.0, 1.5, 1.0, 0.8)])
def test_kl_of_two_gaussians_matches_the_closed_form(m1, s1, m2, s2):
    # KL(N(m1, s1²) || N(m2, s2²)) = log(s2/s1) + (s1² + (m1 - m2)²) / (2 s2²) - ½
    expected = math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
    got = kl(Gaussian1D(m1, s1), Gaussian1D(m2, s2), LINE)
    assert got == pytest.approx(expected, abs=1e-8)
    assert got >= -1e-12


def test_kl_and_entropy_of_2d_gaussians_match_the_closed_form():
    # KL(N0 || N1) = ½ [tr(S1⁻¹ S0) + (m1 - m0)ᵀ S1⁻¹ (m1 - m0) - 2 + log(det S1 / det S0)];
    # H(N(m, S)) = ½ log((2πe)² det S).
    m0, s0 = torch.tensor([0.1, -0.2], dtype=torch.float64), torch.tensor([[0.1, 0.03], [0.03, 0.08]]).double()
    m1, s1 = torch.tensor([-0.2, 0.1], dtype=torch.float64), torch.tensor([[0.15, -0.02], [-0.02, 0.12]]).double()
    inv1, dm = torch.linalg.inv(s1), m1 - m0
    expected = 0.5 * (torch.trace(inv1 @ s0) + dm @ inv1 @ dm - 2 + torch.logdet(s1) - torch.logdet(s0))
    g0, g1 = Gaussian2D(m0, s0), Gaussian2D(m1, s1)
    assert kl(g0, g1, PLANE) == pytest.approx(float(expected), abs=1e-6)
    assert entropy(g0, PLANE) == pytest.approx(0.5 * math.log((2 * math.pi * math.e) ** 2 * float(torch.det(s0))),
                                               abs=1e-6)


@pytest.mark.parametrize("s", [0.3, 1.0, 2.0])
def test_entropy_of_a_gaussian(s):
    # H(N(0, s²)) = ½ log(2πe s²)
    assert entropy(Gaussian1D(0.0, s), LINE) == pytest.approx(0.5 * math.log(2 * math.pi * math.e * s**2), abs=1e-8)


def test_jsd_is_bounded_by_log2_and_reaches_it_for_far_apart_gaussians():
    near = jsd(Gaussian1D(0.0, 1.0), Gaussian1D(1.0, 1.0), LINE)
    far = jsd(Gaussian1D(-6.0, 0.5), Gaussian1D(6.0, 0.5), LINE)
    assert 0 < near < far <= math.log(2) + 1e-12
    # The overlap of N(±6, 0.5²) is ~Φ(-12) ≈ 2e-33, so JSD is log 2 to machine precision.
    assert far == pytest.approx(math.log(2), abs=1e-12)
    assert jsd(Gaussian1D(0.0, 1.0), Gaussian1D(1.0, 1.0), LINE) == pytest.approx(
        jsd(Gaussian1D(1.0, 1.0), Gaussian1D(0.0, 1.0), LINE), abs=1e-12)  # symmetric, unlike KL


# ---------------------------------------------------------------------------- Wasserstein-1


@pytest.mark.parametrize("m1, m2, s", [(0.0, 1.5, 1.0), (-2.0, 1.0, 0.5), (0.3, 0.3, 2.0)])
def test_w1_of_translated_gaussians_is_the_shift(m1, m2, s):
    # F_q(x) = F_p(x - (m2 - m1)), and ∫ |F_p(x) - F_p(x - c)| dx = |c| for any distribution (the area
    # between a CDF and its translate).
    assert wasserstein1_1d(Gaussian1D(m1, s), Gaussian1D(m2, s), LINE) == pytest.approx(abs(m2 - m1), abs=1e-6)


@pytest.mark.parametrize("s1, s2", [(1.0, 2.0), (0.5, 0.3), (1.5, 1.5)])
def test_w1_of_centred_gaussians_is_the_std_gap_times_mean_abs_normal(s1, s2):
    # In 1D the monotone coupling is optimal: X = s1 Z, Y = s2 Z with Z ~ N(0, 1), so
    # W1 = E |s1 - s2| |Z| = |s1 - s2| sqrt(2 / π).
    # The CDF quadrature errs by O(h²) where F_p - F_q changes sign (at 0 here), so this uses a step of 0.001.
    expected = abs(s1 - s2) * math.sqrt(2 / math.pi)
    fine = Grid.line(-12.0, 12.0, 24001)
    assert wasserstein1_1d(Gaussian1D(0.0, s1), Gaussian1D(0.0, s2), fine) == pytest.approx(expected, abs=1e-6)


def test_w1_of_2d_samples_is_the_translation_length():
    # For y_i = x_i + v, the identity coupling costs |v|, and no coupling costs less: by convexity of the norm
    # Σ π_ij |y_j - x_i| >= |Σ π_ij (y_j - x_i)| = |mean y - mean x| = |v|. So W1 = |v| exactly.
    x = toy2d.ring8().sample(200, torch.Generator().manual_seed(0))[0].double()
    v = torch.tensor([0.3, -0.4], dtype=torch.float64)
    assert wasserstein1_2d_samples(x, x + v) == pytest.approx(0.5, abs=1e-9)


# ---------------------------------------------------------------------------- saturation


def test_generator_gradients_analytic_matches_autograd():
    d = torch.tensor([1e-6, 1e-3, 0.1, 0.5, 0.9, 1 - 1e-6], dtype=torch.float64)
    g = generator_gradients(d)
    assert torch.allclose(g["minimax/autograd"], g["minimax/analytic"], rtol=1e-9, atol=0)
    assert torch.allclose(g["ns/autograd"], g["ns/analytic"], rtol=1e-6, atol=0)
    assert torch.allclose(g["minimax/analytic"], d) and torch.allclose(g["ns/analytic"], 1 - d)


def test_minimax_gradient_saturates_as_d_rejects_the_fakes():
    # |d log(1 - D) / dl| = D -> 0 and |d(-log D) / dl| = 1 - D -> 1 as D(G(z)) -> 0.
    d = torch.tensor([1e-1, 1e-3, 1e-6, 1e-9], dtype=torch.float64)
    g = generator_gradients(d)
    assert torch.allclose(g["minimax/autograd"], d, rtol=1e-9, atol=0)
    assert g["minimax/autograd"][-1] < 1e-8 and g["ns/autograd"][-1] == pytest.approx(1.0, abs=1e-8)
    assert bool((g["minimax/autograd"].diff() < 0).all()) and bool((g["ns/autograd"].diff() > 0).all())
    # At D = ½ the two losses push equally hard.
    half = generator_gradients(torch.tensor([0.5]))
    assert half["minimax/autograd"].item() == pytest.approx(half["ns/autograd"].item(), abs=1e-12)


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5], ids=["zero", "one", "above-one"])
def test_generator_gradients_rejects_d_outside_the_open_interval(bad):
    with pytest.raises(GankitError, match="strictly between 0 and 1"):
        generator_gradients(torch.tensor([0.5, bad]))
