"""Training on 2D data: it learns, k really means k D steps, resume is exact, checkpoints are atomic."""

import json

import pytest
import torch

from gankit import GankitError, fileio, load, load_config, sample, train
from gankit.data import toy2d
from gankit.metrics.toy2d import mode_coverage
from gankit.training import loop
from gankit.training.checkpoint import load_checkpoint, save_checkpoint


def small(steps: int = 40, *overrides: str):
    """A tiny ring8 config that trains in about a second."""
    return load_config(preset="ring8-ns", overrides=[f"train.steps={steps}", "train.batch_size=64",
                                                     "train.log_every=10", "train.ckpt_every=20", *overrides])


@pytest.mark.parametrize("precision", ["fp32", "bf16"])  # bf16 autocast must still converge (issue 8)
def test_short_ring8_training_moves_samples_onto_the_modes(tmp_path, precision):
    ring = toy2d.ring8()
    over = ["train.batch_size=256", "train.ema_halflife=0", f"train.precision={precision}"]
    cfg = load_config(preset="ring8-ns", overrides=["train.steps=1000", *over])
    run0 = train(load_config(preset="ring8-ns", overrides=["train.steps=1", *over]), run_dir=tmp_path / "r0",
                 progress=False)
    run = train(cfg, run_dir=tmp_path / "r", progress=False)
    before = mode_coverage(torch.from_numpy(sample(load(run0), 2000, seed=3)), ring.means, ring.std)
    after = mode_coverage(torch.from_numpy(sample(load(run), 2000, seed=3)), ring.means, ring.std)
    # At step 1 the samples sit near the origin, about 1 from every mode; after 1,000 steps they
    # lie on the ring (measured: 0.91 -> 0.17 with seed 0): the mean distance to the nearest mode
    # shrinks at least fourfold, and several modes are already covered.
    assert before["mean_distance"] > 0.5
    assert after["mean_distance"] < before["mean_distance"] / 4
    assert after["modes"] >= 3


