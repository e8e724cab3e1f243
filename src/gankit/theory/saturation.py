"""Why the minimax generator loss saturates (Goodfellow et al. 2014, Sec. 3, and Fig. 1's discussion).

With D = sigmoid(l) and l D's logit on a fake sample: the minimax loss log(1 - D) has dL/dl = -D, which
vanishes when D confidently rejects the fakes (D -> 0, early in training); the non-saturating loss -log D
has dL/dl = -(1 - D), which tends to -1 there. Both losses are minimised by G.
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
