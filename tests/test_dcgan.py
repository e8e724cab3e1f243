"""DCGAN (Radford et al. 2016): shapes for 28x28 and 32x32 images, Tanh range, the paper's init, batch
norm or spectral norm (Miyato et al. 2018) in D, conditioning, and a short training run."""

import re

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gankit import GankitError, load, load_config, sample, train
from gankit.config import ModelConfig
from gankit.models import build_models

SHAPES = [(c, side, side) for side in (28, 32) for c in (1, 3)]


def small(**kw) -> ModelConfig:
    return ModelConfig(name="dcgan", z_dim=16, g_hidden=[8], d_hidden=[8], **kw)


def d_layers(D: nn.Module) -> list[nn.Module]:
    return [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@pytest.mark.parametrize("spectral", [False, True])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_shapes_range_and_projection_parts(shape, spectral):
    torch.manual_seed(0)
    G, D = build_models(small(spectral_norm=spectral), shape)
    fake = G(torch.randn(5, 16) * 10)  # large z: the Tanh output saturates but stays in range
    assert fake.shape == (5, *shape)
    assert fake.min() >= -1 and fake.max() <= 1
    assert D(fake).shape == (5,)
    # What the projection discriminator needs: features (N, F) and a Linear(F, 1) head on them.
    D.eval()  # in training mode every forward moves the spectral norm's power iteration on
    h = D.features(fake)
    assert isinstance(D.head, nn.Linear) and h.shape == (5, D.head.in_features) and D.head.out_features == 1
    assert torch.allclose(D.head(h).squeeze(1), D(fake), atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)], ids=str)
def test_layout_follows_the_base_widths(shape):
    G, D = build_models(ModelConfig(name="dcgan", z_dim=100), shape)
    g_convs = [m.out_channels for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    d_convs = [m.out_channels for m in D.modules() if isinstance(m, nn.Conv2d)]
    # 32: (256, 4, 4) -> 128 -> 64 -> C; 28: (128, 7, 7) -> 64 -> C. D mirrors G.
    assert g_convs == ([128, 64, shape[0]] if shape[1] == 32 else [64, shape[0]])
    assert d_convs == ([64, 128, 256] if shape[1] == 32 else [64, 128])
    G, D = build_models(ModelConfig(name="dcgan", z_dim=100, g_hidden=[8], d_hidden=[16]), shape)
    assert [m.out_channels for m in D.modules() if isinstance(m, nn.Conv2d)][0] == 16
    assert [m.out_channels for m in G.modules() if isinstance(m, nn.ConvTranspose2d)][-2] == 8


def test_paper_initialisation():
    torch.manual_seed(0)
    G, D = build_models(ModelConfig(name="dcgan", z_dim=100), (1, 28, 28))
    weights = torch.cat([m.weight.flatten() for net in (G, D) for m in net.modules()
                         if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))])
    scales = torch.cat([m.weight for net in (G, D) for m in net.modules() if isinstance(m, nn.BatchNorm2d)])
    biases = [m.bias for net in (G, D) for m in net.modules() if getattr(m, "bias", None) is not None]
    assert weights.mean().item() == pytest.approx(0.0, abs=1e-3)
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)  # N(0, 0.02), not torch's default
    assert scales.mean().item() == pytest.approx(1.0, abs=0.01) and scales.std().item() == pytest.approx(0.02, rel=0.2)
    assert biases and all(torch.count_nonzero(b) == 0 for b in biases)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)], ids=str)
def test_batch_norm_in_d_without_spectral_norm(shape):
    _, D = build_models(small(), shape)
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in D.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == len(convs) - 1  # every conv but the input layer (the paper)
    assert not any(parametrize.is_parametrized(m) for m in d_layers(D))


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)], ids=str)
def test_spectral_norm_makes_every_d_layer_1_lipschitz(shape):
    torch.manual_seed(0)
    _, D = build_models(small(spectral_norm=True), shape)
    layers = d_layers(D)
    assert len(layers) == (4 if shape[1] == 32 else 3)  # every conv and the linear head
    assert all(parametrize.is_parametrized(m, "weight") for m in layers)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    x = torch.randn(2, *shape)
    for _ in range(20):  # each training-mode forward is one more power iteration
        D(x)
    D.eval()
    with torch.no_grad():
        for m in layers:
            # The normalised weight, as the layer applies it (a conv as out x (in * k * k)): sigma = 1;
            # the stored, unnormalised one is far from it (N(0, 0.02) entries).
            sigma = torch.linalg.matrix_norm(m.weight.flatten(1), ord=2).item()
            raw = torch.linalg.matrix_norm(m.parametrizations.weight.original.flatten(1), ord=2).item()
            assert sigma == pytest.approx(1.0, abs=0.02), m
            assert abs(raw - 1) > 0.2


