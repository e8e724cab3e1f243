"""The GAN game as one engine (Goodfellow et al. 2014, Algorithm 1): k discriminator steps, each on a fresh
real batch, then a generator step.

`Game(cfg, dataset, device)` builds and owns everything one game needs: G, D (and their DDP wrappers under
torchrun), an EMA copy of G, both optimizers, loss scalers, the objective and the random generators.
`iterate()` runs one iteration (`d_step()` and `g_step()` one network step of it); `state_dict()` and
`load_state_dict()` are the checkpoint, its only writer and reader. `gankit.train`, the browser lab and the
theory's saturation study all drive this class, so what one iteration does cannot drift between them. With
`model.cond` set, the real batch's labels go to D and its fakes, and G is asked for labels drawn from p(y)
(Mirza & Osindero 2014).
"""

from __future__ import annotations

import copy
import sys

import torch
from torch import nn

from gankit.config import Config, OptimConfig, TrainConfig, to_dict
from gankit.data import conditional_classes
from gankit.errors import GankitError
from gankit.models import build_models, sample_z
from gankit.objectives import make_objective
from gankit.training import dist
from gankit.training.precision import Precision, compile_module, is_convolutional
from gankit.training.steps import d_step, g_step

WHICH = ("both", "d", "g")  # what one iteration runs: k D steps and a G step, or one step of one network


