"""opt.max_norm: pylearn2's max_col_norm (Goodfellow et al. 2014 code), applied after every update."""

import torch

from gankit.config import OptimConfig
from gankit.training.game import make_optimizer


def test_max_norm_caps_each_units_incoming_weights_after_every_step():
    torch.manual_seed(0)
    layer = torch.nn.Linear(20, 6)
    with torch.no_grad():
        layer.weight.mul_(10)  # rows: 10 x the default init U(-1/sqrt(20), 1/sqrt(20)), norm ~ 5.8
        layer.weight[0] = 0.1  # one row far below the cap: norm 0.1 * sqrt(20) = 0.447
        layer.bias.fill_(10.0)  # a 1-D parameter with norm 24.5: not a unit's weights, left alone
    opt = make_optimizer(layer, OptimConfig(name="sgd", lr=1e-3, max_norm=1.0))
    before = layer.weight[0].clone()
    layer(torch.randn(8, 20)).sum().backward()
    step_delta = 1e-3 * layer.weight.grad[0].clone()
    opt.step()
    norms = layer.weight.norm(dim=1)
    assert torch.all(norms <= 1.0 + 1e-6) and torch.allclose(norms[1:], torch.ones(5), atol=1e-5)
    # the short row only took its SGD step: no rescaling below the cap
    torch.testing.assert_close(layer.weight[0], before - step_delta)
    assert torch.all(layer.bias > 9.9)
    unconstrained = make_optimizer(torch.nn.Linear(20, 6), OptimConfig(name="sgd", lr=1e-3))
    assert not unconstrained._optimizer_step_post_hooks
