"""Objectives: a registry of `Objective`s, each a set of pure functions of D's outputs.

A loss never owns an optimizer; models never branch on the loss (DESIGN.md, principle 2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from gankit.config import ObjectiveConfig
from gankit.objectives import adversarial
from gankit.registry import Registry

Tensor = torch.Tensor


@dataclass(frozen=True)
class Objective:
    """d_loss(real_out, fake_out) and g_loss(fake_out) are minimised; `estimates` returns the
    quantities D's outputs estimate (logged as scalars)."""

    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    estimates: Callable[[Tensor, Tensor], dict[str, Tensor]]


OBJECTIVES: Registry[Callable[[ObjectiveConfig], Objective]] = Registry("objective")


@OBJECTIVES.register("minimax", "the original game; G minimises E log(1 - D(G(z))) (saturates)")
def _minimax(cfg: ObjectiveConfig) -> Objective:
    return Objective(adversarial.d_loss, adversarial.minimax_g_loss, adversarial.gan_estimates)


@OBJECTIVES.register("ns", "non-saturating GAN; G minimises -E log D(G(z))")
def _ns(cfg: ObjectiveConfig) -> Objective:
    return Objective(adversarial.d_loss, adversarial.ns_g_loss, adversarial.gan_estimates)


def make_objective(cfg: ObjectiveConfig) -> Objective:
    return OBJECTIVES.get(cfg.name)(cfg)
