"""The MNIST networks of WGAN-GP (Gulrajani et al. 2017, the reference `gan_mnist.py`, DIM = 64):
a transposed-convolution generator ending in a sigmoid and a LeakyReLU convolutional critic,
neither with batch norm (the gradient penalty is per sample, and batch norm would couple samples).
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.errors import GankitError


class ConvGenerator(nn.Module):
    """z (N, z_dim) -> Linear -> (4 DIM, 4, 4) -> 8x8, cropped to 7x7 -> 14x14 -> (C, 28, 28) in [0, 1]."""

    def __init__(self, z_dim: int, dim: int = 64, channels: int = 1):
        super().__init__()
        self.z_dim, self.dim = z_dim, dim
        self.input = nn.Sequential(nn.Linear(z_dim, 4 * 4 * 4 * dim), nn.ReLU())
        self.up1 = nn.Sequential(nn.ConvTranspose2d(4 * dim, 2 * dim, 5, 2, 2, output_padding=1), nn.ReLU())
        self.up2 = nn.Sequential(nn.ConvTranspose2d(2 * dim, dim, 5, 2, 2, output_padding=1), nn.ReLU())
        self.out = nn.Sequential(nn.ConvTranspose2d(dim, channels, 5, 2, 2, output_padding=1), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.input(z).view(-1, 4 * self.dim, 4, 4)
        x = self.up1(x)[:, :, :7, :7]  # (N, 2 DIM, 7, 7): the reference code's crop
        return self.out(self.up2(x))


class ConvCritic(nn.Module):
    """x (N, C, 28, 28) -> three stride-2 5x5 convolutions with LeakyReLU(0.2) -> one output (N,)."""

    def __init__(self, dim: int = 64, channels: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, dim, 5, 2, 2), nn.LeakyReLU(0.2),
            nn.Conv2d(dim, 2 * dim, 5, 2, 2), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * dim, 4 * dim, 5, 2, 2), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(4 * 4 * 4 * dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).squeeze(1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x): the flattened convolutional features before the linear head, (N, 4 * 4 * 4 DIM)."""
        return self.body[:-1](x)

    @property
    def head(self) -> nn.Linear:
        return self.body[-1]


def gulrajani2017(cfg: ModelConfig, shape: tuple[int, ...]) -> tuple[ConvGenerator, ConvCritic]:
    if len(shape) != 3 or tuple(shape[1:]) != (28, 28):
        raise GankitError(f"model 'gulrajani2017-conv' needs 28x28 images, the data has shape {shape}")
    dim = (cfg.g_hidden or [64])[0]
    # Channels follow the data: 1 for MNIST; more where a conditional D stacks label maps on x.
    return ConvGenerator(cfg.z_dim, dim, shape[0]), ConvCritic((cfg.d_hidden or [dim])[0], shape[0])
