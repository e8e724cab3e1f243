"""Gradient penalties on the discriminator, as pure functions of (D, real, fake).

WGAN-GP: Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Algorithm 1.
R1: Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually Converge?", Eq. 9.
Lazy regularisation: Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN", Sec. 3.1.

Every penalty is returned unscaled (the caller multiplies by lambda, or gamma / 2) and is built with
create_graph=True, so that `penalty.backward()` reaches D's weights through grad_x D.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["gradient_penalty", "r1_penalty", "lazy_weight"]


def _input_gradient(D: nn.Module, x: Tensor) -> Tensor:
    """grad_x D(x) per sample, kept in the autograd graph.

    Args:
        D: the discriminator; D(x) must give one score per sample, shape (N,) or (N, 1).
        x: (N, ...) input with requires_grad=True.

    Returns:
        (N, ...) gradient, same shape as x, with a graph back to D's parameters.
    """
    out = D(x)
    n = x.shape[0]
    # Summing over the batch gives each sample's own gradient only when D scores samples
    # independently and returns one score each. A D that already averages over the batch (a scalar)
    # would silently shrink every gradient by N, so refuse it.
    if out.numel() != n:
        raise ValueError(f"D must return one score per sample, shape ({n},) or ({n}, 1); got shape {tuple(out.shape)}")
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad


def gradient_penalty(
    D: nn.Module,
    real: Tensor,
    fake: Tensor,
    *,
    generator: torch.Generator | None = None,
    target: float = 1.0,
) -> Tensor:
    """The WGAN-GP penalty, E[(||grad D(x_hat)||_2 - target)^2] on random interpolates x_hat.

    x_hat = eps * real + (1 - eps) * fake with ONE eps ~ U[0, 1] per sample, so every x_hat lies on
    the segment from fake_i to real_i (Gulrajani et al. 2017, Algorithm 1, line 6). The norm is taken
    over all non-batch dimensions at once: the 1-Lipschitz constraint is on D as a function of the
    whole image, not of each channel or row.

    Args:
        D: discriminator (critic); D(x) has shape (N,) or (N, 1).
        real: (N, ...) real samples.
        fake: (N, ...) generated samples, same shape; may be detached (it is detached here anyway).
        generator: draws eps when given, for reproducible penalties; must live on real's device.
            Without it eps comes from torch's global RNG.
        target: the gradient norm the penalty pulls towards (1 for WGAN-GP).

    Returns:
        Scalar tensor >= 0, unscaled (the caller multiplies by lambda, 10 in the paper), differentiable
        w.r.t. D's parameters.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape; got {tuple(real.shape)} and {tuple(fake.shape)}")
    if generator is not None and generator.device.type != real.device.type:
        raise ValueError(f"generator is on {generator.device} but real is on {real.device}; they must match")

    # eps: (N, 1, 1, ...) so it broadcasts over every non-batch dim: one weight per sample.
    # A per-pixel eps (shape of real) would put x_hat off the segment between real_i and fake_i.
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(eps_shape, generator=generator, device=real.device, dtype=real.dtype)
    # Detached on both ends: the penalty regularises D only, so there is no reason to carry a graph
    # back into G (or the data pipeline); x_hat becomes a fresh leaf we differentiate against.
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)

    grad = _input_gradient(D, x_hat)  # (N, ...)
    norm = torch.linalg.vector_norm(grad.flatten(1), ord=2, dim=1)  # (N,): over ALL non-batch dims
    return ((norm - target) ** 2).mean()


def r1_penalty(D: nn.Module, real: Tensor) -> Tensor:
    """The R1 penalty, E_real[||grad_x D(x)||^2], on real data only (Mescheder et al. 2018, Eq. 9).

    Penalising the gradient on the data keeps D flat where p_data lives, which is what makes the
    simultaneous-gradient dynamics converge locally near the Nash equilibrium.

    Args:
        D: discriminator; D(x) has shape (N,) or (N, 1) (logits, before any sigmoid).
        real: (N, ...) real samples; they are detached here, never modified.

    Returns:
        Scalar tensor >= 0: the batch mean of the squared norm over all non-batch dims. Unscaled: the
        regulariser in the paper is gamma / 2 times this. Differentiable w.r.t. D's parameters.
    """
    x = real.detach().requires_grad_(True)
    grad = _input_gradient(D, x)  # (N, ...)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


def lazy_weight(step: int, interval: int) -> float:
    """Weight of a lazily applied penalty at D step `step` (Karras et al. 2020, Sec. 3.1).

    The penalty is computed only every `interval` steps (saving most of its double-backward cost)
    and then multiplied by `interval`, so that summed over any `interval` consecutive steps it
    weighs exactly as much as a penalty applied at every step.

    Args:
        step: D step counter, from 0; step 0 applies the penalty.
        interval: apply every `interval` steps; interval <= 1 means every step.

    Returns:
        float(interval) when step % interval == 0, else 0.0; 1.0 at every step when interval <= 1.
    """
    if interval <= 1:
        return 1.0
    return float(interval) if step % interval == 0 else 0.0
