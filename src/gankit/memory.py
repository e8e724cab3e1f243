"""Memory estimates made before allocating, so a size that cannot fit (a batch of 10^9, a width of 10^12) is a
`GankitError` naming the estimate and the machine's memory instead of a MemoryError, a crash or a swap storm.

The estimates are order-of-magnitude bounds, not accounting: parameters x 4 bytes x 4 (weights, gradients and
Adam's two moments), plus activations batch x widest layer x layers x 4 bytes x 2 (kept for the backward pass).
"""

from __future__ import annotations

import math
import os

from gankit.errors import GankitError

FLOAT = 4  # bytes of a float32
TRAIN_COPIES = 4  # weights, gradients, Adam's first and second moments
ACTIVATION_COPIES = 2  # the forward activations and their gradients


def total_memory() -> int:
    """The machine's memory in bytes: MemTotal of /proc/meminfo, else the page count from sysconf."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return 1 << 40  # unknown: assume 1 TiB, so only absurd sizes are refused


def human(n: float) -> str:
    """Bytes as '3.2 GiB'; astronomically large numbers as powers of ten."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024:
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n * 1024**5:.2e} B"


def check_fits(estimate: float, what: str) -> None:
    """A `GankitError` when `estimate` bytes exceed the machine's memory."""
    total = total_memory()
    if estimate > total:
        raise GankitError(f"{what} needs about {human(estimate)}, more than this machine's {human(total)} of memory")


def chain_parameters(widths: list[int]) -> int:
    """Weights and biases of fully connected layers widths[0] -> widths[1] -> ...: a lower bound for any
    family that maps these sizes into each other (a conv net's kernels only add to it)."""
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


def training_bytes(parameters: int, batch: int, widest: int, layers: int) -> int:
    """Training memory: parameters with gradients and optimizer state, and activations of one batch."""
    return parameters * FLOAT * TRAIN_COPIES + batch * widest * layers * FLOAT * ACTIVATION_COPIES


def samples_bytes(n: int, sample_shape: tuple[int, ...], copies: int = 3) -> int:
    """n float32 samples of `sample_shape`, `copies` times (the batches, their concatenation, the array)."""
    return n * math.prod(sample_shape) * FLOAT * copies
