"""Alarms: NaN/Inf stops the run (or rolls back with lower learning rates) and names the network and
step; a saturated D and mode collapse are reported once per episode."""

import json
import math

import pytest
import torch

from gankit import load, load_config, train
from gankit.training import game
from gankit.training.alarms import Watch
from gankit.training.checkpoint import load_checkpoint


def small(steps: int, *overrides: str):
    return load_config(preset="ring8-ns", overrides=[f"train.steps={steps}", "train.batch_size=64",
                                                     "train.log_every=5", "train.ckpt_every=10", *overrides])


def lines(run) -> list[dict]:
    return [json.loads(x) for x in (run / "stats.jsonl").read_text().splitlines()]


def poison(monkeypatch, which: str, at: set[int]):
    """Feed NaN into D's real batch or G's latents on the given calls (1-based) of d_step / g_step."""
    real_d, real_g, calls = game.d_step, game.g_step, {"d": 0, "g": 0}

    def d_step(*args, real, **kwargs):
        calls["d"] += 1
        return real_d(*args, real=real * math.nan if which == "D" and calls["d"] in at else real, **kwargs)

    def g_step(*args, z, **kwargs):
        calls["g"] += 1
        return real_g(*args, z=z * math.nan if which == "G" and calls["g"] in at else z, **kwargs)

    monkeypatch.setattr(game, "d_step", d_step)
    monkeypatch.setattr(game, "g_step", g_step)


@pytest.mark.parametrize("network", ["G", "D"])
def test_nonfinite_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys, network):
    poison(monkeypatch, network, at={23})
    run = train(small(40), run_dir=tmp_path / "r", progress=False)
    stats = lines(run)
    # logged up to step 20; the NaN of step 23 is seen at the next log (step 25) and nothing after it
    assert [s["step"] for s in stats] == [5, 10, 15, 20, 25]
    alarm = stats[-1]
    assert alarm["alarm"] == "nonfinite" and alarm["action"] == "stop"
    assert alarm["network"] == network and alarm["first_step"] == 23
    assert f"NaN/Inf in {network}'s loss or gradient at step 23" in alarm["message"]
    assert "last good checkpoint (step 20)" in alarm["message"]
    run_ = load(run)
    assert run_.step == 20
    assert all(torch.isfinite(p).all() for p in [*run_.G.parameters(), *run_.D.parameters()])
    err = capsys.readouterr().err
    assert f"gankit: alarm: NaN/Inf in {network}'s loss or gradient at step 23" in err


def test_rollback_lowers_both_learning_rates_and_finishes(tmp_path, monkeypatch):
    poison(monkeypatch, "G", at={23})  # once: the replay of step 23 after the rollback is clean
    run = train(small(40, "train.on_nonfinite=rollback", "train.rollback_lr_factor=0.25"), run_dir=tmp_path / "r",
                progress=False)
    stats = lines(run)
    alarms = [s for s in stats if "alarm" in s]
    assert [(a["network"], a["first_step"], a["action"]) for a in alarms] == [("G", 23, "rollback")]
    assert "rolled back to step 20, learning rates x0.25" in alarms[0]["message"]
    assert [s["step"] for s in stats if "alarm" not in s] == [5, 10, 15, 20, 25, 30, 35, 40]  # none twice
    state = load_checkpoint(run / "checkpoint.pt")
    assert state["step"] == 40 and state["rollbacks"] == 1 and state["lr_scale"] == 0.25
    cfg = small(40)
    assert state["opt_G"]["param_groups"][0]["lr"] == pytest.approx(0.25 * cfg.opt_G.lr, rel=1e-12)
    assert state["opt_D"]["param_groups"][0]["lr"] == pytest.approx(0.25 * cfg.opt_D.lr, rel=1e-12)