def test_run_directory_contents(tmp_path):
    run = train(small(), run_dir=tmp_path / "r", progress=False)
    assert {"config.json", "stats.jsonl", "checkpoint.pt", "scatter.png", "losses.png"} <= {
        p.name for p in run.iterdir()}
    lines = [json.loads(x) for x in (run / "stats.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [10, 20, 30, 40]
    for key in ("loss/D", "loss/G", "D/real", "D/fake", "estimate/value", "grad/G", "grad/D",
                "speed/img_per_s", "nimg"):
        assert key in lines[0], key
    # V(D, G) = -loss/D for the GAN objectives, and D outputs are probabilities.
    assert lines[-1]["estimate/value"] == pytest.approx(-lines[-1]["loss/D"])
    assert 0 < lines[-1]["D/fake"] < 1 and 0 < lines[-1]["D/real"] < 1
    assert json.loads((run / "config.json").read_text())["train"]["steps"] == 40


@pytest.mark.parametrize("log_every", [10, 2])
def test_gradient_norms_are_measured_every_few_steps_and_in_every_log_interval(tmp_path, monkeypatch, log_every):
    # |grad| costs a pass over all gradients, so the loop measures it on every min(4, log_every)-th step
    # (steps 4, 8 and the last, 11, with log_every 10; every 2nd and the last with 2), on the last of the
    # k D steps, so that every logged line has them.
    calls = {"d": [], "g": []}
    real_d, real_g = loop.d_step, loop.g_step

    def d_step(*args, **kwargs):
        calls["d"].append(kwargs["measure_grad"])
        return real_d(*args, **kwargs)

    def g_step(*args, **kwargs):
        calls["g"].append(kwargs["measure_grad"])
        return real_g(*args, **kwargs)

    monkeypatch.setattr(loop, "d_step", d_step)
    monkeypatch.setattr(loop, "g_step", g_step)
    run = train(small(11, f"train.log_every={log_every}", "train.d_steps=2"), run_dir=tmp_path / "r", progress=False)
    every = min(loop.GRAD_NORM_EVERY, log_every)
    measured = [step % every == 0 or step == 11 for step in range(1, 12)]
    assert calls["g"] == measured
    assert calls["d"] == [m and last for m in measured for last in (False, True)]
    lines = [json.loads(x) for x in (run / "stats.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [*range(log_every, 12, log_every), 11]
    assert all(x["grad/G"] > 0 and x["grad/D"] > 0 for x in lines)


@pytest.mark.parametrize("k", [1, 3])
def test_k_discriminator_steps_per_generator_step(tmp_path, k):
    run = train(small(5, f"train.d_steps={k}"), run_dir=tmp_path / "r", progress=False)
    state = load_checkpoint(run / "checkpoint.pt")
    # Adam counts its updates per parameter: D was updated k times per G step, G once.
    assert state["opt_D"]["state"][0]["step"].item() == 5 * k
    assert state["opt_G"]["state"][0]["step"].item() == 5
    assert state["nimg"] == 5 * k * 64  # each D step saw a fresh real batch


def test_resume_matches_an_uninterrupted_run_bit_for_bit(tmp_path):
    full = train(small(40), run_dir=tmp_path / "full", progress=False)
    half = train(small(20), run_dir=tmp_path / "half", progress=False)
    resumed = train(small(40), run_dir=half, resume=True, progress=False)
    a, b = load_checkpoint(full / "checkpoint.pt"), load_checkpoint(resumed / "checkpoint.pt")
    assert a["step"] == b["step"] == 40 and a["nimg"] == b["nimg"]
    for net in ("G", "D"):
        for key, value in a[net].items():
            assert torch.equal(value, b[net][key]), f"{net}.{key}"
    # the stats of the resumed run are the same lines, none duplicated
    steps = [json.loads(x)["step"] for x in (resumed / "stats.jsonl").read_text().splitlines()]
    assert steps == [10, 20, 30, 40]


def test_a_new_run_never_overwrites_an_old_one(tmp_path):
    train(small(5), run_dir=tmp_path / "r", progress=False)
    with pytest.raises(GankitError, match="--resume"):
        train(small(5), run_dir=tmp_path / "r", progress=False)


def test_crash_between_write_and_rename_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"step": 1, "w": torch.ones(3)}, path)

    def crash(src, dst):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(fileio.os, "replace", crash)  # checkpoints are written through gankit.fileio
    with pytest.raises(OSError):
        save_checkpoint({"step": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    state = load_checkpoint(path)
    assert state["step"] == 1 and torch.equal(state["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temp file left behind


def test_corrupt_and_foreign_checkpoints_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(GankitError, match="not a readable checkpoint"):
        load_checkpoint(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": torch.ones(2)}, foreign)
    with pytest.raises(GankitError, match="not a gankit checkpoint"):
        load_checkpoint(foreign)
    truncated = tmp_path / "truncated.pt"
    save_checkpoint({"w": torch.ones(1000)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:500])
    with pytest.raises(GankitError):
        load_checkpoint(truncated)


def test_sample_shapes_and_units(tmp_path):
    run = load(train(small(5), run_dir=tmp_path / "r", progress=False))
    x = sample(run, 10, seed=1)
    assert x.shape == (10, 2) and x.dtype.name == "float32"
    assert (sample(run, 10, seed=1) == x).all() and not (sample(run, 10, seed=2) == x).all()


def test_wgan_reference_schedule_runs_the_promised_critic_steps():
    from gankit.config import TrainConfig
    from gankit.training.loop import critic_steps

    t = TrainConfig(d_steps=5, critic_boost=True)
    counts = [critic_steps(s, t) for s in range(1001)]
    # 100 critic steps at generator steps 0..24, 500 and 1000; n_critic = 5 elsewhere.
    assert counts[:25] == [100] * 25 and counts[500] == counts[1000] == 100
    assert sum(counts) == 100 * 27 + 5 * (1001 - 27)
    assert [critic_steps(s, TrainConfig(d_steps=5)) for s in (0, 500)] == [5, 5]


def test_critic_boost_in_a_real_run(tmp_path):
    run = train(small(2, "objective.name=wgan", "train.d_steps=5", "train.critic_boost=true",
                      "train.batch_size=8"), run_dir=tmp_path / "r", progress=False)
    state = load_checkpoint(run / "checkpoint.pt")
    assert state["nimg"] == 2 * 100 * 8  # generator steps 0 and 1 both get 100 critic steps


def test_ema_follows_the_half_life(tmp_path):
    from gankit.training.loop import update_ema

    G, G_ema = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    with torch.no_grad():
        G_ema.weight.fill_(0.0)
        G.weight.fill_(1.0)
    # with the half-life equal to 4 batches, beta = 0.5 ** (1/4): after 4 updates toward a fixed
    # G, half of the gap is closed.
    for _ in range(4):
        update_ema(G_ema, G, beta=0.5 ** (1 / 4))
    assert G_ema.weight.item() == pytest.approx(0.5, rel=1e-6)


def test_runs_with_ema_sample_from_the_averaged_generator(tmp_path):
    run = train(small(10, "train.ema_halflife=1000"), run_dir=tmp_path / "r", progress=False)
    state = load_checkpoint(run / "checkpoint.pt")
    assert "G_ema" in state
    loaded = load(run)
    for key, value in state["G_ema"].items():
        assert torch.equal(loaded.G.state_dict()[key], value)
    assert any(not torch.equal(state["G"][k], v) for k, v in state["G_ema"].items())


def test_time_limit_stops_early_with_a_checkpoint(tmp_path):
    run = train(small(10**6, "train.time_limit=1.5", "train.log_every=100000"), run_dir=tmp_path / "r",
                progress=False)
    state = load_checkpoint(run / "checkpoint.pt")
    lines = [json.loads(x) for x in (run / "stats.jsonl").read_text().splitlines()]
    assert 0 < state["step"] < 10**6 and lines[-1]["step"] == state["step"]  # the partial interval is logged
    assert 1.5 <= lines[-1]["time"] < 10


def test_evaluation_at_intervals_goes_into_stats(tmp_path):
    run = train(small(20, "train.eval_every=10", "train.eval_n=200"), run_dir=tmp_path / "r", progress=False)
    lines = [json.loads(x) for x in (run / "stats.jsonl").read_text().splitlines()]
    evals = [x for x in lines if "eval/modes" in x]
    assert [x["step"] for x in evals] == [10, 20]
    assert all(0 <= x["eval/modes"] <= 8 and x["eval/w1"] > 0 for x in evals)
    with pytest.raises(GankitError, match="can evaluate"):
        load_config(preset="ring8-ns", overrides=["data.name=moons", "train.eval_every=10"])