class Game:
    """One GAN game: networks, optimizers, EMA, random generators and counters.

    Attributes a caller reads: `cfg`, `dataset`, `num_classes` (0: unconditional), `G`, `D`, `G_ema` (or
    None), `opt_G`, `opt_D`, `objective`, `generator` (latents; data indices too when the data lives on the
    device), and the counters `step` (G steps), `nimg` (real images shown to D, all ranks together),
    `elapsed` (training seconds, kept by the caller), `lr_scale` and `rollbacks` (NaN/Inf rollbacks).
    """

    def __init__(self, cfg: Config, dataset, device: torch.device | str = "cpu"):
        t = cfg.train
        self.cfg, self.dataset, self.device = cfg, dataset, torch.device(device)
        self.num_classes = conditional_classes(dataset, cfg.data.name, cfg.model.cond)  # 0: unconditional

        # Networks. The global RNG seeds the weights (and later dropout).
        torch.manual_seed(t.seed)
        G, D = build_models(cfg.model, dataset.shape, self.num_classes)
        # Channels-last memory suits convolutions (cuDNN, oneDNN); MLPs and 2D points are left as they are.
        conv = t.channels_last and is_convolutional(D)
        self.layout = torch.channels_last if conv else torch.contiguous_format
        self.G = G.to(self.device, memory_format=self.layout).train()
        self.D = D.to(self.device, memory_format=self.layout).train()
        self.G_ema = copy.deepcopy(G).eval().requires_grad_(False) if t.ema_halflife else None
        self.G_ddp, self.D_ddp = dist.wrap(G, self.device), dist.wrap(D, self.device)  # G, D in one process

        # Optimizers, precision, objective.
        self.opt_G, self.opt_D = make_optimizer(G, cfg.opt_G), make_optimizer(D, cfg.opt_D)
        self.precision = Precision(t.precision, self.device)  # bf16/fp16 autocast; fp16 loss scaling
        self.scaler_G, self.scaler_D = self.precision.scaler(), self.precision.scaler()
        # What the steps call: optionally compiled; the plain G, D keep the weights for EMA and checkpoints.
        self.G_run, self.D_run = compile_module(G, t.compile), compile_module(D, t.compile)
        # One process: the "DDP" modules are G and D themselves, so they share (not repeat) the compiled wrappers.
        self.G_ddp_run = self.G_run if self.G_ddp is G else compile_module(self.G_ddp, t.compile)
        self.D_ddp_run = self.D_run if self.D_ddp is D else compile_module(self.D_ddp, t.compile)
        self.objective = make_objective(cfg.objective)

        # Random streams: one torch.Generator per rank on the device draws data batches and latents, so a
        # run is reproducible. Data kept in host memory draws its batch indices on the CPU (indices from
        # the GPU would make every batch wait).
        seed = dist.rank_seed(t.seed)
        self.generator = torch.Generator(self.device).manual_seed(seed)
        self.index_generator = (self.generator if dataset.on_device
                                else torch.Generator().manual_seed(seed + 1))
        if dist.rank():
            torch.manual_seed(seed)  # each rank its own dropout masks

        self.batch = dist.local_batch(t.batch_size)  # this rank's share of the global batch
        self.step, self.nimg, self.elapsed = 0, 0, 0.0
        self.lr_scale, self.rollbacks = 1.0, 0

    @property
    def sampling_G(self) -> nn.Module:
        """The generator to sample from: the EMA one when there is one."""
        return self.G_ema if self.G_ema is not None else self.G

    # ------------------------------------------------------------------ one iteration

    def iterate(self, which: str = "both", *, measure_grad: bool = False) -> list[dict[str, torch.Tensor]]:
        """One iteration: the learning-rate and momentum schedules, then k D steps (k = train.d_steps, or
        the WGAN warm-up's 100) and train.g_steps G steps; `which` = "d" or "g" runs one step of that network
        only. `measure_grad`: log |grad D| of the last D step and |grad G| of the last G step (an extra pass
        over the gradients). Returns each step's detached scalar stats, D steps first."""
        k = critic_steps(self.step, self.cfg.train) if which == "both" else 1
        n = self.cfg.train.g_steps if which == "both" else 1
        self.begin_iteration()
        stats = []
        if which in ("both", "d"):
            stats += [self.d_step(measure_grad=measure_grad and i == k - 1) for i in range(k)]
        if which in ("both", "g"):
            stats += [self.g_step(measure_grad=measure_grad and i == n - 1) for i in range(n)]
            self.end_iteration()
        return stats

    def begin_iteration(self) -> None:
        """The learning rates and momenta of this iteration (they depend on the step count)."""
        self._schedule()

    def end_iteration(self) -> None:
        """Count an iteration that updated G: `step` counts iterations."""
        self.step += 1

    def d_step(self, *, measure_grad: bool = False) -> dict[str, torch.Tensor]:
        """One D step on a fresh real batch. Callers that split an iteration into its steps (the lab's slices)
        call `begin_iteration()`, then this and `g_step`, then `end_iteration()`."""
        cfg, t = self.cfg, self.cfg.train
        real, labels = self.dataset.sample(self.batch, self.index_generator)
        real = real.contiguous(memory_format=self.layout) if real.ndim == 4 else real
        z = sample_z(self.batch, cfg.model, generator=self.generator)
        y = labels if self.num_classes else None  # conditional: fakes for the real batch's labels
        stats = d_step(self.G_run, self.D_ddp_run, self.opt_D, objective=self.objective, real=real, z=z, y=y,
                       index=self.nimg // t.batch_size, precision=self.precision, scaler=self.scaler_D,
                       measure_grad=measure_grad)
        self.nimg += t.batch_size  # real images shown to D, on all ranks together
        return stats

    def g_step(self, *, measure_grad: bool = False) -> dict[str, torch.Tensor]:
        """One G step, then the EMA update."""
        cfg, t = self.cfg, self.cfg.train
        z = sample_z(self.batch, cfg.model, generator=self.generator)
        y = self.dataset.sample_labels(self.batch, self.index_generator) if self.num_classes else None  # y ~ p(y)
        stats = g_step(self.G_ddp_run, self.D_run, self.opt_G, objective=self.objective, z=z, y=y,
                       precision=self.precision, scaler=self.scaler_G, measure_grad=measure_grad)
        if self.G_ema is not None:
            update_ema(self.G_ema, self.G, beta=ema_beta(t, self.nimg))
        return stats

    def _schedule(self) -> None:
        schedule(self.opt_G, self.cfg.opt_G, self.step, self.lr_scale)
        schedule(self.opt_D, self.cfg.opt_D, self.step, self.lr_scale)

    def set_config(self, cfg: Config) -> None:
        """Change mid-game what needs no new networks: the objective, optimizers (a new one when its kind
        changes; the new rates at once), k and the batch size."""
        self.objective = make_objective(cfg.objective)
        if cfg.opt_G.name != self.cfg.opt_G.name:
            self.opt_G = make_optimizer(self.G, cfg.opt_G)
        if cfg.opt_D.name != self.cfg.opt_D.name:
            self.opt_D = make_optimizer(self.D, cfg.opt_D)
        self.batch = dist.local_batch(cfg.train.batch_size)
        self.cfg = cfg
        self._schedule()

    # ------------------------------------------------------------------ the checkpoint

    def state_dict(self) -> dict:
        """Everything a resume needs (checkpoint.SCHEMA): config, counters, weights, optimizers, scalers,
        EMA and every rank's random streams. Collective under torchrun: every rank calls it."""
        rng = self._rng_state()
        ranks = dist.gather(rng) if dist.world_size() > 1 else None  # every rank's streams, for an exact resume
        state = {"config": to_dict(self.cfg), "shape": list(self.dataset.shape), "num_classes": self.num_classes,
                 "step": self.step, "nimg": self.nimg, "elapsed": self.elapsed, "lr_scale": self.lr_scale,
                 "rollbacks": self.rollbacks, "world_size": dist.world_size(),
                 "G": self.G.state_dict(), "D": self.D.state_dict(),
                 "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(), "rng": rng}
        if ranks:
            state["rng_ranks"] = ranks
        if self.precision.scaled:
            state["scaler_G"], state["scaler_D"] = self.scaler_G.state_dict(), self.scaler_D.state_dict()
        if self.G_ema is not None:
            state["G_ema"] = self.G_ema.state_dict()
        return state

    def load_state_dict(self, state: dict, *, source: str = "the checkpoint") -> None:
        """Restore a state (a checkpoint validated by `checkpoint.load_checkpoint`). One that does not fit
        this game's data or networks is a `GankitError` naming `source`; the game may then be half restored
        (callers build a new one)."""
        if list(state["shape"]) != list(self.dataset.shape):
            raise GankitError(f"{source} was trained on data of shape {tuple(state['shape'])}; this run's data "
                              f"has shape {tuple(self.dataset.shape)}")
        if int(state["num_classes"]) != self.num_classes:
            raise GankitError(f"{source} has {state['num_classes']} classes, this run's data {self.num_classes}")
        try:
            self.G.load_state_dict(state["G"])
            self.D.load_state_dict(state["D"])
            self.opt_G.load_state_dict(state["opt_G"])
            self.opt_D.load_state_dict(state["opt_D"])
            if self.G_ema is not None:  # EMA switched on at resume: it starts from G
                self.G_ema.load_state_dict(state.get("G_ema", state["G"]))
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()] or [type(e).__name__]
            detail = lines[1] if len(lines) > 1 and lines[0].endswith(":") else lines[0]  # torch: a header line
            raise GankitError(f"{source} does not fit the model {self.cfg.model.name!r} of this config: "
                              f"{detail}") from None
        if "scaler_G" in state and self.precision.scaled:
            self.scaler_G.load_state_dict(state["scaler_G"])
            self.scaler_D.load_state_dict(state["scaler_D"])
        self.step, self.nimg, self.elapsed = int(state["step"]), int(state["nimg"]), float(state["elapsed"])
        self.lr_scale, self.rollbacks = float(state.get("lr_scale", 1.0)), int(state.get("rollbacks", 0))
        ranks = state.get("rng_ranks") or [state["rng"]]
        if len(ranks) == dist.world_size():
            self._set_rng_state(ranks[dist.rank()])
        else:  # another number of processes: fresh streams, seeded by rank and step
            seed = dist.rank_seed(self.cfg.train.seed) + self.step
            torch.manual_seed(seed)
            self.generator.manual_seed(seed)
            if self.index_generator is not self.generator:
                self.index_generator.manual_seed(seed + 1)
            if dist.rank() == 0:
                print(f"gankit: note: {source} was written by {len(ranks)} process(es), this run has "
                      f"{dist.world_size()}: data and latents continue from new seeds", file=sys.stderr)

    def _rng_state(self) -> dict:
        rng = {"torch": torch.get_rng_state(), "data": self.generator.get_state().cpu()}
        if self.index_generator is not self.generator:
            rng["index"] = self.index_generator.get_state()
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return rng

    def _set_rng_state(self, rng: dict) -> None:
        torch.set_rng_state(rng["torch"].cpu())
        self.generator.set_state(rng["data"].cpu())
        if self.index_generator is not self.generator and "index" in rng:
            self.index_generator.set_state(rng["index"].cpu())
        if self.device.type == "cuda" and "cuda" in rng:
            torch.cuda.set_rng_state(rng["cuda"].cpu(), self.device)


