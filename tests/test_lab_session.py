"""The lab's session: its steps are gankit's training steps, frames are JSON with the documented fields, bad
messages are refused with a reason and change nothing, and an export is a run that `gankit.load` / `sample` read
and `gankit train --resume` continues exactly as the lab would have."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

import gankit
from gankit.cli import main
from gankit.data.toy2d import GaussianMixture
from gankit.lab.messages import MAX_POINTS
from gankit.lab.session import DISPLAY_POINTS, LabSession, default_config
from gankit.lab.views import optimal_d, plane_grid
from gankit.metrics.grid import scott_bandwidth

FRAME_FIELDS = {"type", "game", "frame", "step", "nimg", "running", "speed", "settings", "layers", "bounds", "real",
                "fake", "real_labels", "fake_labels", "arrows", "heatmap", "dstar", "dstar_reason", "manifold",
                "record", "metrics", "divergence"}


def small_config():
    cfg = default_config()
    cfg.train.batch_size = 32
    cfg.model.g_hidden, cfg.model.d_hidden = [16, 16], [16, 16]
    return cfg


def params(net: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in net.parameters()]).clone()


@pytest.fixture
def session(tmp_path) -> LabSession:
    return LabSession(small_config(), runs_dir=tmp_path / "runs")


def drain(session: LabSession) -> None:
    """Run what "step" messages queued, as the server's slices do."""
    while session.busy():
        session.work(1.0)


def test_steps_change_the_networks_they_train(session):
    g0, d0 = params(session.G), params(session.D)
    assert session.handle({"type": "step", "which": "d"}) == {"type": "ok", "for": "step"}
    assert session.queued == 1 and torch.equal(params(session.D), d0)  # queued: the slices run it
    drain(session)
    assert not torch.equal(params(session.D), d0) and torch.equal(params(session.G), g0)
    assert (session.step, session.nimg) == (0, 32)  # step counts G steps, nimg images shown to D
    d1 = params(session.D)
    session.handle({"type": "step", "which": "g"})
    drain(session)
    assert not torch.equal(params(session.G), g0) and torch.equal(params(session.D), d1)
    session.handle({"type": "step", "which": "both", "n": 3})
    drain(session)
    assert (session.step, session.nimg) == (4, 4 * 32)
    record = session.history[-1]
    assert record["step"] == 4 and all(math.isfinite(record[k]) for k in ("loss/D", "loss/G", "D/real", "D/fake"))


@pytest.mark.parametrize("schedules", [False, True])
def test_lab_iterations_are_the_training_loop(tmp_path, schedules):
    """Five lab iterations from a fresh game give bit-identical networks to `gankit.train` for five steps,
    also with SGD whose learning rate decays and momentum ramps per step (pylearn2's schedules)."""
    cfg = small_config()
    if schedules:
        for opt in (cfg.opt_G, cfg.opt_D):
            opt.name, opt.lr, opt.lr_decay, opt.momentum, opt.momentum_end, opt.momentum_ramp = (
                "sgd", 0.1, 2.0, 0.5, 0.9, 4)
    lab = LabSession(cfg, runs_dir=tmp_path / "runs")
    lab.run(5)
    cfg.train.steps, cfg.train.log_every = 5, 5
    run = gankit.load(gankit.train(cfg, run_dir=tmp_path / "trained", progress=False))
    assert torch.equal(params(run.G), params(lab.G)) and torch.equal(params(run.D), params(lab.D))


def test_frame_is_json_with_the_documented_fields(session):
    session.run(2)
    frame = json.loads(session.frame_json())
    assert set(frame) == FRAME_FIELDS
    assert frame["type"] == "frame" and frame["step"] == 2 and frame["record"]["step"] == 2
    assert len(frame["real"]) == len(frame["fake"]) == len(frame["arrows"]) == DISPLAY_POINTS
    assert frame["bounds"] == pytest.approx([-1.6, 1.6, -1.6, 1.6])  # ring8: radius 1 plus a margin
    heat = frame["heatmap"]
    assert len(heat["values"]) == heat["n"] and {len(row) for row in heat["values"]} == {heat["n"]}
    assert all(0 <= v <= 1 for row in heat["values"] for v in row)  # ns: D is a probability
    assert all(0 <= v <= 1 for row in frame["dstar"]["values"] for v in row)
    (sheet,) = frame["manifold"]
    assert len(sheet["points"]) == sheet["rows"] * sheet["cols"]
    metrics = frame["metrics"]
    assert metrics["step"] == 2 and metrics["w1"] > 0 and 0 <= metrics["js"] <= math.log(2)
    assert frame["divergence"]["key"] == "estimate/value" and "estimate/value" in frame["record"]


