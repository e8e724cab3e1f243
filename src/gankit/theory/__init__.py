"""Closed-form GAN theory on known densities (Goodfellow et al. 2014, Sec. 4): the optimal discriminator,
the value function, divergences and W1 by quadrature, and the saturation of the minimax generator loss.

Used by tests, metrics and the lab; never by the training loop.
"""

from gankit.theory.densities import Density, Gaussian1D, Gaussian2D, Grid, Mixture1D, Tabulated
from gankit.theory.identities import (
    check_theorem1,
    entropy,
    jsd,
    kl,
    optimal_discriminator,
    value,
    wasserstein1_1d,
    wasserstein1_2d_samples,
)
from gankit.theory.saturation import generator_gradients

__all__ = [
    "Density", "Gaussian1D", "Gaussian2D", "Grid", "Mixture1D", "Tabulated",
    "check_theorem1", "entropy", "jsd", "kl", "optimal_discriminator", "value",
    "wasserstein1_1d", "wasserstein1_2d_samples", "generator_gradients",
]
