"""Conditional GANs: y reaches G and D in every mode and family, the label width follows the data,
labels flow through training, resume and sampling, and every user mistake is one line, exit 2."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gankit import GankitError, load, load_config, sample, train
from gankit.cli import main
from gankit.config import ModelConfig
from gankit.data import conditional_classes, load_dataset
from gankit.models import build_models, sample_z
from gankit.models.conditioning import ConcatDiscriminator, ConditionalGenerator, ProjectionDiscriminator
from gankit.training import draw_labels
from gankit.training.checkpoint import load_checkpoint

IMAGE = (1, 28, 28)
# (family, data shape, conditioning): every mode on an MLP family, 2D and images; the conv family,
# whose concat D stacks label maps on the image channels; the natively conditional Mirza model.
CASES = [("mlp2d", (2,), c) for c in ("concat", "embed", "projection")]
CASES += [("classic-mlp", IMAGE, c) for c in ("concat", "embed", "projection")]
CASES += [("gulrajani2017-conv", IMAGE, c) for c in ("concat", "projection")]
CASES += [("mirza2014", IMAGE, "concat")]


def tiny(steps: int = 20, *overrides: str):
    """ring8-cgan, small enough to train in about a second."""
    return load_config(preset="ring8-cgan", overrides=[f"train.steps={steps}", "train.batch_size=64",
                                                       "train.log_every=10", "train.ckpt_every=20", *overrides])


SMALL = {"mlp2d": [32], "classic-mlp": [32, 32], "gulrajani2017-conv": [8], "mirza2014": [16, 32, 32]}


def build(family: str, shape: tuple, cond: str, num_classes: int = 10):
    torch.manual_seed(0)
    cfg = ModelConfig(name=family, z_dim=8, cond=cond, g_hidden=SMALL[family])
    G, D = build_models(cfg, shape, num_classes)
    return cfg, G.eval(), D.eval()


@pytest.mark.parametrize("family, shape, cond", CASES)
def test_generator_output_changes_with_y_for_fixed_z(family, shape, cond):
    cfg, G, _ = build(family, shape, cond)
    z = sample_z(4, cfg, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x0, x1 = G(z, torch.zeros(4, dtype=torch.long)), G(z, torch.ones(4, dtype=torch.long))
    assert x0.shape == (4, *shape)
    assert (x0 - x1).flatten(1).abs().amax(dim=1).min() > 1e-6  # every sample moved


@pytest.mark.parametrize("family, shape, cond", CASES)
def test_discriminator_output_depends_on_y(family, shape, cond):
    _, _, D = build(family, shape, cond)
    x = torch.rand(4, *shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out0, out1 = D(x, torch.zeros(4, dtype=torch.long)), D(x, torch.full((4,), 3))
    assert out0.shape == (4,)
    assert (out0 - out1).abs().min() > 1e-7


def test_concat_is_one_hot_concatenation_and_projection_is_the_inner_product():
    cfg, G, D = build("mlp2d", (2,), "concat", num_classes=5)
    z, y, x = torch.randn(6, 8), torch.tensor([0, 1, 2, 3, 4, 0]), torch.randn(6, 2)
    assert isinstance(G, ConditionalGenerator) and isinstance(D, ConcatDiscriminator)
    assert torch.allclose(G(z, y), G.G(torch.cat([z, F.one_hot(y, 5).float()], 1)))
    assert torch.allclose(D(x, y), D.D(torch.cat([x, F.one_hot(y, 5).float()], 1)))
    _, _, P = build("mlp2d", (2,), "projection", num_classes=5)
    assert isinstance(P, ProjectionDiscriminator)
    phi = P.D.features(x)  # D(x, y) = psi(phi(x)) + embed(y) . phi(x)  (Miyato & Koyama 2018, Eq. 3)
    expected = P.D.head(phi).squeeze(1) + (P.embed.weight[y] * phi).sum(1)
    assert torch.allclose(P(x, y), expected)
    assert torch.allclose(P.D(x), P.D.head(phi).squeeze(1))  # the unconditional part is D itself


def test_conv_concat_stacks_constant_label_maps_on_the_channels():
    _, _, D = build("gulrajani2017-conv", IMAGE, "concat", num_classes=10)
    assert D.D.body[0].in_channels == 1 + 10
    x, y = torch.rand(2, *IMAGE), torch.tensor([3, 7])
    maps = F.one_hot(y, 10).float()[:, :, None, None].expand(-1, -1, 28, 28)
    assert torch.allclose(D(x, y), D.D(torch.cat([x, maps], 1)))


def test_mirza2014_cgan_is_the_papers_setup():
    from gankit.models.mlp import Maxout

    cfg = load_config(preset="mirza2014-cgan")
    assert (cfg.model.cond, cfg.model.z_dim, cfg.model.z_dist) == ("concat", 100, "uniform01")
    for opt in (cfg.opt_G, cfg.opt_D):
        assert (opt.name, opt.lr, opt.lr_decay, opt.lr_min, opt.momentum, opt.momentum_end) == (
            "sgd", 0.1, 1.00004, 1e-6, 0.5, 0.7)
    assert (cfg.train.batch_size, cfg.model.g_dropout, cfg.model.d_dropout) == (100, 0.5, 0.5)
    assert (cfg.model.d_dropout_input, cfg.opt_D.max_norm) == (0.2, 1.9365)  # from the 2014 code, as goodfellow2014
    G, D = build_models(cfg.model, IMAGE, 10)
    assert [m.out_features for m in G.modules() if isinstance(m, torch.nn.Linear)] == [200, 1000, 1200, 784]
    assert [(m.units, m.pieces) for m in D.modules() if isinstance(m, Maxout)] == [(240, 5), (50, 5), (240, 4)]
    assert G.y_branch[0].in_features == 10 and D.y_branch[0].linear.in_features == 10  # one-hot y, 10 digits
    x = G.eval()(torch.rand(8, 100), torch.arange(8))
    assert x.min() >= 0 and x.max() <= 1  # sigmoid output, pixels in [0, 1]
    z = sample_z(10000, cfg.model, generator=torch.Generator().manual_seed(0))
    assert z.min() >= 0 and z.max() < 1 and z.mean().item() == pytest.approx(0.5, abs=0.01)  # the unit hypercube


def test_one_hot_width_matches_the_number_of_classes_in_the_data(tmp_path):
    points = tmp_path / "three.csv"
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    np.savetxt(points, np.column_stack([rng.normal(size=(60, 2)) + labels[:, None], labels]), delimiter=",")
    for data, overrides, classes in [("ring8", [], 8), ("grid25", [], 25), ("moons", [], 2),
                                     ("points", [f"data.path={points}"], 3)]:
        cfg = tiny(1, f"data.name={data}", *overrides)
        dataset = load_dataset(cfg.data)
        assert conditional_classes(dataset, data, "concat") == classes
        G, D = build_models(cfg.model, dataset.shape, classes)
        assert G.G.body[0].in_features == cfg.model.z_dim + classes  # z and one-hot y
        assert D.D.body[0].in_features == 2 + classes  # x and one-hot y
    run = load(train(tiny(1, "data.name=mnist-5k", "model.name=classic-mlp", "model.z_dim=16"),
                     run_dir=tmp_path / "digits", progress=False))
    assert run.num_classes == 10
    assert run.G.G.body[0].in_features == 16 + 10 and run.D.D.body[0].in_features == 784 + 10


def test_conditional_resume_matches_an_uninterrupted_run_bit_for_bit(tmp_path):
    full = train(tiny(40), run_dir=tmp_path / "full", progress=False)
    half = train(tiny(20), run_dir=tmp_path / "half", progress=False)
    resumed = train(tiny(40), run_dir=half, resume=True, progress=False)
    a, b = load_checkpoint(full / "checkpoint.pt"), load_checkpoint(resumed / "checkpoint.pt")
    assert a["num_classes"] == b["num_classes"] == 8 and a["nimg"] == b["nimg"]
    for net in ("G", "D", "G_ema"):
        for key, value in a[net].items():
            assert torch.equal(value, b[net][key]), f"{net}.{key}"
    # a plain torch.load with weights_only=True reads the conditional checkpoint
    state = torch.load(full / "checkpoint.pt", weights_only=True)
    assert state["config"]["model"]["cond"] == "concat" and state["num_classes"] == 8


def test_sampling_labels_from_python(tmp_path):
    run = load(train(tiny(5), run_dir=tmp_path / "r", progress=False))
    assert run.num_classes == 8
    assert draw_labels(run, 5, 3).tolist() == [3] * 5
    uniform = draw_labels(run, 4000, seed=0)
    assert torch.equal(uniform, draw_labels(run, 4000, seed=0))
    assert torch.bincount(uniform, minlength=8).min() > 400  # about 500 each
    x = sample(run, 6, seed=1, labels=[0, 1, 2, 3, 4, 5])
    assert x.shape == (6, 2)
    assert (sample(run, 6, seed=1, labels=[0, 1, 2, 3, 4, 5]) == x).all()
    assert not (sample(run, 6, seed=1, labels=[5, 4, 3, 2, 1, 0]) == x).all()
    with pytest.raises(GankitError, match="class 8 is out of range"):
        sample(run, 2, labels=8)
    with pytest.raises(GankitError, match="integer labels"):
        sample(run, 2, labels=[0.5, 1.0])


def test_training_pictures_and_evaluation_of_a_conditional_run(tmp_path):
    run = train(tiny(10, "train.eval_every=10", "train.eval_n=200"), run_dir=tmp_path / "r", progress=False)
    assert (run / "scatter.png").is_file()
    evals = [json.loads(x) for x in (run / "stats.jsonl").read_text().splitlines() if "eval/modes" in x]
    assert len(evals) == 1 and 0 <= evals[0]["eval/modes"] <= 8
    digits = train(tiny(2, "data.name=mnist-5k", "model.name=classic-mlp", "model.z_dim=16", "model.cond=embed"),
                   run_dir=tmp_path / "digits", progress=False)
    grid = Image.open(digits / "samples.png")  # one row per class, 8 columns
    assert grid.size == (8 * 30 + 2, 10 * 30 + 2)


# ---------------------------------------------------------------------------- the command line


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    tiny_cli = ["--steps", "3", "--no-progress", "--train.batch_size=16", "--train.log_every=1"]
    assert main(["train", "--preset", "ring8-cgan", "--run-dir", str(base / "ring"), *tiny_cli]) == 0
    assert main(["train", "--preset", "ring8-ns", "--run-dir", str(base / "plain"), *tiny_cli]) == 0
    assert main(["train", "--preset", "ring8-cgan", "--data.name=mnist-5k", "--model.name=classic-mlp",
                 "--model.z_dim=16", "--run-dir", str(base / "digits"), *tiny_cli]) == 0
    return base


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_sample_one_class_to_png_and_npy(capsys, runs, tmp_path):
    code, out, _ = run_main(capsys, "sample", runs / "digits", "--class", "7", "--n", "64", "--out",
                            tmp_path / "sevens.png")
    assert code == 0 and Image.open(tmp_path / "sevens.png").size == (8 * 30 + 2, 8 * 30 + 2)
    assert not (tmp_path / "sevens-labels.npy").exists()  # the labels are all 7, as asked
    code, out, _ = run_main(capsys, "sample", runs / "digits", "--class", "7", "--n", "5", "--out",
                            tmp_path / "sevens.npy")
    assert code == 0
    assert np.load(tmp_path / "sevens.npy").shape == (5, 1, 28, 28)
    assert np.load(tmp_path / "sevens-labels.npy").tolist() == [7] * 5


def test_sample_without_class_writes_uniform_labels_beside(capsys, runs, tmp_path):
    code, out, _ = run_main(capsys, "sample", runs / "ring", "--n", "800", "--out", tmp_path / "p.npy")
    assert code == 0 and "labels" in out
    x, y = np.load(tmp_path / "p.npy"), np.load(tmp_path / "p-labels.npy")
    assert x.shape == (800, 2) and y.shape == (800,) and y.dtype == np.int64
    assert set(y.tolist()) == set(range(8))
    code, _, _ = run_main(capsys, "sample", runs / "ring", "--n", "50", "--out", tmp_path / "p.png")
    assert code == 0 and np.load(tmp_path / "p-labels.npy").shape == (50,)  # a picture of random labels too


def test_sample_grid_has_one_row_per_class(capsys, runs, tmp_path):
    code, _, _ = run_main(capsys, "sample", runs / "digits", "--grid", "--n", "4", "--out", tmp_path / "g.png")
    assert code == 0 and Image.open(tmp_path / "g.png").size == (4 * 30 + 2, 10 * 30 + 2)
    code, _, _ = run_main(capsys, "sample", runs / "digits", "--grid", "--out", tmp_path / "g.npy")
    assert code == 0 and np.load(tmp_path / "g-labels.npy").tolist() == [c for c in range(10) for _ in range(10)]
    code, _, _ = run_main(capsys, "sample", runs / "ring", "--grid", "--n", "100", "--out", tmp_path / "s.png")
    assert code == 0 and (tmp_path / "s.png").is_file()


@pytest.mark.parametrize("argv, match", [
    (["sample", "{digits}", "--class", "10", "--out", "{tmp}/x.png"], "class 10 is out of range: .* 0 to 9"),
    (["sample", "{digits}", "--class", "-1", "--out", "{tmp}/x.png"], "class -1 is out of range"),
    (["sample", "{plain}", "--class", "3", "--out", "{tmp}/x.png"], "is unconditional .*without --class"),
    (["sample", "{plain}", "--grid", "--out", "{tmp}/x.png"], "is unconditional"),
    (["sample", "{digits}", "--grid", "--class", "1", "--out", "{tmp}/x.png"], "not both"),
    (["train", "--preset", "ring8-cgan", "--data.name=swissroll"], "dataset 'swissroll' has no labels.*model.cond"),
    (["train", "--preset", "ring8-cgan", "--data.name=points", "--data.path={tmp}/unlabelled.csv"],
     "dataset 'points' has no labels"),
    (["train", "--preset", "ring8-cgan", "--model.cond=onehot"],
     "model.cond 'onehot' is not one of: none, concat, embed, projection"),
    (["train", "--preset", "mirza2014-cgan", "--model.cond=none"], "needs model.cond='concat'"),
    (["train", "--preset", "ring8-cgan", "--model.embed_dim=0"], "embed_dim must be at least 1"),
])
def test_user_mistakes_are_one_line_and_exit_2(capsys, runs, tmp_path, argv, match):
    import re

    np.savetxt(tmp_path / "unlabelled.csv", np.random.default_rng(0).normal(size=(10, 2)), delimiter=",")
    argv = [a.format(digits=runs / "digits", plain=runs / "plain", tmp=tmp_path) for a in argv]
    if argv[0] == "train":  # should a mistake go unnoticed, the run stays in tmp_path
        argv += ["--no-progress", "--steps", "1", "--run-dir", str(tmp_path / "run")]
    code, _, err = run_main(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gankit: error: "), err
    assert re.search(match, lines[0]), lines[0]
    assert not (tmp_path / "x.png").exists()
