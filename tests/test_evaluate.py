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
