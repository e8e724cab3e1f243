"""Reference statistics computed once: a feature network's features and logits of real images, with their mean
and covariance (the real side of the Frechet distance, Heusel et al. 2017), per (dataset, split, feature network,
n), kept in memory and in a cache folder on disk, so an evaluation during training costs only the generated samples.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from gankit.fileio import atomic_open
from gankit.metrics import distances, features

CACHE_VERSION = 1  # part of every key: bump it when the statistics are computed differently
FORMAT = "gankit-reference-stats"
MEMORY_ENTRIES = 8  # statistics kept in memory, least recently used dropped first (~11 MB each at n = 10,000)


@dataclass(frozen=True)
class RealStats:
    """Features float64 (n, d), logits float32 (n, 10), and the features' mean (d,) and unbiased covariance (d, d)."""

    features: torch.Tensor
    logits: torch.Tensor
    mean: torch.Tensor
    cov: torch.Tensor

    @classmethod
    def of(cls, feats: torch.Tensor, logits: torch.Tensor) -> RealStats:
        """The statistics of extracted features; generated samples go through this same code, so the cached
        and the freshly computed figures are the same numbers."""
        acc = distances.FeatureStats()
        acc.update(feats)
        return cls(feats, logits, acc.mean, acc.cov)


_memory: OrderedDict[str, RealStats] = OrderedDict()


def cache_dir() -> Path:
    """`$GANKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/gankit`, else `~/.cache/gankit`."""
    if os.environ.get("GANKIT_CACHE_DIR"):
        return Path(os.environ["GANKIT_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gankit"


def clear_memory() -> None:
    """Forget the statistics held in memory (the disk cache stays)."""
    _memory.clear()


def weights_sha256(model: torch.nn.Module) -> str:
    """SHA-256 of a network's state (names, dtypes, shapes and bytes): a retrained classifier gets a new key."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())  # 0-d counters too
    return h.hexdigest()


def real_stats(data: str, split: str, extractor: str, n: int, images: Callable[[], torch.Tensor], *,
               cache: bool = True, progress: bool | None = False) -> RealStats:
    """The statistics of `n` real images of a data set's split under a shipped feature network, computed once.

    Args:
        data: the data set's registered name, e.g. "mnist".
        split: the split's short name, e.g. "test" (see `gankit.data.sets.ReferenceSplit`).
        extractor: the feature classifier's name (metrics/features.py), e.g. "mnist".
        n: the number of images `images()` returns (part of the key, so known before loading).
        images: loads the images, (n, 1, 28, 28) in [0, 1]; called only when neither cache holds them.
        cache: False computes them afresh and touches neither cache (as gankit did before caching).
        progress: a bar on stderr while the features are computed; None: only on a terminal.

    Returns:
        The statistics; shared with later callers, do not modify them.
    """
    model = features.load_classifier(extractor)
    if not cache:
        return _compute(model, images, n, progress, f"{data} {split} features")
    key = {"version": CACHE_VERSION, "data": data, "split": split, "extractor": extractor,
           "weights": weights_sha256(model), "n": n}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    if digest in _memory:
        _memory.move_to_end(digest)
        return _memory[digest]
    path = cache_dir() / "reference" / f"{_slug(data)}-{_slug(split)}-{_slug(extractor)}-n{n}-{digest[:16]}.pt"
    stats = _read(path, key)
    if stats is None:
        stats = _compute(model, images, n, progress, f"{data} {split} features (cached after this)")
        _write(path, key, stats)
    _memory[digest] = stats
    while len(_memory) > MEMORY_ENTRIES:
        _memory.popitem(last=False)
    return stats


def _compute(model: features.Classifier, images: Callable[[], torch.Tensor], n: int, progress: bool | None = False,
             desc: str = "reference features") -> RealStats:
    x = images()
    if len(x) != n:  # a wrong n would file these statistics under another key
        raise ValueError(f"the reference split holds {len(x)} images, not the {n} its key says")
    return RealStats.of(*features.extract(model, x, progress=progress, desc=desc))


def _read(path: Path, key: dict) -> RealStats | None:
    """The cached statistics, or None when the file is missing, unreadable, damaged or for another key."""
    try:
        with warnings.catch_warnings():  # torch warns about some damaged files before failing: the failure is enough
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)  # plain tensors: never unpickle code
    except Exception:  # a damaged file raises many types (RuntimeError, EOFError, UnpicklingError, ...)
        return None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("key") != key:
        return None
    try:
        stats = RealStats(*(payload[k] for k in ("features", "logits", "mean", "cov")))
    except KeyError:
        return None
    n, d = key["n"], stats.mean.shape[0] if isinstance(stats.mean, torch.Tensor) else -1
    shapes = {"features": (n, d), "logits": (n, 10), "mean": (d,), "cov": (d, d)}
    for name, shape in shapes.items():
        value = getattr(stats, name)
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape or not torch.isfinite(value).all():
            return None
    return stats


def _write(path: Path, key: dict, stats: RealStats) -> None:
    """Atomically (a reader never sees half a file); a folder that cannot be written costs a warning, not the run."""
    payload = {"format": FORMAT, "key": key, "features": stats.features, "logits": stats.logits,
               "mean": stats.mean, "cov": stats.cov}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path) as f:
            torch.save(payload, f)
    except OSError as e:
        print(f"gankit: warning: could not cache reference statistics in {path.parent} ({e}); they are computed "
              "again in the next process (set GANKIT_CACHE_DIR to a writable folder)", file=sys.stderr)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:40]
