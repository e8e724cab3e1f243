"""The lab's session: its steps are gankit's training steps, frames are JSON with the documented fields, bad
messages are refused with a reason and change nothing, and an export is a run that `gankit.load` / `sample` read
and `gankit train --resume` continues exactly as the lab would have."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gankit
from gankit.cli import main
from gankit.data.toy2d import GaussianMixture
from gankit.errors import GankitError
from gankit.lab.messages import MAX_POINTS
from gankit.lab.session import DISPLAY_POINTS, LabSession, default_config
from gankit.lab.views import optimal_d, plane_grid
from gankit.metrics.grid import scott_bandwidth

FRAME_FIELDS = {"type", "game", "frame", "step", "nimg", "running", "speed", "settings", "layers", "bounds", "real",
                "fake", "real_labels", "fake_labels", "arrows", "heatmap", "dstar", "dstar_reason", "manifold",
                "record", "metrics", "divergence", "inapplicable", "model", "noise", "slowmo", "recommended", "alarm"}


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
    ("[" * 100_000, "nested too deeply"),
    ("{" * 150_000, "nested too deeply"),
    ('{"type": "settings", "settings": {"g_hidden": ' + "[" * 50_000 + "]" * 50_000 + "}}", "nested too deeply"),
    ({"type": "settings", "settings": {"g_steps": 21}}, "g_steps must be an integer from 1 to 20"),
    ({"type": "settings", "settings": {"g_steps": 0}}, "g_steps must be an integer from 1 to 20"),
    ({"type": "slowmo", "action": "rewind"}, "slowmo action 'rewind' is not one of: next, stop"),
    ({"type": "slowmo"}, "needs the field 'action'"),
    ({"type": "recommended", "now": True}, "unknown field 'now'"),
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


# ---------------------------------------------------------------------- what the lab adds to the game


def test_deep_nesting_is_an_error_reply_not_a_recursion_error():
    from gankit.lab.messages import parse_message

    for text in ("[" * 100_000, "[" * 1000 + "]" * 1000, '{"type": "play", "x": ' + "[" * 9 + "]" * 9 + "}"):
        with pytest.raises(GankitError, match="nested too deeply"):
            parse_message(text)
    assert parse_message('{"type": "layers", "layers": {"real": true}}') == {"type": "layers", "layers": {"real": True}}
    # brackets inside strings do not count: a message of depth 1, refused for its run name only
    with pytest.raises(GankitError, match="a run name is"):
        parse_message('{"type": "export", "name": "' + "[" * 50 + '"}')


@pytest.mark.parametrize(("objective", "shown"), [("ns", set()), ("wgan", {"clip"}), ("wgan-gp", {"gp_lambda"}),
                                                  ("fgan", {"divergence", "g_form"}), ("hinge", set())])
def test_settings_the_objective_never_reads_are_listed_for_the_page(session, objective, shown):
    session.handle({"type": "settings", "settings": {"objective": objective}})
    frame = session.snapshot()
    assert set(frame["inapplicable"]) == {"divergence", "g_form", "clip", "gp_lambda"} - shown


def test_an_export_leaves_the_settings_the_objective_never_reads_at_their_defaults(session):
    from gankit.config import Config

    changes = {"divergence": "kl", "g_form": "alternative", "gp_lambda": 3.0, "clip": 0.05}
    assert session.handle({"type": "settings", "settings": changes})["type"] == "ok"
    assert session.handle({"type": "settings", "settings": {"objective": "wgan"}})["type"] == "ok"
    session.run(2)
    path = session.handle({"type": "export", "name": "clipped"})["path"]
    saved = json.loads((Path(path) / "config.json").read_text())["objective"]
    defaults = Config().objective
    assert saved["clip"] == 0.05  # wgan reads its clip: kept
    assert (saved["divergence"], saved["g_form"], saved["gp_lambda"]) == (
        defaults.divergence, defaults.g_form, defaults.gp_lambda)  # the rest: back to the defaults
    assert gankit.load(path).config.objective.gp_lambda == defaults.gp_lambda  # the checkpoint's config too
    assert main(["train", "--resume", path, "--steps", "3", "--no-progress"]) == 0  # and it still resumes


def test_g_steps_per_iteration_is_a_setting_and_plays_as_gankit_train(tmp_path):
    cfg = small_config()
    lab = LabSession(cfg, runs_dir=tmp_path / "runs")
    assert lab.handle({"type": "settings", "settings": {"g_steps": 3, "d_steps": 2}}) == {
        "type": "ok", "for": "settings", "restarted": False}
    assert lab.settings()["g_steps"] == 3 and lab.cfg.train.g_steps == 3
    lab2 = LabSession(copy.deepcopy(lab.cfg), runs_dir=tmp_path / "runs")
    lab2.run(2)
    assert lab2.step == 2 and lab2.nimg == 2 * 2 * 32
    cfg2 = copy.deepcopy(lab2.cfg)
    cfg2.train.steps, cfg2.train.log_every = 2, 2
    run = gankit.load(gankit.train(cfg2, run_dir=tmp_path / "trained", progress=False))
    assert torch.equal(params(run.G), params(lab2.G)) and torch.equal(params(run.D), params(lab2.D))


def test_a_loaded_run_brings_its_charts(session, tmp_path):
    session.handle({"type": "step", "n": 4})
    drain(session)
    session.snapshot()  # a metrics point
    session.run(2)
    session.snapshot()
    session.handle({"type": "export", "name": "charted"})
    fresh = LabSession(small_config(), runs_dir=tmp_path / "runs")
    assert fresh.history == [] and fresh.handle({"type": "load", "name": "charted"})["type"] == "ok"
    assert [r["step"] for r in fresh.history] == [r["step"] for r in session.history]
    assert all(math.isfinite(r["loss/D"]) and math.isfinite(r["loss/G"]) for r in fresh.history)
    assert [m["step"] for m in fresh.metrics_history] == [m["step"] for m in session.metrics_history]
    hello = fresh.hello()
    assert hello["history"] == fresh.history and hello["metrics_history"] and hello["frame"]["step"] == 6
    fresh.run(1)  # the lab's own records follow the run's, in order
    assert fresh.history[-1]["step"] == 7 and [r["seq"] for r in fresh.history] == sorted(
        r["seq"] for r in fresh.history)


def test_a_trained_run_loads_with_its_history(session, tmp_path):
    cfg = small_config()
    cfg.train.steps, cfg.train.log_every = 6, 2
    run_dir = gankit.train(cfg, run_dir=tmp_path / "runs" / "trained", progress=False)
    assert session.handle({"type": "load", "name": "trained"})["type"] == "ok"
    assert [r["step"] for r in session.history] == [2, 4, 6] and "loss/D" in session.history[0]
    assert session.hello()["history"] == session.history and Path(run_dir).is_dir()


def test_a_run_with_many_records_loads_thinned(tmp_path):
    from gankit.lab.runs import read_history

    lines = [json.dumps({"step": s, "nimg": s, "loss/D": 1.0, "loss/G": 2.0}) for s in range(1, 5001)]
    (tmp_path / "stats.jsonl").write_text("\n".join(lines + ["not json", "[1]", '{"step": "x"}']) + "\n")
    records, metrics = read_history(tmp_path, 2000)
    assert len(records) <= 2000 and records[-1]["step"] == 5000 and metrics == []
    assert read_history(tmp_path / "nothing", 10) == ([], [])


@pytest.mark.parametrize(("name", "exact"), [("line", False), ("two-gaussians", True), ("disjoint-clusters", True)])
def test_gan_labs_datasets_play_in_the_lab(session, name, exact):
    from gankit.data import DATASETS
    from gankit.lab.messages import datasets_2d

    assert name in datasets_2d() and {"ring8", "grid25", "moons", "swissroll", "points"} <= set(datasets_2d())
    assert session.handle({"type": "settings", "settings": {"dataset": name}})["restarted"]
    session.run(2)
    frame = session.snapshot()
    assert (frame["dstar"] is not None) == exact and (DATASETS.get(name).mixture is not None) == exact
    assert frame["metrics"]["w1"] > 0 and (frame["metrics"]["js"] is not None) == exact
    lo, hi = torch.tensor(frame["real"]).min(0).values, torch.tensor(frame["real"]).max(0).values
    x0, x1, y0, y1 = frame["bounds"]
    assert x0 < lo[0] and hi[0] < x1 and y0 < lo[1] and hi[1] < y1  # the data sits inside the plane


def test_the_line_is_a_segment():
    from gankit.data.toy2d import LineSegment

    x, labels = LineSegment(noise=0.0).sample(1000, torch.Generator().manual_seed(0))
    assert labels is None and x[:, 1] == pytest.approx(0.75 * x[:, 0], abs=1e-6)
    assert -0.8 <= float(x[:, 0].min()) < -0.75 and 0.75 < float(x[:, 0].max()) <= 0.8


def test_model_overview_has_each_boxs_sizes_and_current_numbers(session):
    session.run(2)
    model = session.snapshot()["model"]
    assert model["z"]["dim"] == 2 and model["z"]["batch"] == 32 and len(model["z"]["sample"]) == 4
    assert model["z"]["sample"] == views_rounded(session.z[:4])
    assert model["G"]["widths"] == [2, 16, 16, 2] and model["D"]["widths"] == [2, 16, 16, 1]
    assert model["G"]["params"] == sum(p.numel() for p in session.G.parameters())
    assert len(model["samples"]["fake"]) == len(model["samples"]["real"]) == 4
    x = torch.tensor(session.snapshot()["real"])
    assert model["D"]["real"] == pytest.approx(torch.sigmoid(session.D(x)).mean().item(), abs=1e-4)
    assert 0 < model["D"]["fake"] < 1 and model["D"]["label"] == "D(x) = P(real)"
    assert model["loss"]["loss/D"] == session.history[-1]["loss/D"] and model["loss"]["objective"] == "ns"
    assert len(json.dumps(model)) < 2000  # bounded, whatever the batch


def views_rounded(t):
    from gankit.lab.views import rounded

    return rounded(t)


def test_slow_motion_walks_one_iteration_and_is_the_training_loop(tmp_path):
    cfg = small_config()
    cfg.train.d_steps = 2
    lab, ref = LabSession(cfg, runs_dir=tmp_path / "a"), LabSession(cfg, runs_dir=tmp_path / "b")
    g0, d0 = params(lab.G), params(lab.D)
    captions, names = [], []
    for phase in range(5):
        reply = lab.handle({"type": "slowmo", "action": "next"})
        assert reply == {"type": "ok", "for": "slowmo", "slowmo": phase}
        s = lab.snapshot()["slowmo"]
        assert s["phase"] == phase and s["count"] == 5
        captions.append(s["caption"])
        names.append(s["name"])
        if s["name"] in ("sample_z", "g_forward", "d_forward"):  # pictures only: nothing trained yet
            assert torch.equal(params(lab.G), g0) and torch.equal(params(lab.D), d0) and lab.step == 0
            assert "heatmap" not in s and "fake" not in s
        elif s["name"] == "d_update":  # D trained k = 2 steps; the heat map before is sent
            assert not torch.equal(params(lab.D), d0) and torch.equal(params(lab.G), g0)
            assert lab.nimg == 2 * 32 and len(s["heatmap"]) == 48 and "2 step(s)" in s["caption"]
            before = torch.tensor(s["heatmap"])
            assert not torch.allclose(before, torch.tensor(lab.snapshot()["heatmap"]["values"]), atol=1e-4)
        else:  # G trained; the fakes before are sent
            assert not torch.equal(params(lab.G), g0) and lab.step == 1
            assert len(s["fake"]) == DISPLAY_POINTS and s["fake"] != lab.snapshot()["fake"]
    assert names == ["sample_z", "g_forward", "d_forward", "d_update", "g_update"]
    assert len(set(captions)) == 5
    ref.run(1)  # one slow-motion iteration is one iteration of the game, bit for bit
    assert torch.equal(params(lab.G), params(ref.G)) and torch.equal(params(lab.D), params(ref.D))
    assert lab.handle({"type": "slowmo", "action": "next"})["slowmo"] == 0  # the next iteration begins
    assert lab.handle({"type": "slowmo", "action": "stop"})["slowmo"] is None and lab.snapshot()["slowmo"] is None
    lab.handle({"type": "slowmo", "action": "next"})
    lab.handle({"type": "play"})  # training leaves slow motion
    assert lab.slowmo is None


def test_slow_motion_pauses_play(session):
    session.handle({"type": "play"})
    session.handle({"type": "slowmo", "action": "next"})
    assert not session.running and session.slowmo == 0


def test_noise_view_is_the_drawn_latents(session):
    noise = session.snapshot()["noise"]
    assert torch.tensor(noise["points"]) == pytest.approx(session.z[:, :2], abs=1e-3)
    assert noise["range"] == [-2.0, 2.0] and noise["dims"] == 2 and len(noise["points"]) == DISPLAY_POINTS
    session.handle({"type": "settings", "settings": {"z_dim": 1}})
    noise = session.snapshot()["noise"]
    assert len(noise["points"][0]) == 2 and {p[1] for p in noise["points"]} == {0.0}


@pytest.mark.parametrize("objective", ["wgan", "wgan-gp"])
def test_an_objectives_recommended_settings_are_offered_and_applied(session, objective):
    session.handle({"type": "settings", "settings": {"objective": objective}})
    rec = session.snapshot()["recommended"]
    assert rec["differs"] and rec["settings"]["d_steps"] == 5 and objective in rec["text"]
    if objective == "wgan":
        assert {k: rec["settings"][k] for k in ("g_opt", "d_opt", "g_lr", "clip")} == {
            "g_opt": "rmsprop", "d_opt": "rmsprop", "g_lr": 5e-5, "clip": 0.01}
    else:
        assert {k: rec["settings"][k] for k in ("g_opt", "d_opt", "d_lr", "gp_lambda")} == {
            "g_opt": "adam", "d_opt": "adam", "d_lr": 1e-4, "gp_lambda": 10.0} and rec["betas"] == [0.0, 0.9]
    reply = session.handle({"type": "recommended"})
    assert reply["type"] == "ok" and not reply["restarted"] and reply["preset"] == rec["preset"]
    assert session.cfg.train.d_steps == 5 and session.cfg.opt_D.name == rec["settings"]["d_opt"]
    assert not session.snapshot()["recommended"]["differs"]
    if objective == "wgan-gp":
        assert session.cfg.opt_G.betas == [0.0, 0.9]
        assert all(g["betas"] == (0.0, 0.9) for o in (session.game.opt_G, session.game.opt_D) for g in o.param_groups)
    session.run(1)


def test_objectives_without_a_preset_get_no_suggestion(session):
    session.handle({"type": "settings", "settings": {"objective": "hinge"}})
    assert session.snapshot()["recommended"] is None
    assert "no recommended settings for 'hinge'" in session.handle({"type": "recommended"})["reason"]


def test_a_stalled_generator_raises_an_alarm(session):
    assert session.snapshot()["alarm"] is None
    session.history = [{"step": i, "grad/G": 1.0} for i in range(10)] + [{"step": i, "grad/G": 0.2} for i in range(10)]
    assert session.snapshot()["alarm"] is None  # 20% of its early value: not stalled
    session.history += [{"step": i, "grad/G": 1e-3} for i in range(10)]
    alarm = session.snapshot()["alarm"]
    assert alarm["kind"] == "stalled-generator" and "G has stalled" in alarm["message"]


def test_the_heat_map_reads_a_bounded_fgan_critic_as_training_does():
    from gankit.lab import views
    from gankit.objectives.fgan import DIVERGENCES

    D = torch.nn.Linear(2, 1)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[10.0, 0.0]]))
        D.bias.zero_()
    x = torch.tensor([[-3.0, 0.0], [0.1, 0.0], [3.0, 0.0]])  # raw V = -30, 1, 30
    kl = DIVERGENCES.get("kl")  # g_f(v) = v: the heat map shows V itself
    plain = views.d_values(D, x, d_output="fgan", divergence=kl)
    bounded = views.d_values(D, x, d_output="fgan", divergence=kl, critic_bound=5.0)
    torch.testing.assert_close(plain.flatten(), torch.tensor([-30.0, 1.0, 30.0]))
    torch.testing.assert_close(bounded.flatten(), 5.0 * torch.tanh(torch.tensor([-6.0, 0.2, 6.0])))  # 5 tanh(V / 5)
