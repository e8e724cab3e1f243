"""f-GAN (Nowozin, Cseke & Tomioka 2016, "f-GAN: Training Generative Neural Samplers using Variational
Divergence Minimization"): the f-divergences of their Tables 2 and 6 and the variational bound on them.

D_f(P || Q) = int q(x) f(p(x) / q(x)) dx, with P the data and Q the generator. For every critic T,
D_f(P || Q) >= E_P[T(x)] - E_Q[f*(T(x))], with equality at T*(x) = f'(p(x) / q(x)). The critic network
outputs an unconstrained V(x), shape (N,), and T = g_f(V) maps it into dom f*. The critic maximises the
bound, the generator minimises it. A new divergence is a few lines, e.g. twice the KL divergence:

    register_divergence(
        "kl-x2",
        description="2 KL(P || Q)",
        f=lambda u: 2 * torch.xlogy(u, u),
        f_star=lambda t: 2 * torch.exp(t / 2 - 1),  # (c f)*(t) = c f*(t / c)
        g_f=lambda v: v,
        f_prime=lambda u: 2 * (1 + torch.log(u)),
    )

Table 2's parametric rows are families: `alpha-<a>` (Amari's alpha-divergence, e.g. `alpha-0.5`) and
`weighted-js-<pi>` (weighted Jensen-Shannon, e.g. `weighted-js-0.3`), built on first use.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from gankit.registry import Registry

Tensor = torch.Tensor
LOG2 = math.log(2.0)
GENERATOR_FORMS = ("saddle", "alternative")


@dataclass(frozen=True)
class Divergence:
    """An f-divergence as the functions an f-GAN needs; each acts elementwise on a tensor of any shape.

    The optional `f_star_g_f(v)` computes f*(g_f(v)) straight from v. It is given where t = g_f(v) crowds the
    edge of dom f* and rounds onto it (float32: from v ~ 17 on), where the composition returns inf or an
    infinite gradient although f*(g_f(v)) is finite and smooth.
    """

    name: str
    description: str  # one line, e.g. "Kullback-Leibler KL(P || Q)"
    f: Callable[[Tensor], Tensor]  # generator function: convex, f(1) = 0 (only "gan" has -log 4); u > 0
    f_star: Callable[[Tensor], Tensor]  # Fenchel conjugate sup_u (t u - f(u)): +inf outside dom f*
    g_f: Callable[[Tensor], Tensor]  # output activation: R -> dom f*
    f_prime: Callable[[Tensor], Tensor]  # f'(u): the optimal critic is T* = f'(p / q)
    f_star_g_f: Callable[[Tensor], Tensor] | None = None  # None: compose f_star(g_f(v))

    def f_star_of_output(self, v: Tensor) -> Tensor:
        """f*(g_f(v)) for raw critic outputs v, any shape: the generator's term of the bound."""
        return self.f_star(self.g_f(v)) if self.f_star_g_f is None else self.f_star_g_f(v)


DIVERGENCES: Registry[Divergence] = Registry("divergence")


def register_divergence(
    name: str,
    *,
    f: Callable[[Tensor], Tensor],
    f_star: Callable[[Tensor], Tensor],
    g_f: Callable[[Tensor], Tensor],
    f_prime: Callable[[Tensor], Tensor],
    description: str,
    f_star_g_f: Callable[[Tensor], Tensor] | None = None,
) -> Divergence:
    """Build a `Divergence`, add it to DIVERGENCES under `name` and return it; a taken name raises ValueError."""
    div = Divergence(name, description, f, f_star, g_f, f_prime, f_star_g_f)
    DIVERGENCES.add(name, div, description)
    return div


def _resolve(div: Divergence | str) -> Divergence:
    return DIVERGENCES.get(div) if isinstance(div, str) else div


def bound(div: Divergence | str, real_v: Tensor, fake_v: Tensor) -> Tensor:
    """The variational lower bound E_P[g_f(V(x))] - E_Q[f*(g_f(V(G(z))))] <= D_f(P || Q), on a batch.

    Args:
        div: a `Divergence` or a registered name.
        real_v: (N,) raw critic outputs V(x) on data, any real values.
        fake_v: (M,) raw critic outputs V(G(z)) on generated samples.
    Returns:
        A scalar; in expectation it equals D_f(P || Q) when g_f(V) = f'(p / q).
    """
    div = _resolve(div)
    return div.g_f(real_v).mean() - div.f_star_of_output(fake_v).mean()


def bounded(v: Tensor, bound: float) -> Tensor:
    """Raw critic outputs squashed smoothly into (-bound, bound), bound * tanh(v / bound); bound 0 leaves them.

    A bounded critic gives a looser but still valid lower bound on D_f and keeps the critic's loss and G's
    gradient finite where the density ratio p/q is astronomical (well-separated modes)."""
    return bound * torch.tanh(v / bound) if bound else v


