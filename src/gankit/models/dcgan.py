"""DCGAN (Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep Convolutional
GANs"): a transposed-convolution G with batch norm, ReLU and a Tanh output, a strided-convolution D with
LeakyReLU(0.2), for 28x28 and 32x32 images; optionally a spectrally normalised D (Miyato et al. 2018) and
a minibatch standard deviation layer in D (Karras et al. 2018).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.models.layers import MinibatchStd

# Image side -> (side after G's first, linear layer, number of stride-2 up-convolutions). Each
# ConvTranspose2d(4, 2, 1) doubles the side exactly: 4 -> 8 -> 16 -> 32 and 7 -> 14 -> 28. D mirrors it.
LAYOUTS = {32: (4, 3), 28: (7, 2)}


class DCGANGenerator(nn.Module):
    """z (N, z_dim) -> Linear -> (2^(n-1) base, s, s) -> n x [ConvTranspose2d(4, 2, 1), halving the
    width] -> (C, side, side) in [-1, 1]. Batch norm + ReLU after every layer but the Tanh output.

    32x32: (4 base, 4, 4) -> (2 base, 8, 8) -> (base, 16, 16) -> (C, 32, 32)
    28x28: (2 base, 7, 7) -> (base, 14, 14) -> (C, 28, 28)
    """

    def __init__(self, z_dim: int, side: int, channels: int, base: int = 64):
        super().__init__()
        start, n_up = LAYOUTS[side]
        width = base * 2 ** (n_up - 1)
        self.z_dim = z_dim
        # "Project and reshape" (the paper's Fig. 1): one matmul from z to the first feature maps. No
        # bias where batch norm follows: batch norm subtracts any constant shift again.
        layers: list[nn.Module] = [nn.Linear(z_dim, width * start * start, bias=False),
                                   nn.Unflatten(1, (width, start, start)), nn.BatchNorm2d(width), nn.ReLU()]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2),
                       nn.ReLU()]
            width //= 2
        # No batch norm on G's output layer (the paper: it caused sample oscillation and instability).
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class DCGANDiscriminator(nn.Module):
    """x (N, C, side, side) -> n x [Conv2d(4, 2, 1) + LeakyReLU(0.2), doubling the width] -> flatten
    -> Linear(F, 1) -> one logit per sample (N,). The mirror of the generator:

    32x32: (C, 32, 32) -> (base, 16, 16) -> (2 base, 8, 8) -> (4 base, 4, 4) -> F = 16 * 4 base
    28x28: (C, 28, 28) -> (base, 14, 14) -> (2 base, 7, 7) -> F = 49 * 2 base

    Batch norm on every conv layer but the first (the paper: none on D's input layer), unless
    `spectral` is set: then every conv and linear weight is divided by its largest singular value
    (Miyato et al. 2018) and there is no batch norm, so D(x) depends on x alone, not on its batch.
    `minibatch_std` appends the batch's spread as one more feature map to the last conv layer's output and
    adds a 3x3 conv + LeakyReLU(0.2) on it before the head (as Karras et al. 2018's last block).
    """

    def __init__(self, side: int, channels: int, base: int = 64, *, spectral: bool = False,
                 minibatch_std: bool = False):
        super().__init__()
        start, n_up = LAYOUTS[side]
        layers: list[nn.Module] = []
        width_in, width = channels, base
        for i in range(n_up):
            batch_norm = i > 0 and not spectral
            layers.append(nn.Conv2d(width_in, width, 4, 2, 1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.LeakyReLU(0.2))
            width_in, width = width, 2 * width
        if minibatch_std:
            layers += [MinibatchStd(), nn.Conv2d(width_in + 1, width_in, 3, 1, 1), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(width_in * start * start, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x): the flattened convolutional features before the linear head, (N, F) (the projection
        discriminator's features, models/conditioning.py)."""
        return self.body(x)


def init_weights(net: nn.Module) -> None:
    """The paper's initialisation: conv and linear weights N(0, 0.02), batch norm scales N(1, 0.02)
    (as the authors' code), biases 0."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0 if isinstance(m, nn.BatchNorm2d) else 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def dcgan(cfg: ModelConfig, shape: tuple[int, ...]) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    """DCGAN G and D for images (C, 28, 28) or (C, 32, 32); base widths 64, or model.g_hidden[0] and
    model.d_hidden[0]; model.spectral_norm swaps D's batch norm for spectral normalisation; model.minibatch_std
    adds the minibatch standard deviation layer to D."""
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in LAYOUTS:
        raise GankitError(f"model 'dcgan' needs images of shape (C, 28, 28) or (C, 32, 32), the data has shape "
                          f"{tuple(shape)}")
    channels, side = shape[0], shape[1]
    # Channels follow `shape`: the data's for G; a concat-conditional D is built from a second call
    # with the label maps added to the channels, and that call's G is discarded (conditioning.condition).
    G = DCGANGenerator(cfg.z_dim, side, channels, (cfg.g_hidden or [64])[0])
    D = DCGANDiscriminator(side, channels, (cfg.d_hidden or [64])[0], spectral=cfg.spectral_norm,
                           minibatch_std=cfg.minibatch_std)
    init_weights(G)
    init_weights(D)
    if cfg.spectral_norm:
        # After the init: the parametrization keeps the initialised weight as `original` and starts its
        # power iteration (u, v) from it; D's weights are W / sigma(W) from here on.
        for m in [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]:  # listed first: it adds modules
            spectral_norm(m)
    return G, D
