"""Model families: each builds a (G, D) pair for a data shape; D returns logits (N,).

Conditional models (model.cond != "none") are called G(z, y) and D(x, y); see conditioning.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models import conv, dcgan, mlp
from gankit.models.conditioning import NATIVE, condition
from gankit.registry import Registry

# (cfg, shape) -> (G, D); the families in conditioning.NATIVE also take num_classes.
Builder = Callable[..., tuple[nn.Module, nn.Module]]
MODELS: Registry[Builder] = Registry("model")
MODELS.add("mlp2d", mlp.toy_mlp, "toy MLPs for 2D data: ReLU G, LeakyReLU D, 3 x 128 hidden")
MODELS.add("classic-mlp", mlp.classic_mlp,
           "the widely copied MNIST MLP: G 256 Tanh-512 ReLU-784 Tanh, D 512-256-128 Tanh")
MODELS.add("wgan-mlp", mlp.wgan_mlp, "WGAN reference MLPs: 3 x 512 ReLU in G and D, linear G output")
MODELS.add("gulrajani2017-conv", conv.gulrajani2017,
           "WGAN-GP MNIST convnets: deconv G with sigmoid, LeakyReLU conv critic, no batch norm")
MODELS.add("dcgan", dcgan.dcgan,
           "Radford et al. 2016 convnets, 28x28 or 32x32: batch norm + ReLU deconv G, Tanh out; LeakyReLU conv D")
MODELS.add("goodfellow2014", mlp.goodfellow2014,
           "Goodfellow et al. 2014 MNIST: G 1200-1200 ReLU, sigmoid out; D maxout 240x5 x2, dropout")
MODELS.add("lrelu-mlp", mlp.lrelu_mlp,
           "modern image MLPs: G 256-512-1024 batch norm + LeakyReLU, Tanh out; D 512-256 LeakyReLU")
MODELS.add("mirza2014", mlp.mirza2014,
           "Mirza & Osindero 2014 conditional MNIST: z and y branches into G, x and y into a maxout D (cond=concat)")


# What each built-in family reads besides z_dim and the hidden widths: the fields below are read by
# some families only, and the fixed-depth families take a set number of widths (None: any number).
# check_model_fields names a field a family would silently ignore, before anything is built.
FAMILY_ONLY = ("maxout_pieces", "d_dropout_input", "d_dropout", "g_dropout", "spectral_norm")
FAMILIES: dict[str, tuple[set[str], int | None, int | None]] = {  # name: (fields read, G widths, D widths)
    "mlp2d": (set(), None, None),
    "classic-mlp": (set(), 2, None),
    "wgan-mlp": (set(), None, None),
    "gulrajani2017-conv": (set(), 1, 1),  # base widths
    "dcgan": ({"spectral_norm"}, 1, 1),  # base widths, doubled per layer
    "goodfellow2014": ({"maxout_pieces", "d_dropout_input", "d_dropout"}, 2, 2),
    "lrelu-mlp": (set(), None, None),
    "mirza2014": ({"maxout_pieces", "d_dropout_input", "d_dropout", "g_dropout"}, 3, 3),  # z, y, joint
}


def check_model_fields(cfg: ModelConfig) -> None:
    """A family-only field set away from its default for a family that does not read it, or a width
    list of the wrong length, is an error naming the families that do read it. Plugin families (not
    in FAMILIES) check their own fields."""
    if cfg.name not in FAMILIES:
        return
    reads, g_count, d_count = FAMILIES[cfg.name]
    default = ModelConfig()
    for key in FAMILY_ONLY:
        if getattr(cfg, key) != getattr(default, key) and key not in reads:
            users = [name for name, (fields, _, _) in FAMILIES.items() if key in fields]
            raise GankitError(f"model.{key}={getattr(cfg, key)!r} has no effect on model {cfg.name!r}; "
                              f"it is read by: {', '.join(users)}")
    for key, count in (("g_hidden", g_count), ("d_hidden", d_count)):
        widths = getattr(cfg, key)
        if count is not None and widths and len(widths) != count:
            raise GankitError(f"model {cfg.name!r} takes {count} width{'s' if count > 1 else ''} in "
                              f"model.{key}, got {widths}")


def build_models(cfg: ModelConfig, shape: tuple[int, ...], num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """G and D of the family `cfg.name` for data of `shape`; conditioned on `num_classes` labels
    (the number in the data) when `cfg.cond` is not "none"."""
    build = MODELS.get(cfg.name)
    if cfg.cond == "none":
        return build(cfg, tuple(shape))
    if num_classes < 1:
        raise GankitError(f"model.cond={cfg.cond!r} needs labelled data (at least one class)")
    if cfg.name in NATIVE:
        return build(cfg, tuple(shape), num_classes)
    return condition(build, cfg, tuple(shape), num_classes)


def sample_z(n: int, cfg: ModelConfig, *, generator: torch.Generator) -> torch.Tensor:
    """Latents (n, z_dim) on the generator's device: N(0, I), U(-sqrt 3, sqrt 3) (unit variance, as
    pylearn2's `uniform` noise in the 2014 code) or U(0, 1) (the unit hypercube of Mirza & Osindero 2014)."""
    device = generator.device
    if cfg.z_dist == "uniform":
        u = torch.rand(n, cfg.z_dim, generator=generator, device=device)
        return (2 * u - 1) * math.sqrt(3)
    if cfg.z_dist == "uniform01":
        return torch.rand(n, cfg.z_dim, generator=generator, device=device)
    return torch.randn(n, cfg.z_dim, generator=generator, device=device)
