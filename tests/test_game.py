"""The engine (`training/game.py`) and the checkpoint schema it writes: one iteration is k D steps and one G
step; a state round-trips exactly; a file that is not a complete checkpoint of this model is one clear error."""

import shutil

import pytest
import torch

from gankit import GankitError, load_config, train
from gankit.cli import main
from gankit.data import load_dataset
from gankit.training.checkpoint import SCHEMA, load_checkpoint, save_checkpoint
from gankit.training.game import Game


def config(*overrides):
    return load_config(preset="ring8-ns", overrides=["train.batch_size=32", "model.g_hidden=16,16",
                                                     "model.d_hidden=16,16", *overrides])


def game_of(*overrides):
    cfg = config(*overrides)
    return Game(cfg, load_dataset(cfg.data))


def weights(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_one_iteration_is_k_d_steps_then_one_g_step():
    game = game_of("train.d_steps=3")
    stats = game.iterate()
    assert [sorted(k for k in s if k.startswith("loss/")) for s in stats] == [["loss/D"]] * 3 + [["loss/G"]]
    assert (game.step, game.nimg) == (1, 3 * 32)  # nimg counts the real images D saw
    d_before, g_before = weights(game.D), weights(game.G)
    game.iterate("d")  # one D step: G's weights and the step counter stay
    assert torch.equal(weights(game.G), g_before) and not torch.equal(weights(game.D), d_before)
    assert (game.step, game.nimg) == (1, 4 * 32)
    game.iterate("g")
    assert game.step == 2 and not torch.equal(weights(game.G), g_before)


def test_a_state_round_trips_and_continues_bit_identically(tmp_path):
    a = game_of("train.ema_halflife=500")
    for _ in range(3):
        a.iterate()
    save_checkpoint(a.state_dict(), tmp_path / "c.pt")  # through the file: state_dict() shares a's tensors
    b = game_of("train.ema_halflife=500")
    b.load_state_dict(load_checkpoint(tmp_path / "c.pt"))
    assert (b.step, b.nimg) == (3, 96)
    for game in (a, b):
        for _ in range(2):
            game.iterate()
    for net in ("G", "D", "G_ema"):  # same weights after the same two iterations: RNG streams restored too
        assert torch.equal(weights(getattr(a, net)), weights(getattr(b, net)))


def test_the_config_can_change_mid_game_without_new_networks():
    game = game_of()
    G = game.G
    cfg = config("objective.name=wgan", "opt_G.lr=0.001", "opt_D.name=rmsprop")
    game.set_config(cfg)
    assert game.G is G and game.opt_G.param_groups[0]["lr"] == 0.001
    assert isinstance(game.opt_D, torch.optim.RMSprop) and game.objective.clip == cfg.objective.clip
    game.iterate()
    assert max(p.abs().max().item() for p in game.D.parameters()) <= cfg.objective.clip  # the critic is clipped


def test_a_checkpoint_of_another_model_is_one_clear_error(tmp_path, capsys):
    small = train(config("train.steps=2"), run_dir=tmp_path / "small", progress=False)
    wide = config("train.steps=4", "model.d_hidden=32,32")
    run = train(config("train.steps=2", "model.d_hidden=32,32"), run_dir=tmp_path / "wide", progress=False)
    shutil.copy(small / "checkpoint.pt", run / "checkpoint.pt")  # D of widths 16 where 32 is expected
    with pytest.raises(GankitError, match="does not fit the model 'mlp2d'.*size mismatch"):
        train(wide, run_dir=run, resume=True, progress=False)
    assert main(["train", "--resume", str(run), "--steps", "4", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gankit: error:") and "does not fit" in err[0]


@pytest.mark.parametrize("key", sorted(SCHEMA))
def test_a_checkpoint_missing_any_schema_key_is_refused_by_name(tmp_path, key):
    state = game_of().state_dict()
    del state[key]
    save_checkpoint(state, tmp_path / "c.pt")
    with pytest.raises(GankitError, match=f"has no '{key}'"):
        load_checkpoint(tmp_path / "c.pt")


@pytest.mark.parametrize("key, value, message", [
    ("step", "12", "'step' must be int"),
    ("G", [1, 2], "'G' must be dict"),
    ("D", {"body.0.weight": 3}, "'D' must map names to tensors"),
    ("shape", [2, -1], "'shape' must be positive sizes"),
    ("rng", {"torch": torch.zeros(1)}, "'rng' must hold"),
    ("elapsed", True, "'elapsed' must be int or float"),
])
def test_a_checkpoint_with_a_mistyped_key_is_refused_by_name(tmp_path, key, value, message):
    state = game_of().state_dict()
    state[key] = value
    save_checkpoint(state, tmp_path / "c.pt")
    with pytest.raises(GankitError, match=message):
        load_checkpoint(tmp_path / "c.pt")


def test_g_steps_per_iteration():
    game = game_of("train.d_steps=2", "train.g_steps=3")
    stats = game.iterate()
    assert [next(k for k in s if k.startswith("loss/")) for s in stats] == ["loss/D"] * 2 + ["loss/G"] * 3
    assert (game.step, game.nimg) == (1, 2 * 32)  # one iteration; D saw two real batches


def test_the_ema_half_life_ramps_up_with_the_images_seen():
    # beta = 0.5 ** (batch / half-life): after half-life / batch steps the old average weighs exactly 1/2.
    from gankit.training.game import ema_beta
    t = config("train.ema_halflife=1000", "train.batch_size=10").train
    assert ema_beta(t, nimg=0) == pytest.approx(0.5 ** (10 / 1000))  # no ramp: the full half-life at once
    assert ema_beta(t, nimg=0) ** 100 == pytest.approx(0.5)
    t.ema_rampup = 0.1  # half-life min(1000, 0.1 nimg): 500 images at nimg 5000, capped at 1000 from 10000 on
    assert ema_beta(t, nimg=5000) == pytest.approx(0.5 ** (10 / 500))
    assert ema_beta(t, nimg=10000) == ema_beta(t, nimg=10**6) == pytest.approx(0.5 ** (10 / 1000))
    assert ema_beta(t, nimg=0) == 0.0  # at the start the average is G itself


def test_a_ramped_ema_follows_g_closely_at_first():
    # nimg 32 at the first G step: half-life 0.05 * 32 = 1.6 images against a batch of 32, so
    # beta = 0.5 ** 20 ~ 1e-6 and G_ema equals G's new weights to ~1e-6 of a step.
    game = game_of("train.ema_halflife=100000", "train.ema_rampup=0.05")
    game.iterate()
    assert torch.allclose(weights(game.G_ema), weights(game.G), atol=1e-6)
    slow = game_of("train.ema_halflife=100000")  # beta = 0.5 ** (32 / 1e5): G_ema stays at the initial G
    g0 = weights(slow.G).clone()
    slow.iterate()
    assert not torch.allclose(weights(slow.G), g0, atol=1e-6)
    assert torch.allclose(weights(slow.G_ema), g0, atol=1e-3 * (weights(slow.G) - g0).abs().max().item() + 1e-7)
