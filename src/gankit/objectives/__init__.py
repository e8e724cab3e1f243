"""Objectives: a registry of `Objective`s, each a set of pure functions of D's outputs, plus
optional penalties on D and weight clipping.

A loss never owns an optimizer; models never branch on the loss (DESIGN.md, principle 2).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from gankit.config import ObjectiveConfig
from gankit.objectives import adversarial, fgan, penalties
from gankit.registry import Registry

Tensor = torch.Tensor
# A penalty gets D, the real and fake batches and the index of this D update; it returns the
# weighted scalar to add to D's loss, or None when it skips this update (lazy regularisation).
Penalty = Callable[[nn.Module, Tensor, Tensor, int], "Tensor | None"]

# What D's output means: "probability": sigmoid(D) is P(real); "critic": a real-valued critic whose mean
# gap estimates W1; "score": an unbounded real score with no probability reading; "fgan": V(x), mapped
# by the divergence's output activation.
DOutput = Literal["probability", "critic", "score", "fgan"]


@dataclass(frozen=True)
class Estimate:
    """The logged statistic (a key of `Objective.estimates`) that estimates the game's divergence."""

    key: str  # e.g. "estimate/wasserstein"
    label: str  # what it is, for plots and the lab
    reference: float | None = None  # its value at the game's optimum, where one is known


@dataclass(frozen=True)
class Reading:
    """What a registered objective says about D, readable without building it. `estimate.label` may
    name fields of the objective's config in braces ("{divergence}"); make_objective fills them in."""

    d_output: DOutput
    estimate: Estimate | None = None


@dataclass(frozen=True)
class Objective:
    """d_loss(real_out, fake_out) and g_loss(fake_out) are minimised; `estimates` returns what D's
    outputs estimate (logged); `penalties` are added to D's loss; `clip` > 0 clips D's weights to
    [-clip, clip] after every D step. `d_output` and `estimate` come from the registry's `Reading`."""

    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    estimates: Callable[[Tensor, Tensor], dict[str, Tensor]]
    penalties: tuple[Penalty, ...] = ()
    clip: float = 0.0
    d_output: DOutput = "score"
    estimate: Estimate | None = None


OBJECTIVES: Registry[Callable[[ObjectiveConfig], Objective]] = Registry("objective")

GAN_VALUE = Estimate("estimate/value", "V(D, G) (-log 4 = -1.386 at the optimum)", -math.log(4))
WASSERSTEIN = Estimate("estimate/wasserstein", "E D(x) - E D(G(z)) (critic's W1 estimate)")


@OBJECTIVES.register("minimax", "the original game; G minimises E log(1 - D(G(z))) (saturates)",
                     Reading("probability", GAN_VALUE))
def _minimax(cfg: ObjectiveConfig) -> Objective:
    return Objective(adversarial.d_loss, adversarial.minimax_g_loss, adversarial.gan_estimates)


@OBJECTIVES.register("ns", "non-saturating GAN; G minimises -E log D(G(z))", Reading("probability", GAN_VALUE))
def _ns(cfg: ObjectiveConfig) -> Objective:
    return Objective(adversarial.d_loss, adversarial.ns_g_loss, adversarial.gan_estimates)


@OBJECTIVES.register("wgan", "Wasserstein GAN, critic weights clipped to [-clip, clip] (Arjovsky 2017)",
                     Reading("critic", WASSERSTEIN))
def _wgan(cfg: ObjectiveConfig) -> Objective:
    return Objective(adversarial.wgan_d_loss, adversarial.wgan_g_loss, adversarial.wgan_estimates,
                     clip=cfg.clip)


@OBJECTIVES.register("wgan-gp", "Wasserstein GAN with gradient penalty gp_lambda (Gulrajani 2017)",
                     Reading("critic", WASSERSTEIN))
