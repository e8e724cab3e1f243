"""Feature networks for image metrics: a small CNN classifier per data set, trained here and shipped with gankit.

Its penultimate activations play the role Inception-v3's pool3 features play in FID (Heusel et al. 2017) and
its softmax the role of Inception's in the Inception Score (Salimans et al. 2016), but for 28x28 grey images,
offline and on a CPU. Weights: ``weights/<name>.pt``, made by ``benchmarks/train_features.py``.
"""

from __future__ import annotations

import copy
import functools
import json
import time
from importlib import resources
from pathlib import Path
from typing import IO

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from gankit.data.mnist import load_idx_set
from gankit.errors import GankitError
from gankit.fileio import atomic_open

CLASSIFIERS = ("mnist", "fashion-mnist")  # one shipped classifier per data set, named like the data set
FORMAT = "gankit-classifier"

# The recipe behind the shipped weights (benchmarks/train_features.py): sized to train in ~8 minutes per data set
# on one thread of a busy 2-core machine while clearing 99% (MNIST) and 90% (Fashion-MNIST) test accuracy.
EPOCHS = 6
BATCH_SIZE = 128
LR = 2e-3  # peak learning rate of the one-cycle schedule
WEIGHT_DECAY = 1e-4
MAX_SHIFT = 2  # augmentation: random translations of up to 2 px in x and y


class Classifier(nn.Module):
    """A small CNN for 28x28 grey images: three conv blocks, a feature layer and a 10-way linear head.

    conv 5x5/2 (w0) -> conv 3x3 (w1) -> maxpool -> conv 3x3 (w2) -> maxpool -> fc ``feature_dim`` + ReLU -> fc 10.
    Every conv is followed by BatchNorm and ReLU; there is no dropout, so eval mode is deterministic.

    Args:
        widths: channels of the three conv blocks.
        feature_dim: width of the feature layer (the penultimate activations that metrics use).
    """

    def __init__(self, *, widths: tuple[int, int, int] = (32, 64, 128), feature_dim: int = 128):
        super().__init__()
        w0, w1, w2 = widths
        self.widths = tuple(widths)
        self.feature_dim = feature_dim
        self.trunk = nn.Sequential(
            # A strided 5x5 stem halves the resolution at once: a full-size 28x28 layer would cost most of the
            # compute on the CPU for no accuracy that these data sets need.
            _conv_block(1, w0, kernel=5, stride=2),  # (N, w0, 14, 14)
            _conv_block(w0, w1),
            nn.MaxPool2d(2),  # (N, w1, 7, 7)
            _conv_block(w1, w2),
            nn.MaxPool2d(2),  # (N, w2, 3, 3): drops the 7th row/column, which the conv mixed into the 6th
            nn.Flatten(),
        )
        self.feature = nn.Sequential(nn.Linear(w2 * 3 * 3, feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, 10)

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Runs the network once for both outputs.

        Args:
            x: images, (N, 1, 28, 28) float with pixels in [0, 1] (0 = background).

        Returns:
            Features (N, feature_dim), non-negative (after ReLU), and logits (N, 10).
        """
        features = self.feature(self.trunk(x))
        return features, self.head(features)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (N, feature_dim) of images (N, 1, 28, 28) in [0, 1]."""
        return self.feature(self.trunk(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, 10) of images (N, 1, 28, 28) in [0, 1]."""
        return self.head(self.features(x))


def _conv_block(c_in: int, c_out: int, *, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    # No conv bias: BatchNorm's shift replaces it.
    conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(c_out), nn.ReLU())


def pixels01(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Converts uint8 images (N, 28, 28), 0..255, to the classifier's input: float32 (N, 1, 28, 28) in [0, 1]."""
    return torch.as_tensor(images).reshape(-1, 1, 28, 28).float().div_(255)


def random_shift(x: torch.Tensor, max_shift: int, *, generator: torch.Generator) -> torch.Tensor:
    """Translates each image by its own random offset of -max_shift..max_shift px in x and y, filling with 0.

    Args:
        x: images (N, 1, H, W) on the CPU.
        max_shift: largest offset in pixels; 0 returns ``x`` unchanged.
        generator: the CPU generator that draws the offsets (reproducible augmentation).

    Returns:
        Shifted images, same shape and dtype as ``x``.
    """
    if max_shift == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)  # (N, 1, H + 2s, W + 2s), zero = background
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n, 1), generator=generator)
    rows = dy + torch.arange(h)  # (N, H): the window each image reads from the padded one
    cols = dx + torch.arange(w)  # (N, W)
    out = padded[torch.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]]  # (N, H, W)
    return out.unsqueeze(1)


