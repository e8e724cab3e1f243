"""MLP generators and discriminators: the 2D toy MLP, the widely copied MNIST MLP, the MNIST
model of Goodfellow et al. 2014 (ReLU generator, maxout discriminator with dropout) and its
conditional version of Mirza & Osindero 2014.

Every D returns one logit per sample (N,); the sigmoid lives in the loss.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import ModelConfig
from gankit.models.layers import MinibatchStd


class Generator(nn.Module):
    """z (N, z_dim) -> an MLP body -> samples reshaped to `out_shape` (e.g. (1, 28, 28) or (2,))."""

    def __init__(self, body: nn.Module, z_dim: int, out_shape: tuple[int, ...]):
        super().__init__()
        self.body, self.z_dim, self.out_shape = body, z_dim, tuple(out_shape)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z).view(z.shape[0], *self.out_shape)


class Discriminator(nn.Module):
    """x (N, *shape) -> flattened -> an MLP body ending in a Linear(F, 1) head -> one logit per sample (N,)."""

    flat_input = True  # D sees x.flatten(1), so a label code can simply be appended (models/conditioning.py)

    def __init__(self, body: nn.Sequential):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.flatten(1)).squeeze(1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x): the body's activations before its head, (N, F) (the projection discriminator's features)."""
        return self.body[:-1](x.flatten(1))

    @property
    def head(self) -> nn.Linear:
        return self.body[-1]


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


def lrelu_mlp(cfg: ModelConfig, shape: tuple[int, ...]) -> tuple[Generator, Discriminator]:
    """A modern MLP pair for images (small enough for a CPU): G z -> 256 -> 512 -> 1024, each Linear +
    BatchNorm + LeakyReLU(0.2), -> Tanh output; D -> 512 -> 256 LeakyReLU(0.2) -> 1 (widths overridable);
    model.minibatch_std appends the batch's spread to D's first hidden layer (Karras et al. 2018)."""
    layers: list[nn.Module] = []
    width = cfg.z_dim
    for hidden in cfg.g_hidden or [256, 512, 1024]:
        layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2)]
        width = hidden
    dim = math.prod(shape)
    G = Generator(nn.Sequential(*layers, nn.Linear(width, dim), nn.Tanh()), cfg.z_dim, shape)
    d_widths = [dim, *(cfg.d_hidden or [512, 256]), 1]
    body = _mlp(d_widths, lambda: nn.LeakyReLU(0.2))
    if cfg.minibatch_std:  # the batch's spread of the first hidden layer joins its features: one more input unit
        body[2] = nn.Linear(d_widths[1] + 1, d_widths[2])
        body.insert(2, MinibatchStd())
    D = Discriminator(body)
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
    _pylearn2_init(G, 0.05)
    _pylearn2_init(D, 0.005)
    return G, D


def _pylearn2_init(net: nn.Module, irange: float) -> None:
    """Weights U(-irange, irange), biases 0, as pylearn2's `irange` (the 2014 papers' code)."""
    for p in net.parameters():
        if p.dim() > 1:
            nn.init.uniform_(p, -irange, irange)
        else:
            nn.init.zeros_(p)


class MirzaGenerator(nn.Module):
    """G(z | y) of Mirza & Osindero 2014, Sec. 4.1: z -> 200 ReLU and one-hot y -> 1000 ReLU, joined
    -> 1200 ReLU -> sigmoid output reshaped to `out_shape`; dropout after every hidden layer."""

    def __init__(self, z_dim: int, num_classes: int, out_shape: tuple[int, ...],
                 widths: list[int], dropout: float):
        super().__init__()
        wz, wy, wj = widths
        self.num_classes, self.out_shape = num_classes, tuple(out_shape)
        self.z_branch = nn.Sequential(nn.Linear(z_dim, wz), nn.ReLU(), nn.Dropout(dropout))
        self.y_branch = nn.Sequential(nn.Linear(num_classes, wy), nn.ReLU(), nn.Dropout(dropout))
        self.joint = nn.Sequential(nn.Linear(wz + wy, wj), nn.ReLU(), nn.Dropout(dropout),
                                   nn.Linear(wj, math.prod(out_shape)), nn.Sigmoid())

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y = F.one_hot(y, self.num_classes).to(z.dtype)
        h = torch.cat([self.z_branch(z), self.y_branch(y)], dim=1)  # (N, 1200)
        return self.joint(h).view(z.shape[0], *self.out_shape)


class MirzaDiscriminator(nn.Module):
    """D(x, y) of Mirza & Osindero 2014, Sec. 4.1: x -> maxout 240x5 and one-hot y -> maxout 50x5,
    joined -> maxout 240x4 -> one logit (N,); dropout on x and after every hidden layer."""

    def __init__(self, dim: int, num_classes: int, widths: list[int], pieces: int, *,
                 dropout_input: float, dropout: float):
        super().__init__()
        wx, wy, wj = widths
        self.num_classes = num_classes
        self.x_branch = nn.Sequential(nn.Dropout(dropout_input), Maxout(dim, wx, pieces), nn.Dropout(dropout))
        self.y_branch = nn.Sequential(Maxout(num_classes, wy, pieces), nn.Dropout(dropout))
        self.joint = nn.Sequential(Maxout(wx + wy, wj, 4), nn.Dropout(dropout), nn.Linear(wj, 1))  # 4 pieces

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y = F.one_hot(y, self.num_classes).to(x.dtype)
        h = torch.cat([self.x_branch(x.flatten(1)), self.y_branch(y)], dim=1)  # (N, 290)
        return self.joint(h).squeeze(1)


def mirza2014(cfg: ModelConfig, shape: tuple[int, ...], num_classes: int) -> tuple[MirzaGenerator, MirzaDiscriminator]:
    """The conditional MNIST model of Mirza & Osindero 2014 (g_hidden = [z, y, joint] widths
    [200, 1000, 1200], d_hidden = [240, 50, 240]); initialised as the 2014 code: U(-0.05, 0.05) in G,
    U(-0.005, 0.005) in D (the paper does not say)."""
    G = MirzaGenerator(cfg.z_dim, num_classes, shape, cfg.g_hidden or [200, 1000, 1200], cfg.g_dropout)
    D = MirzaDiscriminator(math.prod(shape), num_classes, cfg.d_hidden or [240, 50, 240], cfg.maxout_pieces,
                           dropout_input=cfg.d_dropout_input, dropout=cfg.d_dropout)
    _pylearn2_init(G, 0.05)
    _pylearn2_init(D, 0.005)
    return G, D


def wgan_mlp(cfg: ModelConfig, shape: tuple[int, ...]) -> tuple[Generator, Discriminator]:
    """The MLPs of the WGAN reference code (Arjovsky et al. 2017, `models/mlp.py`, run with
    --mlp_G/--mlp_D): three ReLU layers of 512 units in each network, no output activation in G,
    and no batch norm, so the clipped critic stays a plain function of its input."""
    dim = math.prod(shape)
    G = Generator(_mlp([cfg.z_dim, *(cfg.g_hidden or [512] * 3), dim], nn.ReLU), cfg.z_dim, shape)
    D = Discriminator(_mlp([dim, *(cfg.d_hidden or [512] * 3), 1], nn.ReLU))
    return G, D
