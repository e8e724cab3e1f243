"""Conditional GANs: the label y is fed to G and to D (Mirza & Osindero 2014), so that G(z | y)
learns p(x | y). Any registered model family can be conditioned, as `model.cond` says:

- `concat`: one-hot y concatenated to z and to D's input (Mirza & Osindero 2014, Sec. 3.2).
- `embed`: a learned embedding of y concatenated instead (one table in G, another in D).
- `projection`: D(x, y) = psi(phi(x)) + embed(y) . phi(x), the projection discriminator (Miyato &
  Koyama 2018, Eq. 3); G gets one-hot y as with `concat`.

Conditioned networks are called G(z, y) and D(x, y) with labels int64 (N,) in [0, num_classes).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from gankit.config import Conditioning, ModelConfig
from gankit.errors import GankitError

CONDITIONING = typing.get_args(Conditioning)  # "none" and the modes below


class LabelCode(nn.Module):
    """y (N,) int64 -> (N, width) float: one-hot (width = num_classes) or a learned embedding (width = embed_dim)."""

    def __init__(self, num_classes: int, embed_dim: int = 0):
        super().__init__()
        self.num_classes = num_classes
        self.width = embed_dim or num_classes
        self.embed = nn.Embedding(num_classes, embed_dim) if embed_dim else None

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        if self.embed is None:
            return F.one_hot(y, self.num_classes).float()
        return self.embed(y)


class ConditionalGenerator(nn.Module):
    """G(z | y) = G0([z, code(y)]): a family's generator built for z_dim + code.width inputs."""

    def __init__(self, G: nn.Module, code: LabelCode):
        super().__init__()
        self.G, self.code = G, code
        self.num_classes = code.num_classes

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.G(torch.cat([z, self.code(y).to(z.dtype)], dim=1))


class ConcatDiscriminator(nn.Module):
    """D(x, y) = D0([x, code(y)]). The code joins the flattened x for families whose D flattens its
    input (MLPs); for convolutional ones it becomes code.width constant maps stacked on the channels."""

    def __init__(self, D: nn.Module, code: LabelCode, *, flat: bool):
        super().__init__()
        self.D, self.code, self.flat = D, code, flat
        self.num_classes = code.num_classes

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        code = self.code(y).to(x.dtype)  # (N, width)
        if self.flat:
            return self.D(torch.cat([x.flatten(1), code], dim=1))
        maps = code[:, :, None, None].expand(-1, -1, *x.shape[2:])  # (N, width, H, W)
        return self.D(torch.cat([x, maps], dim=1))


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = psi(phi(x)) + embed(y) . phi(x) (Miyato & Koyama 2018, Eq. 3): the family's D split
    into its features phi(x) (N, F) and linear head psi, plus one learned F-vector per class."""

    def __init__(self, D: nn.Module, num_classes: int):
        super().__init__()
        self.D, self.num_classes = D, num_classes
        self.embed = nn.Embedding(num_classes, D.head.in_features)
        nn.init.xavier_uniform_(self.embed.weight)  # as the SNGAN reference code; N(0, 1) rows would swamp psi
        if parametrize.is_parametrized(D.head, "weight"):  # a spectrally normalised D: so is the class
            spectral_norm(self.embed)  # embedding, as Miyato & Koyama's code does (SNEmbedID)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.D.features(x)  # (N, F)
        return self.D.head(h).squeeze(1) + (self.embed(y) * h).sum(dim=1)


def condition(build: Callable, cfg: ModelConfig, shape: tuple[int, ...],
              num_classes: int) -> tuple[nn.Module, nn.Module]:
    """The (G, D) pair of family `build`, conditioned on `num_classes` labels as `cfg.cond` says.

    G is built for latents of width z_dim + the code's width; a concat/embed D is built for the data
    shape widened by the code (the family's builder is called a second time for it).
    """
    g_code = LabelCode(num_classes, cfg.embed_dim if cfg.cond == "embed" else 0)
    G, D = build(dataclasses.replace(cfg, z_dim=cfg.z_dim + g_code.width), shape)
    G = ConditionalGenerator(G, g_code)
    if cfg.cond == "projection":
        if not (callable(getattr(D, "features", None)) and isinstance(getattr(D, "head", None), nn.Linear)):
            raise GankitError(f"model {cfg.name!r} cannot use model.cond='projection': its D has no features(x) "
                              "and linear head; use concat or embed")
        return G, ProjectionDiscriminator(D, num_classes)
    d_code = LabelCode(num_classes, cfg.embed_dim if cfg.cond == "embed" else 0)
    flat = len(shape) == 1 or getattr(D, "flat_input", False)
    d_shape = (math.prod(shape) + d_code.width,) if flat else (shape[0] + d_code.width, *shape[1:])
    _, D = build(cfg, d_shape)
    return G, ConcatDiscriminator(D, d_code, flat=flat)


class WithLabels(nn.Module):
    """net(x, y) with y fixed, as a one-argument module: what losses and penalties call D(x) (or G(z));
    its parameters are net's."""

    def __init__(self, net: nn.Module, y: torch.Tensor):
        super().__init__()
        self.net, self.y = net, y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x, self.y)


def bind_labels(net: nn.Module, y: torch.Tensor | None) -> nn.Module:
    """net itself when y is None (unconditional), else net with the labels y (N,) bound."""
    return net if y is None else WithLabels(net, y)
