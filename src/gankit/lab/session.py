"""The lab's session: one 2D GAN game played by gankit's own engine (`training.game.Game`, the one `gankit.train`
drives: k D steps, then one G step, Goodfellow et al. 2014, Alg. 1), turned into JSON frames for the page,
exported as a run directory that `gankit train --resume` continues.

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
    inapplicable: the settings the objective never reads (hidden in the page, defaults in an export);
    model {z, G, samples, D, loss}: the model overview's boxes (sizes, a few rows of the batch, D's means, losses);
    noise {points, range, dims}: the drawn latents' first two axes, for the noise view;
    slowmo {phase, name, count, caption, steps, heatmap | fake (before the update)} or null: slow motion;
    recommended {objective, preset, settings, betas, text, differs} or null: the objective's preset settings;
    alarm {kind, message, ...} or null: G has stalled.
Numbers that are not finite are null.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
from pathlib import Path

import torch

from gankit.checks import validate
from gankit.config import Config
from gankit.data import DATASETS, TensorData, load_dataset
from gankit.errors import GankitError
from gankit.lab import advice, runs, views
from gankit.lab.messages import (
    LAYERS,
    MAX_POINTS,
    MAX_SPEED,
    MAX_STEPS,
    datasets_2d,
    inapplicable,
    parse_message,
    setting_fields,
)
from gankit.models import sample_z
from gankit.models.conditioning import bind_labels
from gankit.objectives.fgan import DIVERGENCES
from gankit.training.game import Game, critic_steps

DISPLAY_POINTS = 512  # real and generated points drawn (fixed samples and fixed latents: no flicker)
METRIC_POINTS = 500  # points per side of the W1 / grid metrics
HEAT_N = 48  # heat map and D* grid: HEAT_N x HEAT_N
METRICS_EVERY = 10  # frames between metric updates while playing (each costs ~0.1 s on one thread)
HISTORY_MAX = 2000  # records kept; beyond, every other one is dropped (the whole game stays visible)
MLP2D_WIDTHS = [128, 128, 128]  # mlp2d's own hidden widths (models/mlp.py), shown when the config says []
MODEL_SAMPLE = 4  # rows of z, fakes and reals shown in the model overview
# slow motion: one iteration (Goodfellow et al. 2014, Alg. 1) shown sub-step by sub-step, each with its caption
SLOWMO = (
    ("sample_z", "1 of 5. Sample noise: a batch of {batch} latent vectors z, {z_dim}-d {z_dist} (the noise view shows "
                 "them, coloured by where G sends each one)."),
    ("g_forward", "2 of 5. G forward: each z becomes a generated point G(z) on the plane (purple)."),
    ("d_forward", "3 of 5. D forward: D scores real points (mean {label} = {real}) and generated ones (mean {fake}); "
                  "the heat map is D over the plane."),
    ("d_update", "4 of 5. D update: {k} step(s) of {d_opt} on D's {objective} loss (now {loss_d}): the heat map "
                 "before (left) and after (the plane); D now scores real {real}, generated {fake}."),
    ("g_update", "5 of 5. G update: {k} step(s) of {g_opt} on G's loss (now {loss_g}): the generated points moved "
                 "from the grey ghosts along the lines; D now scores them {fake}."),
)


def default_config() -> Config:
    """The lab's first game: ring8 with the non-saturating loss and ring8-ns's networks and rates."""
    cfg = Config(name="lab", description="a game played in gankit lab")
    cfg.model.z_dim = 2
    cfg.opt_G.lr = cfg.opt_D.lr = 3e-4
    cfg.train.batch_size = 256
    return cfg


class LabSession:
    """One live game. Thread-safe: the server calls it from threads. Training runs in slices of one network
    step (`work`), each holding `lock` alone, so a message waits for at most one D or G step; play, pause,
    speed and layers need no lock at all and are answered at once, whatever the settings."""

    def __init__(self, cfg: Config | None = None, *, runs_dir: str | Path = "runs"):
        self.lock = threading.RLock()
        self.runs_dir = Path(runs_dir)
        self.running, self.speed, self.frame, self.game_id, self.seq = False, 1, 0, 0, 0
        self.queued, self.queued_which = 0, "both"  # iterations asked for ("step", or a frame of play), not finished
        self._plan: list[str] = []  # network steps ("d", "g") left of the iteration in progress
        self._sums: dict[str, float] = {}  # stats of the steps since the last record
        self._counts: dict[str, int] = {}
        self.layers = dict.fromkeys(LAYERS, True)
        self.points: torch.Tensor | None = None  # drawn data (N, 2) and its labels (N,) or None
        self.point_labels: torch.Tensor | None = None
        self.slowmo: int | None = None  # slow motion: the index of the sub-step shown (SLOWMO), or None
        self._before: dict = {}  # slow motion: the picture before the update shown (heat map or fakes)
        self._start(copy.deepcopy(cfg or default_config()))

    # ------------------------------------------------------------------ building a game

    # The game's networks and counters, read by the frames, exports and tests.
    cfg = property(lambda self: self.game.cfg)
    G = property(lambda self: self.game.G)
    D = property(lambda self: self.game.D)
    step = property(lambda self: self.game.step)
    nimg = property(lambda self: self.game.nimg)

    def _start(self, cfg: Config, state: dict | None = None,
               points: tuple[torch.Tensor, torch.Tensor | None] | None = None) -> None:
        """Build the data and a new game for `cfg` (and restore `state`), then swap them in; on any error
        nothing changes."""
        validate(cfg)
        if cfg.data.name not in datasets_2d():
            raise GankitError(f"the lab plays 2D games; dataset {cfg.data.name!r} is not one of: "
                              f"{', '.join(datasets_2d())}")
        x, labels = points if points is not None else (self.points, self.point_labels)
        if cfg.data.name == "points":
            if x is None:
                raise GankitError("draw a point set first (choose 'points', click on the plane, then 'use points')")
            dataset = TensorData(x, labels, kind="points")
        else:
            dataset = load_dataset(cfg.data)
        game = Game(cfg, dataset)  # as gankit.train: the same seed gives the same initial weights and streams
        if state is not None:
            game.load_state_dict(state)
        # everything built: commit
        self.dataset, self.num_classes, self.game = dataset, game.num_classes, game
        self._plan, self._sums, self._counts = [], {}, {}  # a new game: nothing of the old one is left to run
        self.slowmo, self._before = None, {}
        self.points, self.point_labels = (x, labels) if cfg.data.name == "points" else (self.points, self.point_labels)
        self.game_id += 1
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
        # data with an exact density (its registry entry says): D* and the grid metrics
        self.mixture = DATASETS.get(self.cfg.data.name).mixture
        if self.mixture is not None:
            reach = float(self.mixture.means.abs().max()) + 0.6
            self.bounds = (-reach, reach, -reach, reach)
        else:
            lo, hi = self.real.min(0).values, self.real.max(0).values
            centre, half = (lo + hi) / 2, float((hi - lo).max()) / 2 * 1.3 + 0.2
            self.bounds = (float(centre[0]) - half, float(centre[0]) + half,
                           float(centre[1]) - half, float(centre[1]) + half)

    # ------------------------------------------------------------------ training

    def run(self, n: int = 1, which: str = "both") -> dict:
        """n iterations at once ("both": k D steps + one G step; "d" / "g": one step of that network); returns
        the record of their mean stats, also appended to `history`. The Python API's way; the page's "step"
        messages queue iterations that `work` runs in slices."""
        with self.lock:
            self.queued, self.queued_which = n, which
            t0 = time.perf_counter()
            while self._step():
                pass
            self.game.elapsed += time.perf_counter() - t0
            return self._record()

    def work(self, budget: float) -> bool:
        """Run network steps (of queued iterations, or of play) for about `budget` seconds, taking the lock
        for one step at a time; returns whether any ran (then its record is in `history`)."""
        t0, ran = time.perf_counter(), False
        while time.perf_counter() - t0 < budget:
            with self.lock:
                started = time.perf_counter()
                if not self._step():
                    break
                ran = True
                self.game.elapsed += time.perf_counter() - started
        if ran:
            with self.lock:
                self._record()
        return ran

    def busy(self) -> bool:
        """Whether there is training to do: playing, or iterations queued by "step" messages."""
        return self.running or self.queued > 0

    def _step(self) -> bool:
        """One network step of the iteration in progress, or of a new one (a "both" iteration is k D steps,
        then the G step, each one call of `Game.iterate`: the same computation as gankit.train's); False
        when no iteration is queued (a pause empties the queue between two steps; the rest of the iteration
        in progress waits for the next one queued). Call with the lock held."""
        if self.queued <= 0:
            return False
        if not self._plan:
            self._begin(self.queued_which)
        network = self._network_step()
        if not self._plan:  # an iteration finished: it counts as a step when it updated G
            self.queued -= 1
            if network == "g":
                self.game.end_iteration()
        return True

    def _begin(self, which: str) -> None:
        """Plan a new iteration: k D steps and g_steps G steps ("both"), or one step of one network."""
        t = self.cfg.train
        self.game.begin_iteration()
        self._plan = ["d"] * critic_steps(self.step, t) + ["g"] * t.g_steps if which == "both" else [which]

    def _network_step(self) -> str:
        """Run the next network step of the plan (gankit's own Game.d_step / g_step) and add up its stats."""
        network = self._plan.pop(0)
        stats = self.game.d_step(measure_grad=True) if network == "d" else self.game.g_step(measure_grad=True)
        for key, value in stats.items():
            self._sums[key] = self._sums.get(key, 0.0) + float(value)
            self._counts[key] = self._counts.get(key, 0) + 1
        return network

    def _slowmo_next(self) -> None:
        """Slow motion: show the next sub-step of an iteration (SLOWMO). The D and G updates are the iteration's
        own network steps (the same calls as play makes, so the game stays gankit.train's); the other sub-steps
        only change the picture. Pauses play. Call with the lock held."""
        self.running, self.queued = False, 0
        phase = 0 if self.slowmo is None or self.slowmo == len(SLOWMO) - 1 else self.slowmo + 1
        self._before = {}
        name = SLOWMO[phase][0]
        if name == "d_update":
            with _eval(self.G, self.D):
                values = self._d_over(views.plane_grid(self.bounds, HEAT_N))
            self._before = {"heatmap": views.rounded(values.reshape(HEAT_N, HEAT_N))}
            if not self._plan:
                self._begin("both")
            steps = 0
            while self._plan and self._plan[0] == "d":
                self._network_step()
                steps += 1
            self._before["steps"] = steps
        elif name == "g_update":
            with _eval(self.G, self.D), torch.no_grad():
                self._before = {"fake": views.rounded(bind_labels(self.G, self.fake_labels)(self.z))}
            if not self._plan or "g" not in self._plan:
                self.game.begin_iteration()
                self._plan = ["g"] * self.cfg.train.g_steps
            steps = 0
            while self._plan:
                self._network_step()
                steps += 1
            self.game.end_iteration()
            self._before["steps"] = steps
            self._record()
        self.slowmo = phase

    def _slowmo_frame(self, model: dict) -> dict | None:
        """The slow-motion part of a frame: the sub-step, its caption with this iteration's numbers, and the
        picture before the update it shows (bounded: a HEAT_N^2 heat map or DISPLAY_POINTS points)."""
        if self.slowmo is None:
            return None
        name, caption = SLOWMO[self.slowmo]
        record = self.history[-1] if self.history else {}
        t, o = self.cfg.train, self.cfg

        def fmt(v):
            return "–" if v is None else f"{v:.4g}"

        text = caption.format(
            batch=t.batch_size, z_dim=o.model.z_dim, z_dist=o.model.z_dist, real=fmt(model["D"]["real"]),
            fake=fmt(model["D"]["fake"]), label=model["D"]["label"], k=self._before.get("steps", 0),
            d_opt=o.opt_D.name, g_opt=o.opt_G.name, loss_d=fmt(record.get("loss/D")),
            loss_g=fmt(record.get("loss/G")), objective=o.objective.name)
        return {"phase": self.slowmo, "name": name, "count": len(SLOWMO), "caption": text,
                "steps": [n for n, _ in SLOWMO], **{k: v for k, v in self._before.items() if k != "steps"}}

    def _record(self) -> dict:
        """The mean stats of the steps since the last record, appended to `history`."""
        self.seq += 1
        record = {"seq": self.seq, "step": self.step, "nimg": self.nimg,
                  **{k: views.number(self._sums[k] / self._counts[k]) for k in sorted(self._sums)}}
        self._sums, self._counts = {}, {}
        self.history.append(record)
        if len(self.history) > HISTORY_MAX:
            self.history = self.history[::2]
        return record

    def tick(self, budget: float = 0.25) -> str | None:
        """While there is training to do: about `budget` seconds of it (at most `speed` iterations while
        playing), then the frame as JSON text; None when idle."""
        if not self.busy():
            return None
        if self.running and self.queued == 0:
            self.queued, self.queued_which = self.speed, "both"  # one frame's worth of play
        self.work(budget)
        with self.lock:
            return self.frame_json()

    # ------------------------------------------------------------------ frames

    def settings(self) -> dict:
        """Every lab setting's current value, read from the config through `setting_fields()`'s table."""
        out = {key: copy.deepcopy(_get(self.cfg, f.path)) for key, f in setting_fields().items()}
        out["cond"] = self.cfg.model.cond != "none"
        if self.cfg.model.name == "mlp2d":  # [] means the family's own widths: show them
            out["g_hidden"], out["d_hidden"] = out["g_hidden"] or MLP2D_WIDTHS, out["d_hidden"] or MLP2D_WIDTHS
        return {**out, "model": self.cfg.model.name, "num_classes": self.num_classes}

    def divergence(self) -> dict:
        """Which logged statistic estimates the objective's divergence, as its registry entry says."""
        estimate = self.game.objective.estimate
        if estimate is None:
            return {"key": None, "label": f"{self.cfg.objective.name} estimates no divergence", "reference": None}
        return {"key": estimate.key, "label": estimate.label, "reference": estimate.reference}

    def snapshot(self) -> dict:
        """The current frame as a JSON-ready dict (fields in the module docstring)."""
        with self.lock:
            self.frame += 1
            G, D, layers, objective, o = self.G, self.D, self.layers, self.game.objective, self.cfg.objective
            with _eval(G, D):
                fake, arrows = views.generator_arrows(G, D, objective, self.z, self.fake_labels)
                heat = dstar = manifold = None
                plane = views.plane_grid(self.bounds, HEAT_N)
                if layers["heatmap"]:
                    values = self._d_over(plane)
                    finite = values[torch.isfinite(values)]
                    heat = {"n": HEAT_N, "values": views.rounded(values.reshape(HEAT_N, HEAT_N)),
                            "label": views.d_label(objective.d_output, o.name, o.divergence),
                            "min": views.number(finite.min()) if len(finite) else None,
                            "max": views.number(finite.max()) if len(finite) else None}
                reason = None if self.mixture is not None else "D* needs the exact data density (the Gaussian mixtures)"
                if layers["dstar"] and self.mixture is not None:
                    values, h = views.optimal_d(self.mixture, fake, plane)
                    dstar = {"n": HEAT_N, "values": views.rounded(values.reshape(HEAT_N, HEAT_N)),
                             "bandwidth": views.number(h)}
                if layers["manifold"]:
                    manifold = [{**m, "points": views.rounded(m["points"])}
                                for m in views.manifold(G, self.cfg.model, self.num_classes)]
                self._update_metrics(fake)
                model = self._model(fake)
            settings, rec = self.settings(), advice.recommended(o.name)
            if rec is not None:
                rec = {**rec, "differs": advice.differs(rec, settings, self.cfg)}
            return {"type": "frame", "game": self.game_id, "frame": self.frame, "step": self.step, "nimg": self.nimg,
                    "running": self.running, "speed": self.speed, "settings": settings,
                    "layers": dict(layers), "bounds": list(self.bounds),
                    "real": views.rounded(self.real), "fake": views.rounded(fake),
                    "real_labels": None if self.real_labels is None else self.real_labels.tolist(),
                    "fake_labels": None if self.fake_labels is None else self.fake_labels.tolist(),
                    "arrows": views.rounded(arrows) if layers["arrows"] else None,
                    "heatmap": heat, "dstar": dstar, "dstar_reason": reason, "manifold": manifold,
                    "record": self.history[-1] if self.history else None, "metrics": self._metrics,
                    "divergence": self.divergence(), "inapplicable": inapplicable(o.name), "model": model,
                    "noise": self._noise(), "slowmo": self._slowmo_frame(model), "recommended": rec,
                    "alarm": advice.stalled_generator(self.history)}

    def _d_over(self, x: torch.Tensor) -> torch.Tensor:
        """D's values at points x (M, 2) as the objective reads them (views.d_values): P(real), T = g_f(V) or the
        raw critic."""
        objective = self.game.objective
        div = DIVERGENCES.get(self.cfg.objective.divergence) if objective.d_output == "fgan" else None
        return views.d_values(self.D, x, d_output=objective.d_output, divergence=div,
                              critic_bound=self.cfg.objective.critic_bound, num_classes=self.num_classes)

    def _model(self, fake: torch.Tensor) -> dict:
        """The model overview (z -> G -> samples -> D -> loss): each box's sizes and a few current numbers (a
        handful of rows of z, fakes and reals; D's mean outputs on the drawn points; the latest losses)."""
        cfg, objective = self.cfg, self.game.objective
        record = self.history[-1] if self.history else {}

        def mean_d(x: torch.Tensor) -> float | None:
            values = self._d_over(x)
            values = values[torch.isfinite(values)]
            return views.number(values.mean()) if len(values) else None

        def net(module, opt) -> dict:
            return {"widths": views.layer_widths(module), "params": sum(p.numel() for p in module.parameters()),
                    "opt": opt.name, "lr": opt.lr}

        return {"z": {"dim": cfg.model.z_dim, "dist": cfg.model.z_dist, "batch": cfg.train.batch_size,
                      "sample": views.rounded(self.z[:MODEL_SAMPLE])},
                "G": {**net(self.G, cfg.opt_G), "steps": cfg.train.g_steps},
                "samples": {"fake": views.rounded(fake[:MODEL_SAMPLE]),
                            "real": views.rounded(self.real[:MODEL_SAMPLE])},
                "D": {**net(self.D, cfg.opt_D), "steps": cfg.train.d_steps, "real": mean_d(self.real),
                      "fake": mean_d(fake),
                      "label": views.d_label(objective.d_output, cfg.objective.name, cfg.objective.divergence)},
                "loss": {"objective": cfg.objective.name,
                         **{k: record.get(k) for k in ("loss/D", "loss/G", "grad/D", "grad/G")}}}

    def _noise(self) -> dict:
        """The noise view: the drawn latents' first two axes (one axis and 0 when z is 1-d) and the axis range."""
        lo, hi, _ = views.z_range(self.cfg.model)
        z = self.z[:, :2] if self.cfg.model.z_dim >= 2 else torch.cat([self.z, torch.zeros_like(self.z)], dim=1)
        return {"points": views.rounded(z, 3), "range": [lo, hi], "dims": self.cfg.model.z_dim}

    def _update_metrics(self, fake: torch.Tensor) -> None:
        """W1 and grid KL/JS: at most every METRICS_EVERY frames while playing, at once after a manual step."""
        key = (self.game_id, self.step, self.nimg)
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
            kind = msg["type"]
            if kind in ("play", "pause", "speed", "layers", "step"):  # flags the training slices read: no lock
                self._control(msg)
                return {"type": "ok", "for": kind}
            with self.lock:
                if kind == "hello":
                    return self.hello()
                return {"type": "ok", "for": kind, **self._dispatch(msg)}
        except GankitError as e:
            return {"type": "error", "reason": str(e)}

    def _control(self, msg: dict) -> None:
        """Play, pause, speed, layers and step change flags only; the training slices (`work`) act on them
        between network steps. Pause also drops the iterations queued by "step"."""
        kind = msg["type"]
        if kind in ("play", "step"):  # training on leaves slow motion
            self.slowmo, self._before = None, {}
        if kind == "play":
            self.running = True
        elif kind == "pause":
            self.running, self.queued = False, 0
        elif kind == "speed":
            self.speed = msg["value"]
        elif kind == "layers":
            self.layers = {**self.layers, **msg["layers"]}  # a new dict: a frame being drawn keeps its own
        else:  # step: n more iterations (or single network steps), run by the slices
            self.queued_which = msg["which"]
            self.queued = min(self.queued + msg["n"], MAX_STEPS)

    def _dispatch(self, msg: dict) -> dict:
        kind = msg["type"]
        if kind == "reset":
            self._start(copy.deepcopy(self.cfg))
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
        elif kind == "slowmo":
            if msg["action"] == "stop":
                self.slowmo, self._before = None, {}
            else:
                self._slowmo_next()
            return {"slowmo": self.slowmo}
        elif kind == "recommended":
            rec = advice.recommended(self.cfg.objective.name)
            if rec is None:
                raise GankitError(f"no recommended settings for {self.cfg.objective.name!r}; objectives with "
                                  f"some: {', '.join(advice.PRESETS)}")
            return {"restarted": self._apply(rec["settings"], betas=rec["betas"]), "preset": rec["preset"]}
        return {}

    def _apply(self, changes: dict, *, betas: list[float] | None = None) -> bool:
        """Apply validated settings; a change of data, networks, conditioning or seed starts a new game.
        Returns whether it did."""
        current, fields = self.settings(), setting_fields()
        restart = any(fields[k].restart and current[k] != v for k, v in changes.items())
        cfg = copy.deepcopy(self.cfg)
        for key, value in changes.items():
            if key == "cond":  # the page switches conditioning on (one-hot concat) or off
                if value != current["cond"]:
                    cfg.model.cond = "concat" if value else "none"
            else:
                _set(cfg, fields[key].path, value)
        if betas is not None:  # both Adams' betas (a recommendation): the config and the live optimizers
            cfg.opt_G.betas, cfg.opt_D.betas = list(betas), list(betas)
        if restart:
            self._start(cfg)
            return True
        validate(cfg)
        z_changed = cfg.model.z_dist != self.cfg.model.z_dist
        self.game.set_config(cfg)
        if betas is not None:
            for opt in (self.game.opt_G, self.game.opt_D):
                for group in opt.param_groups:
                    if "betas" in group:
                        group["betas"] = tuple(betas)
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
            history, metrics = runs.read_history(run_dir, HISTORY_MAX)
            self._start(cfg, state, points=points)
            for record in history:  # the run's charts so far; the lab's own records follow in order
                self.seq += 1
                record["seq"] = self.seq
            self.history, self.metrics_history = history, metrics
            return Path(run_dir)

    def list_runs(self) -> list[str]:
        return runs.list_runs(self.runs_dir)


def _get(cfg: Config, path: str):
    section, key = path.split(".")
    return getattr(getattr(cfg, section), key)


def _set(cfg: Config, path: str, value) -> None:
    section, key = path.split(".")
    setattr(getattr(cfg, section), key, value)


@contextlib.contextmanager
def _eval(*nets: torch.nn.Module):
    """The networks in eval mode for a view, back in their own mode after."""
    was = [n.training for n in nets]
    for n in nets:
        n.eval()
    try:
        yield
    finally:
        for n, mode in zip(nets, was):
            n.train(mode)
