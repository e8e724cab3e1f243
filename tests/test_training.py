"""Training on 2D data: it learns, k really means k D steps, resume is exact, checkpoints are atomic."""

import json

import pytest
import torch

from gankit import GankitError, load, load_config, sample, train
from gankit.data import toy2d
from gankit.metrics.toy2d import mode_coverage
from gankit.training import checkpoint as ckpt_module
from gankit.training.checkpoint import load_checkpoint, save_checkpoint


def small(steps: int = 40, *overrides: str):
    """A tiny ring8 config that trains in about a second."""
    return load_config(preset="ring8-ns", overrides=[f"train.steps={steps}", "train.batch_size=64",
                                                     "train.log_every=10", "train.ckpt_every=20", *overrides])


def test_short_ring8_training_moves_samples_onto_the_modes(tmp_path):
    ring = toy2d.ring8()
    cfg = load_config(preset="ring8-ns", overrides=["train.steps=600", "train.log_every=100"])
    run0 = train(load_config(preset="ring8-ns", overrides=["train.steps=1"]), run_dir=tmp_path / "r0",
                 progress=False)
    run = train(cfg, run_dir=tmp_path / "r", progress=False)
    before = mode_coverage(torch.from_numpy(sample(load(run0), 2000, seed=3)), ring.means, ring.std)
    after = mode_coverage(torch.from_numpy(sample(load(run), 2000, seed=3)), ring.means, ring.std)
    # At step 1 the samples sit near the origin, about 1 from every mode; after training they
    # must lie on the ring: the mean distance to the nearest mode shrinks at least fivefold.
    assert before["mean_distance"] > 0.5
    assert after["mean_distance"] < before["mean_distance"] / 5
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

    monkeypatch.setattr(ckpt_module.os, "replace", crash)
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