def critic_loss(div: Divergence | str, real_v: Tensor, fake_v: Tensor) -> Tensor:
    """The critic maximises the bound, so it minimises -bound; shapes as in `bound`, returns a scalar."""
    return -bound(div, real_v, fake_v)


def generator_loss(div: Divergence | str, fake_v: Tensor, *, form: str = "saddle") -> Tensor:
    """The generator's loss (minimised) from fake_v: (M,) critic outputs on G(z); returns a scalar.

    "saddle": G minimises the bound; E_P[g_f(V)] does not depend on G, which leaves -E_Q[f*(g_f(V))].
    "alternative" (Sec. 3.2): G maximises E_Q[g_f(V)], i.e. minimises -E_Q[g_f(V)]; for "gan" this is the
    non-saturating -E log D(G(z)) of Goodfellow et al. 2014, as "saddle" is their saturating E log(1 - D(G(z))).
    """
    if form not in GENERATOR_FORMS:
        raise GankitError(f"unknown f-GAN generator loss form {form!r}; valid choices: {', '.join(GENERATOR_FORMS)}")
    div = _resolve(div)
    if form == "saddle":
        return -div.f_star_of_output(fake_v).mean()
    return -div.g_f(fake_v).mean()


def lambert_w(z: Tensor) -> Tensor:
    """The principal branch W(z) of the Lambert W function (W e^W = z), elementwise for z > 0."""
    return torch.exp(_log_lambert_w_exp(torch.log(z)))


def _log_lambert_w_exp(y: Tensor) -> Tensor:
    """s = log W(e^y) for any real y, solving e^s + s = y: W of arguments far beyond the float range.

    e^s + s - y is convex and increasing in s, so Newton's method converges from any start (from the second
    iterate on, monotonically from above). Starts: log(z / (1 + z)) with z = e^y for y <= 1, log(y - log y)
    for y > 1; both within 0.32 of s (the second exact at y = 1). Errors after each step: 2e-2, 1e-4, 4e-9,
    then float64 rounding; five steps in all.
    """
    with torch.no_grad():
        s = torch.where(y > 1, torch.log(y - torch.log(y.clamp(min=1))), y - F.softplus(y))
        for _ in range(4):
            w = torch.exp(s)
            s = s - (w + s - y) / (w + 1)
    # The last step runs under autograd: its derivative in y is 1 / (1 + W), exactly the implicit derivative
    # ds/dy, so gradients are right without backpropagating through the loop.
    w = torch.exp(s)
    return s - (w + s - y) / (w + 1)


def _jeffrey_f_star(t: Tensor) -> Tensor:
    """f*(t) = W(e^{1-t}) + 1 / W(e^{1-t}) + t - 2 (Table 6), dom f* = R.

    W + log W = 1 - t turns it into 1 / W - log W - 1: no e^{1-t} (which overflows from t < -87 in float32)
    and no cancellation between W and -t when both are large."""
    s = _log_lambert_w_exp(1 - t)
    return torch.exp(-s) - s - 1


# The built-ins, in the order of Table 6, registered through the same call as user divergences. Each f_star is
# +inf outside dom f*, so a critic value outside the domain makes the bound -inf, not a wrong finite number.

register_divergence(
    "total-variation",
    description="total variation 1/2 int |p - q|",
    f=lambda u: 0.5 * (u - 1).abs(),
    f_star=lambda t: torch.where(t.abs() <= 0.5, t, torch.inf),  # dom f* = [-1/2, 1/2]
    g_f=lambda v: 0.5 * torch.tanh(v),
    f_prime=lambda u: 0.5 * torch.sign(u - 1),  # a subgradient; 0 at u = 1
)

register_divergence(
    "kl",
    description="Kullback-Leibler KL(P || Q)",
    f=lambda u: torch.xlogy(u, u),  # u log u, and 0 at u = 0
    f_star=lambda t: torch.exp(t - 1),  # dom f* = R
    g_f=lambda v: v,
    f_prime=lambda u: 1 + torch.log(u),
)

register_divergence(
    "reverse-kl",
    description="reverse Kullback-Leibler KL(Q || P)",
    f=lambda u: -torch.log(u),
    f_star=lambda t: torch.where(t < 0, -1 - torch.log(-t), torch.inf),  # dom f* = (-inf, 0)
    g_f=lambda v: -torch.exp(-v),
    f_prime=lambda u: -1 / u,
    f_star_g_f=lambda v: v - 1,  # -1 - log(e^{-v}); e^{-v} underflows to 0 from v ~ 104 in float32
)

