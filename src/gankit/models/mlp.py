"""MLP generators and discriminators: the 2D toy MLP, the widely copied MNIST MLP, and the
MNIST model of Goodfellow et al. 2014 (ReLU generator, maxout discriminator with dropout).

Every D returns one logit per sample (N,); the sigmoid lives in the loss.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.config import ModelConfig


class Generator(nn.Module):
    """z (N, z_dim) -> an MLP body -> samples reshaped to `out_shape` (e.g. (1, 28, 28) or (2,))."""

    def __init__(self, body: nn.Module, z_dim: int, out_shape: tuple[int, ...]):
        super().__init__()
        self.body, self.z_dim, self.out_shape = body, z_dim, tuple(out_shape)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z).view(z.shape[0], *self.out_shape)


class Discriminator(nn.Module):
    """x (N, *shape) -> flattened -> an MLP body -> one logit per sample (N,)."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.flatten(1)).squeeze(1)


class Maxout(nn.Module):
    """Maxout layer (Goodfellow et al. 2013): max over `pieces` linear units per output unit."""

    def __init__(self, in_features: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(-1, self.units, self.pieces).amax(dim=2)


def _mlp(widths: list[int], act: type[nn.Module], out_act: nn.Module | None = None) -> nn.Sequential:
    """Linear layers between consecutive `widths`, `act` after each hidden one."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(act())
    if out_act is not None:
        layers.append(out_act)
    return nn.Sequential(*layers)


def toy_mlp(cfg: ModelConfig, shape: tuple[int, ...]) -> tuple[Generator, Discriminator]:
    """2D toy MLPs (GAN Lab style): ReLU G, LeakyReLU(0.2) D, 3 x 128 hidden units by default."""
    dim = math.prod(shape)
    g_hidden = cfg.g_hidden or [128, 128, 128]
    d_hidden = cfg.d_hidden or [128, 128, 128]
    G = Generator(_mlp([cfg.z_dim, *g_hidden, dim], nn.ReLU), cfg.z_dim, shape)
    D = Discriminator(_mlp([dim, *d_hidden, 1], lambda: nn.LeakyReLU(0.2)))
    return G, D


def classic_mlp(cfg: ModelConfig, shape: tuple[int, ...]) -> tuple[Generator, Discriminator]:
    """The MNIST MLP of the widely copied blog recipe: G z -> 256 Tanh -> 512 ReLU -> 784 Tanh;
    D 784 -> 512 Tanh -> 256 Tanh -> 128 Tanh -> 1 (hidden widths overridable)."""
    dim = math.prod(shape)
    g1, g2 = cfg.g_hidden or [256, 512]
    G = Generator(nn.Sequential(nn.Linear(cfg.z_dim, g1), nn.Tanh(), nn.Linear(g1, g2), nn.ReLU(),
                                nn.Linear(g2, dim), nn.Tanh()), cfg.z_dim, shape)
    D = Discriminator(_mlp([dim, *(cfg.d_hidden or [512, 256, 128]), 1], nn.Tanh))
    return G, D


def goodfellow2014(cfg: ModelConfig, shape: tuple[int, ...]) -> tuple[Generator, Discriminator]:
    """Goodfellow et al. 2014, MNIST (the paper's `mnist.yaml`): G z -> 1200 ReLU -> 1200 ReLU ->
    784 sigmoid; D maxout 240x5 -> maxout 240x5 -> 1, dropout on D's input and hidden layers.

    Weights are drawn U(-irange, irange) as in pylearn2: irange 0.05 in G, 0.005 in D.
    """
    dim = math.prod(shape)
    g1, g2 = cfg.g_hidden or [1200, 1200]
    G = Generator(nn.Sequential(nn.Linear(cfg.z_dim, g1), nn.ReLU(), nn.Linear(g1, g2), nn.ReLU(),
                                nn.Linear(g2, dim), nn.Sigmoid()), cfg.z_dim, shape)
    d1, d2 = cfg.d_hidden or [240, 240]
    D = Discriminator(nn.Sequential(
        nn.Dropout(cfg.d_dropout_input), Maxout(dim, d1, cfg.maxout_pieces),
        nn.Dropout(cfg.d_dropout), Maxout(d1, d2, cfg.maxout_pieces),
        nn.Dropout(cfg.d_dropout), nn.Linear(d2, 1)))
    for net, irange in ((G, 0.05), (D, 0.005)):
        for p in net.parameters():
            if p.dim() > 1:
                nn.init.uniform_(p, -irange, irange)
            else:
                nn.init.zeros_(p)
    return G, D


def wgan_mlp(cfg: ModelConfig, shape: tuple[int, ...]) -> tuple[Generator, Discriminator]:
    """The MLPs of the WGAN reference code (Arjovsky et al. 2017, `models/mlp.py`, run with
    --mlp_G/--mlp_D): three ReLU layers of 512 units in each network, no output activation in G,
    and no batch norm, so the clipped critic stays a plain function of its input."""
    dim = math.prod(shape)
    G = Generator(_mlp([cfg.z_dim, *(cfg.g_hidden or [512] * 3), dim], nn.ReLU), cfg.z_dim, shape)
    D = Discriminator(_mlp([dim, *(cfg.d_hidden or [512] * 3), 1], nn.ReLU))
    return G, D
