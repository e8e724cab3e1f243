"""Closed-form GAN theory on known densities (Goodfellow et al. 2014, Sec. 4): the optimal discriminator,
the value function, divergences and W1 by quadrature, and the saturation of the minimax generator loss;
`gankit theory` (`theory_report`) sets trained discriminators and WGAN critics against them.

Used by tests, metrics and the lab; never by the training loop.
"""

from gankit.theory.densities import Blend, Density, Gaussian1D, Gaussian2D, Grid, Mixture1D, Tabulated
from gankit.theory.identities import (
    check_theorem1,
    entropy,
    jsd,
    kl,
    optimal_discriminator,
    value,
    wasserstein1,
    wasserstein1_1d,
    wasserstein1_2d_samples,
)
from gankit.theory.saturation import generator_gradients
from gankit.theory.specs import grid_for, parse_density

__all__ = [
    "Blend", "Density", "Gaussian1D", "Gaussian2D", "Grid", "Mixture1D", "Tabulated",
    "check_theorem1", "entropy", "jsd", "kl", "optimal_discriminator", "value",
    "wasserstein1", "wasserstein1_1d", "wasserstein1_2d_samples", "generator_gradients",
    "grid_for", "parse_density", "theory_report", "make_case", "TheoryOptions",
]


def __getattr__(name: str):
    # The report pulls in training, models and matplotlib; load it only when asked for.
    if name in ("theory_report", "make_case", "TheoryOptions"):
        from gankit.theory import report

        return getattr(report, name)
    raise AttributeError(f"module 'gankit.theory' has no attribute {name!r}")
