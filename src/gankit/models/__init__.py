"""Model families: each builds a (G, D) pair for a data shape; D returns logits (N,)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.models import conv, mlp
from gankit.registry import Registry

Builder = Callable[[ModelConfig, tuple[int, ...]], tuple[nn.Module, nn.Module]]
MODELS: Registry[Builder] = Registry("model")
MODELS.add("mlp2d", mlp.toy_mlp, "toy MLPs for 2D data: ReLU G, LeakyReLU D, 3 x 128 hidden")
MODELS.add("classic-mlp", mlp.classic_mlp,
           "the widely copied MNIST MLP: G 256 Tanh-512 ReLU-784 Tanh, D 512-256-128 Tanh")
MODELS.add("wgan-mlp", mlp.wgan_mlp, "WGAN reference MLPs: 3 x 512 ReLU in G and D, linear G output")
MODELS.add("gulrajani2017-conv", conv.gulrajani2017,
           "WGAN-GP MNIST convnets: deconv G with sigmoid, LeakyReLU conv critic, no batch norm")
MODELS.add("goodfellow2014", mlp.goodfellow2014,
           "Goodfellow et al. 2014 MNIST: G 1200-1200 ReLU, sigmoid out; D maxout 240x5 x2, dropout")


def build_models(cfg: ModelConfig, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    return MODELS.get(cfg.name)(cfg, tuple(shape))


def sample_z(n: int, cfg: ModelConfig, *, generator: torch.Generator) -> torch.Tensor:
    """Latents (n, z_dim) on the generator's device: N(0, I), or U(-sqrt 3, sqrt 3) (unit variance,
    as pylearn2's `uniform` noise in the 2014 code)."""
    device = generator.device
    if cfg.z_dist == "uniform":
        u = torch.rand(n, cfg.z_dim, generator=generator, device=device)
        return (2 * u - 1) * math.sqrt(3)
    return torch.randn(n, cfg.z_dim, generator=generator, device=device)
