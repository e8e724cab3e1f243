"""The classic MNIST GAN training loop of the widely copied PyTorch blog recipe, kept as the baseline
that gankit's engine is measured against (benchmarks/throughput.py, benchmarks/time_to_quality.py).

Faithful to the recipe, including what makes it slow: a Dataset that serves one image at a time the
way torchvision's `datasets.MNIST` with `Compose([ToTensor(), Normalize((0.5,), (0.5,))])` does (a
Pillow image per sample, then a float tensor, then normalised; written out here since torchvision is not
a dependency), `DataLoader(shuffle=True, num_workers=4)`, a sigmoid at D's end with `nn.BCELoss`, and a
G step whose backward also fills D's weight gradients (cleared by the next D step's zero_grad).
The networks are gankit's own builders (same layers, same initialisation); only the loop differs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset


class PerSampleMNIST(Dataset):
    """uint8 images (N, 28, 28) -> (image (1, 28, 28) float in [-1, 1], target) per __getitem__, through
    the steps torchvision takes: a Pillow "L" image (datasets.MNIST), ToTensor (copy of the image's
    bytes, HWC -> CHW, / 255) and Normalize (mean and std as tensors, a check that std has no zero).
    Measured here: about 90 us per image, 5x the cost of the same arithmetic on the uint8 array alone."""

    def __init__(self, images: np.ndarray):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = Image.fromarray(self.images[i], mode="L")  # datasets.MNIST hands transforms a PIL image
        x = torch.from_numpy(np.array(img, np.uint8, copy=True))  # ToTensor
        x = x.view(img.size[1], img.size[0], len(img.getbands())).permute(2, 0, 1).contiguous()
        x = x.to(torch.get_default_dtype()).div(255)
        mean, std = torch.as_tensor((0.5,), dtype=x.dtype), torch.as_tensor((0.5,), dtype=x.dtype)  # Normalize
        if (std == 0).any():
            raise ValueError("std evaluated to zero")
        return x.sub_(mean.view(-1, 1, 1)).div_(std.view(-1, 1, 1)), 0  # (image, target); the loop ignores targets


def train_classic(G: nn.Module, D: nn.Module, images: np.ndarray, *, z_dim: int, batch_size: int = 64,
                  lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.999), num_workers: int = 4,
                  seconds: float = 60.0, warmup_batches: int = 20,
                  on_checkpoint: Callable[[float, int], bool] | None = None) -> dict:
    """Train as the recipe does for `seconds` of wall time (after `warmup_batches`), one D step and one
    G step per batch. `on_checkpoint(train_seconds, nimg)` is called at every epoch's end and may return
    True to stop (time_to_quality evaluates there; its time is not counted). Returns images/s and counts."""
    D_prob = nn.Sequential(D, nn.Sigmoid())  # the recipe's D ends in a sigmoid; gankit's returns logits
    criterion = nn.BCELoss()
    opt_G = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_D = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    loader = DataLoader(PerSampleMNIST(images), batch_size=batch_size, shuffle=True, num_workers=num_workers,
                        drop_last=True)
    seen, counted, timed = 0, 0, 0.0
    start = time.perf_counter() if warmup_batches == 0 else None  # timing starts after the warm-up batches
    done = False
    while not done:
        t0 = time.perf_counter()
        for real, _ in loader:  # (image, label) pairs, as torchvision's MNIST yields
            n = real.shape[0]
            ones, zeros = torch.ones(n, 1), torch.zeros(n, 1)
            # D step: real -> 1, fake -> 0
            z = torch.randn(n, z_dim)
            fake = G(z)
            d_loss = criterion(D_prob(real).view(n, 1), ones) + criterion(D_prob(fake.detach()).view(n, 1), zeros)
            opt_D.zero_grad()
            d_loss.backward()
            opt_D.step()
            # G step: fake -> 1 (gradients flow into D's weights too, as in the recipe)
            g_loss = criterion(D_prob(fake).view(n, 1), ones)
            opt_G.zero_grad()
            g_loss.backward()
            opt_G.step()
            seen += n
            if start is None and seen == warmup_batches * batch_size:
                start, t0 = time.perf_counter(), time.perf_counter()
            elif start is not None:
                counted += n
            if start is not None and timed + time.perf_counter() - t0 >= seconds:
                done = True
                break
        if start is not None:
            timed += time.perf_counter() - t0
        if on_checkpoint is not None and on_checkpoint(timed, seen):
            done = True
    return {"img_per_s": counted / max(timed, 1e-9), "images": seen, "seconds": timed}
