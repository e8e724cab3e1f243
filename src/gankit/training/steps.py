"""One discriminator step and one generator step (Goodfellow et al. 2014, Algorithm 1).

Both return detached scalar tensors (no host sync); the loop averages them per log interval.
With labels y (conditional GANs, Mirza & Osindero 2014) G and D are called G(z, y), D(x, y): the
objective and its penalties still see one-argument networks, with y bound.

With several processes the loop passes the network being updated as its DistributedDataParallel
wrapper (whose backward averages the gradients over ranks) and the other one as its plain module:
`d_step(G, D_ddp, ...)`, `g_step(G_ddp, D, ...)`. The frozen D of the G step must not be the wrapper:
DDP would wait for D gradients that never come.

`precision` (training/precision.py) runs the networks under bf16/fp16 autocast; the objective always
sees fp32 logits. `scaler`: the optimizer's fp16 loss scaler (a pass-through otherwise).
`measure_grad=False` leaves out `grad/D` / `grad/G`: each is one more pass over every gradient, a noticeable
share of a small MLP's step, so the loop measures them on every few steps only.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.models.conditioning import bind_labels
from gankit.objectives import Objective
from gankit.training.precision import FP32, Precision

NO_SCALING = torch.amp.GradScaler("cpu", enabled=False)  # scale/unscale_/step/update pass through


def grad_norm(module: nn.Module) -> torch.Tensor:
    """L2 norm of all parameter gradients of `module`, as one scalar tensor."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


def d_step(G: nn.Module, D: nn.Module, opt_D: torch.optim.Optimizer, *, objective: Objective,
           real: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None = None,
           index: int = 0, precision: Precision = FP32, scaler: torch.amp.GradScaler = NO_SCALING,
           measure_grad: bool = True) -> dict[str, torch.Tensor]:
    """Update D once on a real batch and a fake batch G(z); G gets no gradients.

    `y` (N,) are the real batch's labels for a conditional GAN: the fakes are drawn for the same
    labels, G(z, y), so D compares real and fake under each label (and a gradient penalty's
    interpolates keep one label). `index` counts D updates so far (lazy penalties use it).
    `loss/D` excludes the penalties, which are logged as `loss/penalty`.
    """
    G_y, D_y = bind_labels(G, y), bind_labels(D, y)
    with torch.no_grad(), precision.autocast():
        fake = G_y(z)
    with precision.autocast():
        if couples_samples(D):  # batch norm, minibatch std: real and fake batches seen apart, as DCGAN does
            real_out, fake_out = D_y(real), D_y(fake)
        else:  # one pass over both: larger matrix products, half the kernel launches
            both = torch.cat([real.to(fake.dtype), fake])  # in bf16/fp16 D would cast an fp32 cat anyway
            real_out, fake_out = bind_labels(D, None if y is None else torch.cat([y, y]))(both).chunk(2)
    real_out, fake_out = real_out.float(), fake_out.float()  # (N,) logits; losses in fp32
    loss = objective.d_loss(real_out, fake_out)
    stats = {"loss/D": loss.detach()}
    terms = [p(D_y, real, fake.to(real.dtype), index) for p in objective.penalties]  # fp32: no autocast
    terms = [term for term in terms if term is not None]
    if terms:
        penalty = torch.stack(terms).sum()
        stats["loss/penalty"] = penalty.detach()
        loss = loss + penalty
    opt_D.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    stats.update(_unscaled_grad_norm(D, opt_D, scaler, "D", measure_grad))
    scaler.step(opt_D)  # skipped by an fp16 scaler when a gradient overflowed
    scaler.update()
    if objective.clip > 0:  # WGAN: keep the critic in a compact set, so it is K-Lipschitz
        with torch.no_grad():
            for p in D.parameters():
                p.clamp_(-objective.clip, objective.clip)
    stats.update({k: v.detach() for k, v in objective.estimates(real_out, fake_out).items()})
    return stats


def g_step(G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, *, objective: Objective,
           z: torch.Tensor, y: torch.Tensor | None = None, precision: Precision = FP32,
           scaler: torch.amp.GradScaler = NO_SCALING, measure_grad: bool = True) -> dict[str, torch.Tensor]:
    """Update G once; D's weights are frozen so no gradient is computed for them. `y` (N,): the
    labels G is asked for, in a conditional GAN."""
    D.requires_grad_(False)
    try:
        with precision.autocast():
            fake_out = bind_labels(D, y)(bind_labels(G, y)(z))
        loss = objective.g_loss(fake_out.float())
        opt_G.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        stats = {"loss/G": loss.detach(), **_unscaled_grad_norm(G, opt_G, scaler, "G", measure_grad)}
        scaler.step(opt_G)
        scaler.update()
    finally:
        D.requires_grad_(True)
    return stats


def couples_samples(D: nn.Module) -> bool:
    """Whether D's output for one sample depends on the others in its batch: batch norm in training mode, or a
    layer that says so (`couples_samples = True`, as the minibatch standard deviation layer)."""
    return any((isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training) or getattr(m, "couples_samples", False)
               for m in D.modules())


def _unscaled_grad_norm(module: nn.Module, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                        name: str, wanted: bool = True) -> dict[str, torch.Tensor]:
    """`grad/<name>`: the gradient norm after dividing out the loss scale. An fp16 step whose gradients
    overflowed is skipped by the scaler (which then lowers the scale), so it logs norm 0 and
    `amp/skipped/<name>` 1 (its mean over a log interval is the fraction skipped), not an Inf alarm.
    Not `wanted`: nothing, unless the scaler needs the norm to tell a skipped step."""
    if not scaler.is_enabled():
        return {f"grad/{name}": grad_norm(module)} if wanted else {}
    scaler.unscale_(opt)
    norm = grad_norm(module)
    ok = torch.isfinite(norm)
    return {f"grad/{name}": torch.where(ok, norm, torch.zeros_like(norm)), f"amp/skipped/{name}": (~ok).float()}
