"""Each objective's settings for the 2D toy data (the ring of 8 and the grid of 25 Gaussians).

Every objective trains from the dataset's preset (ring8-ns, grid25-ns: the same toy MLPs, Adam, batch and step
budget) plus the few overrides below. `benchmarks/objectives_toy.py` trains each on 3 seeds and records modes
covered and high-quality samples in benchmarks/results/objectives_toy.md; `gankit list objectives` and
`gankit list divergences` print the settings, e.g.

    gankit train --preset grid25-ns --objective.name=fgan --objective.divergence=kl \\
        --objective.g_form=alternative --objective.critic_bound=5

An entry with a `shortfall` did not reach the goal (all 8 ring modes, 24 of 25 grid modes, 85% high-quality
samples, every seed); the shortfall says why, with its source.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    """Config overrides ("section.key=value") on top of ring8-ns / grid25-ns, and why, where it falls short."""

    overrides: tuple[str, ...] = ()
    shortfall: str = ""


# The bounded f-GAN critic: V(x) squashed into (-5, 5) keeps the critic's loss and G's gradient finite where the
# data's density ratio is astronomical (modes 2 apart with std 0.05), at the price of a looser bound. Without it
# KL, Pearson chi^2 and Jeffrey drive G's samples off to 1e5 or inf (Song & Ermon 2020 bound the critic's output
# for the same reason: clipping the density ratio trades a little bias for a lot of variance).
BOUNDED = ("objective.g_form=alternative", "objective.critic_bound=5")

RECIPES: dict[str, Recipe] = {
    "minimax": Recipe(),
    "ns": Recipe(),
    "ns+r1": Recipe(("objective.name=ns", "objective.r1_gamma=0.1")),
    "wgan": Recipe(("train.d_steps=5", "objective.clip=0.1")),
    "wgan-gp": Recipe(("train.d_steps=5", "objective.gp_lambda=0.1")),  # lambda 0.1: Gulrajani's toy setting
    "hinge": Recipe(),
    "ls": Recipe(),
    "fgan-gan": Recipe(),
    "fgan-jensen-shannon": Recipe(),
    "fgan-weighted-js-0.3": Recipe(),
    "fgan-kl": Recipe(BOUNDED),
    "fgan-pearson": Recipe(BOUNDED),
    "fgan-jeffrey": Recipe(BOUNDED),
    "fgan-alpha-2": Recipe(BOUNDED),
    "fgan-alpha-0.5": Recipe(BOUNDED),
    "fgan-squared-hellinger": Recipe(("objective.critic_bound=2",)),
    "fgan-reverse-kl": Recipe(("objective.critic_bound=2",)),
    "fgan-neyman": Recipe(("objective.critic_bound=2",)),
    "fgan-total-variation": Recipe(("objective.g_form=alternative", "objective.lipschitz_gp=1")),
}


def key(objective: str, divergence: str | None = None) -> str:
    """The RECIPES key of an objective: "ns", or "fgan-kl" for the f-GAN with a divergence."""
    return f"fgan-{divergence}" if objective == "fgan" and divergence else objective


def overrides(name: str) -> list[str]:
    """The full overrides of the RECIPES entry `name` ("fgan-kl"): the objective (and divergence), then its own."""
    objective, _, divergence = name.partition("-") if name.startswith("fgan-") else (name, "", "")
    own = list(RECIPES[name].overrides)
    picks = [f"objective.name={objective}"] if not any(o.startswith("objective.name=") for o in own) else []
    picks += [f"objective.divergence={divergence}"] if divergence else []
    return picks + own


def describe(name: str) -> str:
    """One line for `gankit list`: the settings as command-line options, and any shortfall."""
    recipe = RECIPES[name]
    own = [o for o in recipe.overrides if not o.startswith("objective.name=")]
    text = "toy data: " + (" ".join(f"--{o}" for o in own) if own else "the preset as it is")
    return text + (f"; falls short: {recipe.shortfall}" if recipe.shortfall else "")
