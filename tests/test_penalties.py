"""Gradient penalties against closed forms: linear and quadratic critics have known input gradients.

A linear critic D(x) = w . flatten(x) + b has grad_x D = w everywhere; a quadratic critic
D(x) = ||flatten(x)||^2 / 2 has grad_x D = x. Both let every expected value be derived by hand.
"""

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from gankit.objectives.penalties import gradient_penalty, lazy_weight, r1_penalty

SHAPE = (1, 4, 4)  # one image-shaped sample: (C, H, W)


class LinearCritic(nn.Module):
    """D(x) = w . flatten(x) + b, returning (N,) or, with keepdim, (N, 1)."""

    def __init__(self, w: torch.Tensor, b: float = 0.5, keepdim: bool = False):
        super().__init__()
        self.w = nn.Parameter(w.flatten().clone())
        self.b = nn.Parameter(torch.tensor(b, dtype=w.dtype))
        self.keepdim = keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x.flatten(1) @ self.w + self.b  # (N,)
        return out[:, None] if self.keepdim else out


class QuadraticCritic(nn.Module):
    """D(x) = ||flatten(x)||^2 / 2 per sample, so grad_x D = x; remembers the last input it saw."""

    def __init__(self):
        super().__init__()
        self.seen: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x.detach().clone()
        return x.flatten(1).pow(2).sum(dim=1) / 2


def mlp_critic(dtype: torch.dtype = torch.float32) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 1)).to(dtype)