# ---------------------------------------------------------------------------- the pieces of an iteration


def critic_steps(step: int, t: TrainConfig) -> int:
    """k, or with `critic_boost` the WGAN reference code's schedule: 100 critic steps for the first
    25 generator steps and at every 500th (Arjovsky et al. 2017, github.com/martinarjovsky/WassersteinGAN)."""
    if t.critic_boost and (step < 25 or step % 500 == 0):
        return 100
    return t.d_steps


def ema_beta(t: TrainConfig, nimg: int) -> float:
    """The EMA's decay per G step, from a half-life in images (Karras et al. 2019): 0.5 ** (batch / half-life).
    With `ema_rampup` the half-life is min(ema_halflife, ema_rampup * nimg) (Karras et al. 2020): the average
    forgets the first, poor weights fast and lengthens as training goes on."""
    halflife = min(t.ema_halflife, t.ema_rampup * nimg) if t.ema_rampup else t.ema_halflife
    return 0.5 ** (t.batch_size / max(halflife, 1e-8))


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, *, beta: float) -> None:
    """G_ema <- beta * G_ema + (1 - beta) * G for parameters; buffers are copied."""
    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
        p_ema.lerp_(p, 1.0 - beta)
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)


def make_optimizer(module: nn.Module, o: OptimConfig) -> torch.optim.Optimizer:
    params = list(module.parameters())
    # Fused kernels (one pass over all parameters instead of ~10 small ops each) where torch has them for
    # these parameters' device and dtype; same update, to rounding.
    fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params) or None
    if o.name == "adam":
        opt = torch.optim.Adam(params, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay, fused=fused)
    elif o.name == "sgd":
        opt = torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay, fused=fused)
    else:
        opt = torch.optim.RMSprop(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    if o.max_norm > 0:
        opt.register_step_post_hook(lambda opt, args, kwargs: max_norm_(module, o.max_norm))
    return opt


@torch.no_grad()
def max_norm_(module: nn.Module, max_norm: float) -> None:
    """pylearn2's max_col_norm: every unit's incoming weight vector (a row of a Linear weight
    (out, in), or of a conv kernel flattened) is rescaled to L2 norm at most `max_norm`."""
    for p in module.parameters():
        if p.ndim >= 2:
            p.copy_(torch.renorm(p, 2, 0, max_norm))


def schedule(opt: torch.optim.Optimizer, o: OptimConfig, step: int, scale: float = 1.0) -> None:
    """lr / lr_decay^step floored at lr_min (pylearn2 ExponentialDecay), times `scale` (lowered by
    NaN/Inf rollbacks); linear momentum ramp from `momentum` to `momentum_end` over `momentum_ramp`
    steps (pylearn2 MomentumAdjustor)."""
    lr = max(o.lr / o.lr_decay**step, o.lr_min) if o.lr_decay != 1.0 else o.lr
    for group in opt.param_groups:
        group["lr"] = lr * scale
        if o.momentum_end >= 0 and o.name != "adam":
            frac = min(step / max(o.momentum_ramp, 1), 1.0)
            group["momentum"] = o.momentum + frac * (o.momentum_end - o.momentum)
