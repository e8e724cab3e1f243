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


# ---------------------------------------------------------------------------- other games on raw outputs


def wgan_d_loss(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """WGAN critic (Arjovsky et al. 2017): maximise E D(x) - E D(G(z)), so minimise its negative."""
    return fake_out.mean() - real_out.mean()


def wgan_g_loss(fake_out: torch.Tensor) -> torch.Tensor:
    """WGAN generator: minimise -E D(G(z))."""
    return -fake_out.mean()


def wgan_estimates(real_out: torch.Tensor, fake_out: torch.Tensor) -> dict[str, torch.Tensor]:
    """E D(x) - E D(G(z)): the critic's estimate of K * W1(p_data, p_g) for a K-Lipschitz critic."""
    return {"D/real": real_out.mean(), "D/fake": fake_out.mean(),
            "estimate/wasserstein": real_out.mean() - fake_out.mean()}


def hinge_d_loss(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018): E relu(1 - D(x)) + E relu(1 + D(G(z)))."""
    return F.relu(1 - real_out).mean() + F.relu(1 + fake_out).mean()


def ls_d_loss(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """Least squares (Mao et al. 2017), targets 1 real / 0 fake: 1/2 E (D(x) - 1)^2 + 1/2 E D(G(z))^2."""
    return 0.5 * (real_out - 1).pow(2).mean() + 0.5 * fake_out.pow(2).mean()


def ls_g_loss(fake_out: torch.Tensor) -> torch.Tensor:
    """Least squares generator: 1/2 E (D(G(z)) - 1)^2."""
    return 0.5 * (fake_out - 1).pow(2).mean()


def raw_estimates(real_out: torch.Tensor, fake_out: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean raw outputs, for games whose D output is not a probability."""
    return {"D/real": real_out.mean(), "D/fake": fake_out.mean()}