register_divergence(
    "pearson",
    description="Pearson chi-squared int (p - q)^2 / q",
    f=lambda u: (u - 1) ** 2,
    f_star=lambda t: t**2 / 4 + t,  # dom f* = R
    g_f=lambda v: v,
    f_prime=lambda u: 2 * (u - 1),
)

register_divergence(
    "neyman",
    description="Neyman chi-squared int (q - p)^2 / p",
    f=lambda u: (1 - u) ** 2 / u,
    # dom f* = (-inf, 1]: sup_u (u - f(u)) = sup_u (2 - 1/u) = 2 is finite at t = 1.
    f_star=lambda t: torch.where(t <= 1, 2 - 2 * torch.sqrt(1 - t), torch.inf),
    g_f=lambda v: -torch.expm1(-v),  # 1 - e^{-v}
    f_prime=lambda u: 1 - 1 / u**2,
    f_star_g_f=lambda v: 2 - 2 * torch.exp(-v / 2),  # 1 - t = e^{-v} exactly; composed, sqrt(0) has slope inf
)

register_divergence(
    "squared-hellinger",
    description="squared Hellinger int (sqrt(p) - sqrt(q))^2",
    f=lambda u: (torch.sqrt(u) - 1) ** 2,
    f_star=lambda t: torch.where(t < 1, t / (1 - t), torch.inf),  # dom f* = (-inf, 1)
    g_f=lambda v: -torch.expm1(-v),  # 1 - e^{-v}
    f_prime=lambda u: 1 - torch.rsqrt(u),
    f_star_g_f=torch.expm1,  # t / (1 - t) = (1 - e^{-v}) / e^{-v}; composed, 1 - t rounds to 0
)

register_divergence(
    "jeffrey",
    description="Jeffrey KL(P || Q) + KL(Q || P)",
    f=lambda u: (u - 1) * torch.log(u),
    f_star=_jeffrey_f_star,  # dom f* = R
    g_f=lambda v: v,
    f_prime=lambda u: torch.log(u) + 1 - 1 / u,
)

# With this f, D_f = KL(P || M) + KL(Q || M) = 2 JSD(P || Q), M = (P + Q) / 2: twice the usual JSD.
register_divergence(
    "jensen-shannon",
    description="Jensen-Shannon KL(P || M) + KL(Q || M) = 2 JSD(P || Q), M = (P + Q) / 2",
    f=lambda u: torch.xlogy(u, u) - (u + 1) * (torch.log1p(u) - LOG2),
    # -log(2 - e^t) with 2 - e^t = -2 expm1(t - log 2), exact near the edge; dom f* = (-inf, log 2)
    f_star=lambda t: torch.where(t < LOG2, -torch.log(-2 * torch.expm1(t - LOG2)), torch.inf),
    g_f=lambda v: LOG2 - F.softplus(-v),  # log 2 + log sigmoid(v)
    f_prime=lambda u: LOG2 - torch.log1p(1 / u),  # log(2u / (u + 1))
    f_star_g_f=lambda v: F.softplus(v) - LOG2,  # -log(2 - 2 sigmoid(v)) = -log 2 - log sigmoid(-v)
)

# With D = sigmoid(v): T = g_f(v) = log D and f*(T) = -log(1 - D), so the bound is exactly the GAN value
# function V(D, G) = E log D(x) + E log(1 - D(G(z))), and D_f = 2 JSD(P || Q) - log 4. Its f(1) = -log 4, not 0.
register_divergence(
    "gan",
    description="GAN (Goodfellow et al. 2014) 2 JSD(P || Q) - log 4",
    f=lambda u: torch.xlogy(u, u) - (u + 1) * torch.log1p(u),
    f_star=lambda t: torch.where(t < 0, -torch.log(-torch.expm1(t)), torch.inf),  # -log(1 - e^t), dom (-inf, 0)
    g_f=lambda v: -F.softplus(-v),  # log sigmoid(v)
    f_prime=lambda u: -torch.log1p(1 / u),  # log(u / (u + 1))
    f_star_g_f=F.softplus,  # -log(1 - sigmoid(v)); composed, t = -e^{-v} underflows to 0 from v ~ 104 in float32
)


# The two rows of Table 2 with a parameter, as families: `alpha-0.5`, `weighted-js-0.3` are built on first use.