def test_arrows_are_minus_the_gradient_of_each_points_generator_loss(session):
    """ns: loss_G(x) = softplus(-l(x)) per point, so -grad = sigmoid(-l(x)) grad l(x) for D's logit l."""
    frame = session.snapshot()
    x = session.G(session.z[:3]).detach().requires_grad_(True)
    logit = session.D(x)
    (grad_l,) = torch.autograd.grad(logit.sum(), x)
    expected = torch.sigmoid(-logit.detach())[:, None] * grad_l
    assert torch.tensor(frame["arrows"][:3]) == pytest.approx(expected, abs=2e-4)  # frames round to 1e-4


def test_optimal_d_is_p_over_p_plus_a_kde_of_the_fakes():
    data = GaussianMixture(torch.tensor([[0.0, 0.0], [2.0, 0.0]]), 0.5)
    fake = torch.tensor([[0.0, 0.5], [1.0, 0.0], [1.5, -0.5]])
    points = torch.tensor([[0.5, 0.0], [0.0, 1.0], [2.0, 0.3], [1.0, -0.2]])
    values, h = optimal_d(data, fake, points)
    assert h == pytest.approx(scott_bandwidth(fake))
    x = points.double()
    p = data.log_prob(x).exp()
    q = (torch.exp(-((x[:, None] - fake.double()[None]) ** 2).sum(-1) / (2 * h * h)) / (2 * math.pi * h * h)).mean(1)
    assert values.double() == pytest.approx(p / (p + q), abs=1e-6)
    assert bool(((p / (p + q)) > 0.05).all() and ((p / (p + q)) < 0.95).all())  # not a trivially saturated check


def test_frame_layers_are_the_views_of_the_live_networks(session):
    session.run(3)
    frame = session.snapshot()
    plane = plane_grid(tuple(frame["bounds"]), frame["dstar"]["n"])
    expected, _ = optimal_d(session.mixture, session.G(session.z).detach(), plane)
    assert torch.tensor(frame["dstar"]["values"]).flatten() == pytest.approx(expected, abs=1e-4)
    heat = torch.sigmoid(session.D(plane).detach())
    assert torch.tensor(frame["heatmap"]["values"]).flatten() == pytest.approx(heat, abs=1e-4)


def test_layers_switched_off_are_not_computed(session):
    assert session.handle({"type": "layers", "layers": {"heatmap": False, "arrows": False, "dstar": False,
                                                         "manifold": False}})["type"] == "ok"
    frame = session.snapshot()
    assert frame["heatmap"] is None and frame["arrows"] is None and frame["dstar"] is None and frame["manifold"] is None
    assert frame["layers"]["real"] and not frame["layers"]["heatmap"]


