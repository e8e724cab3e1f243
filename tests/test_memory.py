"""Memory estimates made before allocating (gankit/memory.py) and the config check built on them."""

import pytest
import torch

from gankit import memory
from gankit.checks import _meta_networks, sample_shape, validate
from gankit.config import preset_names, read_config
from gankit.data import DATASETS
from gankit.errors import GankitError
from gankit.models import build_models


def test_total_memory_is_the_machines():
    with open("/proc/meminfo") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    assert memory.total_memory() == kib * 1024


def test_check_fits_names_the_estimate_and_the_memory(monkeypatch):
    monkeypatch.setattr(memory, "total_memory", lambda: 2**30)
    memory.check_fits(2**29, "half")
    with pytest.raises(GankitError, match=r"^twice needs about 2 GiB, more than this machine's 1 GiB of memory$"):
        memory.check_fits(2**31, "twice")


@pytest.mark.parametrize("override, named", [("train.batch_size=1000000000000", "train.batch_size=1000000000000"),
                                             ("model.z_dim=1000000000000", "model.z_dim=1000000000000"),
                                             ("model.g_hidden=1000000,1000000", "model.g_hidden=[1000000, 1000000]"),
                                             # the family's own widths (3 x 128) at a batch of 10^8
                                             ("train.batch_size=100000000", "train.batch_size=100000000")])
def test_a_config_that_cannot_fit_is_refused_naming_its_sizes(override, named):
    cfg = read_config("ring8-ns", overrides=[override])
    with pytest.raises(GankitError) as e:
        validate(cfg)
    assert named in str(e.value) and "of memory" in str(e.value)


@pytest.mark.parametrize("preset", preset_names())
def test_the_meta_device_count_is_the_real_networks(preset):
    """Every preset fits, and the exact count the check uses (networks built on the meta device, no memory)
    is what training builds."""
    cfg = read_config(preset)
    validate(cfg)
    shape = sample_shape(cfg)
    classes = DATASETS.get(cfg.data.name).num_classes or 10
    G, D = build_models(cfg.model, shape, classes if cfg.model.cond != "none" else 0)
    real = sum(p.numel() for net in (G, D) for p in net.parameters())
    assert _meta_networks(cfg, shape, classes)[0] == real
    assert all(p.device.type == "cpu" for p in G.parameters())
    assert torch.empty(0).device.type == "cpu"  # the meta device did not leak out as the default