@pytest.mark.parametrize("spectral", [False, True])
def test_projection_embedding_is_spectrally_normalised_with_d(spectral):
    torch.manual_seed(0)
    _, D = build_models(small(cond="projection", spectral_norm=spectral), (1, 28, 28), num_classes=10)
    assert parametrize.is_parametrized(D.embed, "weight") == spectral
    x, y = torch.randn(4, 1, 28, 28), torch.arange(4)
    for _ in range(20):  # power iterations
        D(x, y)
    with torch.no_grad():
        # The (10 classes x F) embedding as applied: sigma 1 under spectral norm; its xavier init has
        # sigma about sqrt(6 / (10 + F)) * (sqrt 10 + sqrt F), far above 1 for F in the hundreds.
        sigma = torch.linalg.matrix_norm(D.embed.weight, ord=2).item()
    assert (sigma == pytest.approx(1.0, abs=0.02)) == spectral


@pytest.mark.parametrize("shape", [(1, 64, 64), (1, 28, 32), (784,), (2,), (1, 16, 16)], ids=str)
def test_other_shapes_are_a_user_error_naming_the_supported_sizes(shape):
    with pytest.raises(GankitError, match=re.escape("(C, 28, 28) or (C, 32, 32)") + ".*" + re.escape(repr(shape))):
        build_models(small(), shape)


@pytest.mark.parametrize("spectral", [False, True])
@pytest.mark.parametrize("cond", ["concat", "embed", "projection"])
def test_conditional_dcgan(cond, spectral):
    torch.manual_seed(0)
    G, D = build_models(small(cond=cond, spectral_norm=spectral), (1, 28, 28), num_classes=10)
    z, y = torch.randn(6, 16), torch.arange(6)
    fake = G(z, y)
    assert fake.shape == (6, 1, 28, 28)
    assert D(fake, y).shape == (6,)
    if cond == "concat":  # the label maps are stacked on the image: D's first conv reads 1 + 10 channels
        assert next(m for m in D.modules() if isinstance(m, nn.Conv2d)).in_channels == 11
    G.eval(), D.eval()  # batch norm on running statistics: each sample's output depends on its own y only
    with torch.no_grad():
        assert not torch.allclose(G(z, y), G(z, (y + 1) % 10))
        out, other = D(fake, y), D(fake, (y + 1) % 10)
    assert (out - other).abs().min() > 1e-6  # every sample's logit moves with its label


@pytest.mark.parametrize("spectral", [False, True])
def test_dcgan_mnist_preset_trains_and_loads(tmp_path, spectral):
    cfg = load_config(preset="dcgan-mnist", overrides=[
        "data.name=mnist-5k", "model.g_hidden=8", "model.d_hidden=8", "train.batch_size=16", "train.steps=3",
        "train.log_every=1", "train.grid_size=4", f"model.spectral_norm={str(spectral).lower()}"])
    run = train(cfg, run_dir=tmp_path / "r", progress=False)
    assert (run / "checkpoint.pt").is_file() and (run / "samples.png").is_file()
    x = sample(load(run), 3, seed=0)  # the weights (with the spectral-norm parametrization) load back
    assert x.shape == (3, 1, 28, 28) and x.min() >= 0 and x.max() <= 1


def test_minibatch_std_appends_the_batch_spread():
    from gankit.models.layers import MinibatchStd
    # Feature values 0 and 2 at every position, half the batch each: the population std is exactly 1
    # everywhere, so the appended map is sqrt(1 + 1e-8) ~ 1; a batch of copies has spread ~sqrt(1e-8) = 1e-4.
    x = torch.cat([torch.zeros(3, 2, 4, 4), torch.full((3, 2, 4, 4), 2.0)])
    out = MinibatchStd()(x)
    assert out.shape == (6, 3, 4, 4) and torch.equal(out[:, :2], x)
    assert torch.allclose(out[:, 2], torch.ones(6, 4, 4))
    assert MinibatchStd()(torch.ones(5, 2, 4, 4))[:, 2].max().item() == pytest.approx(1e-4)


@pytest.mark.parametrize("spectral", [False, True])
def test_a_minibatch_std_d_sees_real_and_fake_batches_apart(spectral):
    from gankit.training.steps import couples_samples
    _, D = build_models(small(spectral_norm=spectral, minibatch_std=True), (1, 28, 28))
    assert couples_samples(D)  # so d_step never concatenates real and fake into one batch for it
    assert not couples_samples(build_models(small(spectral_norm=True), (1, 28, 28))[1])
    D.eval()
    x = torch.randn(8, 1, 28, 28)
    copies = x[:1].expand(8, -1, -1, -1)
    # The first sample's logit changes with the batch around it: D sees the batch's spread.
    assert not torch.allclose(D(x)[0], D(copies)[0], atol=1e-6)