BAD = [
    ("not json", "not JSON"),
    ("[1, 2]", "must be a JSON object"),
    ("x" * 300_000, "too long"),
    ({"type": "fly"}, "unknown message type"),
    ({"type": "step", "which": "x"}, "step which"),
    ({"type": "step", "n": 10**6}, "step n must be an integer from 1 to 1000"),
    ({"type": "step", "turbo": 1}, "unknown field 'turbo'"),
    ({"type": "speed"}, "needs the field 'value'"),
    ({"type": "speed", "value": 0}, "speed must be an integer from 1 to 50"),
    ({"type": "settings", "settings": {}}, "settings is empty"),
    ({"type": "settings", "settings": {"g_lr": 5}}, "g_lr must be a number from 1e-06 to 0.1"),
    ('{"type": "settings", "settings": {"g_lr": NaN}}', "g_lr must be a number"),
    ({"type": "settings", "settings": {"g_lr": "fast"}}, "g_lr must be a number"),
    ({"type": "settings", "settings": {"d_steps": True}}, "d_steps must be an integer"),
    ({"type": "settings", "settings": {"d_hidden": [64] * 7}}, "d_hidden must be a list of 1 to 6"),
    ({"type": "settings", "settings": {"g_hidden": [100_000]}}, "g_hidden width must be an integer from 1 to 512"),
    ({"type": "settings", "settings": {"objective": "magic"}}, "objective 'magic' is not one of"),
    ({"type": "settings", "settings": {"warp": 9}}, "unknown setting 'warp'"),
    ({"type": "settings", "settings": {"dataset": "mnist"}}, "dataset 'mnist' is not one of"),
    ({"type": "settings", "settings": {"dataset": "swissroll", "cond": True}}, "has no labels"),
    ({"type": "settings", "settings": {"dataset": "points"}}, "draw a point set first"),
    ({"type": "layers", "layers": {"sparkles": True}}, "layer 'sparkles' is not one of"),
    ({"type": "layers", "layers": {"real": "yes"}}, "layer real must be true or false"),
    ({"type": "points", "points": [[0, 0]]}, "points must be a list of 2 to 2000"),
    ({"type": "points", "points": [[0, 0]] * (MAX_POINTS + 1)}, "points must be a list of 2 to 2000"),
    ({"type": "points", "points": [[0, 0], [1e9, 0]]}, "a point coordinate must be a number from -20 to 20"),
    ({"type": "points", "points": [[0, 0], [1, 2, 3]]}, "each point must be [x, y]"),
    ({"type": "points", "points": [[0, 0], [1, 1]], "labels": [0]}, "labels must be a list with one class"),
    ({"type": "points", "points": [[0, 0], [1, 1]], "labels": [0, 99]}, "a point label must be an integer"),
    ({"type": "export", "name": "../evil"}, "a run name is"),
    ({"type": "export", "name": "/etc"}, "a run name is"),
    ({"type": "load", "name": "nothing-here"}, "does not exist"),
]