def fit(
    model: Classifier,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    lr: float = LR,
    max_shift: int = MAX_SHIFT,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Trains ``model`` in place: AdamW with a one-cycle learning rate, cross-entropy, random shifts.

    Args:
        model: the classifier, on any device; left in train mode.
        images: uint8 (N, 28, 28), 0..255, on the CPU.
        labels: int64 (N,) in 0..9.
        epochs: passes over the data; the last batch of an epoch may be smaller.
        batch_size: images per step.
        lr: peak learning rate (reached after 20% of the steps, then annealed to ~0).
        max_shift: augmentation, random translation in pixels (0 = none).
        seed: seeds the shuffling and the shifts (the weights' initialisation is the caller's).
        progress: show a tqdm bar per epoch with the running loss.

    Returns:
        The training loss of every step.
    """
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = -(-len(images) // batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.2)
    losses = []
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        batches = tqdm(order.split(batch_size), desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=False)
        for idx in batches:
            x = random_shift(pixels01(images[idx]), max_shift, generator=generator).to(device)
            loss = F.cross_entropy(model(x), labels[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            losses.append(loss.item())
            batches.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
        if progress:  # one line per epoch survives in logs, where the cleared bar does not
            tqdm.write(f"epoch {epoch + 1}/{epochs}: mean loss {np.mean(losses[-len(batches) :]):.4f}")
    return losses


def train_classifier(
    name: str,
    root: str | Path,
    *,
    seed: int = 0,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    lr: float = LR,
    max_shift: int = MAX_SHIFT,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> tuple[Classifier, dict]:
    """Trains the feature classifier of a data set on its 60,000 training images, measures it on the 10,000 test ones.

    Reproducible: ``seed`` fixes the initial weights (drawn without touching the global RNG), the shuffling and
    the augmentation; results can still differ in the last bits across machines, thread counts and devices.

    Args:
        name: "mnist" or "fashion-mnist".
        root: folder with the data set's four official .gz files (e.g. "../shared/data/mnist").
        seed, epochs, batch_size, lr, max_shift, progress: see :func:`fit`.
        device: where to train, e.g. "cpu" or "cuda".

    Returns:
        The model in eval mode, on the CPU, and its metadata: data set, recipe, test accuracy in [0, 1], number
        of parameters, torch version, threads and training wall time in seconds.

    Raises:
        GankitError: unknown name, or the data set's files are missing or corrupt.
    """
    _check_name(name)
    train_images, train_labels = load_idx_set(name, root, "train", progress=progress)
    test_images, test_labels = load_idx_set(name, root, "test", progress=progress)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Classifier().to(device)
    start = time.perf_counter()
    losses = fit(
        model,
        torch.from_numpy(train_images),
        torch.from_numpy(train_labels),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        max_shift=max_shift,
        seed=seed,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    model = model.cpu().eval()
    meta = {
        "dataset": name,
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "max_shift": max_shift,
        "train_images": len(train_images),
        "test_images": len(test_images),
        "test_accuracy": test_accuracy(model, pixels01(test_images), torch.from_numpy(test_labels)),
        "final_loss": round(float(np.mean(losses[-100:])), 4),  # mean of the last 100 steps, augmented batches
        "parameters": sum(p.numel() for p in model.parameters()),
        "widths": list(model.widths),
        "feature_dim": model.feature_dim,
        "torch": str(torch.__version__),
        "threads": torch.get_num_threads(),
        "train_seconds": round(seconds, 1),
    }
    return model, meta


def save_classifier(model: Classifier, meta: dict, path: str | Path) -> None:
    """Writes ``{"format", "state_dict", "meta"}`` atomically (temp file + rename), loadable with weights_only.

    Weights stay float32 (~1 MB for the default network): small enough to ship, and the recorded test
    accuracy then reproduces exactly instead of within float16 rounding.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        # Through JSON: plain str/int/float/list/dict only, as weights_only loading demands (torch.__version__, a
        # str subclass, would make the file unloadable); a value JSON cannot hold fails here, not at load time.
        "meta": json.loads(json.dumps({**meta, "widths": list(model.widths), "feature_dim": model.feature_dim})),
    }
    with atomic_open(path) as f:
        torch.save(payload, f)