def test_rollback_gives_up_after_max_rollbacks(tmp_path, monkeypatch):
    poison(monkeypatch, "D", at=set(range(13, 10**6)))  # every D step from the 13th on is NaN
    run = train(small(40, "train.on_nonfinite=rollback", "train.max_rollbacks=2"), run_dir=tmp_path / "r",
                progress=False)
    alarms = [s for s in lines(run) if "alarm" in s]
    assert [a["action"] for a in alarms] == ["rollback", "rollback", "stop"]
    assert [a["first_step"] for a in alarms] == [13, 11, 11]  # after a rollback to step 10, step 11 is NaN
    assert load(run).step == 10


def gan_line(step, real, fake, grad):
    return {"step": step, "loss/G": 1.0, "estimate/value": -1.0, "D/real": real, "D/fake": fake, "grad/G": grad}


def test_saturation_alarm_needs_patience_intervals_and_fires_once():
    watch = Watch(patience=3, collapse_drop=0.25)
    assert watch.on_line(gan_line(1, 0.6, 0.4, 1.0)) is None  # peak |grad G| = 1
    saturated = [gan_line(s, 0.999, 0.001, 0.005) for s in (2, 3, 4, 5)]  # 0.005 < 1% of the peak
    assert watch.on_line(saturated[0]) is None and watch.on_line(saturated[1]) is None
    alarm = watch.on_line(saturated[2])
    assert alarm["alarm"] == "saturation" and alarm["network"] == "D" and alarm["step"] == 4
    assert watch.on_line(saturated[3]) is None  # still the same episode
    assert watch.on_line(gan_line(6, 0.9, 0.1, 0.5)) is None  # cleared
    for step in (7, 8):
        assert watch.on_line(gan_line(step, 0.999, 0.001, 0.001)) is None
    assert watch.on_line(gan_line(9, 0.999, 0.001, 0.001))["step"] == 9  # a new episode
    # a gradient that does not vanish (the non-saturating loss) is no saturation, however sure D is
    watch = Watch(patience=3, collapse_drop=0.25)
    assert all(watch.on_line(gan_line(s, 0.999, 0.001, 1.0)) is None for s in range(1, 6))
    # nor are outputs of a critic (no estimate/value: D's outputs are not probabilities)
    watch = Watch(patience=1, collapse_drop=0.25)
    watch.on_line({"step": 1, "loss/G": 1.0, "grad/G": 1.0, "D/real": 5.0, "D/fake": -5.0})
    assert watch.on_line({"step": 2, "loss/G": 1.0, "grad/G": 1e-6, "D/real": 1.0, "D/fake": 0.0}) is None


def test_collapse_alarm_on_modes_and_on_class_entropy():
    watch = Watch(patience=3, collapse_drop=0.25)
    seen = [watch.on_line({"step": s, "eval/modes": m}) for s, m in enumerate([4, 8, 7, 6, 5, 7, 6], 1)]
    # best 8: an alarm at 6 = 0.75 * 8 (a 25% drop), once, then again after it recovered to 7
    assert [a["step"] if a else None for a in seen] == [None, None, None, 4, None, None, 7]
    assert "modes captured fell to 6.00 from its best 8.00" in seen[3]["message"]
    watch = Watch(patience=3, collapse_drop=0.25)
    assert watch.on_line({"step": 1, "eval/class_kl_uniform": 0.0}) is None  # 10 effective classes
    assert watch.on_line({"step": 2, "eval/class_kl_uniform": math.log(10 / 8)}) is None  # 8 classes
    alarm = watch.on_line({"step": 3, "eval/class_kl_uniform": math.log(2)})  # exp(H) = 10/2 = 5 classes
    assert alarm["alarm"] == "collapse" and "fell to 5.00 from its best 10.00" in alarm["message"]
    assert Watch(patience=0, collapse_drop=0.25).on_line({"step": 1, "eval/modes": 0}) is None  # switched off


