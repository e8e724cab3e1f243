"""Model families: each builds a (G, D) pair for a data shape; D returns logits (N,).

Conditional models (model.cond != "none") are called G(z, y) and D(x, y); see conditioning.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models import conv, dcgan, mlp
from gankit.models.conditioning import condition
from gankit.registry import Registry

# (cfg, shape) -> (G, D); a family with `Family.native_cond` also takes num_classes.
Builder = Callable[..., tuple[nn.Module, nn.Module]]

# Fields read by some families only: setting one away from its default for a family that does not
# read it is an error (check_model_fields) rather than a silently ignored setting.
FAMILY_ONLY = ("maxout_pieces", "d_dropout_input", "d_dropout", "g_dropout", "spectral_norm", "minibatch_std")


@dataclass(frozen=True)
class Family:
    """What a registered family reads besides z_dim and the hidden widths: `reads` ⊆ FAMILY_ONLY; the
    number of widths it takes in model.g_hidden / model.d_hidden (None: any number); and, for a family
    with label pathways of its own, the `model.cond` it implements (the conditioning wrappers skip it)."""

    reads: frozenset[str] = frozenset()
    g_widths: int | None = None
    d_widths: int | None = None
    native_cond: str | None = None


MODELS: Registry[Builder] = Registry("model")
MODELS.add("mlp2d", mlp.toy_mlp, "toy MLPs for 2D data: ReLU G, LeakyReLU D, 3 x 128 hidden", Family())
MODELS.add("classic-mlp", mlp.classic_mlp,
           "the widely copied MNIST MLP: G 256 Tanh-512 ReLU-784 Tanh, D 512-256-128 Tanh", Family(g_widths=2))
MODELS.add("wgan-mlp", mlp.wgan_mlp, "WGAN reference MLPs: 3 x 512 ReLU in G and D, linear G output", Family())
MODELS.add("gulrajani2017-conv", conv.gulrajani2017,
           "WGAN-GP MNIST convnets: deconv G with sigmoid, LeakyReLU conv critic, no batch norm",
           Family(g_widths=1, d_widths=1))  # base widths
# dcgan's widths are base widths, doubled per layer.
MODELS.add("dcgan", dcgan.dcgan,
           "Radford et al. 2016 convnets, 28x28 or 32x32: batch norm + ReLU deconv G, Tanh out; LeakyReLU conv D",
           Family(frozenset({"spectral_norm", "minibatch_std"}), g_widths=1, d_widths=1))
MODELS.add("goodfellow2014", mlp.goodfellow2014,
           "Goodfellow et al. 2014 MNIST: G 1200-1200 ReLU, sigmoid out; D maxout 240x5 x2, dropout",
           Family(frozenset({"maxout_pieces", "d_dropout_input", "d_dropout"}), g_widths=2, d_widths=2))
MODELS.add("lrelu-mlp", mlp.lrelu_mlp,
           "modern image MLPs: G 256-512-1024 batch norm + LeakyReLU, Tanh out; D 512-256 LeakyReLU",
           Family(frozenset({"minibatch_std"})))
MODELS.add("mirza2014", mlp.mirza2014,
           "Mirza & Osindero 2014 conditional MNIST: z and y branches into G, x and y into a maxout D (cond=concat)",
           Family(frozenset({"maxout_pieces", "d_dropout_input", "d_dropout", "g_dropout"}), g_widths=3, d_widths=3,
                  native_cond="concat"))  # widths: z branch, y branch, joint layer


def family(name: str) -> Family:
    """The registered family's self-description; a plugin registered without one reads no family-only field."""
    info = MODELS.info(name)
    return info if isinstance(info, Family) else Family()


def check_model_config(cfg: ModelConfig) -> None:
    """Config-time checks of the model section against the registry: the family, its fields, its conditioning."""
    MODELS.get(cfg.name)
    native = family(cfg.name).native_cond
    if native and cfg.cond != native:
        raise GankitError(f"model {cfg.name!r} is conditional by construction and needs model.cond={native!r}, "
                          f"got {cfg.cond!r}")
    check_model_fields(cfg)


def check_model_fields(cfg: ModelConfig) -> None:
    """A family-only field set away from its default for a family that does not read it, or a width
    list of the wrong length, is an error naming the families that do read it."""
    own = family(cfg.name)
    default = ModelConfig()
    for key in FAMILY_ONLY:
        if getattr(cfg, key) != getattr(default, key) and key not in own.reads:
            users = [name for name in MODELS.names() if key in family(name).reads]
            raise GankitError(f"model.{key}={getattr(cfg, key)!r} has no effect on model {cfg.name!r}; "
                              f"it is read by: {', '.join(users)}")
    for key, count in (("g_hidden", own.g_widths), ("d_hidden", own.d_widths)):
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
    if family(cfg.name).native_cond:
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
