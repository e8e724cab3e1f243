"""Test settings: one torch thread per test process (parallel workers share 2 cores)."""

import torch

torch.set_num_threads(1)
