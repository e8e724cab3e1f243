"""Test settings: one torch thread per test process (parallel workers share 2 cores), and OpenMP threads
that sleep when idle, as the gankit command sets it (gankit.cli.choose_threading), before torch loads."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

torch.set_num_threads(1)


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory, monkeypatch):
    """Reference statistics (metrics/reference.py) are cached in a temporary folder, never in ~/.cache."""
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
