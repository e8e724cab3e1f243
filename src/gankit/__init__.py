"""gankit: train, see, check and measure generative adversarial networks.

The public API mirrors the CLI: `train(config) -> run_dir`, `load(run_dir)`, `sample(run, n)`.
"""

from gankit.checks import load_config
from gankit.config import Config
from gankit.errors import GankitError
from gankit.training import Run, load, sample, train

__all__ = ["Config", "GankitError", "Run", "load", "load_config", "sample", "train"]
__version__ = "0.1.0"