def batch(n: int, seed: int) -> torch.Tensor:
    return torch.randn((n, *SHAPE), generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------------------------------
# gradient_penalty: closed forms with a linear critic


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("keepdim", [False, True])
def test_gp_is_zero_for_a_unit_norm_linear_critic(seed, keepdim):
    # grad D = w everywhere and ||w|| = 1, so (||w|| - 1)^2 = 0 whatever real, fake and eps are.
    w = torch.randn(SHAPE, generator=torch.Generator().manual_seed(10 + seed))
    D = LinearCritic(w / w.norm(), keepdim=keepdim)
    gp = gradient_penalty(D, batch(8, seed), batch(8, 100 + seed))
    assert gp.item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("shape", [(1, 4, 4), (2, 4, 4)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_gp_is_four_for_a_norm_three_linear_critic(shape, keepdim):
    # ||w|| = 3 everywhere, so every sample contributes (3 - 1)^2 = 4 and so does the mean.
    w = torch.randn(shape, generator=torch.Generator().manual_seed(3))
    D = LinearCritic(3 * w / w.norm(), keepdim=keepdim)
    real = torch.randn((8, *shape), generator=torch.Generator().manual_seed(4))
    fake = torch.randn((8, *shape), generator=torch.Generator().manual_seed(5))
    assert gradient_penalty(D, real, fake).item() == pytest.approx(4.0, rel=1e-5)
    # target moves the minimum: (3 - 3)^2 = 0 and (3 - 0)^2 = 9.
    assert gradient_penalty(D, real, fake, target=3.0).item() == pytest.approx(0.0, abs=1e-5)
    assert gradient_penalty(D, real, fake, target=0.0).item() == pytest.approx(9.0, rel=1e-5)


def test_gp_norm_is_over_all_non_batch_dims_not_per_channel_or_row():
    # Shape (2, 4, 4): 32 entries, each 3 / sqrt(32), so ||w|| = 3 and the right penalty is 4.
    # Per-channel norms: sqrt(16) * 3 / sqrt(32) = 2.121 -> (2.121 - 1)^2 = 1.257.
    # Per-row norms:     sqrt(4)  * 3 / sqrt(32) = 1.061 -> (1.061 - 1)^2 = 0.0037.
    shape = (2, 4, 4)
    w = torch.full(shape, 3 / math.sqrt(32))
    D = LinearCritic(w)
    real, fake = torch.randn((6, *shape)), torch.randn((6, *shape))

    per_channel = ((w.flatten(1).norm(dim=1) - 1) ** 2).mean().item()  # the bug: norm over (H, W) only
    per_row = ((w.norm(dim=-1) - 1) ** 2).mean().item()  # the bug: norm over W only
    assert per_channel == pytest.approx((math.sqrt(16) * 3 / math.sqrt(32) - 1) ** 2, rel=1e-5)
    assert per_row == pytest.approx((math.sqrt(4) * 3 / math.sqrt(32) - 1) ** 2, rel=1e-5)

    gp = gradient_penalty(D, real, fake).item()
    assert gp == pytest.approx(4.0, rel=1e-5)
    assert abs(gp - per_channel) > 2.0 and abs(gp - per_row) > 3.9


# ---------------------------------------------------------------------------------------------------------------------
# gradient_penalty: one interpolation weight per sample


def test_gp_interpolates_lie_on_the_segment_with_one_eps_per_sample():
    # x_hat_i - fake_i = eps_i (real_i - fake_i): dividing pixel-wise recovers eps, which must be one
    # number per sample, in [0, 1]. A per-pixel eps gives 16 different ratios within each sample.
    n = 8
    real, fake = batch(n, 0), batch(n, 1)
    # Keep every pixel's difference away from 0 so the pixel-wise ratio is well conditioned.
    fake = torch.where((real - fake).abs() < 0.1, real + 1.0, fake)
    D = QuadraticCritic()
    gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(0))

    ratio = ((D.seen - fake) / (real - fake)).flatten(1)  # (N, 16): eps per pixel
    eps = ratio[:, :1]  # (N, 1)
    torch.testing.assert_close(ratio, eps.expand_as(ratio), rtol=0, atol=1e-5)
    assert bool(((eps >= 0) & (eps <= 1)).all())
    # One weight per sample, not one per batch: eight draws of U[0, 1] are not all equal.
    assert eps.std().item() > 0.05


def test_gp_matches_the_per_sample_expectation_for_a_quadratic_critic():
    # grad D(x_hat) = x_hat. With fake = 0 and every pixel of real equal to c = sqrt(3) / 4,
    # ||real_i|| = sqrt(16) c = sqrt(3) =: R, and x_hat_i = eps_i real_i, so ||grad|| = eps_i R.
    # Per-sample eps ~ U[0, 1]: E(eps R - 1)^2 = R^2 E[eps^2] - 2 R E[eps] + 1 = R^2 / 3 - R + 1 = 2 - sqrt(3) = 0.268.
    # Per-pixel eps instead: ||x_hat_i|| = c sqrt(sum_j eps_j^2) concentrates at c sqrt(16 / 3) = 1, penalty ~0.01.
    # Monte Carlo with N = 20000: the standard error is sqrt(Var / N) = sqrt(0.068 / 20000) = 0.002.
    n = 20000
    real = torch.full((n, *SHAPE), math.sqrt(3) / 4)
    fake = torch.zeros_like(real)
    gp = gradient_penalty(QuadraticCritic(), real, fake, generator=torch.Generator().manual_seed(0)).item()
    assert gp == pytest.approx(2 - math.sqrt(3), abs=0.01)

    # The per-pixel bug, written out, lands far away from it.
    eps_pixel = torch.rand(real.shape, generator=torch.Generator().manual_seed(0))
    x_hat = eps_pixel * real + (1 - eps_pixel) * fake
    wrong = ((x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean().item()
    assert abs(wrong - gp) > 0.2


# ---------------------------------------------------------------------------------------------------------------------
# gradient_penalty: reproducibility, gradients, inputs


def test_gp_is_reproducible_with_a_generator_and_varies_across_seeds():
    D = mlp_critic()
    real, fake = batch(16, 0), batch(16, 1)

    def gp(seed: int) -> torch.Tensor:
        return gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(gp(7), gp(7))
    assert abs(gp(7).item() - gp(8).item()) > 1e-6

    # Drawing from an explicit generator leaves the global RNG where it was.
    state = torch.get_rng_state()
    gp(7)
    assert torch.equal(torch.get_rng_state(), state)


def test_gp_backpropagates_into_d_weights():
    D = mlp_critic()
    gp = gradient_penalty(D, batch(16, 0), batch(16, 1), generator=torch.Generator().manual_seed(0))
    assert gp.item() > 0
    gp.backward()
    _, lin1, _, lin2 = D
    for p in (lin1.weight, lin1.bias, lin2.weight):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    # The output bias shifts D by a constant: it never enters grad_x D, so it gets no gradient.
    assert lin2.bias.grad is None


def test_gp_gradient_wrt_d_weights_matches_finite_differences():
    # Checks the create_graph path end to end: d penalty / d W1 by autograd == by finite differences.
    D = mlp_critic(torch.float64)
    real, fake = batch(4, 0).double(), batch(4, 1).double()
    params = dict(D.named_parameters())

    def penalty_of(w1: torch.Tensor) -> torch.Tensor:
        critic = lambda x: functional_call(D, {**params, "1.weight": w1}, (x,))  # noqa: E731
        return gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))

    w1 = params["1.weight"].detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(penalty_of, (w1,))


def test_gp_does_not_reach_the_generator_nor_modify_inputs():
    G = nn.Linear(4, 16)
    fake = G(torch.randn(8, 4)).view(8, *SHAPE)  # still attached to G's graph
    real = batch(8, 0)
    real_before, fake_before = real.clone(), fake.detach().clone()
    gradient_penalty(mlp_critic(), real, fake).backward()
    assert G.weight.grad is None  # the penalty regularises D only
    assert torch.equal(real, real_before) and torch.equal(fake.detach(), fake_before)
    assert not real.requires_grad


def test_gp_rejects_mismatched_shapes_and_batch_averaged_critics():
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(mlp_critic(), batch(8, 0), batch(4, 1))
    with pytest.raises(ValueError, match="one score per sample"):
        gradient_penalty(lambda x: mlp_critic()(x).mean(), batch(8, 0), batch(8, 1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gp_draws_eps_on_the_device_of_real():
    w = torch.randn(SHAPE, device="cuda")
    D = LinearCritic(3 * w / w.norm())
    real, fake = torch.randn((8, *SHAPE), device="cuda"), torch.randn((8, *SHAPE), device="cuda")
    gp = gradient_penalty(D, real, fake, generator=torch.Generator(device="cuda").manual_seed(0))
    assert gp.device.type == "cuda" and gp.item() == pytest.approx(4.0, rel=1e-5)
    with pytest.raises(ValueError, match="generator is on"):
        gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(0))


# ---------------------------------------------------------------------------------------------------------------------
# r1_penalty


def test_r1_of_a_linear_critic_is_squared_norm_of_w_and_its_gradient_is_2w():
    # grad_x D = w for every sample, so R1 = ||w||^2, and d R1 / d w = 2 w exactly.
    w = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    D = LinearCritic(w)
    r1 = r1_penalty(D, batch(8, 1))
    assert r1.item() == pytest.approx(w.pow(2).sum().item(), rel=1e-5)
    r1.backward()
    torch.testing.assert_close(D.w.grad, 2 * D.w.detach())
    assert D.b.grad is None  # the bias never enters grad_x D


def test_r1_of_a_quadratic_critic_is_mean_squared_norm_of_the_data():
    # grad_x D(x_i) = x_i, so R1 = mean_i ||x_i||^2 over all 16 pixels of each sample.
    real = batch(8, 0)
    expected = sum(real[i].pow(2).sum().item() for i in range(8)) / 8
    assert r1_penalty(QuadraticCritic(), real).item() == pytest.approx(expected, rel=1e-5)


def test_r1_evaluates_d_on_the_real_data_itself_and_leaves_it_untouched():
    real = batch(8, 0)
    before = real.clone()
    D = QuadraticCritic()
    r1_penalty(D, real)
    assert torch.equal(D.seen, real)  # no interpolation, no noise: exactly the real batch
    assert torch.equal(real, before) and not real.requires_grad and real.grad is None


def test_r1_backpropagates_into_d_weights():
    D = mlp_critic()
    r1 = r1_penalty(D, batch(16, 0))
    assert r1.item() > 0
    r1.backward()
    _, lin1, _, lin2 = D
    for p in (lin1.weight, lin1.bias, lin2.weight):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_r1_rejects_batch_averaged_critics():
    with pytest.raises(ValueError, match="one score per sample"):
        r1_penalty(lambda x: mlp_critic()(x).mean(), batch(8, 0))


# ---------------------------------------------------------------------------------------------------------------------
# lazy_weight


def test_lazy_weight_every_fourth_step_scaled_by_four():
    weights = [lazy_weight(step, 4) for step in range(16)]
    assert weights == [4.0, 0.0, 0.0, 0.0] * 4
    # 16 steps with the penalty applied at full strength each would sum to 16: the average is kept.
    assert sum(weights) == 16


@pytest.mark.parametrize("interval", [2, 3, 5, 16])
def test_lazy_weight_keeps_the_average_strength(interval):
    steps = 3 * interval
    weights = [lazy_weight(step, interval) for step in range(steps)]
    assert sum(weights) == steps
    assert sum(w > 0 for w in weights) == 3  # applied on steps 0, interval, 2 * interval only


@pytest.mark.parametrize("interval", [1, 0, -3])
def test_lazy_weight_interval_at_most_one_means_every_step(interval):
    assert [lazy_weight(step, interval) for step in range(5)] == [1.0] * 5
