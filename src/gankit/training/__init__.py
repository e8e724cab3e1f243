"""Training: the loop, one D step and one G step, checkpoints, run directories."""

from gankit.training.loop import train
from gankit.training.rundir import Run, draw_labels, load, sample

__all__ = ["Run", "draw_labels", "load", "sample", "train"]
