"""Config: presets, overrides with type checks, unknown keys listing the valid ones."""

import json

import pytest
import torch

from gankit.checks import load_config
from gankit.config import Config, from_dict, preset_names, to_dict
from gankit.errors import GankitError


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_loads_and_says_what_it_is(name):
    cfg = load_config(preset=name)
    assert cfg.name == name and cfg.description


def test_presets_include_the_issue_list():
    assert {"ring8-ns", "grid25-ns", "classic-mlp-mnist", "goodfellow2014-mnist"} <= set(preset_names())


def test_goodfellow2014_is_the_papers_setup():
    cfg = load_config(preset="goodfellow2014-mnist")
    assert (cfg.model.z_dim, cfg.model.z_dist, cfg.train.batch_size, cfg.train.d_steps) == (100, "uniform", 100, 1)
    assert (cfg.opt_D.name, cfg.opt_D.lr, cfg.opt_D.momentum, cfg.opt_D.momentum_end) == ("sgd", 0.1, 0.5, 0.7)
    assert (cfg.model.d_dropout_input, cfg.model.d_dropout) == (0.2, 0.5)
    assert (cfg.opt_D.max_norm, cfg.opt_G.max_norm) == (1.9365, 0.0)  # pylearn2's max_col_norm, on D only


def test_overrides_are_typed():
    cfg = load_config(preset="ring8-ns", overrides=["train.batch_size=32", "--opt_D.lr=1e-5",
                                                    "opt_G.betas=0.0,0.9", "data.download=true"])
    assert cfg.train.batch_size == 32 and cfg.opt_D.lr == 1e-5 and cfg.opt_G.betas == [0.0, 0.9]
    assert cfg.data.download is True
    assert load_config(overrides=["opt_G.lr=1"]).opt_G.lr == 1.0  # an int where a float goes: fine


@pytest.mark.parametrize("override, match", [
    ("train.batchsize=3", "unknown config key 'train.batchsize'.*batch_size"),
    ("trian.steps=3", "unknown config section 'trian'.*train"),
    ("train.steps=ten", "must be int"),
    ("train.steps=2.5", "must be int"),
    ("train.steps=0", "at least 1"),
    ("opt_D.lr=-1", "positive"),
    ("opt_G.name=adamw", "adam, sgd, rmsprop"),
    ("model.z_dist=cauchy", "normal, uniform"),
    ("data.name=cifar", "unknown dataset 'cifar'; valid choices:.*mnist"),
    ("objective.name=wasserstein", "unknown objective.*minimax, ns"),
    ("model.name=resnet", "unknown model.*classic-mlp"),
    ("train.steps", "section.key=value"),
])
def test_bad_overrides_name_the_problem(override, match):
    with pytest.raises(GankitError, match=match):
        load_config(preset="ring8-ns", overrides=[override])


@pytest.mark.parametrize("preset, override, match", [
    ("ring8-ns", "model.spectral_norm=true", r"model.spectral_norm=True has no effect on model 'mlp2d'.*by: dcgan$"),
    ("classic-mlp-mnist", "model.maxout_pieces=3", r"no effect on model 'classic-mlp'.*by: goodfellow2014, mirza2014"),
    ("classic-mlp-mnist", "model.d_dropout=0.3", r"no effect.*read by: goodfellow2014, mirza2014"),
    ("goodfellow2014-mnist", "model.g_dropout=0.5", r"model.g_dropout=0.5 has no effect.*read by: mirza2014$"),
    ("classic-mlp-mnist", "model.g_hidden=128,256,512", r"'classic-mlp' takes 2 widths in model.g_hidden, got \[128"),
    ("dcgan-mnist", "model.g_hidden=64,128", r"'dcgan' takes 1 width in model.g_hidden"),
    ("mirza2014-cgan", "model.d_hidden=240,240", r"'mirza2014' takes 3 widths in model.d_hidden"),
])
def test_a_model_field_its_family_would_ignore_is_an_error(preset, override, match):
    with pytest.raises(GankitError, match=match):
        load_config(preset=preset, overrides=[override])


def test_each_family_says_what_its_builder_reads():
    # Every built-in family registers a Family, and a field it lists as read changes the built networks.
    from gankit.models import FAMILY_ONLY, MODELS, Family, build_models

    changed = {"maxout_pieces": 2, "d_dropout_input": 0.3, "d_dropout": 0.3, "g_dropout": 0.3, "spectral_norm": "true",
               "minibatch_std": "true"}
    for name in MODELS.names():
        assert isinstance(MODELS.info(name), Family), name
        reads = MODELS.info(name).reads
        assert reads <= set(FAMILY_ONLY)
        cond = MODELS.info(name).native_cond or "none"
        shape = (2,) if name == "mlp2d" else (1, 28, 28)
        base = load_config(overrides=[f"model.name={name}", f"model.cond={cond}"]).model
        nets = [str(build_models(base, shape, num_classes=10))]
        for key in reads:
            nets.append(str(build_models(load_config(overrides=[
                f"model.name={name}", f"model.cond={cond}", f"model.{key}={changed[key]}"]).model, shape, 10)))
        assert len(set(nets)) == len(nets), name  # each field read shows in the modules' description


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(GankitError, match="unknown preset 'ring9'.*ring8-ns"):
        load_config(preset="ring9")


