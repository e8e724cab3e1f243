"""Model families: shapes, output ranges, latent distributions, the maxout layer."""

import functools
import math

import pytest
import torch

from gankit.config import ModelConfig
from gankit.models import MODELS, build_models, family, sample_z
from gankit.models.mlp import Maxout

SHAPES = {"mlp2d": (2,), "classic-mlp": (1, 28, 28), "goodfellow2014": (1, 28, 28), "wgan-mlp": (1, 28, 28),
          "gulrajani2017-conv": (1, 28, 28), "dcgan": (1, 28, 28), "mirza2014": (1, 28, 28), "lrelu-mlp": (1, 28, 28)}


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_maps_z_to_data_and_data_to_one_logit(name):
    if family(name).native_cond:  # conditional by construction: G(z, y), D(x, y) (tests/test_conditional.py)
        cfg = ModelConfig(name=name, z_dim=16, cond=family(name).native_cond)
        G, D = build_models(cfg, SHAPES[name], num_classes=10)
        G, D = functools.partial(G, y=torch.arange(5)), functools.partial(D, y=torch.arange(5))
    else:
        cfg = ModelConfig(name=name, z_dim=16)
        G, D = build_models(cfg, SHAPES[name])
    z = sample_z(5, cfg, generator=torch.Generator().manual_seed(0))
    x = G(z)
    assert x.shape == (5, *SHAPES[name])
    assert D(x).shape == (5,)


def test_classic_mlp_layout():
    G, D = build_models(ModelConfig(name="classic-mlp", z_dim=128), (1, 28, 28))
    widths = [m.out_features for m in G.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [256, 512, 784]
    assert [m.out_features for m in D.modules() if isinstance(m, torch.nn.Linear)] == [512, 256, 128, 1]
    assert G(torch.randn(64, 128) * 10).abs().max() <= 1.0  # Tanh output


def test_goodfellow2014_layout_and_sigmoid_output():
    G, D = build_models(ModelConfig(name="goodfellow2014", z_dim=100), (1, 28, 28))
    assert [m.out_features for m in G.modules() if isinstance(m, torch.nn.Linear)] == [1200, 1200, 784]
    maxouts = [m for m in D.modules() if isinstance(m, Maxout)]
    assert [(m.units, m.pieces) for m in maxouts] == [(240, 5), (240, 5)]
    x = G(torch.randn(8, 100))
    assert x.min() >= 0 and x.max() <= 1


def test_maxout_takes_the_max_over_pieces():
    layer = Maxout(2, units=1, pieces=3)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))
        layer.linear.bias.zero_()
    x = torch.tensor([[2.0, 1.0], [-3.0, -4.0]])
    # pieces: (x1, x2, -x1-x2) -> max: 2 and 7
    assert layer(x).squeeze(1).tolist() == [2.0, 7.0]


def test_lrelu_mlp_minibatch_std_feeds_the_batch_spread_to_the_second_layer():
    from gankit.models.layers import MinibatchStd
    from gankit.training.steps import couples_samples
    _, plain = build_models(ModelConfig(name="lrelu-mlp", z_dim=16), (1, 28, 28))
    _, D = build_models(ModelConfig(name="lrelu-mlp", z_dim=16, minibatch_std=True), (1, 28, 28))
    assert not couples_samples(plain) and couples_samples(D)
    assert [m.in_features for m in D.modules() if isinstance(m, torch.nn.Linear)] == [784, 513, 256]
    # On flat features: columns 0 and 2, half the batch each, have population std exactly 1 -> one more column ~1.
    h = torch.cat([torch.zeros(2, 3), torch.full((2, 3), 2.0)])
    assert torch.allclose(MinibatchStd()(h), torch.cat([h, torch.ones(4, 1)], dim=1))
    x = torch.randn(8, 1, 28, 28)
    # The first sample's logit changes with the rest of its batch for D with the layer, not for the plain D.
    assert not torch.allclose(D(x)[0], D(x[:1].expand(8, -1, -1, -1))[0], atol=1e-6)
    assert torch.allclose(plain(x)[0], plain(x[:1].expand(8, -1, -1, -1))[0], atol=1e-6)


def test_uniform_latents_have_unit_variance_on_the_right_support():
    z = sample_z(200000, ModelConfig(z_dim=4, z_dist="uniform"), generator=torch.Generator().manual_seed(0))
    assert z.abs().max() <= math.sqrt(3)
    assert z.var().item() == pytest.approx(1.0, abs=0.01)


def test_gulrajani2017_conv_shapes_and_range():
    G, D = build_models(ModelConfig(name="gulrajani2017-conv", z_dim=128), (1, 28, 28))
    x = G(torch.randn(3, 128))
    assert x.shape == (3, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    from gankit.errors import GankitError

    with pytest.raises(GankitError, match="28x28"):
        build_models(ModelConfig(name="gulrajani2017-conv"), (2,))
