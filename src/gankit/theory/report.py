"""`gankit theory`: a Markdown report on Goodfellow et al. (2014), Sec. 4, for known densities, with real
networks set against the closed forms (Arjovsky et al. 2017 and Gulrajani et al. 2017 for the critics).

For each case (p_data, p_g): D* = p_data / (p_data + p_g) beside both densities (Prop. 1); V(D*, G), JSD, KL
both ways, entropies and W1, with V(D*, G) = -log 4 + 2 JSD (Theorem 1); the walk p_g -> p_data, where V(D*, G)
falls to its minimum -log 4 and D* to 1/2; a trained discriminator against D*. Then, once: the saturation
of the minimax generator loss (analytic and measured) and WGAN critics against the exact W1.
Writes report.md, one PNG per figure with a CSV of its numbers, and summary.json (the headline numbers).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from gankit import memory
from gankit.config import check_seed
from gankit.errors import GankitError
from gankit.theory import figures
from gankit.theory.densities import Blend, Density, Gaussian1D, Grid, Mixture1D
from gankit.theory.discriminator import (
    CRITICS,
    fitted_ratio,
    gradient_penalty_optimum,
    train_critic,
    train_discriminator,
)
from gankit.theory.identities import (
    _log_density,
    _optimal_logit,
    check_theorem1,
    optimal_discriminator,
    theorem1_from_logs,
    wasserstein1,
)
from gankit.theory.saturation import generator_gradients, measure_generator_gradients
from gankit.theory.specs import as_density, dim_of, grid_for

LOG4 = math.log(4)

# (p_data, p_g): two 1D cases (a D* that crosses 1/2 twice; a bimodal p_data against one Gaussian) and a 2D one.
DEFAULT_CASES = (
    ("gaussian:mean=0,std=1", "gaussian:mean=1.5,std=0.7"),
    ("mixture:means=-2;2,stds=0.5", "gaussian:mean=0,std=1.5"),
    ("ring8", "gaussian:mean=0;0,std=0.4"),
)
# The critics' pairs: translates of N(0, 1), where W1 is the shift, and a wider Gaussian, W1 = sqrt(2/π).
DEFAULT_CRITIC_PAIRS = tuple(("gaussian:mean=0,std=1", m) for m in (
    "gaussian:mean=0.5,std=1", "gaussian:mean=1,std=1", "gaussian:mean=2,std=1", "gaussian:mean=0,std=2"))
# Where the saturation is measured: gankit presets, as `gankit train` would build them.
SATURATION_RUNS = {"ring8 (ring8-ns)": ("ring8-ns", ()),
                   "mnist-5k (classic-mlp-mnist)": ("classic-mlp-mnist", ("data.name=mnist-5k",))}


@dataclass
class TheoryOptions:
    """The training budgets of the report; a budget of 0 steps skips that part."""

    d_steps: int = 1000  # discriminator steps per case, trained towards D*
    d_batch_size: int = 256  # points drawn from p_data and from p_g per discriminator step
    d_lr: float = 1e-3  # the discriminator's Adam lr, decayed linearly to 0
    critic_steps: int = 400  # steps per critic (clipped and gradient-penalty) and pair
    critic_lr: float = 3e-3  # RMSprop lr (clip) and Adam lr, betas (0, 0.9) (gp), decayed linearly to 0
    clip: float = 0.01  # the clipped critic's weight bound c (Arjovsky et al. 2017)
    gp_lambda: float = 10.0  # the gradient penalty's weight (Gulrajani et al. 2017)
    saturation_steps: int = 200  # discriminator steps against a fixed G per preset
    mnist: bool = True  # also measure the saturation on mnist-5k (classic-mlp-mnist)
    w1_samples: int = 1000  # samples of each density for W1 by optimal transport in 2D
    blend_points: int = 11  # values of t on the walk p_g,t = (1 - t) p_data + t p_g
    grid_points: int | None = None  # points per axis of every case's grid; None: chosen per case
    seed: int = 0

    def validate(self) -> None:
        for name in ("d_steps", "critic_steps", "saturation_steps"):
            if getattr(self, name) < 0:
                raise GankitError(f"{name.replace('_', '-')} must be >= 0 (0 skips that part), "
                                  f"got {getattr(self, name)}")
        if self.d_batch_size < 1 or self.w1_samples < 2 or self.blend_points < 2:
            raise GankitError("the batch size must be >= 1, w1-samples >= 2 and blend points >= 2")
        if self.grid_points is not None and self.grid_points < 2:
            raise GankitError(f"grid-points must be >= 2, got {self.grid_points}")
        if not (self.d_lr > 0 and self.critic_lr > 0 and self.clip > 0 and self.gp_lambda >= 0):
            raise GankitError("learning rates and clip must be > 0, gp_lambda >= 0")
        check_seed(self.seed, "--seed")
        # W1 in 2D is exact optimal transport between w1-samples points: a (n, n) float64 cost matrix and its plan
        memory.check_fits(self.w1_samples**2 * 8 * GRID_COPIES, f"--w1-samples {self.w1_samples} (W1 by optimal "
                          "transport holds an n x n matrix)")


# float64 arrays over a case's grid held at once (points, log densities, D*, the walk's mixtures, figures): a bound
GRID_COPIES = 16


def check_grid_memory(points: int, dim: int) -> None:
    """Refuse --grid-points whose grid (points per axis, `dim` axes) cannot fit in memory, before it is made."""
    memory.check_fits(points**dim * 8 * (dim + GRID_COPIES),
                      f"--grid-points {points} ({points}^{dim} points of a {dim}D grid)")


@dataclass
class Case:
    """p_data and p_g with the grid they are integrated on; `data` and `model` are the labels shown."""

    data: str
    model: str
    p: Density
    q: Density
    grid: Grid


def make_case(data: str | Density, model: str | Density, *, grid: Grid | None = None,
              grid_points: int | None = None) -> Case:
    """A case from specs (see `gankit.theory.specs`) or density objects; the grid is chosen when not given."""
    p, q = as_density(data), as_density(model)
    if grid is None and grid_points is not None:
        check_grid_memory(grid_points, dim_of(p))
    labels = [s if isinstance(s, str) else type(s).__name__ for s in (data, model)]
    try:
        grid = grid or grid_for(p, q, points=grid_points)
    except OverflowError:  # a box or step so extreme (mean=1e308) that the point count is infinite
        raise GankitError(f"{labels[0]} and {labels[1]} span too wide a range for a grid of finite points: choose "
                          "means and spreads within about 1e6 of each other") from None
    return Case(*labels, p, q, grid)


def _fmt(v: float, digits: int = 9) -> str:
    return f"{v:.{digits}f}" if math.isfinite(v) else str(v)


def _stride(n: int, limit: int) -> int:
    return max(1, math.ceil(n / limit))


# ---------------------------------------------------------------------------- one case


def _densities_figure(out: Path, stem: str, case: Case, d_star: torch.Tensor, d_trained: torch.Tensor | None,
                      title: str) -> str:
    """p, q, D* and the trained D on the grid (every k-th point: at most 2001 in 1D, 201 per axis in 2D)."""
    p = case.p.log_prob(case.grid.points).double().exp()
    q = case.q.log_prob(case.grid.points).double().exp()
    trained = d_trained if d_trained is not None else torch.full_like(d_star, math.nan)
    if case.grid.dim == 1:
        k = _stride(len(p), 2001)
        x = case.grid.points[::k, 0]
        cols = {"x": x, "p_data": p[::k], "p_g": q[::k], "d_star": d_star[::k], "d_trained": trained[::k]}
        figures.plot_densities_1d(out / f"{stem}.png", x.numpy(), p[::k].numpy(), q[::k].numpy(), d_star[::k].numpy(),
                                  None if d_trained is None else trained[::k].numpy(), title=title)
    else:
        nx, ny = case.grid.shape
        k = _stride(max(nx, ny), 201)

        def keep(values: torch.Tensor) -> torch.Tensor:
            return values.reshape(nx, ny)[::k, ::k]  # (nx/k, ny/k), x along the first axis

        xy = case.grid.points.reshape(nx, ny, 2)[::k, ::k]
        cols = {"x": xy[..., 0], "y": xy[..., 1], "p_data": keep(p), "p_g": keep(q), "d_star": keep(d_star),
                "d_trained": keep(trained)}
        panels = {"p_data": keep(p).numpy(), "p_g": keep(q).numpy(),
                  "D* = p_data / (p_data + p_g)": keep(d_star).numpy()}
        if d_trained is not None:
            panels["D trained"] = keep(trained).numpy()
        figures.plot_densities_2d(out / f"{stem}.png", xy[:, 0, 0].numpy(), xy[0, :, 1].numpy(), panels, title=title)
    figures.write_csv(out / f"{stem}.csv", {name: v.reshape(-1).tolist() for name, v in cols.items()})
    return f"1 in {k} grid points along each axis" if k > 1 else "every grid point"


def _minimum_walk(out: Path, stem: str, case: Case, points: int, title: str) -> dict:
    """Theorem 1's minimum along p_g,t = (1 - t) p_data + t p_g (t = 0: p_g = p_data): C(t) = V(D*_t, G_t),
    and how far D*_t is from 1/2, as its mean under p_data and its maximum over the grid."""
    logp, logq = _log_density(case.p, case.grid), _log_density(case.q, case.grid)
    ts = [i / (points - 1) for i in range(points)]
    keys = ("value_at_optimum", "minus_log4_plus_2jsd", "jsd", "mean_abs_dstar_minus_half", "max_abs_dstar_minus_half")
    rows: dict[str, list[float]] = {"t": ts, **{k: [] for k in keys}}
    for t in ts:
        log_qt = Blend.mix_logs(logp, logq, t)
        r = theorem1_from_logs(logp, log_qt, case.grid)
        gap = (torch.sigmoid(_optimal_logit(logp, log_qt)) - 0.5).abs()  # |D*_t - 1/2| at the grid points
        for k in keys[:3]:
            rows[k].append(r[k])
        rows["mean_abs_dstar_minus_half"].append(case.grid.integrate(logp.exp() * gap))
        rows["max_abs_dstar_minus_half"].append(float(gap.max()))
    figures.write_csv(out / f"{stem}.csv", rows)
    figures.plot_minimum(out / f"{stem}.png", ts, rows["value_at_optimum"], rows["jsd"],
                         rows["mean_abs_dstar_minus_half"], title=title)
    values = rows["value_at_optimum"]
    return {"value_at_p_data": values[0], "max_abs_dstar_minus_half_at_p_data": rows["max_abs_dstar_minus_half"][0],
            "argmin_t": ts[min(range(points), key=values.__getitem__)],
            "increasing": all(b > a for a, b in zip(values, values[1:]))}


def _case_section(out: Path, index: int, case: Case, opts: TheoryOptions) -> tuple[str, dict]:
    stem = f"case{index}"
    title = f"p_data = {case.data}, p_g = {case.model}"
    r = check_theorem1(case.p, case.q, case.grid)
    w1 = wasserstein1(case.p, case.q, case.grid, samples=opts.w1_samples, seed=opts.seed)
    d_star = optimal_discriminator(case.p, case.q, case.grid)
    run = None
    if opts.d_steps:
        run = train_discriminator(case.p, case.q, case.grid, steps=opts.d_steps, batch_size=opts.d_batch_size,
                                  lr=opts.d_lr, seed=opts.seed,
                                  eval_every=max(1, opts.d_steps // (20 if case.grid.dim == 1 else 10)))
    shown = _densities_figure(out, f"{stem}-densities", case, d_star,
                              None if run is None else torch.sigmoid(run.logits), title)
    walk = _minimum_walk(out, f"{stem}-minimum", case, opts.blend_points, title)

    g = case.grid
    lo, hi = g.points.min(0).values.tolist(), g.points.max(0).values.tolist()
    box = " x ".join(f"[{a:.4g}, {b:.4g}]" for a, b in zip(lo, hi))
    w1_how = ("exact: ∫ \\|F_p_data - F_p_g\\| dx on the grid" if g.dim == 1 else  # \| : a pipe inside a table
              f"optimal transport between {w1['samples']} samples of each (POT); the same estimator gives "
              f"{_fmt(w1['baseline'], 4)} for p_data against a second sample of itself")
    lines = [
        f"## Case {index}: p_data = `{case.data}`, p_g = `{case.model}`", "",
        f"Grid: {g.dim}D, {' x '.join(map(str, g.shape))} points over {box}, step "
        f"{' x '.join(f'{s:.4g}' for s in g.step.tolist())}; mass of p_data {_fmt(r['mass_p'], 10)}, "
        f"of p_g {_fmt(r['mass_q'], 10)}.", "",
        "| quantity | value (nats) |", "| --- | --- |",
        f"| V(D*, G) = E_p_data log D* + E_p_g log(1 - D*) | {_fmt(r['value_at_optimum'])} |",
        f"| -log 4 + 2 JSD(p_data ‖ p_g) | {_fmt(r['minus_log4_plus_2jsd'])} |",
        f"| difference (Theorem 1: 0; checked to 1e-6) | {r['difference']:.2e} |",
        f"| JSD(p_data ‖ p_g), in [0, log 2 = 0.693147] | {_fmt(r['jsd'])} |",
        f"| KL(p_data ‖ p_g) | {_fmt(r['kl_pq'])} |",
        f"| KL(p_g ‖ p_data) | {_fmt(r['kl_qp'])} |",
        f"| H(p_data), H(p_g) (differential entropies) | {_fmt(r['entropy_p'])}, {_fmt(r['entropy_q'])} |",
        f"| W1(p_data, p_g) ({w1_how}) | {_fmt(w1['w1'], 6)} |", "",
        f"![densities and D*]({stem}-densities.png)", "",
        f"D* = p_data / (p_data + p_g) beside both densities{' and the trained D' if run else ''} "
        f"([{stem}-densities.csv]({stem}-densities.csv): {shown}).", "",
        f"**The minimum over p_g.** Along p_g,t = (1 - t) p_data + t p_g, C(t) = V(D*_t, G_t) "
        f"{'rises strictly' if walk['increasing'] else 'does not rise strictly'} from t = 0, where p_g = p_data: "
        f"C(0) = {_fmt(walk['value_at_p_data'])} (-log 4 = {_fmt(-LOG4)}) and max |D* - 1/2| = "
        f"{walk['max_abs_dstar_minus_half_at_p_data']:.1e} ([{stem}-minimum.csv]({stem}-minimum.csv)).", "",
        f"![the walk to p_data]({stem}-minimum.png)", "",
    ]
    summary = {"data": case.data, "model": case.model, "grid": {"shape": list(g.shape), "lo": lo, "hi": hi},
               "theorem1": r, "w1": w1, "minimum": walk}
    if run is not None:
        last = run.curve[-1]
        below = all(row["value"] <= run.value_at_optimum for row in run.curve)
        summary["discriminator"] = {"mean_abs_error": last["mean_abs_error"], "value": last["value"],
                                    "value_at_optimum": run.value_at_optimum, "always_below": below, **run.settings}
        figures.write_csv(out / f"{stem}-discriminator.csv",
                          {**{k: [row[k] for row in run.curve] for k in run.curve[0]},
                           "value_at_optimum": [run.value_at_optimum] * len(run.curve)})
        figures.plot_discriminator(out / f"{stem}-discriminator.png", *([row[k] for row in run.curve] for k in
                                   ("step", "mean_abs_error", "value", "value_batch")), run.value_at_optimum,
                                   title=title)
        lines += [
            f"**A trained discriminator.** gankit's `mlp2d` discriminator (3 x 128 LeakyReLU) trained "
            f"{run.settings['steps']} steps (Adam, lr {run.settings['lr']:g} decayed to 0, batch "
            f"{run.settings['batch_size']} from each density) on V(D, G) with p_g fixed: mean |D - D*| under "
            f"(p_data + p_g) / 2 fell from {run.curve[0]['mean_abs_error']:.4f} to {last['mean_abs_error']:.4f}; "
            f"V(D, G) = {_fmt(last['value'], 6)} against V(D*, G) = -log 4 + 2 JSD = {_fmt(run.value_at_optimum, 6)} "
            f"(gap {run.value_at_optimum - last['value']:.2e}), "
            f"{'below it at every measurement, as it must be' if below else 'ABOVE it at some measurement'} "
            f"([{stem}-discriminator.csv]({stem}-discriminator.csv)).", "",
            f"![discriminator against D*]({stem}-discriminator.png)", "",
        ]
    return "\n".join(lines), summary


# ---------------------------------------------------------------------------- saturation and critics


def _saturation_section(out: Path, opts: TheoryOptions) -> tuple[str, dict]:
    d = torch.logspace(-6, math.log10(1 - 1e-6), 121, dtype=torch.float64)
    g = generator_gradients(d)
    figures.write_csv(out / "saturation-analytic.csv",
                      {"d_of_g_z": d.tolist(), **{k.replace("/", "_"): v.tolist() for k, v in g.items()}})
    figures.plot_saturation_analytic(out / "saturation-analytic.png", d.numpy(), g["minimax/analytic"].numpy(),
                                     g["ns/analytic"].numpy())
    runs = {name: run for name, run in SATURATION_RUNS.items() if opts.mnist or "mnist" not in name}
    measured = {name: measure_generator_gradients(preset, overrides=overrides, steps=opts.saturation_steps,
                                                  measure_every=max(1, opts.saturation_steps // 20), seed=opts.seed)
                for name, (preset, overrides) in runs.items()}
    figures.write_csv(out / "saturation-measured.csv",
                      {"run": [n for n, rows in measured.items() for _ in rows],
                       **{k: [r[k] for rows in measured.values() for r in rows]
                          for k in ("step", "d_fake", "minimax", "ns", "ratio")}})
    figures.plot_saturation_measured(out / "saturation-measured.png", measured)
    lines = [
        "## Saturation of the minimax generator loss", "",
        "With D = sigmoid(l), G's loss log(1 - D(G(z))) has |dL/dl| = D, which vanishes when D rejects the fakes "
        "(D(G(z)) -> 0, early in training), while -log D(G(z)) has |dL/dl| = 1 - D -> 1 there "
        "(Goodfellow et al. 2014, Sec. 3); autograd through `gankit.objectives.adversarial` agrees to 1e-9 "
        "([saturation-analytic.csv](saturation-analytic.csv)).", "",
        "![analytic](saturation-analytic.png)", "",
        f"Measured: each preset's models, data and D optimizer; D takes {opts.saturation_steps} steps against G at "
        "its initialisation, and G's weight-gradient norm under each loss is taken on one fixed latent batch "
        "([saturation-measured.csv](saturation-measured.csv)).", "",
        "| run | D step | mean D(G(z)) | \\|grad\\| minimax | \\|grad\\| non-saturating | ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, rows in measured.items():
        for r in (rows[0], rows[-1]):
            lines.append(f"| {name} | {r['step']} | {r['d_fake']:.4f} | {r['minimax']:.4g} | {r['ns']:.4g} | "
                         f"{r['ratio']:.3g} |")
    lines += ["", "![measured](saturation-measured.png)", ""]
    return "\n".join(lines), {name: {"first": rows[0], "last": rows[-1]} for name, rows in measured.items()}


def _critic_section(out: Path, pairs: list[Case], opts: TheoryOptions) -> tuple[str, dict]:
    curves: dict[tuple[str, str], list[dict]] = {}
    w1: dict[str, float] = {}
    gp_optimum: dict[str, float] = {}  # where the closed form applies: 1D Gaussians and mixtures
    one_data = len({c.data for c in pairs}) == 1
    for case in pairs:
        label = case.model if one_data else f"{case.data} vs {case.model}"
        w1[label] = wasserstein1(case.p, case.q, case.grid, samples=opts.w1_samples, seed=opts.seed)["w1"]
        if all(isinstance(d, (Gaussian1D, Mixture1D)) for d in (case.p, case.q)):
            gp_optimum[label] = gradient_penalty_optimum(case.p, case.q, case.grid, gp_lambda=opts.gp_lambda)
        for critic in CRITICS:
            curves[(label, critic)] = train_critic(
                case.p, case.q, case.grid, critic=critic, steps=opts.critic_steps, lr=opts.critic_lr,
                clip=opts.clip, gp_lambda=opts.gp_lambda, eval_every=max(1, opts.critic_steps // 16), seed=opts.seed)
    labels = list(w1)
    finals = {c: [curves[(pair, c)][-1]["estimate"] for pair in labels] for c in CRITICS}
    ratios = {c: fitted_ratio(finals[c], [w1[pair] for pair in labels]) for c in CRITICS}
    figures.write_csv(out / "critic.csv", {
        "pair": [p for (p, _), rows in curves.items() for _ in rows],
        "critic": [c for (_, c), rows in curves.items() for _ in rows],
        "step": [r["step"] for rows in curves.values() for r in rows],
        "estimate": [r["estimate"] for rows in curves.values() for r in rows],
        "estimate_batch": [r["estimate_batch"] for rows in curves.values() for r in rows],
        "w1": [w1[p] for (p, _), rows in curves.items() for _ in rows],
        "gp_optimum": [gp_optimum.get(p, math.nan) for (p, _), rows in curves.items() for _ in rows]})
    figures.plot_critic(out / "critic.png", curves, w1, ratios)
    data = f"`{pairs[0].data}`" if one_data else "each pair's p_data"
    lines = [
        "## The critic against the exact W1", "",
        f"WGAN critics (`mlp2d`'s discriminator) trained {opts.critic_steps} steps on fixed pairs, p_data = "
        f"{data}: clipped to [-{opts.clip:g}, {opts.clip:g}] (objective `wgan`, RMSprop) and with a gradient "
        f"penalty (`wgan-gp`, lambda {opts.gp_lambda:g}, Adam betas (0, 0.9)), both at lr {opts.critic_lr:g} "
        "decayed linearly to 0. The estimate is E_p_data f - E_p_g f, integrated on the grid. By "
        "Kantorovich-Rubinstein W1 = sup of that difference over 1-Lipschitz f. Clipping bounds f's Lipschitz "
        "constant by some K that the architecture and c set, so the clipped critic estimates K W1 for a K nobody "
        "chose, and the per-pair ratios show that K is not even one number. The penalty is soft: in 1D the "
        "penalised critic's optimum is exactly W1 + (1/2λ) ∫ (F_p_data - F_p_g)² / ρ dx, with ρ the density of "
        "the penalty's interpolates (derived in `gankit.theory.discriminator.gradient_penalty_optimum`), a little "
        "above W1 ([critic.csv](critic.csv)).", "",
        "| p_g | exact W1 | clipped estimate | ratio to W1 | gradient-penalty estimate | ratio to W1 | "
        "its optimum | ratio to optimum |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i, pair in enumerate(labels):
        c, g, best = finals["clip"][i], finals["gp"][i], gp_optimum.get(pair)
        lines.append(f"| `{pair}` | {w1[pair]:.4f} | {c:.5f} | {c / w1[pair]:.4f} | {g:.4f} | {g / w1[pair]:.3f} | "
                     + (f"{best:.4f} | {g / best:.3f} |" if best else "- | - |"))
    lines += ["", f"Least-squares fit estimate = K W1 over the pairs: **K = {ratios['clip']:.4g} (clipped)**, "
              f"K = {ratios['gp']:.4g} (gradient penalty).", "", "![critics](critic.png)", ""]
    return "\n".join(lines), {"w1": w1, "final": finals, "fitted_ratio": ratios, "gp_optimum": gp_optimum}


# ---------------------------------------------------------------------------- the report


def theory_report(out: str | Path, cases: list[Case] | None = None, *, critic_pairs: list[Case] | None = None,
                  options: TheoryOptions | None = None, progress: bool = True) -> dict:
    """Write report.md, its figures (PNG + CSV) and summary.json into `out`; return the summary.

    Args:
        cases: the (p_data, p_g) pairs (`make_case`); None runs DEFAULT_CASES.
        critic_pairs: the pairs the WGAN critics are trained on; None: DEFAULT_CRITIC_PAIRS when `cases` is None,
            else `cases` themselves.
        options: training budgets and seeds (`TheoryOptions`).
    """
    opts = options or TheoryOptions()
    opts.validate()
    out = Path(out)
    start = time.time()
    if cases is None:
        cases = [make_case(d, m, grid_points=opts.grid_points) for d, m in DEFAULT_CASES]
        critic_pairs = critic_pairs or [make_case(d, m, grid_points=opts.grid_points) for d, m in DEFAULT_CRITIC_PAIRS]
    critic_pairs = critic_pairs or cases
    made = [p for p in (out, *out.parents) if not p.exists()]  # removed again when a case fails
    out.mkdir(parents=True, exist_ok=True)  # after the cases: a bad spec or grid leaves no empty folder behind
    try:
        tasks = [f"case {i}" for i in range(1, len(cases) + 1)]
        tasks += ["saturation"] * bool(opts.saturation_steps) + ["critic"] * bool(opts.critic_steps)
        sections, summary = [], {"cases": [], "options": asdict(opts)}
        with tqdm(total=len(tasks), desc="theory", disable=not progress, unit="part") as bar:
            for i, case in enumerate(cases, 1):
                bar.set_postfix_str(f"case {i}: {case.data} vs {case.model}")
                text, result = _case_section(out, i, case, opts)
                sections.append(text)
                summary["cases"].append(result)
                bar.update()
            if opts.saturation_steps:
                bar.set_postfix_str("saturation")
                text, summary["saturation"] = _saturation_section(out, opts)
                sections.append(text)
                bar.update()
            if opts.critic_steps:
                bar.set_postfix_str("critics")
                text, summary["critic"] = _critic_section(out, critic_pairs, opts)
                sections.append(text)
                bar.update()
    except GankitError:  # a case that cannot be computed (e.g. a density with no mass on its grid)
        if made:  # the folders this call made hold only this call's partial report
            shutil.rmtree(made[-1], ignore_errors=True)
        raise
    summary["seconds"] = time.time() - start
    header = [
        "# Theory report: the optimal discriminator, the value function and W1 on known densities", "",
        "Goodfellow et al. (2014), Sec. 4: for a fixed G the optimal discriminator is D*(x) = p_data(x) / "
        "(p_data(x) + p_g(x)) (Proposition 1), and then V(D*, G) = -log 4 + 2 JSD(p_data ‖ p_g), whose minimum "
        "-log 4 is reached exactly at p_g = p_data, where D* = 1/2 (Theorem 1). Integrals are sums over a float64 "
        "grid; divergences are in nats. Each figure's numbers are in the CSV of the same name; headline numbers "
        f"in [summary.json](summary.json). Seed {opts.seed}; {summary['seconds']:.0f} s, "
        f"{torch.get_num_threads()} torch thread(s).", "",
    ]
    (out / "report.md").write_text("\n".join(header + sections))
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
    return summary


def _json_default(obj):
    if isinstance(obj, (np.floating, torch.Tensor)):
        return float(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
