"""The original GAN game (Goodfellow et al. 2014), as pure functions of D's logits.

With D(x) = sigmoid(l(x)): log D = -softplus(-l) and log(1 - D) = -softplus(l), computed from
logits so they never take the log of a rounded sigmoid. Shapes: logits (N,), losses scalars.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def value(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """V(D, G) = E log D(x) + E log(1 - D(G(z))), estimated on a batch; at most 0, and equal to
    -log 4 + 2 JSD(p_data || p_g) when D is optimal."""
    return -F.softplus(-real_out).mean() - F.softplus(fake_out).mean()


def d_loss(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """D maximises V, so it minimises -V: binary cross-entropy with targets 1 (real), 0 (fake)."""
    return -value(real_out, fake_out)


def minimax_g_loss(fake_out: torch.Tensor) -> torch.Tensor:
    """The saturating loss, exactly as in the minimax game: G minimises E log(1 - D(G(z)))."""
    return -F.softplus(fake_out).mean()


def ns_g_loss(fake_out: torch.Tensor) -> torch.Tensor:
    """The non-saturating loss (Goodfellow et al. 2014, Sec. 3): G minimises -E log D(G(z))."""
    return F.softplus(-fake_out).mean()


def gan_estimates(real_out: torch.Tensor, fake_out: torch.Tensor) -> dict[str, torch.Tensor]:
    """What D's outputs say about the game: mean D(x), mean D(G(z)) and V(D, G)."""
    return {
        "D/real": torch.sigmoid(real_out).mean(),
        "D/fake": torch.sigmoid(fake_out).mean(),
        "estimate/value": value(real_out, fake_out),
    }