def test_cli_exits_3_when_a_nan_stops_the_run(tmp_path, capsys):
    from gankit.cli import main

    # SGD with lr 1e30 on the WGAN critic: the weights overflow after the first update
    code = main(["train", "--preset", "ring8-ns", "--run-dir", str(tmp_path / "r"), "--steps", "20", "--no-progress",
                 "--train.batch_size=64", "--train.log_every=10", "--objective.name=wgan", "--opt_D.name=sgd",
                 "--opt_G.name=sgd", "--opt_D.lr=1e30", "--opt_G.lr=1e30"])
    out, err = capsys.readouterr()
    assert code == 3 and "run stopped by an alarm" in out
    assert "gankit: alarm: NaN/Inf in D's loss or gradient at step" in err
    assert "no checkpoint had been written yet" in err


@pytest.mark.parametrize("objective, alarms", [("minimax", 1), ("ns", 0)])
def test_a_strong_d_saturates_the_minimax_game_but_not_the_non_saturating_one(tmp_path, objective, alarms):
    # D gets 5 steps at lr 1e-3 per G step at lr 1e-5: D(x) -> 1, D(G(z)) -> 0 within 40 steps. G's
    # gradient is ~ D(G(z)) * (...) for the saturating loss (Goodfellow et al. 2014, Sec. 3): measured
    # 7e-2 at step 20, 3e-4 (< 1% of that) from step 100. The non-saturating loss's gradient grows instead.
    run = train(small(160, f"objective.name={objective}", "train.d_steps=5", "opt_D.lr=1e-3", "opt_G.lr=1e-5",
                      "train.ema_halflife=0", "train.log_every=20", "train.ckpt_every=160"),
                run_dir=tmp_path / "r", progress=False)
    found = [s for s in lines(run) if s.get("alarm") == "saturation"]
    assert len(found) == alarms
    if alarms:
        assert found[0]["network"] == "D" and 100 <= found[0]["step"] <= 160


def test_runaway_compares_the_samples_with_the_data_scale():
    from gankit.training.alarms import RUNAWAY, Runaway

    real = torch.tensor([[4.0, -1.0], [0.5, 2.0]])  # largest |coordinate| 4
    runaway = Runaway(real)
    assert runaway.check(torch.full((3, 2), -RUNAWAY * 4.0), step=7) is None  # exactly at the limit: not yet
    alarm = runaway.check(torch.tensor([[0.0, 0.0], [-401.0, 1.0]]), step=7)
    assert alarm["alarm"] == "runaway" and alarm["action"] == "stop" and alarm["network"] == "G"
    message = alarm["message"]
    assert "at step 7" in message and "401" in message and "largest |coordinate| 4" in message
    assert runaway.check(torch.tensor([[math.nan, 0.0]]), step=8) is not None  # NaN samples have run off too
    assert runaway.check(torch.tensor([[math.inf, 0.0]]), step=8) is not None


def test_a_generator_running_off_stops_the_run_with_exit_3(tmp_path, capsys):
    from gankit.cli import main

    # Pearson chi^2's critic is unbounded (g_f(v) = v): at lr 1e-2 on the grid, whose modes are 2 apart with
    # std 0.05, G's samples reach ~1e4 within 50 steps (x100 the data's largest coordinate, 4.2, is 420).
    run = tmp_path / "r"
    code = main(["train", "--preset", "grid25-ns", "--run-dir", str(run), "--steps", "400", "--no-progress",
                 "--train.log_every=50", "--objective.name=fgan", "--objective.divergence=pearson",
                 "--opt_D.lr=1e-2", "--opt_G.lr=1e-2"])
    out, err = capsys.readouterr()
    assert code == 3 and "run stopped by an alarm" in out
    assert "gankit: alarm: G's samples ran off at step" in err
    last = lines(run)[-1]
    assert last["alarm"] == "runaway" and last["action"] == "stop" and last["step"] < 400
    assert "no checkpoint had been written yet" in last["message"]  # none before the stop; none of the runaway
    assert not (run / "checkpoint.pt").exists()


def test_a_healthy_toy_run_never_raises_the_runaway_alarm(tmp_path):
    run = train(small(40, "train.log_every=5"), run_dir=tmp_path / "r", progress=False)
    assert not any(line.get("alarm") == "runaway" for line in lines(run))
