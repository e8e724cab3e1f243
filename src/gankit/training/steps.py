"""One discriminator step and one generator step (Goodfellow et al. 2014, Algorithm 1).

Both return detached scalar tensors (no host sync); the loop averages them per log interval.
With labels y (conditional GANs, Mirza & Osindero 2014) G and D are called G(z, y), D(x, y): the
objective and its penalties still see one-argument networks, with y bound.

With several processes the loop passes the network being updated as its DistributedDataParallel
wrapper (whose backward averages the gradients over ranks) and the other one as its plain module:
`d_step(G, D_ddp, ...)`, `g_step(G_ddp, D, ...)`. The frozen D of the G step must not be the wrapper:
DDP would wait for D gradients that never come.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.models.conditioning import bind_labels
from gankit.objectives import Objective


def grad_norm(module: nn.Module) -> torch.Tensor:
    """L2 norm of all parameter gradients of `module`, as one scalar tensor."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


def d_step(G: nn.Module, D: nn.Module, opt_D: torch.optim.Optimizer, *, objective: Objective,
           real: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None = None,
           index: int = 0) -> dict[str, torch.Tensor]:
    """Update D once on a real batch and a fake batch G(z); G gets no gradients.

    `y` (N,) are the real batch's labels for a conditional GAN: the fakes are drawn for the same
    labels, G(z, y), so D compares real and fake under each label (and a gradient penalty's
    interpolates keep one label). `index` counts D updates so far (lazy penalties use it).
    `loss/D` excludes the penalties, which are logged as `loss/penalty`.
    """
    G_y, D_y = bind_labels(G, y), bind_labels(D, y)
    with torch.no_grad():
        fake = G_y(z)
    real_out, fake_out = D_y(real), D_y(fake)
    loss = objective.d_loss(real_out, fake_out)
    stats = {"loss/D": loss.detach()}
    terms = [p(D_y, real, fake, index) for p in objective.penalties]
    terms = [term for term in terms if term is not None]
    if terms:
        penalty = torch.stack(terms).sum()
        stats["loss/penalty"] = penalty.detach()
        loss = loss + penalty
    opt_D.zero_grad(set_to_none=True)
    loss.backward()
    stats["grad/D"] = grad_norm(D)
    opt_D.step()
    if objective.clip > 0:  # WGAN: keep the critic in a compact set, so it is K-Lipschitz
        with torch.no_grad():
            for p in D.parameters():
                p.clamp_(-objective.clip, objective.clip)
    stats.update({k: v.detach() for k, v in objective.estimates(real_out, fake_out).items()})
    return stats


def g_step(G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, *, objective: Objective,
           z: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Update G once; D's weights are frozen so no gradient is computed for them. `y` (N,): the
    labels G is asked for, in a conditional GAN."""
    D.requires_grad_(False)
    try:
        loss = objective.g_loss(bind_labels(D, y)(bind_labels(G, y)(z)))
        opt_G.zero_grad(set_to_none=True)
        loss.backward()
        stats = {"loss/G": loss.detach(), "grad/G": grad_norm(G)}
        opt_G.step()
    finally:
        D.requires_grad_(True)
    return stats
