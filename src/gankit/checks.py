"""The whole validation of a config: the schema's own range checks (config.py), then each
registry's check of the names in its section. It sits above the registries, so config.py need not.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from gankit import memory
from gankit.config import Config, check_config, read_config
from gankit.data import DATASETS
from gankit.metrics.evaluate import check_training_eval
from gankit.models import build_models, check_model_config
from gankit.objectives import check_objective_config


def validate(cfg: Config) -> None:
    """Raise a `GankitError` for the first bad value in `cfg`: ranges first, then registered names."""
    check_config(cfg)
    DATASETS.get(cfg.data.name)  # data/ has no check of its own: its section names one dataset
    check_model_config(cfg.model)
    check_objective_config(cfg.objective)
    if cfg.train.eval_every:
        check_training_eval(cfg.data.name, cfg.train.eval_metrics, cfg.train.eval_n)
    check_memory(cfg)


def sample_shape(cfg: Config) -> tuple[int, ...]:
    """One sample's shape: the data set's own, else what the config makes it (images) or 2D points."""
    entry = DATASETS.get(cfg.data.name)
    if entry.shape:
        return tuple(entry.shape)
    if entry.kind == "image":
        return (cfg.data.channels, cfg.data.image_size, cfg.data.image_size)
    return (2,)


def check_memory(cfg: Config) -> None:
    """Refuse, before anything is allocated, a config whose networks or batches cannot fit in the machine's
    memory (gankit/memory.py): first a bound from the sizes alone (cheap, and safe for sizes that would
    overflow torch's), then the networks' exact parameter count, built on the meta device (no memory)."""
    m, t = cfg.model, cfg.train
    shape = sample_shape(cfg)
    numel = math.prod(shape)
    classes = DATASETS.get(cfg.data.name).num_classes or 10  # None: labels set by the file; 10 is a guess
    g_widths = [m.z_dim, *m.g_hidden, numel]
    d_widths = [numel, *m.d_hidden, 1]
    parameters = memory.chain_parameters(g_widths) + memory.chain_parameters(d_widths)
    if m.cond != "none":
        parameters += classes * m.embed_dim
    widest = max(*g_widths, *d_widths, m.embed_dim if m.cond != "none" else 1)
    layers = len(g_widths) + len(d_widths)
    batch = max(t.batch_size, t.grid_size)  # the sample grid is drawn in one batch
    what = (f"this config (train.batch_size={t.batch_size}, model.z_dim={m.z_dim}, model.g_hidden={m.g_hidden}, "
            f"model.d_hidden={m.d_hidden}, sample shape {shape})")
    estimate = memory.training_bytes(parameters, batch, widest, layers)
    estimate += memory.samples_bytes(t.eval_n if t.eval_every else 0, shape)
    memory.check_fits(estimate, what)
    networks = _meta_networks(cfg, shape, classes)
    if networks is not None:  # the family's own widths (model.g_hidden = [] means them) and kernels
        parameters, width, weights = networks
        memory.check_fits(memory.training_bytes(parameters, batch, max(widest, width), max(layers, weights)), what)


def _meta_networks(cfg: Config, shape: tuple[int, ...], classes: int) -> tuple[int, int, int] | None:
    """G and D built on the meta device (shapes only, no memory): their parameter count, the widest activation
    per sample and the number of weight tensors; None where a family cannot be built there (then the bound
    from the sizes stands). A conv net's channels double as its resolution halves, so its activations are
    bounded by the narrowest conv's channels at the full resolution."""
    try:
        with torch.device("meta"):
            G, D = build_models(cfg.model, shape, classes if cfg.model.cond != "none" else 0)
    except Exception:  # noqa: BLE001 - a plugin family may not build on meta; the estimate is only a guard
        return None
    params = [p for net in (G, D) for p in net.parameters()]
    weights = [p for p in params if p.dim() >= 2]
    widest = max((max(p.shape[:2]) for p in weights), default=1)
    convs = [max(p.shape[:2]) for p in weights if p.dim() == 4]  # (out, in, k, k), or (in, out, k, k) transposed
    if convs:
        widest = max(widest, min(convs) * math.prod(shape[1:]))
    return sum(p.numel() for p in params), widest, len(weights)


def load_config(preset: str | None = None, file: str | Path | None = None,
                overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Resolve a config (defaults <- preset or file <- `section.key=value` overrides) and validate it,
    names included: an unknown dataset, model or objective is a `GankitError` listing the valid ones."""
    cfg = read_config(preset, file, overrides)
    validate(cfg)
    return cfg
