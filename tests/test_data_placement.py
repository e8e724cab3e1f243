"""`data.placement`: a data set on the training device, or in host memory with pinned, non-blocking batch
copies (issue 8). Both give batches of the same data; a host-resident run checkpoints its index stream, so it
resumes bit for bit."""

import pytest
import torch

from gankit import GankitError, load_config, train
from gankit.data import load_dataset
from gankit.data import sets as data_sets
from gankit.training.checkpoint import load_checkpoint


def digits(steps: int, placement: str, *overrides: str):
    """A conditional classic MLP on the 5,000 embedded digits: image data with labels, a second or two."""
    return load_config(preset="classic-mlp-mnist", overrides=[
        "data.name=mnist-5k", f"data.placement={placement}", "model.cond=concat", "model.z_dim=16",
        "model.g_hidden=[32,32]", "model.d_hidden=[32,32]", f"train.steps={steps}", "train.batch_size=32",
        "train.log_every=10", "train.ckpt_every=20", "train.ema_halflife=500", *overrides])


def test_host_placement_draws_the_same_batches_from_the_same_index_stream():
    device_data = load_dataset(digits(1, "device").data).to("cpu", "device")
    host_data = load_dataset(digits(1, "host").data).to("cpu", "host")
    assert device_data.on_device and not host_data.on_device
    a = device_data.sample(64, torch.Generator().manual_seed(5))
    b = host_data.sample(64, torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    # images in [-1, 1] (pixel_range), as float; labels of the digits drawn
    assert a[0].dtype == torch.float32 and a[0].min() >= -1 and a[0].max() <= 1 and a[0].shape == (64, 1, 28, 28)
    assert torch.equal(host_data.sample_labels(8, torch.Generator().manual_seed(2)),
                       device_data.sample_labels(8, torch.Generator().manual_seed(2)))


def test_auto_keeps_a_set_on_the_gpu_only_when_it_fits_in_half_its_free_memory(monkeypatch):
    cuda = torch.device("cuda")
    assert data_sets.fits_on(torch.device("cpu"), 10**15)  # a CPU trains from host memory in any case
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1000, 4000))  # 1,000 bytes free
    assert data_sets.fits_on(cuda, 500) and not data_sets.fits_on(cuda, 501)


def test_a_host_resident_run_resumes_bit_for_bit(tmp_path):
    # The CPU index stream of host data is saved in the checkpoint (rng["index"]); were it re-seeded at
    # resume, the second half would see other batches and the weights would differ.
    full = train(digits(40, "host"), run_dir=tmp_path / "full", progress=False)
    half = train(digits(20, "host"), run_dir=tmp_path / "half", progress=False)
    resumed = train(digits(40, "host"), run_dir=half, resume=True, progress=False)
    a, b = load_checkpoint(full / "checkpoint.pt"), load_checkpoint(resumed / "checkpoint.pt")
    assert "index" in a["rng"] and a["nimg"] == b["nimg"] == 40 * 32
    for net in ("G", "D", "G_ema"):
        for key, value in a[net].items():
            assert torch.equal(value, b[net][key]), f"{net}.{key}"
    # and the index stream is its own: the same run with the data on the device sees other batches
    on_device = load_checkpoint(train(digits(40, "device"), run_dir=tmp_path / "dev", progress=False)
                                / "checkpoint.pt")
    assert "index" not in on_device["rng"]
    assert not torch.equal(on_device["D"]["D.body.0.weight"], a["D"]["D.body.0.weight"])


def test_an_unknown_placement_names_the_choices():
    with pytest.raises(GankitError, match="data.placement 'gpu' is not one of: auto, device, host"):
        digits(1, "gpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_host_batches_reach_the_gpu_equal_to_device_batches():
    device_data = load_dataset(digits(1, "device").data).to("cuda", "device")
    host_data = load_dataset(digits(1, "host").data).to("cuda", "host")
    a = device_data.sample(256, torch.Generator("cuda").manual_seed(3))
    b = host_data.sample(256, torch.Generator("cuda").manual_seed(3))
    assert b[0].device.type == "cuda" and torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