def read_classifier(file: str | Path | IO[bytes]) -> tuple[Classifier, dict]:
    """Reads a file written by :func:`save_classifier` (no pickle: ``weights_only=True``).

    Returns:
        The model in eval mode on the CPU, with gradients off, and its metadata.

    Raises:
        GankitError: the file is not a gankit classifier.
    """
    payload = torch.load(file, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise GankitError(f"{file} is not a gankit classifier (no format {FORMAT!r})")
    meta = payload["meta"]
    model = Classifier(widths=tuple(meta["widths"]), feature_dim=meta["feature_dim"])
    model.load_state_dict(payload["state_dict"])
    return model.eval().requires_grad_(False), meta


def load_classifier(name: str, device: str | torch.device = "cpu") -> Classifier:
    """The shipped classifier of a data set, loaded once per process and device.

    The model is shared between callers: eval mode, gradients off; do not train or modify it.

    Raises:
        GankitError: unknown name (the message lists the valid ones) or missing weight file.
    """
    _check_name(name)
    return _on_device(name, str(torch.device(device)))


def classifier_meta(name: str) -> dict:
    """Metadata of a shipped classifier (a copy): recipe, recorded test accuracy, parameters, torch version."""
    _check_name(name)
    return copy.deepcopy(_shipped(name)[1])


@functools.cache
def _shipped(name: str) -> tuple[Classifier, dict]:
    weights = resources.files("gankit.metrics") / "weights" / f"{name}.pt"
    if not weights.is_file():
        raise GankitError(
            f"no shipped weights for {name!r} ({weights}); "
            f"train them with: python benchmarks/train_features.py --data {name} --root <folder with its .gz files>"
        )
    with weights.open("rb") as f:
        model, meta = read_classifier(f)
    # NHWC weights (and batches, see `extract`): oneDNN's CPU convolutions run about 30% faster on them (10,000
    # images: 1.2 s instead of 1.7 s on 2 threads); same values, rounding differs by ~1e-7 relative.
    return model.to(memory_format=torch.channels_last), meta


@functools.cache
def _on_device(name: str, device: str) -> Classifier:
    model = _shipped(name)[0]
    return model if device == "cpu" else copy.deepcopy(model).to(device)


def _check_name(name: str) -> None:
    if name not in CLASSIFIERS:
        raise GankitError(f"no feature classifier for {name!r}; choose one of {', '.join(CLASSIFIERS)}")


@torch.no_grad()
def extract(model: Classifier, images01: torch.Tensor, *, batch_size: int = 500, progress: bool | None = False,
            desc: str = "features") -> tuple[torch.Tensor, torch.Tensor]:
    """Features and logits of many images, in batches, in eval mode (the model's mode is restored after).

    Computes in float32 on the model's device; features come back as float64 because the statistics built on
    them (means, covariances, kernels) need the precision, logits as float32.

    Args:
        model: a :class:`Classifier`, e.g. from :func:`load_classifier`.
        images01: (N, 1, 28, 28) with pixels in [0, 1], 0 = background (images in [-1, 1] must be mapped first:
            (x + 1) / 2).
        batch_size: images per forward pass; changes speed and memory, not the results (beyond ~1e-6).
        progress: a tqdm bar on stderr; None shows it only on a terminal (tqdm's `disable=None`).
        desc: the bar's label.

    Returns:
        Features, float64 (N, feature_dim), >= 0, and logits, float32 (N, 10), both on the CPU.

    Raises:
        GankitError: wrong shape, or pixels outside [0, 1].
    """
    if images01.ndim != 4 or tuple(images01.shape[1:]) != (1, 28, 28):
        raise GankitError(f"images must be (N, 1, 28, 28), got {tuple(images01.shape)}")
    if len(images01) and (images01.min() < 0 or images01.max() > 1):
        lo, hi = images01.min().item(), images01.max().item()
        raise GankitError(f"pixels must be in [0, 1], got [{lo:.3g}, {hi:.3g}]; map [-1, 1] images with (x + 1) / 2")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    features, logits = [], []
    bar = tqdm(images01.split(batch_size), desc=desc, unit="batch", leave=False,
               disable=None if progress is None else not progress)
    for batch in bar:
        batch = batch.to(device, torch.float32).contiguous(memory_format=torch.channels_last)  # as the weights
        f, y = model.features_and_logits(batch)
        features.append(f.cpu().double())
        logits.append(y.cpu().float())
    model.train(was_training)
    if not features:
        return torch.zeros(0, model.feature_dim, dtype=torch.float64), torch.zeros(0, 10)
    return torch.cat(features), torch.cat(logits)


def test_accuracy(model: Classifier, images01: torch.Tensor, labels: torch.Tensor | np.ndarray) -> float:
    """Fraction in [0, 1] of images (N, 1, 28, 28) in [0, 1] whose arg-max logit is their label (N,) in 0..9."""
    _, logits = extract(model, images01)
    return (logits.argmax(1) == torch.as_tensor(labels)).double().mean().item()
