"""The original GAN losses against hand computation, and the saturation of the minimax G loss."""

import math

import pytest
import torch

from gankit.config import ObjectiveConfig
from gankit.objectives import OBJECTIVES, adversarial, make_objective

# Fixed logits; D = sigmoid(logit).
REAL = torch.tensor([2.0, 0.0, -1.0])
FAKE = torch.tensor([-3.0, 0.5])


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_d_loss_is_minus_the_value_function_by_hand():
    # V = mean(log D(x)) + mean(log(1 - D(G(z)))) with D = sigmoid, computed in plain floats.
    v = sum(math.log(sig(r)) for r in REAL.tolist()) / 3 + sum(math.log(1 - sig(f)) for f in FAKE.tolist()) / 2
    assert adversarial.value(REAL, FAKE).item() == pytest.approx(v, rel=1e-6)
    assert adversarial.d_loss(REAL, FAKE).item() == pytest.approx(-v, rel=1e-6)


def test_minimax_g_loss_is_mean_log_one_minus_d():
    expected = sum(math.log(1 - sig(f)) for f in FAKE.tolist()) / 2  # minimised by G: always < 0
    assert adversarial.minimax_g_loss(FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_ns_g_loss_is_minus_mean_log_d():
    expected = -sum(math.log(sig(f)) for f in FAKE.tolist()) / 2
    assert adversarial.ns_g_loss(FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_the_two_generator_losses_differ():
    # A peer's suite asserted both equal: they are not (they only share fixed points).
    assert adversarial.minimax_g_loss(FAKE).item() != pytest.approx(adversarial.ns_g_loss(FAKE).item(), abs=0.1)


def test_losses_stay_finite_for_huge_logits():
    # log(sigmoid(-100)) in float32 would be log(0) = -inf; the softplus form is exact: -100.
    big = torch.tensor([100.0, -100.0])
    assert torch.isfinite(adversarial.d_loss(big, -big))
    assert adversarial.ns_g_loss(torch.tensor([-100.0])).item() == pytest.approx(100.0, rel=1e-6)


def _grad_wrt_logit(loss_fn, logit: float) -> float:
    x = torch.tensor([logit], requires_grad=True)
    loss_fn(x).backward()
    return x.grad.item()


def test_minimax_saturates_and_ns_does_not():
    # d/dl log(1 - sigmoid(l)) = -sigmoid(l) -> 0 as D(G(z)) = sigmoid(l) -> 0;
    # d/dl -log sigmoid(l) = sigmoid(l) - 1 -> -1: the non-saturating gradient stays O(1).
    for logit in (-5.0, -10.0, -20.0):
        d = sig(logit)
        assert _grad_wrt_logit(adversarial.minimax_g_loss, logit) == pytest.approx(-d, rel=1e-4)
        assert _grad_wrt_logit(adversarial.ns_g_loss, logit) == pytest.approx(d - 1, rel=1e-4)
    assert abs(_grad_wrt_logit(adversarial.minimax_g_loss, -20.0)) < 1e-8
    assert abs(_grad_wrt_logit(adversarial.ns_g_loss, -20.0)) > 0.99


def test_value_at_d_one_half_is_minus_log_4():
    # D = 1/2 everywhere (logit 0) is the optimal D when p_g = p_data: V = -log 4 (Goodfellow 2014, Thm 1).
    zeros = torch.zeros(5)
    assert adversarial.value(zeros, zeros).item() == pytest.approx(-math.log(4), rel=1e-6)


@pytest.mark.parametrize("name", ["ns", "hinge", "fgan"])
def test_lipschitz_gp_is_added_to_any_objective_but_wgan_gp(name):
    plain = make_objective(ObjectiveConfig(name=name))
    with_gp = make_objective(ObjectiveConfig(name=name, lipschitz_gp=0.5))
    assert plain.penalties == () and len(with_gp.penalties) == 1
    D = torch.nn.Linear(3, 1)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[1.0, 2.0, 2.0]]))  # ||grad D|| = ||w|| = 3 at every interpolate
    x, y = torch.randn(5, 3), torch.randn(5, 3)
    # lambda (||grad|| - 1)^2 = 0.5 * (3 - 1)^2 = 2
    assert with_gp.penalties[0](D, x, y, 0).item() == pytest.approx(2.0)
    # wgan-gp has its own gp_lambda: lipschitz_gp does not add a second penalty
    assert len(make_objective(ObjectiveConfig(name="wgan-gp", lipschitz_gp=0.5)).penalties) == 1


