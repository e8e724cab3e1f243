"""The lab's session: one 2D GAN game (G, D, their optimizers, the objective, the data) stepped with gankit's own
`d_step` / `g_step` as `gankit.train` steps them (Goodfellow et al. 2014, Alg. 1: k D steps, then one G step),
turned into JSON frames for the page, exported as a run directory that `gankit train --resume` continues.

A frame (`snapshot()`) is a JSON object with these fields:
    type "frame"; game (bumps on every new game: reset, new data, load); step (G steps), nimg, running, speed;
    settings (see messages.setting_fields), layers {name: bool}, bounds [xmin, xmax, ymin, ymax];
    real, fake: [[x, y], ...] (fixed real samples, G of fixed latents); real_labels, fake_labels: classes or null;
    arrows: [[dx, dy], ...] = -d loss_G / d fake per fake point, or null;
    heatmap {n, values (n x n, row i at y_i from ymin), label, min, max} or null: D over the plane;
    dstar {n, values, bandwidth} or null, dstar_reason: D* = p / (p + p_g), p_g a KDE of the fakes;
    manifold [{label, rows, cols, points}] or null: G over a grid of z;
    record: the latest interval's means {seq, step, nimg, loss/D, loss/G, D/real, D/fake, estimate/..., grad/...};
    metrics {step, nimg, w1, kl_data_model, kl_model_data, js, n, n_real, grid, bandwidth} (throttled) or null;
    divergence {key, label, reference}: which logged estimate is the objective's divergence.
Numbers that are not finite are null.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from pathlib import Path

import torch

from gankit.checks import validate
from gankit.config import Config
from gankit.data import DistributionData, TensorData, conditional_classes, load_dataset
from gankit.data.toy2d import GaussianMixture
from gankit.errors import GankitError
from gankit.lab import runs, views
from gankit.lab.messages import DATASETS_2D, LAYERS, MAX_POINTS, MAX_SPEED, parse_message, setting_fields
from gankit.models import build_models, sample_z
from gankit.objectives import make_objective
from gankit.objectives.fgan import DIVERGENCES
from gankit.training.loop import critic_steps, make_optimizer, schedule
from gankit.training.steps import d_step, g_step

DISPLAY_POINTS = 512  # real and generated points drawn (fixed samples and fixed latents: no flicker)
METRIC_POINTS = 500  # points per side of the W1 / grid metrics
HEAT_N = 48  # heat map and D* grid: HEAT_N x HEAT_N
METRICS_EVERY = 10  # frames between metric updates while playing (each costs ~0.1 s on one thread)
HISTORY_MAX = 2000  # records kept; beyond, every other one is dropped (the whole game stays visible)
MLP2D_WIDTHS = [128, 128, 128]  # mlp2d's own hidden widths (models/mlp.py), shown when the config says []


def default_config() -> Config:
    """The lab's first game: ring8 with the non-saturating loss and ring8-ns's networks and rates."""
    cfg = Config(name="lab", description="a game played in gankit lab")
    cfg.model.z_dim = 2
    cfg.opt_G.lr = cfg.opt_D.lr = 3e-4
    cfg.train.batch_size = 256
    return cfg


class LabSession:
    """One live game. Thread-safe: every public method holds `lock`, so the server may call them from threads."""

    def __init__(self, cfg: Config | None = None, *, runs_dir: str | Path = "runs"):
        self.lock = threading.RLock()
        self.runs_dir = Path(runs_dir)
        self.running, self.speed, self.frame, self.game, self.seq = False, 1, 0, 0, 0
        self.layers = dict.fromkeys(LAYERS, True)
        self.points: torch.Tensor | None = None  # drawn data (N, 2) and its labels (N,) or None
        self.point_labels: torch.Tensor | None = None
        self._start(copy.deepcopy(cfg or default_config()))

    # ------------------------------------------------------------------ building a game

    def _start(self, cfg: Config, state: dict | None = None,
               points: tuple[torch.Tensor, torch.Tensor | None] | None = None) -> None:
        """Build data, networks, optimizers and objective for `cfg` (and restore `state`), then swap them in;
        on any error nothing changes."""
        validate(cfg)
        if cfg.data.name not in DATASETS_2D:
            raise GankitError(f"the lab plays 2D games; dataset {cfg.data.name!r} is not one of: "
                              f"{', '.join(DATASETS_2D)}")
        x, labels = points if points is not None else (self.points, self.point_labels)
        if cfg.data.name == "points":
            if x is None:
                raise GankitError("draw a point set first (choose 'points', click on the plane, then 'use points')")
            dataset = TensorData(x, labels, kind="points")
        else:
            dataset = load_dataset(cfg.data)
        num_classes = conditional_classes(dataset, cfg.data.name, cfg.model.cond)
        if state is not None and int(state.get("num_classes", 0)) != num_classes:
            raise GankitError(f"the checkpoint has {state.get('num_classes')} classes, its data {num_classes}")
        torch.manual_seed(cfg.train.seed)  # as gankit.train: the same seed gives the same initial weights
        G, D = build_models(cfg.model, (2,), num_classes)
        G.train()
        D.train()
        opt_G, opt_D = make_optimizer(G, cfg.opt_G), make_optimizer(D, cfg.opt_D)
        generator = torch.Generator().manual_seed(cfg.train.seed)
        step, nimg, elapsed = 0, 0, 0.0
        if state is not None:
            try:
                G.load_state_dict(state["G"])
                D.load_state_dict(state["D"])
                opt_G.load_state_dict(state["opt_G"])
                opt_D.load_state_dict(state["opt_D"])
                generator.set_state(state["rng"]["data"].cpu())
                torch.set_rng_state(state["rng"]["torch"].cpu())
            except (KeyError, RuntimeError, ValueError, TypeError) as e:
                raise GankitError(f"the checkpoint does not fit its config: {str(e).splitlines()[0]}") from None
            step, nimg, elapsed = int(state["step"]), int(state["nimg"]), float(state.get("elapsed", 0.0))
        objective = make_objective(cfg.objective)
        # everything built: commit
        self.cfg, self.dataset, self.num_classes = cfg, dataset, num_classes
        self.points, self.point_labels = (x, labels) if cfg.data.name == "points" else (self.points, self.point_labels)
        self.G, self.D, self.opt_G, self.opt_D, self.objective = G, D, opt_G, opt_D, objective
        self.generator, self.step, self.nimg, self.elapsed = generator, step, nimg, elapsed
        self.game += 1
        self.history: list[dict] = []
        self.metrics_history: list[dict] = []
        self._metrics: dict | None = None
        self._metrics_key: tuple | None = None
        self._metrics_frame = -METRICS_EVERY
        self._display()

    def _display(self) -> None:
        """The fixed real samples, latents and labels drawn every frame, and the plane's bounds."""
        seed = self.cfg.train.seed
        gen = torch.Generator().manual_seed(seed + 1)
        real, labels = self.dataset.sample(DISPLAY_POINTS, gen)
        self.real = real.float()
        self.real_labels = labels if self.num_classes else None
        self.metric_real = self.dataset.sample(METRIC_POINTS, gen)[0].float()
        self.z = sample_z(DISPLAY_POINTS, self.cfg.model, generator=torch.Generator().manual_seed(seed + 2))
        self.fake_labels = torch.arange(DISPLAY_POINTS) % self.num_classes if self.num_classes else None
        dist = getattr(self.dataset, "distribution", None)
        exact = isinstance(self.dataset, DistributionData) and isinstance(dist, GaussianMixture)
        self.mixture = dist if exact else None  # data with an exact density: D* and the grid metrics
        if self.mixture is not None:
            reach = float(self.mixture.means.abs().max()) + 0.6
            self.bounds = (-reach, reach, -reach, reach)
        else:
            lo, hi = self.real.min(0).values, self.real.max(0).values
            centre, half = (lo + hi) / 2, float((hi - lo).max()) / 2 * 1.3 + 0.2
            self.bounds = (float(centre[0]) - half, float(centre[0]) + half,
                           float(centre[1]) - half, float(centre[1]) + half)

    # ------------------------------------------------------------------ training

    def _iterate(self, which: str) -> list[dict[str, torch.Tensor]]:
        """One iteration of the training loop: k D steps, then one G step ("d" or "g": one step of that net);
        returns each step's stats."""
        t, model = self.cfg.train, self.cfg.model
        stats: list[dict[str, torch.Tensor]] = []
        schedule(self.opt_G, self.cfg.opt_G, self.step)  # lr decay and momentum ramps, as gankit.train
        schedule(self.opt_D, self.cfg.opt_D, self.step)
        if which in ("d", "both"):
            for _ in range(critic_steps(self.step, t) if which == "both" else 1):
                real, labels = self.dataset.sample(t.batch_size, self.generator)
                z = sample_z(t.batch_size, model, generator=self.generator)
                y = labels if self.num_classes else None  # fakes for the real batch's labels
                stats.append(d_step(self.G, self.D, self.opt_D, objective=self.objective, real=real, z=z, y=y,
                                    index=self.nimg // t.batch_size))
                self.nimg += t.batch_size
        if which in ("g", "both"):
            z = sample_z(t.batch_size, model, generator=self.generator)
            y = self.dataset.sample_labels(t.batch_size, self.generator) if self.num_classes else None
            stats.append(g_step(self.G, self.D, self.opt_G, objective=self.objective, z=z, y=y))
            self.step += 1
        return stats

    def run(self, n: int = 1, which: str = "both") -> dict:
        """n iterations ("both": k D steps + one G step; "d" / "g": one step of that network); returns the
        record of their mean stats, also appended to `history`."""
        with self.lock:
            sums: dict[str, float] = {}
            counts: dict[str, int] = {}
            t0 = time.perf_counter()
            for _ in range(n):
                for stats in self._iterate(which):
                    for key, value in stats.items():
                        sums[key] = sums.get(key, 0.0) + float(value)
                        counts[key] = counts.get(key, 0) + 1
            self.elapsed += time.perf_counter() - t0
            self.seq += 1
            record = {"seq": self.seq, "step": self.step, "nimg": self.nimg,
                      **{k: views.number(sums[k] / counts[k]) for k in sorted(sums)}}
            self.history.append(record)
            if len(self.history) > HISTORY_MAX:
                self.history = self.history[::2]
            return record

    def tick(self) -> str | None:
        """While playing: `speed` iterations, then the frame as JSON text; None while paused."""
        with self.lock:
            if not self.running:
                return None
            self.run(self.speed)
            return self.frame_json()

    # ------------------------------------------------------------------ frames

    def settings(self) -> dict:
        c = self.cfg
        default = MLP2D_WIDTHS if c.model.name == "mlp2d" else []
        return {"dataset": c.data.name, "objective": c.objective.name, "divergence": c.objective.divergence,
                "g_form": c.objective.g_form, "clip": c.objective.clip, "gp_lambda": c.objective.gp_lambda,
                "g_opt": c.opt_G.name, "d_opt": c.opt_D.name, "g_lr": c.opt_G.lr, "d_lr": c.opt_D.lr,
                "d_steps": c.train.d_steps, "batch_size": c.train.batch_size, "z_dim": c.model.z_dim,
                "z_dist": c.model.z_dist, "g_hidden": list(c.model.g_hidden or default),
                "d_hidden": list(c.model.d_hidden or default), "cond": c.model.cond != "none",
                "seed": c.train.seed, "model": c.model.name, "num_classes": self.num_classes}

    def divergence(self) -> dict:
        o = self.cfg.objective
        if o.name in views.PROBABILITY_OBJECTIVES:
            return {"key": "estimate/value", "label": "V(D, G) (-log 4 = -1.386 at the optimum)",
                    "reference": -math.log(4)}
        if o.name in ("wgan", "wgan-gp"):
            return {"key": "estimate/wasserstein", "label": "E D(x) - E D(G(z)) (critic's W1 estimate)",
                    "reference": None}
        if o.name == "fgan":
            return {"key": "estimate/f_divergence", "label": f"{o.divergence}: lower bound on D_f", "reference": None}
        return {"key": None, "label": f"{o.name} estimates no divergence", "reference": None}

    def snapshot(self) -> dict:
        """The current frame as a JSON-ready dict (fields in the module docstring)."""
        with self.lock:
            self.frame += 1
            G, D, layers = self.G, self.D, self.layers
            was = G.training, D.training
            G.eval()
            D.eval()
            try:
                fake, arrows = views.generator_arrows(G, D, self.objective, self.z, self.fake_labels)
                div = DIVERGENCES.get(self.cfg.objective.divergence) if self.cfg.objective.name == "fgan" else None
                heat = dstar = manifold = None
                plane = views.plane_grid(self.bounds, HEAT_N)
                if layers["heatmap"]:
                    values = views.d_values(D, plane, objective_name=self.cfg.objective.name, divergence=div,
                                            num_classes=self.num_classes)
                    finite = values[torch.isfinite(values)]
                    heat = {"n": HEAT_N, "values": views.rounded(values.reshape(HEAT_N, HEAT_N)),
                            "label": views.d_label(self.cfg.objective.name, self.cfg.objective.divergence),
                            "min": views.number(finite.min()) if len(finite) else None,
                            "max": views.number(finite.max()) if len(finite) else None}
                reason = None if self.mixture is not None else "D* needs the exact data density (ring8, grid25)"
                if layers["dstar"] and self.mixture is not None:
                    values, h = views.optimal_d(self.mixture, fake, plane)
                    dstar = {"n": HEAT_N, "values": views.rounded(values.reshape(HEAT_N, HEAT_N)),
                             "bandwidth": views.number(h)}
                if layers["manifold"]:
                    manifold = [{**m, "points": views.rounded(m["points"])}
                                for m in views.manifold(G, self.cfg.model, self.num_classes)]
                self._update_metrics(fake)
            finally:
                G.train(was[0])
                D.train(was[1])
            return {"type": "frame", "game": self.game, "frame": self.frame, "step": self.step, "nimg": self.nimg,
                    "running": self.running, "speed": self.speed, "settings": self.settings(),
                    "layers": dict(layers), "bounds": list(self.bounds),
                    "real": views.rounded(self.real), "fake": views.rounded(fake),
                    "real_labels": None if self.real_labels is None else self.real_labels.tolist(),
                    "fake_labels": None if self.fake_labels is None else self.fake_labels.tolist(),
                    "arrows": views.rounded(arrows) if layers["arrows"] else None,
                    "heatmap": heat, "dstar": dstar, "dstar_reason": reason, "manifold": manifold,
                    "record": self.history[-1] if self.history else None, "metrics": self._metrics,
                    "divergence": self.divergence()}

    def _update_metrics(self, fake: torch.Tensor) -> None:
        """W1 and grid KL/JS: at most every METRICS_EVERY frames while playing, at once after a manual step."""
        key = (self.game, self.step, self.nimg)
        if key == self._metrics_key or (self.running and self.frame - self._metrics_frame < METRICS_EVERY):
            return
        result = views.sample_metrics(fake[:METRIC_POINTS], self.metric_real, self.mixture)
        self._metrics = {"step": self.step, "nimg": self.nimg,
                         **{k: (views.number(v) if isinstance(v, float) else v) for k, v in result.items()}}
        self._metrics_key, self._metrics_frame = key, self.frame
        self.metrics_history.append(self._metrics)
        if len(self.metrics_history) > HISTORY_MAX:
            self.metrics_history = self.metrics_history[::2]

    def frame_json(self) -> str:
        return json.dumps(self.snapshot(), allow_nan=False, separators=(",", ":"))

    def hello(self) -> dict:
        """What a newly opened page needs: the choices and limits, the history so far, the runs, a frame."""
        with self.lock:
            fields = {k: {"kind": f.kind, "choices": list(f.choices), "lo": f.lo, "hi": f.hi, "restart": f.restart}
                      for k, f in setting_fields().items()}
            return {"type": "hello", "fields": fields, "layers": list(LAYERS), "max_points": MAX_POINTS,
                    "max_speed": MAX_SPEED, "history": list(self.history),
                    "metrics_history": list(self.metrics_history), "runs": self.list_runs(),
                    "frame": self.snapshot()}

    # ------------------------------------------------------------------ messages

    def handle(self, message: str | bytes | dict) -> dict:
        """Validate and carry out one message from the page; the reply is {"type": "ok", "for": TYPE, ...},
        the hello payload for "hello", or {"type": "error", "reason": ...} for a bad message."""
        try:
            msg = parse_message(message)
            with self.lock:
                if msg["type"] == "hello":
                    return self.hello()
                return {"type": "ok", "for": msg["type"], **self._dispatch(msg)}
        except GankitError as e:
            return {"type": "error", "reason": str(e)}

    def _dispatch(self, msg: dict) -> dict:
        kind = msg["type"]
        if kind in ("play", "pause"):
            self.running = kind == "play"
        elif kind == "step":
            self.run(msg["n"], msg["which"])
        elif kind == "reset":
            self._start(copy.deepcopy(self.cfg))
        elif kind == "speed":
            self.speed = msg["value"]
        elif kind == "layers":
            self.layers.update(msg["layers"])
        elif kind == "settings":
            return {"restarted": self._apply(msg["settings"])}
        elif kind == "points":
            labels = None if msg["labels"] is None else torch.tensor(msg["labels"], dtype=torch.long)
            cfg = copy.deepcopy(self.cfg)
            cfg.data.name, cfg.data.path = "points", ""
            self._start(cfg, points=(torch.tensor(msg["points"], dtype=torch.float32), labels))
        elif kind == "export":
            return {"path": str(self.export(self.runs_dir / msg["name"]))}
        elif kind == "load":
            return {"path": str(self.load(self.runs_dir / msg["name"]))}
        elif kind == "runs":
            return {"runs": self.list_runs()}
        return {}

    def _apply(self, changes: dict) -> bool:
        """Apply validated settings; a change of data, networks, conditioning or seed starts a new game.
        Returns whether it did."""
        current, fields = self.settings(), setting_fields()
        restart = any(fields[k].restart and current[k] != v for k, v in changes.items())
        cfg = copy.deepcopy(self.cfg)
        c = changes
        for key, (section, attr) in {"dataset": ("data", "name"), "objective": ("objective", "name"),
                                     "divergence": ("objective", "divergence"), "g_form": ("objective", "g_form"),
                                     "clip": ("objective", "clip"), "gp_lambda": ("objective", "gp_lambda"),
                                     "g_opt": ("opt_G", "name"), "d_opt": ("opt_D", "name"),
                                     "g_lr": ("opt_G", "lr"), "d_lr": ("opt_D", "lr"),
                                     "d_steps": ("train", "d_steps"), "batch_size": ("train", "batch_size"),
                                     "z_dim": ("model", "z_dim"), "z_dist": ("model", "z_dist"),
                                     "g_hidden": ("model", "g_hidden"), "d_hidden": ("model", "d_hidden"),
                                     "seed": ("train", "seed")}.items():
            if key in c:
                setattr(getattr(cfg, section), attr, c[key])
        if "cond" in c and c["cond"] != current["cond"]:
            cfg.model.cond = "concat" if c["cond"] else "none"
        if restart:
            self._start(cfg)
            return True
        validate(cfg)
        objective = make_objective(cfg.objective)
        if cfg.opt_G.name != self.cfg.opt_G.name:
            self.opt_G = make_optimizer(self.G, cfg.opt_G)
        if cfg.opt_D.name != self.cfg.opt_D.name:
            self.opt_D = make_optimizer(self.D, cfg.opt_D)
        for opt, o in ((self.opt_G, cfg.opt_G), (self.opt_D, cfg.opt_D)):
            for group in opt.param_groups:
                group["lr"] = o.lr
        z_changed = cfg.model.z_dist != self.cfg.model.z_dist
        self.cfg, self.objective = cfg, objective
        if z_changed:
            self._display()
        return False

    # ------------------------------------------------------------------ run directories

    def export(self, run_dir: str | Path) -> Path:
        """Write the game as a run directory (see `lab.runs.export_run`) that `gankit train --resume RUN`
        continues for runs.CONTINUE_STEPS more steps and `gankit sample RUN` reads."""
        with self.lock:
            return runs.export_run(self, run_dir)

    def load(self, run_dir: str | Path) -> Path:
        """Continue a 2D run directory (exported here or trained by `gankit train`) in the lab."""
        with self.lock:
            cfg, state, points = runs.read_run(run_dir)
            self._start(cfg, state, points=points)
            return Path(run_dir)

    def list_runs(self) -> list[str]:
        return runs.list_runs(self.runs_dir)