@pytest.mark.parametrize(("message", "reason"), BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_messages_are_refused_with_a_reason_and_change_nothing(session, message, reason):
    g0, d0, game, cfg = params(session.G), params(session.D), session.game, json.dumps(session.settings())
    reply = session.handle(message)
    assert reply["type"] == "error" and reason in reply["reason"], reply
    assert torch.equal(params(session.G), g0) and torch.equal(params(session.D), d0)
    assert session.game == game and json.dumps(session.settings()) == cfg


def test_objective_and_rates_change_live_networks_change_restart(session):
    game = session.game_id
    reply = session.handle({"type": "settings", "settings": {"objective": "wgan", "clip": 0.05, "g_lr": 1e-3}})
    assert reply == {"type": "ok", "for": "settings", "restarted": False} and session.game_id == game
    assert session.game.opt_G.param_groups[0]["lr"] == 1e-3 and session.cfg.opt_G.lr == 1e-3
    session.run(1)
    clip = torch.tensor(0.05).item()  # in float32, as the weights
    assert max(p.abs().max().item() for p in session.D.parameters()) == clip  # the critic is clipped
    assert session.snapshot()["divergence"]["key"] == "estimate/wasserstein"
    reply = session.handle({"type": "settings", "settings": {"d_hidden": [8]}})
    assert reply["restarted"] and session.game_id == game + 1 and session.step == 0
    assert session.D.body[0].weight.shape == (8, 2) and session.cfg.objective.name == "wgan"


def test_drawn_points_train_conditionally(session):
    points = [[-1 + 0.05 * i, 0.5] for i in range(20)] + [[0.5, -1 + 0.05 * i] for i in range(20)]
    labels = [0] * 20 + [1] * 20
    assert session.handle({"type": "points", "points": points, "labels": labels})["type"] == "ok"
    assert session.cfg.data.name == "points" and session.step == 0
    frame = session.snapshot()
    drawn = {tuple(round(c, 4) for c in p) for p in points}
    assert {tuple(p) for p in frame["real"]} <= drawn and frame["dstar"] is None and frame["dstar_reason"]
    assert session.handle({"type": "settings", "settings": {"cond": True}})["restarted"]
    session.run(2)
    frame = session.snapshot()
    assert session.num_classes == 2 and set(frame["fake_labels"]) == {0, 1} and len(frame["manifold"]) == 2


def test_export_is_a_run_that_load_sample_and_resume_continue(session, tmp_path, capsys):
    session.run(3)
    reply = session.handle({"type": "export", "name": "mine"})
    assert reply["type"] == "ok"
    run = gankit.load(reply["path"])
    assert run.step == 3 and torch.equal(params(run.G), params(session.G))
    x = gankit.sample(run, 50, seed=0)
    assert x.shape == (50, 2) and bool((abs(x) < 100).all())
    assert "already holds a run" in session.handle({"type": "export", "name": "mine"})["reason"]
    assert session.list_runs() == ["mine"]

    assert main(["train", "--resume", reply["path"], "--steps", "5", "--no-progress"]) == 0
    resumed = gankit.load(reply["path"])
    session.run(2)  # the lab continuing on its own reaches the very same networks
    assert resumed.step == 5 and torch.equal(params(resumed.G), params(session.G))
    assert torch.equal(params(resumed.D), params(session.D))

    fresh = LabSession(small_config(), runs_dir=tmp_path / "runs")
    assert fresh.handle({"type": "load", "name": "mine"})["type"] == "ok"
    assert fresh.step == 5 and torch.equal(params(fresh.G), params(resumed.G))


def test_export_of_drawn_points_resumes_and_samples(session, tmp_path, capsys):
    points = [[math.cos(a / 5), math.sin(a / 5)] for a in range(30)]
    session.handle({"type": "points", "points": points})
    session.run(2)
    path = session.handle({"type": "export", "name": "drawn"})["path"]
    assert main(["train", "--resume", path, "--steps", "3", "--no-progress"]) == 0
    assert main(["sample", path, "--n", "20", "--out", str(tmp_path / "s.npy")]) == 0
    assert gankit.load(path).config.data.name == "points"


def test_a_corrupt_run_is_refused(session, tmp_path):
    bad = tmp_path / "runs" / "bad"
    bad.mkdir(parents=True)
    (bad / "checkpoint.pt").write_bytes(b"not a checkpoint")
    (bad / "config.json").write_text(json.dumps({"data": {"name": "ring8"}}))
    reply = session.handle({"type": "load", "name": "bad"})
    assert reply["type"] == "error" and "not a readable checkpoint" in reply["reason"]


def test_importing_gankit_never_imports_the_lab():
    code = ("import sys, gankit, gankit.cli; bad = [m for m in sys.modules if m.startswith(('gankit.lab', 'fastapi', "
            "'uvicorn', 'starlette'))]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_pause_is_answered_at_once_during_the_heaviest_step(tmp_path):
    """The largest settings the page allows (batch 2048, 20 D steps, six layers of 512): one iteration takes
    seconds, but training runs in slices of one network step and pause takes no lock, so its reply comes
    while a step is still running, and the slices stop at the next step."""
    import threading
    import time

    cfg = default_config()
    cfg.train.batch_size, cfg.train.d_steps = 2048, 20
    cfg.model.g_hidden = cfg.model.d_hidden = [512] * 6
    lab = LabSession(cfg, runs_dir=tmp_path / "runs")
    assert lab.handle({"type": "step", "n": 1000})["type"] == "ok"
    worker = threading.Thread(target=lab.work, args=(60.0,))
    worker.start()
    while lab.nimg == 0:  # the first D step has finished: the slices are training
        time.sleep(0.01)
    t0 = time.perf_counter()
    reply = lab.handle({"type": "pause"})
    answered = time.perf_counter() - t0
    worker.join(timeout=30)
    assert reply == {"type": "ok", "for": "pause"} and answered < 0.5
    assert not worker.is_alive() and not lab.busy()
    assert lab.step == 0 and lab.nimg < 20 * 2048  # stopped inside the first iteration, between two D steps
    frame = lab.snapshot()  # and a frame is drawn for the pause
    assert frame["step"] == 0 and frame["running"] is False


def test_play_trains_in_slices_and_a_step_after_a_pause_finishes_the_iteration(session):
    session.cfg.train.d_steps = 3
    session.handle({"type": "play"})
    session.handle({"type": "speed", "value": 2})
    assert json.loads(session.tick(budget=60.0))["step"] == 2  # a frame of play: `speed` iterations
    session.handle({"type": "pause"})
    assert session.tick() is None and session.step == 2
    session._plan = ["d", "g"]  # as if paused after the first of three D steps
    session.handle({"type": "step"})
    drain(session)
    assert session.step == 3 and session.nimg == 2 * 3 * 32 + 32  # the rest of that iteration, nothing more
