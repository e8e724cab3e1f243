"""`evaluate`: the registered metrics on generated samples against a data set's held-out split.

Every figure comes with its protocol (sample counts, reference split, feature extractor) and a
real-vs-real baseline (train images against the same test split, at the same sample count), so a
number can be read and compared (DESIGN.md, "Traps": metrics that silently depend on all three).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gankit.data import toy2d
from gankit.data.sets import DATASETS, Dataset, ReferenceSplit, evaluable_datasets
from gankit.errors import GankitError
from gankit.metrics import distances, features, grid, parzen
from gankit.metrics.reference import RealStats, real_stats
from gankit.metrics.toy2d import mode_coverage, wasserstein1
from gankit.registry import Registry

POINTS_N = 2500
LABEL_METRICS = ("labels", "mode_labels")  # need the class each sample was drawn for (image, points)


@dataclass
class Samples:
    """What a metric compares: `fake` against the data set's reference split, both images (N, 1, 28, 28) in
    [0, 1] or points (N, 2). The reference's pixels load only when a metric reads them (`real`, `valid`)."""

    data: str
    fake: torch.Tensor
    reference: ReferenceSplit
    labels: torch.Tensor | None = None  # (N,) the class each fake was drawn for (conditional samples)
    fake_split: str | None = None  # the fakes are the first N samples of this real split (the baseline): cached
    cache: bool = True  # real images' statistics from metrics/reference.py's cache
    progress: bool | None = False  # bars on stderr for feature extraction; None: only on a terminal
    _stats: dict = field(default_factory=dict)

    @property
    def dataset(self) -> Dataset:
        return DATASETS.get(self.data)

    @property
    def extractor(self) -> str:
        return self.dataset.extractor

    @functools.cached_property
    def real(self) -> torch.Tensor:
        return self.reference.real()

    @functools.cached_property
    def valid(self) -> torch.Tensor | None:
        """Images for choosing the Parzen width (train[50000:51000]), or None."""
        return self.reference.valid() if self.reference.valid else None

    def stats(self, which: str) -> RealStats:
        """Features float64 (N, 128), logits (N, 10), mean and covariance of `fake` or `real`, computed once;
        those of real images come from the reference cache."""
        if which not in self._stats:
            split = self.reference.split if which == "real" else self.fake_split
            if split is None:
                model = features.load_classifier(self.extractor)
                self._stats[which] = RealStats.of(*features.extract(model, getattr(self, which),
                                                                    progress=self.progress, desc=f"{which} features"))
            else:
                n = self.reference.n if which == "real" else len(self.fake)
                self._stats[which] = real_stats(self.data, split, self.extractor, n, lambda: getattr(self, which),
                                                cache=self.cache, progress=self.progress)
        return self._stats[which]

    def features(self, which: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(features float64 (N, 128), logits (N, 10)) of `fake` or `real`, computed once."""
        stats = self.stats(which)
        return stats.features, stats.logits

    def mixture(self) -> toy2d.GaussianMixture:
        return self.dataset.mixture


@dataclass(frozen=True)
class Metric:
    fn: Callable[[Samples], dict[str, float]]
    kind: str  # "image" or "points"
    needs: str | None = None  # a `Dataset` attribute the metric reads, e.g. "mixture" (None: nothing beyond kind)


METRICS: Registry[Metric] = Registry("metric")


def metric(name: str, kind: str, description: str, *, needs: str | None = None):
    def add(fn: Callable[[Samples], dict[str, float]]) -> Callable:
        METRICS.add(name, Metric(fn, kind, needs), description)
        return fn

    return add


# ---------------------------------------------------------------------------- images


@metric("fd", "image", "Frechet distance of the gankit classifier's features (fd_<extractor>)")
def _fd(s: Samples) -> dict[str, float]:
    fake, real = s.stats("fake"), s.stats("real")
    return {f"fd_{s.extractor}": distances.frechet_distance(fake.mean, fake.cov, real.mean, real.cov)}


@metric("kid", "image", "kernel inception distance analogue: unbiased MMD^2, cubic kernel, 100 subsets")
def _kid(s: Samples) -> dict[str, float]:
    out = distances.kid(s.features("real")[0], s.features("fake")[0])
    return {f"kid_{s.extractor}": out["kid_mean"], f"kid_{s.extractor}_std": out["kid_std"]}


@metric("pr", "image", "precision and recall, k = 3 (Kynkaanniemi et al. 2019)")
def _pr(s: Samples) -> dict[str, float]:
    return distances.precision_recall(s.features("real")[0], s.features("fake")[0], k=3)


@metric("dc", "image", "density and coverage, k = 5 (Naeem et al. 2020)")
def _dc(s: Samples) -> dict[str, float]:
    return distances.density_coverage(s.features("real")[0], s.features("fake")[0], k=5)


@metric("classes", "image", "classifier score exp(E KL(p(y|x) || p(y))) and class histogram KL to uniform")
def _classes(s: Samples) -> dict[str, float]:
    logp = torch.log_softmax(s.features("fake")[1].double(), dim=1)  # (N, 10)
    p_y = logp.exp().mean(0)  # marginal class distribution of the samples
    score = math.exp(float((logp.exp() * (logp - p_y.log())).sum(1).mean()))
    hist = torch.bincount(logp.argmax(1), minlength=10).double() / len(logp)
    nonzero = hist > 0
    kl_uniform = float((hist[nonzero] * (hist[nonzero] * 10).log()).sum())
    return {f"classifier_score_{s.extractor}": score, "class_kl_uniform": kl_uniform,
            "class_min_fraction": float(hist.min())}


def label_accuracy(logits: torch.Tensor, labels: torch.Tensor, num_classes: int = 10) -> dict[str, float]:
    """Fraction of samples the classifier assigns to the label they were drawn for, overall and for
    the worst class (`label_accuracy_min`), with `label_accuracy_<c>` for every class present."""
    hits = (logits.argmax(1) == labels).double()
    per_class = {c: float(hits[labels == c].mean()) for c in range(num_classes) if bool((labels == c).any())}
    return {"label_accuracy": float(hits.mean()), "label_accuracy_min": min(per_class.values()),
            **{f"label_accuracy_{c}": a for c, a in per_class.items()}}


@metric("labels", "image", "label accuracy of conditional samples: classified as the class they were drawn for")
def _labels(s: Samples) -> dict[str, float]:
    if s.labels is None:
        return {}
    return label_accuracy(s.features("fake")[1], s.labels)


@metric("parzen", "image", "Parzen window log-likelihood, Goodfellow et al. 2014 protocol (nats)")
def _parzen(s: Samples) -> dict[str, float]:
    if s.valid is None:
        return {}
    out = parzen.parzen_protocol(s.fake.flatten(1), s.valid.flatten(1), s.real.flatten(1))
    return {"parzen_ll": out["parzen_ll_mean"], "parzen_ll_se": out["parzen_ll_se"], "parzen_sigma": out["sigma"]}


# ---------------------------------------------------------------------------- 2D points


@metric("modes", "points", "modes captured and high-quality samples (VEEGAN / PacGAN protocol)", needs="mixture")
def _modes(s: Samples) -> dict[str, float]:
    mix = s.mixture()
    return mode_coverage(s.fake, mix.means, mix.std)


@metric("mode_labels", "points", "label accuracy of conditional samples: within 3 std of the mode they were drawn for",
        needs="mixture")
def _mode_labels(s: Samples) -> dict[str, float]:
    if s.labels is None:
        return {}
    mix = s.mixture()
    hits = ((s.fake - mix.means[s.labels]).norm(dim=1) <= 3 * mix.std).double()
    per_mode = [float(hits[s.labels == c].mean()) for c in range(len(mix.means)) if bool((s.labels == c).any())]
    return {"label_accuracy": float(hits.mean()), "label_accuracy_min": min(per_mode)}


@metric("w1", "points", "exact Wasserstein-1 distance to data samples (optimal transport, POT)")
def _w1(s: Samples) -> dict[str, float]:
    return {"w1": wasserstein1(s.fake, s.real)}


@metric("grid", "points", "KL both ways and JS on a 300 x 300 grid: data density vs a KDE of the samples",
        needs="mixture")
def _grid(s: Samples) -> dict[str, float]:
    mix = s.mixture()
    # A KDE with bandwidth h estimates the density convolved with N(0, h^2 I), so it is compared with
    # the data density convolved the same way (a mixture with std sqrt(std^2 + h^2)): the smoothing
    # is on both sides and real samples score near 0. h = 2 std keeps the modes apart.
    h = 2 * mix.std
    smoothed = toy2d.GaussianMixture(mix.means, math.sqrt(mix.std**2 + h**2))
    reach = float(mix.means.abs().max()) + 0.5
    return grid.grid_divergences(s.fake, smoothed.log_prob, bounds=(-reach, reach, -reach, reach), n=300,
                                 bandwidth=h)


# ---------------------------------------------------------------------------- the entry point


def evaluable(data: str) -> Dataset:
    """The registry entry of a data set `evaluate` can score (a reference split, and for images a feature network).

    Raises:
        GankitError: unknown or not evaluable; the message lists the evaluable data sets.
    """
    if data not in DATASETS or not DATASETS.get(data).evaluable:
        raise GankitError(f"unknown evaluation data {data!r}; valid choices: {', '.join(evaluable_datasets())} "
                          "(data sets registered with a reference split and, for images, a feature network; the "
                          f"image metrics' feature networks: {', '.join(features.CLASSIFIERS)})")
    return DATASETS.get(data)


def evaluate(samples: np.ndarray | torch.Tensor, data: str, *, metrics: list[str] | None = None,
             root: str | Path | None = None, download: bool = False, baseline: bool = True,
             seed: int = 0, labels: np.ndarray | torch.Tensor | None = None, cache: bool = True,
             progress: bool | None = False) -> dict:
    """Score generated samples: images (N, 1, 28, 28) in [0, 1] or points (N, 2) in data units.
    `labels` (N,): the class each sample was drawn for (conditional samples), for `label_accuracy`.
    `cache`: take real images' feature statistics from the reference cache (metrics/reference.py); False
    computes them afresh (same figures, to float rounding). `progress`: bars on stderr while features are
    extracted (the slow part, ~a minute for 10,000 images and the baseline); None shows them on a terminal only.

    Returns {"metrics": {...}, "baseline": {...} (real vs real at the same N), "protocol": {...}}.
    """
    entry = evaluable(data)
    fake = torch.as_tensor(np.asarray(samples), dtype=torch.float32)
    kind, shape = entry.kind, entry.shape
    if fake.ndim != len(shape) + 1 or tuple(fake.shape[1:]) != shape or len(fake) < 10:
        raise GankitError(f"samples for {data!r} must have shape (N, {', '.join(map(str, shape))}) with N >= 10, "
                          f"got {tuple(fake.shape)}")
    if not torch.isfinite(fake).all():
        raise GankitError("samples contain NaN or Inf")
    y = _check_labels(labels, len(fake), entry.num_classes or 0)
    names = metrics or [m for m in METRICS.names() if METRICS.get(m).kind == kind
                        and (m not in LABEL_METRICS or y is not None) and _has(entry, METRICS.get(m).needs)]
    _check_metrics(data, entry, names, "")
    if set(names) & set(LABEL_METRICS) and y is None:
        needs = sorted(set(names) & set(LABEL_METRICS))[0]
        raise GankitError(f"metric {needs!r} needs the class each sample was drawn for: pass labels "
                          "(gankit evaluate: a conditional RUN, or SAMPLES.npy with SAMPLES-labels.npy beside it)")
    if kind == "points":
        fake = fake[:POINTS_N]  # the VEEGAN / PacGAN protocol: 2,500 samples (exact OT stays fast)
        y = None if y is None else y[:POINTS_N]
    ref = entry.reference(data, root=root, download=download, seed=seed, n=POINTS_N)
    protocol = {"data": data, "n_fake": len(fake), "n_real": ref.n, "reference": ref.description, "metrics": names}
    if kind == "image":
        meta = features.classifier_meta(entry.extractor)
        protocol["extractor"] = (f"gankit {meta.get('dataset', data)} classifier, test accuracy "
                                 f"{100 * meta['test_accuracy']:.2f}%")
        if ref.valid:
            protocol["parzen"] = "sigma from logspace(-1, 0, 10) on train[50000:51000], scored on test"
    result = {"protocol": protocol, "metrics": _run(names, Samples(data, fake, ref, y, cache=cache, progress=progress))}
    if baseline and ref.baseline is not None:  # real training samples, with their true labels
        base, base_labels = ref.baseline()
        n = len(fake)
        result["baseline"] = _run(names, Samples(data, base[:n], ref, base_labels[:n], fake_split=ref.baseline_split,
                                                 cache=cache, progress=progress))
    return result


def load_npy(path: str | Path, what: str, *, kinds: str = "iuf") -> np.ndarray:
    """A .npy file as a plain numeric array, read without unpickling anything (`allow_pickle=False`).

    Memory-mapped first, so a header that claims more data than the file holds fails before anything is
    allocated; `kinds` are the numpy dtype kinds accepted ("iuf": integers and real floats; "iu": integers).

    Raises:
        GankitError: unreadable, not a .npy file (random bytes, truncated, an .npz), or an object, string,
            complex, boolean or structured dtype.
    """
    path = Path(path)
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as e:  # object arrays (pickles), bad headers, a body shorter than the header says
        if "pickle" in str(e).lower() or "object" in str(e).lower():
            raise GankitError(f"{what} {str(path)!r} holds Python objects (dtype object), which gankit never "
                              "unpickles; save a numeric array") from None
        raise GankitError(f"{what} {str(path)!r} is not a readable .npy file ({_first_line(e)})") from None
    except (OSError, EOFError, SyntaxError, TypeError) as e:
        raise GankitError(f"{what} {str(path)!r} is not a readable .npy file ({_first_line(e)})") from None
    if not isinstance(array, np.ndarray):  # np.load hands back an NpzFile for a zip archive
        raise GankitError(f"{what} {str(path)!r} is an .npz archive, not one .npy array")
    allowed = {"i": "signed integers", "u": "unsigned integers", "f": "real floats"}
    if array.dtype.kind not in kinds:
        raise GankitError(f"{what} {str(path)!r} has dtype {array.dtype}; allowed: "
                          f"{', '.join(allowed[k] for k in kinds)}")
    try:
        return np.array(array)  # off the memory map: the file may be changed after this
    except (OSError, ValueError) as e:
        raise GankitError(f"{what} {str(path)!r} cannot be read ({_first_line(e)})") from None


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _has(entry: Dataset, needs: str | None) -> bool:
    return needs is None or getattr(entry, needs) is not None


def _check_metrics(data: str, entry: Dataset, names: list[str], where: str) -> None:
    for name in names:
        m = METRICS.get(name)
        if m.kind != entry.kind:
            raise GankitError(f"{where}metric {name!r} is for {m.kind} data, not {data!r}")
        if not _has(entry, m.needs):
            raise GankitError(f"{where}metric {name!r} needs the data set's {m.needs}, which {data!r} does not have")


def _check_labels(labels, n: int, classes: int) -> torch.Tensor | None:
    if labels is None:
        return None
    y = torch.as_tensor(np.asarray(labels))
    if y.shape != (n,) or y.is_floating_point() or y.is_complex():
        raise GankitError(f"labels must be {n} integers, one per sample; got {y.dtype} of shape {tuple(y.shape)}")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise GankitError(f"labels must be classes 0..{classes - 1}, got values from {int(y.min())} to {int(y.max())}")
    return y.long()


TRAINING_DEFAULTS = {"points": ["modes", "w1"], "image": ["fd", "classes"]}


def check_training_eval(data: str, metrics: list[str], n: int) -> None:
    """Validate train.eval_* at config time, so a bad name fails before training starts."""
    if data not in DATASETS or not DATASETS.get(data).evaluable:
        raise GankitError(f"train.eval_every needs data that gankit can evaluate ({', '.join(evaluable_datasets())}); "
                          f"the run trains on {data!r}")
    _check_metrics(data, DATASETS.get(data), metrics, "train.eval_metrics: ")
    if n < 10:
        raise GankitError(f"train.eval_n must be at least 10, got {n}")


def evaluate_generator(G: torch.nn.Module, cfg, *, seed: int = 0, cache: bool = True) -> dict[str, float]:
    """Metrics of a generator during training, as `eval/<name>` scalars (no baseline, fixed latents).
    A conditional G (with `num_classes`) is asked for every class in turn: labels i mod num_classes.
    With `cache`, the real images' statistics are computed once (metrics/reference.py), so an evaluation
    costs the generated samples only."""
    from gankit.data import to_pixels
    from gankit.models import sample_z

    t, kind = cfg.train, DATASETS.get(cfg.data.name).kind
    device = next(G.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    num_classes = getattr(G, "num_classes", 0)

    def draw(idx: torch.Tensor) -> torch.Tensor:
        z = sample_z(len(idx), cfg.model, generator=generator)
        return (G(z) if not num_classes else G(z, idx.to(device) % num_classes)).float()

    was_training = G.training
    G.eval()
    with torch.no_grad():
        x = torch.cat([draw(idx) for idx in torch.arange(t.eval_n).split(1000)])
    G.train(was_training)
    if kind == "image":
        x = to_pixels(x, cfg.data.pixel_range)
    labels = torch.arange(t.eval_n) % num_classes if num_classes else None
    names = t.eval_metrics or TRAINING_DEFAULTS[kind] + ([LABEL_METRICS[kind == "points"]] if num_classes else [])
    result = evaluate(x.cpu(), cfg.data.name, metrics=names, labels=labels, root=cfg.data.root,
                      download=cfg.data.download, baseline=False, cache=cache)
    return {f"eval/{k}": v for k, v in result["metrics"].items()}


def _run(names: list[str], s: Samples) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in names:
        out.update({k: float(v) for k, v in METRICS.get(name).fn(s).items()})
    return out


def report(result: dict, *, title: str) -> str:
    """A Markdown report: one row per figure, with the baseline beside it, then the protocol."""
    lines = [f"# {title}", "", "| metric | samples | real vs real |", "| --- | --- | --- |"]
    base = result.get("baseline", {})
    for key, value in result["metrics"].items():
        lines.append(f"| {key} | {value:.4g} | {base[key]:.4g} |" if key in base else f"| {key} | {value:.4g} | |")
    lines += ["", "Protocol:", ""] + [f"- {k}: {v}" for k, v in result["protocol"].items()]
    return "\n".join(lines) + "\n"
