"""Mixed precision and the engine's speed switches (`train.precision`, `train.compile`, `train.channels_last`).

bf16 and fp16 run the networks' forward passes under `torch.autocast` (matrix products in half
precision, reductions and losses in fp32: the objectives get fp32 logits). fp16 has 5 exponent bits, so
small gradients underflow: its backward passes are scaled by a dynamic factor (`torch.amp.GradScaler`,
one per optimizer) that is divided out before the update and lowered whenever a step sees Inf/NaN, which
is then skipped (Micikevicius et al. 2018, "Mixed Precision Training"). bf16 has fp32's exponent range
and needs no scaling. Penalties that differentiate D with respect to its input (R1, gradient penalty)
run in fp32, outside autocast: their double backward is where half precision loses most.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """What `d_step` / `g_step` need for `train.precision`: an autocast context and a loss scaler.

    `Precision("fp32", device)` does nothing (the default of both steps); the same code path serves all three.
    """

    def __init__(self, name: str = "fp32", device: torch.device | str = "cpu"):
        self.name = name
        self.dtype = DTYPES[name]
        self.device_type = torch.device(device).type
        self.scaled = name == "fp16"

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def scaler(self) -> torch.amp.GradScaler:
        """A loss scaler for one optimizer: dynamic for fp16, a pass-through otherwise."""
        return torch.amp.GradScaler(self.device_type, enabled=self.scaled)


FP32 = Precision()


def is_convolutional(module: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d | nn.ConvTranspose2d) for m in module.modules())


def compile_module(module: nn.Module, mode: str) -> nn.Module:
    """torch.compile(module) for `train.compile` = default / reduce-overhead (CUDA graphs on a GPU) /
    max-autotune; the module itself for "off". The compiled wrapper shares the module's parameters, so
    optimizers, EMA and checkpoints keep using the plain module."""
    if mode == "off":
        return module
    return torch.compile(module, mode=None if mode == "default" else mode)
