"""2D toy distributions: samplers and, for the Gaussian mixtures, their exact log density.

ring8 and grid25 follow the PacGAN / VEEGAN definitions (Lin et al. 2018, Srivastava et al. 2017).
"""

from __future__ import annotations

import math

import torch


class GaussianMixture:
    """Equal-weight mixture of isotropic Gaussians N(mean_i, std^2 I) in 2D."""

    def __init__(self, means: torch.Tensor, std: float):
        self.means = means.float()  # (M, 2)
        self.std = float(std)

    @property
    def num_modes(self) -> int:
        return self.means.shape[0]

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns points (n, 2) and their mode index (n,) as the label."""
        device = generator.device
        labels = torch.randint(self.num_modes, (n,), generator=generator, device=device)
        noise = torch.randn(n, 2, generator=generator, device=device)
        return self.means.to(device)[labels] + self.std * noise, labels

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) for points x (N, 2): logsumexp over modes of log N(x; mean_i, std^2 I) - log M."""
        means = self.means.to(x.device, x.dtype)
        sq = (x[:, None, :] - means[None]).pow(2).sum(-1)  # (N, M); exact, unlike cdist's matmul form
        log_normal = -sq / (2 * self.std**2) - math.log(2 * math.pi * self.std**2)
        return torch.logsumexp(log_normal, dim=1) - math.log(self.num_modes)


def ring8(radius: float = 1.0, std: float = 0.01) -> GaussianMixture:
    """8 Gaussians evenly spaced on a circle of radius 1, std 0.01 (PacGAN / VEEGAN)."""
    angles = torch.arange(8) * (2 * math.pi / 8)
    return GaussianMixture(radius * torch.stack([angles.cos(), angles.sin()], dim=1), std)


def grid25(std: float = 0.05) -> GaussianMixture:
    """25 Gaussians with means {-4, -2, 0, 2, 4}^2 and std 0.05 (PacGAN / VEEGAN)."""
    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    return GaussianMixture(torch.cartesian_prod(ticks, ticks), std)


class SwissRoll:
    """2D swiss roll (scikit-learn's make_swiss_roll projected on (x, z)), scaled to about [-1, 1]."""

    num_modes = 0

    def __init__(self, noise: float = 0.05):
        self.noise = noise

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, None]:
        device = generator.device
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator, device=device))
        x = torch.stack([t * t.cos(), t * t.sin()], dim=1) / (4.5 * math.pi)
        return x + self.noise * torch.randn(n, 2, generator=generator, device=device), None


class TwoMoons:
    """Two interleaving half circles (scikit-learn's make_moons), centred; label = moon index."""

    num_modes = 2

    def __init__(self, noise: float = 0.05):
        self.noise = noise

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        device = generator.device
        labels = torch.randint(2, (n,), generator=generator, device=device)
        t = math.pi * torch.rand(n, generator=generator, device=device)
        upper = torch.stack([t.cos(), t.sin()], dim=1)
        lower = torch.stack([1 - t.cos(), 0.5 - t.sin()], dim=1)
        x = torch.where(labels[:, None] == 0, upper, lower) - torch.tensor([0.5, 0.25], device=device)
        return x + self.noise * torch.randn(n, 2, generator=generator, device=device), labels


# GAN Lab's toy sets (Kahng et al. 2018, "GAN Lab"): a line, two Gaussian hills and disjoint clusters.


def two_gaussians(std: float = 0.15) -> GaussianMixture:
    """Two Gaussian hills at (-0.6, -0.3) and (0.6, 0.3), std 0.15: the easy first game."""
    return GaussianMixture(torch.tensor([[-0.6, -0.3], [0.6, 0.3]]), std)


def disjoint_clusters(std: float = 0.06) -> GaussianMixture:
    """Four tight clusters far apart, unevenly placed (std 0.06): G must tear its sheet to cover them."""
    return GaussianMixture(torch.tensor([[-0.9, 0.7], [0.8, 0.8], [0.6, -0.7], [-0.5, -0.9]]), std)


class LineSegment:
    """Points uniform on the segment from (-0.8, -0.6) to (0.8, 0.6), plus Gaussian noise of std 0.02: a
    one-dimensional manifold in the plane (no labels)."""

    num_modes = 0

    def __init__(self, start: tuple[float, float] = (-0.8, -0.6), end: tuple[float, float] = (0.8, 0.6),
                 noise: float = 0.02):
        self.start, self.end, self.noise = torch.tensor(start), torch.tensor(end), noise

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, None]:
        device = generator.device
        t = torch.rand(n, 1, generator=generator, device=device)
        start, end = self.start.to(device), self.end.to(device)
        x = start + t * (end - start)
        return x + self.noise * torch.randn(n, 2, generator=generator, device=device), None
