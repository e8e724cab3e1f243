"""The dataset registry: every entry's metadata is consistent, and a new data set needs its registration only."""

import json
import math

import pytest
import torch

import gankit
from gankit.config import DataConfig
from gankit.data import DATASETS, DistributionData, conditional_classes, toy2d
from gankit.data.sets import KINDS, dataset_summary, evaluable_datasets, register_mixture
from gankit.errors import GankitError
from gankit.metrics.evaluate import METRICS, TRAINING_DEFAULTS, check_training_eval, evaluate
from gankit.metrics.features import CLASSIFIERS


@pytest.fixture
def ring3():
    """A ring of 3 Gaussians (radius 1, std 0.05), registered for one test and removed after it."""
    angles = torch.arange(3) * (2 * math.pi / 3)
    mixture = toy2d.GaussianMixture(torch.stack([angles.cos(), angles.sin()], dim=1), 0.05)
    register_mixture("ring3", "3 Gaussians on a circle of radius 1, std 0.05", mixture)
    yield mixture
    DATASETS.remove("ring3")


def test_a_dataset_registered_in_a_test_trains_and_evaluates(ring3, tmp_path):
    cfg = gankit.load_config(preset="ring8-ns", overrides=["data.name=ring3", "train.steps=400", "train.eval_every=200",
                                                           "train.ckpt_every=400", "train.log_every=100"])
    run_dir = gankit.train(cfg, run_dir=tmp_path / "run", progress=False)
    lines = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    evals = [line for line in lines if "eval/w1" in line]
    assert [e["step"] for e in evals] == [200, 400]
    assert all(e["eval/modes"] in (0, 1, 2, 3) and 0 < e["eval/w1"] < 10 for e in evals)  # 3 modes, not ring8's 8

    result = evaluate(gankit.sample(gankit.load(run_dir), 2500, seed=0), "ring3")
    m, base = result["metrics"], result["baseline"]
    assert m["modes"] in (0, 1, 2, 3) and m["w1"] > 0
    # Fresh samples of this mixture score as its reference: all 3 modes (under ring8's mixture most would
    # miss every mode), 1 - exp(-3^2 / 2) = 98.9% of them within 3 std of their mode, and an OT distance of
    # sampling noise only (measured 0.010).
    assert base["modes"] == 3 and base["high_quality"] > 0.95 and base["w1"] < 0.05
    assert result["protocol"]["reference"] == "2500 fresh samples of ring3"


def test_removing_the_entry_removes_the_dataset(ring3):
    assert "ring3" in evaluable_datasets()
    DATASETS.remove("ring3")
    with pytest.raises(GankitError, match="valid choices: .*ring8"):
        DATASETS.get("ring3")
    with pytest.raises(GankitError, match="unknown evaluation data 'ring3'"):
        evaluate(torch.zeros(20, 2), "ring3")
    register_mixture("ring3", "again, for the fixture to remove", ring3)


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_entry_has_consistent_metadata(name):
    entry = DATASETS.get(name)
    assert entry.kind in KINDS
    assert entry.extractor is None or (entry.kind == "image" and entry.extractor in CLASSIFIERS)
    if entry.mixture is not None:
        assert entry.num_classes == entry.mixture.num_modes
        data = entry(DataConfig(name=name))  # a mixture's sampler is that mixture
        assert isinstance(data, DistributionData) and data.distribution is entry.mixture
    if entry.evaluable:  # evaluation checks sample shapes and label ranges against the metadata
        assert entry.shape is not None and entry.num_classes is not None
        check_training_eval(name, [m for m in TRAINING_DEFAULTS[entry.kind] if METRICS.get(m).needs is None
                                   or getattr(entry, METRICS.get(m).needs) is not None], 10)
    else:
        with pytest.raises(GankitError, match="needs data that gankit can evaluate"):
            check_training_eval(name, [], 10)
    assert dataset_summary(name).startswith(entry.kind)


def test_the_evaluable_datasets_are_the_ones_with_a_reference_split():
    assert evaluable_datasets() == ["disjoint-clusters", "fashion-mnist", "grid25", "mnist", "mnist-5k", "ring8",
                                    "two-gaussians"]
    assert dataset_summary("mnist") == "image (1, 28, 28), 10 classes, scored by the mnist classifier, evaluable"
    assert dataset_summary("points") == "points (2,), labels from the data, not evaluable"
    assert dataset_summary("grid25") == "points (2,), 25 classes, exact mixture of 25 Gaussians, evaluable"


def test_the_conditional_error_lists_the_labelled_datasets_from_the_registry(ring3):
    unlabelled = DATASETS.get("swissroll")(DataConfig(name="swissroll"))
    with pytest.raises(GankitError) as e:
        conditional_classes(unlabelled, "swissroll", "concat")
    listed = str(e.value).split("labelled data: ")[1]
    assert "ring3" in listed and "mnist-5k" in listed and "points with a label column" in listed
    assert "swissroll" not in listed and "images" not in listed
    assert conditional_classes(DistributionData(ring3), "ring3", "concat") == 3


def test_metrics_that_need_a_mixture_refuse_data_without_one():
    # moons has a sampler but no exact density: give it a reference for this test only
    from gankit.data.sets import Dataset, fresh_samples

    moons = toy2d.TwoMoons()
    DATASETS.add("moons-eval", Dataset(lambda cfg: DistributionData(moons), kind="points", shape=(2,), num_classes=2,
                                       reference=fresh_samples(moons)), "two moons, evaluable")
    try:
        x, _ = moons.sample(500, torch.Generator().manual_seed(3))
        result = evaluate(x, "moons-eval")
        assert result["protocol"]["metrics"] == ["w1"]  # modes and grid need the mixture: left out by default
        assert result["baseline"]["w1"] < 0.2 and result["metrics"]["w1"] < 0.2
        with pytest.raises(GankitError, match="metric 'modes' needs the data set's mixture"):
            evaluate(x, "moons-eval", metrics=["modes"])
    finally:
        DATASETS.remove("moons-eval")


def test_registry_remove_of_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(GankitError, match="unknown dataset 'nope'; valid choices: .*mnist"):
        DATASETS.remove("nope")


def test_a_registered_toy_dataset_is_in_the_lab_and_the_listing_with_its_exact_density(ring3, tmp_path, capsys):
    """The same registration, nothing else: the lab offers it and draws D* from its mixture, and
    `gankit list datasets` shows its metadata."""
    from gankit.cli import main
    from gankit.lab.messages import datasets_2d
    from gankit.lab.session import LabSession, default_config

    assert "ring3" in datasets_2d()
    cfg = default_config()
    cfg.data.name = "ring3"
    lab = LabSession(cfg, runs_dir=tmp_path)
    assert lab.mixture is ring3 and lab.snapshot()["dstar"] is not None
    assert main(["list", "datasets"]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("ring3 ")]
    assert "exact mixture of 3 Gaussians" in line
