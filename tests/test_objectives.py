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


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_every_objective_gives_scalar_losses_and_estimates(name):
    obj = make_objective(ObjectiveConfig(name=name))
    assert obj.d_loss(REAL, FAKE).shape == ()
    assert obj.g_loss(FAKE).shape == ()
    assert all(v.shape == () for v in obj.estimates(REAL, FAKE).values())
