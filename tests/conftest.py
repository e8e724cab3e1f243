"""Test settings: one torch thread per test process (parallel workers share 2 cores)."""

import torch

torch.set_num_threads(1)


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path_factory, monkeypatch):
    """Reference statistics (metrics/reference.py) are cached in a temporary folder, never in ~/.cache."""
    monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
