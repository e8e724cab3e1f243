"""Why the minimax generator loss saturates (Goodfellow et al. 2014, Sec. 3, and Fig. 1's discussion).

With D = sigmoid(l) and l D's logit on a fake sample: the minimax loss log(1 - D) has dL/dl = -D, which
vanishes when D confidently rejects the fakes (D -> 0, early in training); the non-saturating loss -log D
has dL/dl = -(1 - D), which tends to -1 there. Both losses are minimised by G.

`measure_generator_gradients` shows the same on real networks: G's parameter gradient norm under each loss
early in training, while D learns to reject G's samples.
"""

from __future__ import annotations

import torch

from gankit.errors import GankitError
from gankit.objectives import adversarial


def generator_gradients(d_of_g_z: torch.Tensor) -> dict[str, torch.Tensor]:
    """|dL/dl| for each generator loss, as a function of D(G(z)), analytically and by autograd.

    Args:
        d_of_g_z: (N,) values of D(G(z)) in the open interval (0, 1).

    Returns:
        float64 (N,) tensors `minimax/analytic` (= D), `minimax/autograd`, `ns/analytic` (= 1 - D) and
        `ns/autograd`; the autograd ones differentiate gankit.objectives.adversarial's losses at l = logit D.
    """
    d = torch.as_tensor(d_of_g_z, dtype=torch.float64).reshape(-1)
    if not bool(((d > 0) & (d < 1)).all()):
        raise GankitError("generator_gradients needs D(G(z)) strictly between 0 and 1 (its logit must be finite)")
    out = {"minimax/analytic": d, "ns/analytic": 1 - d}
    for name, g_loss in (("minimax", adversarial.minimax_g_loss), ("ns", adversarial.ns_g_loss)):
        logit = torch.logit(d).requires_grad_(True)
        # The losses are batch means; scaling by N makes each element's gradient the per-sample dL/dl.
        (grad,) = torch.autograd.grad(g_loss(logit) * d.shape[0], logit)
        out[f"{name}/autograd"] = grad.abs()
    return out


def measure_generator_gradients(preset: str, *, overrides: tuple[str, ...] = (), steps: int = 200,
                                measure_every: int = 10, train_g: bool = False, seed: int = 0,
                                batch_size: int | None = None) -> list[dict[str, float]]:
    """|grad_θG L| for L = E log(1 - D(G(z))) (minimax) and -E log D(G(z)) (ns) as D trains, on a preset.

    The preset's data, models, D optimizer and objective are used as in `gankit train`. D takes `steps`
    steps on real batches against G's samples; G stays at its initialisation unless `train_g`, the situation
    early in training where D learns to reject G's samples faster than G improves. Every `measure_every`
    steps both losses are differentiated on one fixed batch of latents (no G update from that).

    Returns rows {step, d_fake (mean D(G(z)) on that batch), minimax (its |grad|), ns (its |grad|), ratio}.
    By the chain rule each sample's gradient is dL/dl times grad_θ l with |dL/dl| = D under minimax and
    1 - D under ns (`generator_gradients`), so ratio = minimax / ns is close to D / (1 - D) when D(G(z))
    is about the same on every sample.
    """
    from gankit.checks import load_config
    from gankit.data import load_dataset
    from gankit.models import sample_z
    from gankit.training.game import Game  # here: `import gankit.theory` stays light
    from gankit.training.steps import grad_norm

    extra = [f"train.seed={seed}"] + ([f"train.batch_size={batch_size}"] if batch_size else [])
    cfg = load_config(preset=preset, overrides=[*overrides, *extra])
    game = Game(cfg, load_dataset(cfg.data))  # gankit.train's engine: the preset's networks, optimizers, streams
    G, D = game.G, game.D
    z_fixed = sample_z(cfg.train.batch_size, cfg.model, generator=game.generator)
    rows = []
    for step in range(steps + 1):
        if step % measure_every == 0 or step == steps:
            row: dict[str, float] = {"step": step}
            for name, g_loss in (("minimax", adversarial.minimax_g_loss), ("ns", adversarial.ns_g_loss)):
                G.zero_grad(set_to_none=True)
                fake_out = D(G(z_fixed))  # (N,) logits
                g_loss(fake_out).backward()
                row[name] = float(grad_norm(G))
            row["d_fake"] = float(torch.sigmoid(fake_out.detach()).mean())  # the same D and z for both losses
            row["ratio"] = row["minimax"] / row["ns"]
            rows.append(row)
            G.zero_grad(set_to_none=True)
            D.zero_grad(set_to_none=True)
        if step == steps:
            break
        game.iterate("d")  # one D step on a fresh real batch
        if train_g:
            game.iterate("g")
    return rows