def test_resolved_config_round_trips_through_json(tmp_path):
    cfg = load_config(preset="goodfellow2014-mnist", overrides=["train.steps=7"])
    path = tmp_path / "config.json"
    path.write_text(json.dumps(to_dict(cfg)))
    again = load_config(file=path)
    assert again == cfg and isinstance(from_dict(to_dict(cfg)), Config)


def test_config_file_with_unknown_key(tmp_path):
    path = tmp_path / "my.toml"
    path.write_text('[train]\nsteps = 5\nlr = 0.1\n')
    with pytest.raises(GankitError, match="unknown config key 'train.lr'"):
        load_config(file=path)


def test_arjovsky2017_wgan_clip_is_the_papers_setup():
    cfg = load_config(preset="arjovsky2017-wgan-clip")
    # Algorithm 1: alpha = 5e-5, c = 0.01, m = 64, n_critic = 5, RMSProp; reference code warm-up on.
    assert (cfg.objective.name, cfg.objective.clip) == ("wgan", 0.01)
    assert (cfg.opt_D.name, cfg.opt_D.lr, cfg.opt_G.name, cfg.opt_G.lr) == ("rmsprop", 5e-5, "rmsprop", 5e-5)
    assert (cfg.train.batch_size, cfg.train.d_steps, cfg.train.critic_boost) == (64, 5, True)


def test_gulrajani2017_wgan_gp_is_the_papers_setup():
    cfg = load_config(preset="gulrajani2017-wgan-gp")
    # Algorithm 1: lambda = 10, n_critic = 5, alpha = 1e-4, beta1 = 0, beta2 = 0.9.
    assert (cfg.objective.name, cfg.objective.gp_lambda, cfg.train.d_steps) == ("wgan-gp", 10.0, 5)
    assert (cfg.opt_D.name, cfg.opt_D.lr, cfg.opt_D.betas) == ("adam", 1e-4, [0.0, 0.9])
    assert (cfg.opt_G.lr, cfg.opt_G.betas) == (1e-4, [0.0, 0.9])
    from gankit.models import build_models

    _, D = build_models(cfg.model, (1, 28, 28))
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in D.modules())


def test_every_field_has_a_comment_and_config_show_prints_it(capsys):
    import dataclasses

    from gankit.cli import main
    from gankit.config import SECTIONS, field_comments

    keys = [f"{s}.{f.name}" for s in SECTIONS for f in dataclasses.fields(getattr(Config(), s))]
    keys += [f.name for f in dataclasses.fields(Config) if f.name not in SECTIONS]
    comments = field_comments()
    assert set(comments) == set(keys) and all(comments[k] for k in keys), [k for k in keys if not comments.get(k)]
    assert main(["config", "--show"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert sorted(line[2:].split(" = ")[0] for line in lines) == sorted(keys)  # each field once
    assert all(line.startswith("  ") for line in lines)  # the defaults: nothing marked
    assert "  data.path = \"\"  # a user point set (.npy or .csv, columns x, y[, label]) for dataset `points`, or " \
           "a folder of PNG/JPEG files for dataset `images`" in lines  # a continuation line joins its field's comment


def test_config_show_marks_what_differs_from_the_default(capsys):
    from gankit.cli import main

    assert main(["config", "--show", "--preset", "ring8-ns", "--train.steps=7"]) == 0
    out = capsys.readouterr().out
    assert "* train.steps = 7  # generator steps (default 2000)" in out.splitlines()
    assert "  train.d_steps = 1  # k: discriminator" in out  # unchanged: not marked
    assert main(["config", "--show", "--model.name=resnet"]) == 2
    assert "unknown model 'resnet'" in capsys.readouterr().err


@pytest.mark.parametrize("key, value, match", [
    ("train.precision", "fp8", "train.precision 'fp8' is not one of: fp32, bf16, fp16"),
    ("train.compile", "fast", "train.compile 'fast' is not one of: off, default"),
    ("train.on_nonfinite", "ignore", "train.on_nonfinite 'ignore' is not one of: stop, rollback"),
    ("objective.g_form", "1", "objective.g_form 1 is not one of: saddle, alternative"),
    ("opt_D.name", "adamw", "opt_D.name 'adamw' is not one of: adam, sgd, rmsprop"),
])
def test_fixed_choices_are_literal_types_checked_when_parsed_and_when_set_in_code(key, value, match):
    import dataclasses

    from gankit.checks import validate

    with pytest.raises(GankitError, match=match):
        load_config(overrides=[f"{key}={value}"])
    section, field = key.split(".")
    cfg = Config()
    setattr(cfg, section, dataclasses.replace(getattr(cfg, section), **{field: value}))
    with pytest.raises(GankitError, match=match.replace(" 1 ", " '1' ")):
        validate(cfg)


@pytest.mark.parametrize("seed, ok", [(0, True), (2**63 - 1, True), (-1, False), (2**63, False), (2**64, False)])
def test_seeds_stay_in_the_range_torch_takes(seed, ok):
    """torch.manual_seed takes 0..2**64-1, and gankit adds to a seed for its other streams: 0..2**63-1."""
    from gankit.config import check_seed

    if ok:
        check_seed(seed, "--seed")
        torch.manual_seed(seed + 100_003)  # a derived stream stays in range
    else:
        with pytest.raises(GankitError, match=r"^--seed must be from 0 to 2\*\*63-1"):
            check_seed(seed, "--seed")
