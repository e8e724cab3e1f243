"""Layers shared by the model families."""

from __future__ import annotations

import torch
from torch import nn


class MinibatchStd(nn.Module):
    """Karras et al. 2018 ("Progressive Growing of GANs", section 3): the standard deviation of every feature
    at every position over the batch, averaged to one number and appended as a constant feature map. D can
    then tell a batch of near-copies (mode collapse) from a batch as varied as the data's."""

    couples_samples = True  # D(x) depends on the rest of the batch: real and fake batches go through D apart

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, ...) -> (N, C + 1, ...): feature maps (N, C, H, W) or features (N, F) alike."""
        spread = torch.sqrt(x.float().var(dim=0, unbiased=False) + 1e-8).mean().to(x.dtype)
        return torch.cat([x, spread.expand(x.shape[0], 1, *x.shape[2:])], dim=1)
