"""gankit: train, see, check and measure generative adversarial networks.

The public API mirrors the CLI: `train(config) -> run_dir`, `load(run_dir)`, `sample(run, n)`.
Its names are imported on first use (PEP 562), so `import gankit.cli` loads no torch: the command line
chooses torch's threading behaviour before torch starts (see `gankit.cli.entry`).
"""

import importlib

__all__ = ["Config", "GankitError", "Run", "load", "load_config", "sample", "train"]
__version__ = "0.1.0"

_HOMES = {"Config": "gankit.config", "GankitError": "gankit.errors", "load_config": "gankit.checks",
          "Run": "gankit.training", "load": "gankit.training", "sample": "gankit.training", "train": "gankit.training"}


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'gankit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
