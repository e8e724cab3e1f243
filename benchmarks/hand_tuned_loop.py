"""A hand-tuned loop for the classic MLP recipe: the reference point of the performance issue ("data
resident as one tensor, no D weight gradients in the G step, `zero_grad(set_to_none=True)`").

The same model and math as gankit's engine on that recipe (benchmarks/throughput.py measures them side
by side): random-index batches from one resident tensor, real and fake through D in one pass, BCE on
logits (the non-saturating G loss), a fresh z for the G step, D's weights frozen in the G step, fused
Adam. Nothing else: no stats, no NaN checks, no schedules, no checkpoints. What gankit's engine loses
against this loop is what its generality costs.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn


def hand_tuned_step(G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                    real: torch.Tensor, z_d: torch.Tensor, z_g: torch.Tensor) -> None:
    """One D step on `real` and G(z_d), then one G step on G(z_g): gankit's d_step and g_step for the
    non-saturating loss, written out (tests/test_benchmarks.py checks they agree)."""
    ones, zeros = torch.ones(len(real), device=real.device), torch.zeros(len(real), device=real.device)
    with torch.no_grad():
        fake = G(z_d)
    real_out, fake_out = D(torch.cat([real, fake])).chunk(2)
    d_loss = F.binary_cross_entropy_with_logits(real_out, ones) + F.binary_cross_entropy_with_logits(fake_out, zeros)
    opt_D.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_D.step()
    D.requires_grad_(False)  # the G step computes no gradients for D's weights
    g_loss = F.binary_cross_entropy_with_logits(D(G(z_g)), ones)  # fake -> 1: the non-saturating loss
    opt_G.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_G.step()
    D.requires_grad_(True)


def train_hand_tuned(G: nn.Module, D: nn.Module, x: torch.Tensor, *, z_dim: int, batch_size: int = 64,
                     lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.999), seconds: float = 60.0,
                     warmup_batches: int = 20) -> dict:
    """Train on `x` (N, ...) float images in G's output range, on x's device, for `seconds` of wall time
    after `warmup_batches` iterations (a D step and a G step each). Returns images/s and counts."""
    opt_G = torch.optim.Adam(G.parameters(), lr=lr, betas=betas, fused=True)
    opt_D = torch.optim.Adam(D.parameters(), lr=lr, betas=betas, fused=True)
    device = x.device
    gen = torch.Generator(device).manual_seed(0)

    def iteration() -> None:
        real = x[torch.randint(len(x), (batch_size,), generator=gen, device=device)]
        hand_tuned_step(G, D, opt_G, opt_D, real, torch.randn(batch_size, z_dim, generator=gen, device=device),
                        torch.randn(batch_size, z_dim, generator=gen, device=device))

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(warmup_batches):
        iteration()
    sync()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        iteration()
        count += 1
    sync()
    timed = time.perf_counter() - start
    return {"img_per_s": count * batch_size / timed, "images": (warmup_batches + count) * batch_size,
            "seconds": timed}