def alpha_divergence(a: float) -> Divergence:
    """Amari's alpha-divergence (Table 2), a not 0 or 1: f(u) = (u^a - 1 - a (u - 1)) / (a (a - 1)).

    Members: a = 2 is half of Pearson chi^2, a = -1 half of Neyman chi^2, a = 1/2 twice the squared Hellinger
    distance; a -> 1 tends to KL, a -> 0 to reverse KL. f'(u) = (u^(a-1) - 1) / (a - 1) makes
    f*(t) = ((1 + (a - 1) t)^(a / (a - 1)) - 1) / a on dom f* = {1 + (a - 1) t > 0}. The output activation
    g_f(v) = expm1((a - 1) v) / (a - 1) maps R onto that domain with 1 + (a - 1) g_f(v) = e^((a - 1) v) exactly,
    so f*(g_f(v)) = expm1(a v) / a with no rounding at the edge, and the optimal critic's raw output is
    v = log(p / q) for every a (as a GAN's logit). (For a > 1, dom f* extends below -1 / (a - 1) with the
    constant -1/a, the value at u = 0, which no optimal critic reaches.)
    """
    if not math.isfinite(a) or a in (0.0, 1.0):
        raise GankitError(f"alpha-divergence needs a finite alpha other than 0 and 1; got {a:g} "
                          "(alpha 1 is KL: use kl; alpha 0 is reverse KL: use reverse-kl)")

    power = a / (a - 1)  # > 0 for a < 0 or a > 1: the edge 1 + (a - 1) t = 0 belongs to dom f* (u = 0)

    def f_star(t: Tensor) -> Tensor:
        base = 1 + (a - 1) * t
        inside = base >= 0 if power > 0 else base > 0
        value = (base.clamp(min=0 if power > 0 else 1e-300) ** power - 1) / a
        return torch.where(inside, value, -1 / a if a > 1 else torch.inf)

    return Divergence(
        f"alpha-{a:g}", f"Amari alpha-divergence, alpha = {a:g}",
        f=lambda u: (u**a - 1 - a * (u - 1)) / (a * (a - 1)),
        f_star=f_star,
        g_f=lambda v: torch.expm1((a - 1) * v) / (a - 1),
        f_prime=lambda u: (u ** (a - 1) - 1) / (a - 1),
        f_star_g_f=lambda v: torch.expm1(a * v) / a,
    )


def weighted_jensen_shannon(pi: float) -> Divergence:
    """Weighted Jensen-Shannon (Table 2), 0 < pi < 1: pi KL(P || M) + (1 - pi) KL(Q || M), M = pi P + (1 - pi) Q,
    with f(u) = pi u log u - (1 - pi + pi u) log(1 - pi + pi u). A discriminator that tells data (prior pi)
    from generated samples (prior 1 - pi) plays this game; pi = 1/2 is the JSD, half of `jensen-shannon`.

    f'(u) = pi log(u / (1 - pi + pi u)) < -pi log pi, f*(t) = (1 - pi) log((1 - pi) / (1 - pi e^(t / pi))). The
    activation g_f(v) = pi log(sigmoid(v) / pi) makes 1 - pi e^(t / pi) = sigmoid(-v), so
    f*(g_f(v)) = (1 - pi) (log(1 - pi) + softplus(v)): at the optimum D = sigmoid(v) = pi p / (pi p + (1 - pi) q).
    """
    if not 0 < pi < 1:
        raise GankitError(f"weighted Jensen-Shannon needs 0 < pi < 1; got {pi:g}")
    edge = -pi * math.log(pi)  # dom f* = (-inf, -pi log pi)
    return Divergence(
        f"weighted-js-{pi:g}", f"weighted Jensen-Shannon, pi = {pi:g}",
        f=lambda u: pi * torch.xlogy(u, u) - torch.xlogy(1 - pi + pi * u, 1 - pi + pi * u),
        f_star=lambda t: torch.where(
            t < edge, (1 - pi) * (math.log(1 - pi) - torch.log1p(-pi * torch.exp(t.clamp(max=edge) / pi))), torch.inf),
        g_f=lambda v: pi * (-F.softplus(-v) - math.log(pi)),
        f_prime=lambda u: pi * (torch.log(u) - torch.log(1 - pi + pi * u)),
        f_star_g_f=lambda v: (1 - pi) * (math.log(1 - pi) + F.softplus(v)),
    )


DIVERGENCES.add_family("alpha", alpha_divergence, "Amari alpha-divergence, alpha = {}", domain="alpha not 0 or 1")
DIVERGENCES.add_family("weighted-js", weighted_jensen_shannon, "weighted Jensen-Shannon pi KL(P || M) + "
                       "(1 - pi) KL(Q || M), M = pi P + (1 - pi) Q, pi = {}", domain="0 < pi < 1")
for _name in ("alpha-0.5", "alpha-2", "alpha--1", "weighted-js-0.5", "weighted-js-0.3"):
    DIVERGENCES.get(_name)  # the members the lab lists and the tests check, built now