def _wgan_gp(cfg: ObjectiveConfig) -> Objective:
    def gp(D: nn.Module, real: Tensor, fake: Tensor, index: int) -> Tensor:
        return cfg.gp_lambda * penalties.gradient_penalty(D, real, fake)

    return Objective(adversarial.wgan_d_loss, adversarial.wgan_g_loss, adversarial.wgan_estimates,
                     penalties=(gp,))


@OBJECTIVES.register("hinge", "hinge loss for D, -E D(G(z)) for G (Lim & Ye 2017, Miyato 2018)", Reading("score"))
def _hinge(cfg: ObjectiveConfig) -> Objective:
    return Objective(adversarial.hinge_d_loss, adversarial.wgan_g_loss, adversarial.raw_estimates)


@OBJECTIVES.register("ls", "least squares GAN, targets 0 (fake) and 1 (real) (Mao 2017)", Reading("score"))
def _ls(cfg: ObjectiveConfig) -> Objective:
    return Objective(adversarial.ls_d_loss, adversarial.ls_g_loss, adversarial.raw_estimates)


@OBJECTIVES.register("fgan", "f-GAN with objective.divergence (Nowozin 2016; gankit list divergences)",
                     Reading("fgan", Estimate("estimate/f_divergence", "{divergence}: lower bound on D_f")))
def _fgan(cfg: ObjectiveConfig) -> Objective:
    div = fgan.DIVERGENCES.get(cfg.divergence)

    def v(out: Tensor) -> Tensor:  # the critic's output, squashed into (-B, B) when objective.critic_bound = B
        return fgan.bounded(out, cfg.critic_bound)

    def estimates(real_out: Tensor, fake_out: Tensor) -> dict[str, Tensor]:
        return {"D/real": div.g_f(v(real_out)).mean(), "D/fake": div.g_f(v(fake_out)).mean(),
                "estimate/f_divergence": fgan.bound(div, v(real_out), v(fake_out))}

    return Objective(lambda r, f: fgan.critic_loss(div, v(r), v(f)),
                     lambda f: fgan.generator_loss(div, v(f), form=cfg.g_form), estimates)


def reading(name: str) -> Reading:
    """What the registered objective's D outputs; a plugin registered without a Reading gives a "score"."""
    info = OBJECTIVES.info(name)
    return info if isinstance(info, Reading) else Reading("score")


def check_objective_config(cfg: ObjectiveConfig) -> None:
    """Config-time checks of the objective section against the registries: the objective, the divergence."""
    OBJECTIVES.get(cfg.name)
    fgan.DIVERGENCES.get(cfg.divergence)


def make_objective(cfg: ObjectiveConfig) -> Objective:
    """The registered objective with its `Reading`, plus the R1 penalty when `r1_gamma` > 0 (with any objective)."""
    objective = OBJECTIVES.get(cfg.name)(cfg)
    read = OBJECTIVES.info(cfg.name)
    if isinstance(read, Reading):  # a plugin registered without one keeps what its builder set
        estimate = read.estimate
        if estimate is not None:
            estimate = dataclasses.replace(estimate, label=estimate.label.format_map(dataclasses.asdict(cfg)))
        objective = dataclasses.replace(objective, d_output=read.d_output, estimate=estimate)
    if cfg.lipschitz_gp > 0 and cfg.name != "wgan-gp":  # (f, Gamma)-divergences: a Lipschitz D (Birrell 2022)
        def gp(D: nn.Module, real: Tensor, fake: Tensor, index: int) -> Tensor:
            return cfg.lipschitz_gp * penalties.gradient_penalty(D, real, fake)

        objective = dataclasses.replace(objective, penalties=(*objective.penalties, gp))
    if cfg.r1_gamma > 0:
        def r1(D: nn.Module, real: Tensor, fake: Tensor, index: int) -> Tensor | None:
            weight = penalties.lazy_weight(index, cfg.r1_interval)
            return cfg.r1_gamma / 2 * weight * penalties.r1_penalty(D, real) if weight else None

        objective = dataclasses.replace(objective, penalties=(*objective.penalties, r1))
    return objective