def test_a_bounded_fgan_critic_squashes_its_output_before_the_activation():
    from gankit.objectives import fgan

    real, fake = torch.tensor([30.0, 0.5, -40.0]), torch.tensor([-2.0, 25.0])
    for div, form in (("kl", "alternative"), ("pearson", "saddle"), ("reverse-kl", "saddle")):
        cfg = ObjectiveConfig(name="fgan", divergence=div, g_form=form, critic_bound=5.0)
        bounded = make_objective(cfg)
        squash = lambda v: 5.0 * torch.tanh(v / 5.0)  # noqa: E731 -- values in (-5, 5)
        assert bounded.d_loss(real, fake).item() == pytest.approx(
            fgan.critic_loss(div, squash(real), squash(fake)).item(), rel=1e-6)
        assert bounded.g_loss(fake).item() == pytest.approx(
            fgan.generator_loss(div, squash(fake), form=form).item(), rel=1e-6)
        estimate = bounded.estimates(real, fake)["estimate/f_divergence"]
        assert estimate.item() == pytest.approx(fgan.bound(div, squash(real), squash(fake)).item(), rel=1e-6)
    # KL's e^{v - 1} at v = 25 is 2.6e10; bounded, the critic's loss stays below e^{5 - 1} = 54.6 per sample
    kl = make_objective(ObjectiveConfig(name="fgan", divergence="kl", critic_bound=5.0))
    assert kl.d_loss(real, fake).item() < 5 + math.exp(4)
    assert make_objective(ObjectiveConfig(name="fgan", divergence="kl")).d_loss(real, fake).item() > 1e10


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_every_objective_gives_scalar_losses_and_estimates(name):
    obj = make_objective(ObjectiveConfig(name=name))
    assert obj.d_loss(REAL, FAKE).shape == ()
    assert obj.g_loss(FAKE).shape == ()
    assert all(v.shape == () for v in obj.estimates(REAL, FAKE).values())


def test_wgan_hinge_and_ls_losses_by_hand():
    # REAL = [2, 0, -1] (mean 1/3), FAKE = [-3, 0.5] (mean -1.25)
    assert adversarial.wgan_d_loss(REAL, FAKE).item() == pytest.approx(-1.25 - 1 / 3)
    assert adversarial.wgan_g_loss(FAKE).item() == pytest.approx(1.25)
    assert adversarial.wgan_estimates(REAL, FAKE)["estimate/wasserstein"].item() == pytest.approx(1 / 3 + 1.25)
    # hinge: mean(relu(1 - r)) = (0 + 1 + 2) / 3 = 1; mean(relu(1 + f)) = (0 + 1.5) / 2 = 0.75
    assert adversarial.hinge_d_loss(REAL, FAKE).item() == pytest.approx(1.75)
    # ls: 1/2 mean((r - 1)^2) = 1/2 (1 + 1 + 4) / 3 = 1; 1/2 mean(f^2) = 1/2 (9 + 0.25) / 2 = 2.3125
    assert adversarial.ls_d_loss(REAL, FAKE).item() == pytest.approx(1 + 2.3125)
    # 1/2 mean((f - 1)^2) = 1/2 (16 + 0.25) / 2 = 4.0625
    assert adversarial.ls_g_loss(FAKE).item() == pytest.approx(4.0625)


def test_r1_is_added_to_any_objective_when_gamma_is_set():
    plain = make_objective(ObjectiveConfig(name="ns"))
    with_r1 = make_objective(ObjectiveConfig(name="ns", r1_gamma=10.0, r1_interval=4))
    assert plain.penalties == () and len(with_r1.penalties) == 1
    D = torch.nn.Linear(3, 1)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[1.0, 2.0, 2.0]]))  # ||w||^2 = 9
    x = torch.randn(5, 3)
    # lazy: at index 0 the weight is interval = 4, so gamma/2 * 4 * ||w||^2 = 5 * 4 * 9 = 180
    assert with_r1.penalties[0](D, x, x, 0).item() == pytest.approx(180.0)
    assert with_r1.penalties[0](D, x, x, 1) is None


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_every_objective_says_what_d_outputs_and_logs_its_estimate(name):
    # The Reading is readable without building, agrees with the built Objective, and the estimate's
    # key is one the objective's `estimates` really logs (a renamed log key fails here).
    import typing

    from gankit.objectives import DOutput, reading

    obj = make_objective(ObjectiveConfig(name=name, divergence="kl"))
    assert obj.d_output == reading(name).d_output and obj.d_output in typing.get_args(DOutput)
    if obj.estimate is not None:
        assert obj.estimate.key in obj.estimates(REAL, FAKE) and "{" not in obj.estimate.label


@pytest.mark.parametrize("name, d_output, key, reference", [
    ("minimax", "probability", "estimate/value", -math.log(4)),
    ("ns", "probability", "estimate/value", -math.log(4)),
    ("wgan", "critic", "estimate/wasserstein", None),
    ("wgan-gp", "critic", "estimate/wasserstein", None),
    ("fgan", "fgan", "estimate/f_divergence", None),
    ("hinge", "score", None, None),
    ("ls", "score", None, None),
])
def test_built_in_readings(name, d_output, key, reference):
    obj = make_objective(ObjectiveConfig(name=name, divergence="kl", r1_gamma=1.0))  # R1 keeps the reading
    assert obj.d_output == d_output
    assert (obj.estimate and obj.estimate.key) == key
    if obj.estimate:
        assert obj.estimate.reference == (pytest.approx(reference) if reference is not None else None)
    if name == "fgan":
        assert obj.estimate.label == "kl: lower bound on D_f"
