"""The toy settings of every objective: each loads as a valid config on both toy presets, `gankit list` prints
them, and a bounded critic keeps an unbounded f-GAN's samples from running off."""

import json

import pytest

from gankit import load_config, train
from gankit.objectives import OBJECTIVES, toy

TABLE_6 = ["total-variation", "kl", "reverse-kl", "pearson", "neyman", "squared-hellinger", "jeffrey",
           "jensen-shannon", "gan"]
FAMILY_MEMBERS = ["alpha-0.5", "alpha-2", "weighted-js-0.3"]  # the members the benchmark trains


def test_every_objective_and_divergence_has_toy_settings():
    for name in OBJECTIVES.names():
        assert name == "fgan" or name in toy.RECIPES
    for divergence in TABLE_6 + FAMILY_MEMBERS:
        assert toy.key("fgan", divergence) in toy.RECIPES


@pytest.mark.parametrize("name", sorted(toy.RECIPES))
@pytest.mark.parametrize("preset", ["ring8-ns", "grid25-ns"])
def test_each_recipe_is_a_valid_config_of_its_objective(name, preset):
    data = preset.removesuffix("-ns")
    cfg = load_config(preset=preset, overrides=toy.overrides(name, data))  # validated: a typo or bad value raises
    objective = name.split("+")[0]  # "ns+r1" is ns with R1
    if name.startswith("fgan-"):
        assert (cfg.objective.name, cfg.objective.divergence) == ("fgan", name.removeprefix("fgan-"))
    else:
        assert cfg.objective.name == objective
    described = toy.describe(name)
    for override in [*toy.RECIPES[name].overrides, *toy.RECIPES[name].per_data.get(data, ())]:
        assert override.startswith("objective.name=") or f"--{override}" in described


def test_gankit_list_prints_the_toy_settings_under_each_entry(capsys):
    from gankit.cli import main

    assert main(["list", "divergences"]) == 0
    lines = capsys.readouterr().out.splitlines()
    kl = next(i for i, line in enumerate(lines) if line.startswith("kl "))
    assert lines[kl + 1].strip() == toy.describe("fgan-kl")
    assert any(line.startswith("alpha-<number>") for line in lines)  # the families are listed
    assert main(["list", "objectives"]) == 0
    lines = capsys.readouterr().out.splitlines()
    wgan_gp = next(i for i, line in enumerate(lines) if line.startswith("wgan-gp "))
    assert lines[wgan_gp + 1].strip() == "toy data: --train.d_steps=5 --objective.gp_lambda=0.1"


@pytest.mark.parametrize("bounded, runs_off", [(False, True), (True, False)])
def test_pearson_runs_off_unless_its_critic_is_bounded(tmp_path, bounded, runs_off):
    # Pearson chi^2's critic is unbounded (g_f(v) = v): on the grid, whose modes are 2 apart with std 0.05, the
    # plain f-GAN drives G's samples past 100x the data's scale within 600 steps (measured: step 450); with its
    # toy settings (a bounded critic) it trains on.
    plain = ["objective.name=fgan", "objective.divergence=pearson"]
    extra = toy.overrides("fgan-pearson", "grid25") if bounded else plain
    cfg = load_config(preset="grid25-ns", overrides=[*extra, "train.steps=600", "train.log_every=50"])
    run = train(cfg, run_dir=tmp_path / "r", progress=False)
    lines = [json.loads(x) for x in (run / "stats.jsonl").read_text().splitlines()]
    assert any(line.get("alarm") == "runaway" for line in lines) == runs_off
    assert (lines[-1]["step"] < 600) == runs_off
