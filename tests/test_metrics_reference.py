"""Reference statistics computed once: keyed by data, split, classifier weights and n; damaged or unwritable
caches cost a recomputation or a warning, never the run; cached figures equal fresh ones."""

import copy
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.metrics import features, reference
from gankit.metrics.evaluate import evaluate
from gankit.metrics.reference import cache_dir, clear_memory, real_stats, weights_sha256

SHARED = Path(os.environ.get("GANKIT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


class Loader:
    """Random images (n, 1, 28, 28) in [0, 1], counting how often they are loaded."""

    def __init__(self, n: int = 40, seed: int = 0):
        self.images = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
        self.calls = 0

    def __call__(self) -> torch.Tensor:
        self.calls += 1
        return self.images


def cached_files() -> list[Path]:
    return sorted((cache_dir() / "reference").glob("*.pt"))


@pytest.fixture(autouse=True)
def _empty_memory():
    clear_memory()  # the disk is what these tests look at
    yield
    clear_memory()


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path / "a"))
    assert cache_dir() == tmp_path / "a"
    monkeypatch.delenv("GANKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "gankit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "gankit"


def test_statistics_are_computed_once_then_read_from_memory_and_disk():
    images = Loader()
    first = real_stats("toy", "test", "mnist", 40, images)
    assert images.calls == 1 and len(cached_files()) == 1
    assert real_stats("toy", "test", "mnist", 40, images) is first and images.calls == 1  # memory
    clear_memory()
    again = real_stats("toy", "test", "mnist", 40, images)  # disk
    assert images.calls == 1
    for name in ("features", "logits", "mean", "cov"):
        assert torch.equal(getattr(again, name), getattr(first, name))
    # the statistics are those of the features: mean and unbiased covariance (N - 1 = 39)
    feats = first.features
    assert feats.shape == (40, 128) and first.logits.shape == (40, 10)
    assert torch.allclose(first.mean, feats.mean(0), atol=1e-12)
    assert torch.allclose(first.cov, torch.cov(feats.T), atol=1e-10)


def test_another_split_n_or_data_set_is_another_entry():
    images, fewer = Loader(), Loader(30)
    real_stats("toy", "test", "mnist", 40, images)
    real_stats("toy", "train", "mnist", 40, images)
    real_stats("toy2", "test", "mnist", 40, images)
    real_stats("toy", "test", "mnist", 30, fewer)
    real_stats("toy", "test", "fashion-mnist", 40, images)
    assert images.calls == 4 and fewer.calls == 1 and len(cached_files()) == 5


def test_a_retrained_classifier_invalidates_the_cache(monkeypatch):
    images = Loader()
    first = real_stats("toy", "test", "mnist", 40, images)
    retrained = copy.deepcopy(features.load_classifier("mnist"))
    with torch.no_grad():
        retrained.head.bias[0] += 1e-3
    assert weights_sha256(retrained) != weights_sha256(features.load_classifier("mnist"))
    monkeypatch.setattr(features, "load_classifier", lambda name: retrained)
    stats = real_stats("toy", "test", "mnist", 40, images)
    assert images.calls == 2 and len(cached_files()) == 2
    # the new head shifts class 0's logit by the bias change (float32 logits ~10: rounding ~1e-6); features
    # and the other logits are untouched
    assert torch.equal(stats.features, first.features) and torch.equal(stats.logits[:, 1:], first.logits[:, 1:])
    assert torch.allclose(stats.logits[:, 0] - first.logits[:, 0], torch.full((40,), 1e-3), atol=1e-5)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "other_key"])
def test_a_damaged_cache_file_is_recomputed_and_rewritten(damage):
    images = Loader()
    first = real_stats("toy", "test", "mnist", 40, images)
    (path,) = cached_files()
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x80\x04not a torch file" * 100)
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a valid file with another key under this name (e.g. copied by hand): not trusted
        payload = torch.load(path, weights_only=True)
        payload["key"] = {**payload["key"], "n": 41}
        torch.save(payload, path)
    clear_memory()
    again = real_stats("toy", "test", "mnist", 40, images)
    assert images.calls == 2 and torch.equal(again.cov, first.cov)
    clear_memory()
    real_stats("toy", "test", "mnist", 40, images)  # the rewritten file is read back
    assert images.calls == 2


def test_an_unwritable_cache_folder_costs_one_warning_line(monkeypatch, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # mkdir under a file fails, even for root (chmod would not stop root)
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(blocker))
    images = Loader()
    stats = real_stats("toy", "test", "mnist", 40, images)
    err = capsys.readouterr().err
    assert stats.features.shape == (40, 128)
    assert err.count("\n") == 1 and err.startswith("gankit: warning: could not cache reference statistics")


def test_no_cache_touches_no_file():
    images = Loader()
    real_stats("toy", "test", "mnist", 40, images, cache=False)
    real_stats("toy", "test", "mnist", 40, images, cache=False)
    assert images.calls == 2 and cached_files() == []


def test_a_wrong_sample_count_is_refused_before_it_is_cached():
    with pytest.raises(ValueError, match="holds 40 images, not the 50"):
        real_stats("toy", "test", "mnist", 50, Loader())
    assert cached_files() == []


@pytest.mark.skipif(not (SHARED / "mnist" / "t10k-images-idx3-ubyte.gz").is_file(),
                    reason=f"no MNIST files in {SHARED} (set GANKIT_SHARED_DATA)")
def test_cached_figures_equal_fresh_ones_on_mnist(monkeypatch):
    from gankit.data.mnist import load_idx_set

    train, labels = load_idx_set("mnist", SHARED / "mnist", "train")
    rng = np.random.default_rng(0)
    fake = np.clip(train[:600] / 255 + rng.normal(0, 0.1, (600, 28, 28)), 0, 1)[:, None].astype(np.float32)
    kwargs = {"metrics": ["fd", "kid", "classes", "labels"], "root": SHARED / "mnist", "labels": labels[:600]}
    fresh = evaluate(fake, "mnist", cache=False, **kwargs)
    assert cached_files() == []
    cold = evaluate(fake, "mnist", **kwargs)  # computes and writes the test split's and the baseline's statistics
    assert len(cached_files()) == 2
    clear_memory()
    loads = []
    monkeypatch.setattr(reference, "_compute", lambda *a: loads.append(a))  # a warm cache computes nothing
    warm = evaluate(fake, "mnist", **kwargs)
    assert loads == []
    for result in (cold, warm):
        assert result["protocol"] == fresh["protocol"]
        for part in ("metrics", "baseline"):
            assert result[part].keys() == fresh[part].keys()
            for key, value in fresh[part].items():
                assert result[part][key] == pytest.approx(value, rel=1e-9, abs=1e-12), (part, key)
    assert warm["metrics"]["fd_mnist"] > warm["baseline"]["fd_mnist"] > 0  # noisy digits score worse than real
