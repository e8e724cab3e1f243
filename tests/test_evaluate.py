"""`evaluate` and `gankit evaluate`: protocol recorded, baselines, known answers on 2D data."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.cli import main
from gankit.data import toy2d
from gankit.errors import GankitError
from gankit.metrics.evaluate import METRICS, evaluate

SHARED = Path(os.environ.get("GANKIT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def three_of_eight_modes(n: int = 2500) -> torch.Tensor:
    ring = toy2d.ring8()
    x, y = ring.sample(n, torch.Generator().manual_seed(5))
    return ring.means[y % 3] + ring.std * torch.randn(n, 2, generator=torch.Generator().manual_seed(6))


def test_mode_metrics_report_exactly_three_of_eight():
    result = evaluate(three_of_eight_modes(), "ring8")
    m, base = result["metrics"], result["baseline"]
    assert m["modes"] == 3 and m["high_quality"] > 0.98
    assert m["mode_kl"] == pytest.approx(np.log(8 / 3), abs=0.05)  # about uniform over 3 of 8 modes
    assert base["modes"] == 8 and base["w1"] < m["w1"] / 10  # real vs real beats a collapsed model
    # grid JS: real samples match the (equally smoothed) data density closely. With well separated
    # modes, p = 1/8 on each of 8 and q = 1/3 on 3 of them: m = 11/48 on the 3 and 1/16 on the other 5;
    # JS = 1/2 [3/8 log(6/11) + 5/8 log 2] + 1/2 log(16/11) = 0.2905 nats.
    js = 0.5 * (3 / 8 * np.log(6 / 11) + 5 / 8 * np.log(2)) + 0.5 * np.log(16 / 11)
    assert base["js"] < 0.01 and m["js"] == pytest.approx(js, abs=0.01)
    assert result["protocol"]["n_fake"] == 2500 and "ring8" in result["protocol"]["reference"]


def test_wrong_shapes_and_kinds_are_user_errors():
    with pytest.raises(GankitError, match="shape"):
        evaluate(np.zeros((100, 3)), "ring8")
    with pytest.raises(GankitError, match="unknown evaluation data"):
        evaluate(np.zeros((100, 2)), "ring9")
    with pytest.raises(GankitError, match="for image data"):
        evaluate(np.zeros((100, 2)), "ring8", metrics=["fd"])
    with pytest.raises(GankitError, match="unknown metric"):
        evaluate(np.zeros((100, 2)), "ring8", metrics=["nope"])


def test_every_metric_is_listed_with_its_kind():
    assert {"fd", "kid", "pr", "dc", "classes", "parzen", "modes", "w1", "grid"} <= set(METRICS.names())


def test_cli_evaluate_npy_writes_json_and_markdown(tmp_path, capsys):
    path = tmp_path / "s.npy"
    np.save(path, three_of_eight_modes().numpy())
    assert main(["evaluate", str(path), "--data", "ring8"]) == 0
    saved = json.loads((tmp_path / "s-eval.json").read_text())
    assert saved["metrics"]["modes"] == 3
    report = (tmp_path / "s-eval.md").read_text()
    assert "| modes | 3 | 8 |" in report and "real vs real" in report
    assert main(["evaluate", str(path)]) == 2 and "--data" in capsys.readouterr().err


@pytest.mark.skipif(not (SHARED / "mnist" / "t10k-images-idx3-ubyte.gz").is_file(),
                    reason=f"no MNIST files in {SHARED} (set GANKIT_SHARED_DATA)")
def test_image_metrics_on_real_digits_match_the_baseline_and_noise_is_far():
    from gankit.data.mnist import load_idx_set

    train, _ = load_idx_set("mnist", SHARED / "mnist", "train")
    pick = np.random.default_rng(1).choice(np.arange(50000, 60000), 1000, replace=False)
    real = train[pick].astype(np.float32)[:, None] / 255  # real digits outside the baseline's train[:50000]
    noise = np.random.default_rng(0).random((1000, 1, 28, 28), dtype=np.float32)
    kw = {"metrics": ["fd", "classes"], "root": SHARED / "mnist"}
    good, bad = evaluate(real, "mnist", **kw), evaluate(noise, "mnist", **kw, baseline=False)
    # other real digits score like the real-vs-real baseline (same N = 1,000); noise is far from digits
    assert good["metrics"]["fd_mnist"] < 2 * good["baseline"]["fd_mnist"]
    assert bad["metrics"]["fd_mnist"] > 20 * good["metrics"]["fd_mnist"]
    assert good["metrics"]["class_kl_uniform"] < 0.05 and bad["metrics"]["class_min_fraction"] == 0
    assert "test accuracy" in good["protocol"]["extractor"] and good["protocol"]["n_fake"] == 1000


# ---------------------------------------------------------------------------- label accuracy


def test_label_accuracy_counts_hits_per_class():
    from gankit.metrics.evaluate import label_accuracy

    # 4 samples of class 0 (3 classified right), 2 of class 1 (both right), 2 of class 2 (none right)
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])
    predicted = torch.tensor([0, 0, 0, 1, 1, 1, 0, 1])
    out = label_accuracy(torch.nn.functional.one_hot(predicted, 10).double(), labels)
    assert out["label_accuracy"] == pytest.approx(5 / 8)
    assert out["label_accuracy_0"] == pytest.approx(3 / 4) and out["label_accuracy_1"] == 1.0
    assert out["label_accuracy_min"] == 0.0 and "label_accuracy_3" not in out  # absent classes are not scored


def test_mode_labels_on_a_conditional_ring():
    ring = toy2d.ring8()
    x, y = ring.sample(2500, torch.Generator().manual_seed(3))
    right = evaluate(x, "ring8", metrics=["mode_labels"], labels=y)
    wrong = evaluate(x, "ring8", metrics=["mode_labels"], labels=(y + 1) % 8)
    # a 2D Gaussian lies within 3 std of its mean with probability P(chi2_2 <= 9) = 1 - exp(-4.5) = 0.989
    assert right["metrics"]["label_accuracy"] == pytest.approx(1 - np.exp(-4.5), abs=0.01)
    assert right["baseline"]["label_accuracy"] == pytest.approx(1 - np.exp(-4.5), abs=0.01)
    assert wrong["metrics"]["label_accuracy"] < 0.01  # neighbouring modes are 0.765 apart, 38 std
    assert "mode_labels" in evaluate(x, "ring8", labels=y)["protocol"]["metrics"]  # default with labels
    assert "mode_labels" not in evaluate(x, "ring8")["protocol"]["metrics"]  # and only then


def test_bad_labels_are_user_errors():
    x = three_of_eight_modes(100)
    with pytest.raises(GankitError, match="100 integers"):
        evaluate(x, "ring8", labels=np.zeros(99, dtype=np.int64))
    with pytest.raises(GankitError, match="100 integers"):
        evaluate(x, "ring8", labels=np.zeros(100))  # floats are not labels
    with pytest.raises(GankitError, match=r"classes 0\.\.7, got values from 0 to 8"):
        evaluate(x, "ring8", labels=np.arange(100) % 9)
    with pytest.raises(GankitError, match="needs the class each sample was drawn for"):
        evaluate(x, "ring8", metrics=["mode_labels"])


def test_cli_evaluate_reads_the_labels_file_beside_the_samples(tmp_path):
    ring = toy2d.ring8()
    x, y = ring.sample(2500, torch.Generator().manual_seed(4))
    np.save(tmp_path / "c.npy", x.numpy())
    np.save(tmp_path / "c-labels.npy", y.numpy())  # the name `gankit sample` writes
    assert main(["evaluate", str(tmp_path / "c.npy"), "--data", "ring8", "--metrics", "mode_labels"]) == 0
    assert json.loads((tmp_path / "c-eval.json").read_text())["metrics"]["label_accuracy"] > 0.97


@pytest.mark.skipif(not (SHARED / "mnist" / "t10k-images-idx3-ubyte.gz").is_file(),
                    reason=f"no MNIST files in {SHARED} (set GANKIT_SHARED_DATA)")
def test_label_accuracy_of_real_digits_with_their_labels():
    from gankit.data.mnist import load_idx_set

    test, labels = load_idx_set("mnist", SHARED / "mnist", "test")
    x = test[:1000].astype(np.float32)[:, None] / 255
    y = labels[:1000].astype(np.int64)
    right = evaluate(x, "mnist", metrics=["labels"], labels=y, root=SHARED / "mnist")
    wrong = evaluate(x, "mnist", metrics=["labels"], labels=(y + 1) % 10, root=SHARED / "mnist", baseline=False)
    # the shipped classifier is 99.56% accurate on the test split: true labels score about that,
    # and so does its baseline (real train digits with their labels); shifted labels score ~ the error rate
    assert right["metrics"]["label_accuracy"] > 0.98 and right["baseline"]["label_accuracy"] > 0.98
    assert wrong["metrics"]["label_accuracy"] < 0.02


@pytest.mark.parametrize("array, match", [
    (np.array([{"a": 1}], dtype=object), "holds Python objects"),
    (np.array(["1", "2"]), "has dtype <U1; allowed: signed integers, unsigned integers, real floats"),
    (np.zeros(3, np.complex64), "has dtype complex64"),
    (np.zeros(3, bool), "has dtype bool"),
])
def test_load_npy_refuses_what_is_not_a_plain_numeric_array(tmp_path, array, match):
    from gankit.metrics.evaluate import load_npy

    np.save(tmp_path / "x.npy", array, allow_pickle=True)
    with pytest.raises(GankitError, match=match):
        load_npy(tmp_path / "x.npy", "samples file")


def test_load_npy_refuses_damaged_files_and_reads_good_ones(tmp_path):
    from gankit.metrics.evaluate import load_npy

    good = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.save(tmp_path / "good.npy", good)
    assert np.array_equal(load_npy(tmp_path / "good.npy", "samples file"), good)
    (tmp_path / "cut.npy").write_bytes((tmp_path / "good.npy").read_bytes()[:-8])
    (tmp_path / "noise.npy").write_bytes(bytes(range(256)))
    np.savez(tmp_path / "z.npz", x=good)
    for name in ("cut.npy", "noise.npy", "z.npz"):
        with pytest.raises(GankitError, match="samples file"):
            load_npy(tmp_path / name, "samples file")
    with pytest.raises(GankitError, match="allowed: signed integers, unsigned integers$"):
        load_npy(tmp_path / "good.npy", "labels file", kinds="iu")
