"""The whole validation of a config: the schema's own range checks (config.py), then each
registry's check of the names in its section. It sits above the registries, so config.py need not.
"""

from __future__ import annotations

from pathlib import Path

from gankit.config import Config, check_config, read_config
from gankit.data import DATASETS
from gankit.metrics.evaluate import check_training_eval
from gankit.models import check_model_config
from gankit.objectives import check_objective_config


def validate(cfg: Config) -> None:
    """Raise a `GankitError` for the first bad value in `cfg`: ranges first, then registered names."""
    check_config(cfg)
    DATASETS.get(cfg.data.name)  # data/ has no check of its own: its section names one dataset
    check_model_config(cfg.model)
    check_objective_config(cfg.objective)
    if cfg.train.eval_every:
        check_training_eval(cfg.data.name, cfg.train.eval_metrics, cfg.train.eval_n)


def load_config(preset: str | None = None, file: str | Path | None = None,
                overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Resolve a config (defaults <- preset or file <- `section.key=value` overrides) and validate it,
    names included: an unknown dataset, model or objective is a `GankitError` listing the valid ones."""
    cfg = read_config(preset, file, overrides)
    validate(cfg)
    return cfg
