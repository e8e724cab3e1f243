"""A contract every registered objective keeps (and every f-divergence under `fgan`): finite losses,
the D step changes only D, the G step changes only G, the same seed gives the same result."""

import copy

import pytest
import torch

from gankit.config import ModelConfig, ObjectiveConfig
from gankit.models import build_models, sample_z
from gankit.objectives import OBJECTIVES, make_objective
from gankit.objectives.fgan import DIVERGENCES
from gankit.training.steps import d_step, g_step

CASES = [ObjectiveConfig(name=n) for n in OBJECTIVES.names() if n != "fgan"]
CASES += [ObjectiveConfig(name="fgan", divergence=d) for d in DIVERGENCES.names()]
CASES += [ObjectiveConfig(name="fgan", divergence="kl", g_form="alternative"),
          ObjectiveConfig(name="ns", r1_gamma=1.0)]


def ids(cfg: ObjectiveConfig) -> str:
    return cfg.name + (f"-{cfg.divergence}-{cfg.g_form}" if cfg.name == "fgan" else "") + (
        "-r1" if cfg.r1_gamma else "")


def one_round(cfg: ObjectiveConfig, seed: int = 0):
    torch.manual_seed(seed)
    G, D = build_models(ModelConfig(name="mlp2d", z_dim=2, g_hidden=[16], d_hidden=[16]), (2,))
    opt_G, opt_D = torch.optim.Adam(G.parameters(), 1e-2), torch.optim.Adam(D.parameters(), 1e-2)
    gen = torch.Generator().manual_seed(seed)
    real = torch.randn(32, 2, generator=gen) + 1
    objective = make_objective(cfg)
    G0, D0 = copy.deepcopy(G.state_dict()), copy.deepcopy(D.state_dict())
    d_stats = d_step(G, D, opt_D, objective=objective, real=real, z=sample_z(32, ModelConfig(z_dim=2), generator=gen))
    G1, D1 = copy.deepcopy(G.state_dict()), copy.deepcopy(D.state_dict())
    g_stats = g_step(G, D, opt_G, objective=objective, z=sample_z(32, ModelConfig(z_dim=2), generator=gen))
    return (G0, D0), (G1, D1), (G.state_dict(), D.state_dict()), {**d_stats, **g_stats}


def changed(a: dict, b: dict) -> bool:
    return any(not torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("cfg", CASES, ids=ids)
def test_objective_contract(cfg):
    (G0, D0), (G1, D1), (G2, D2), stats = one_round(cfg)
    assert all(torch.isfinite(v).all() for v in stats.values()), stats
    assert changed(D0, D1) and not changed(G0, G1)  # the D step moves only D
    assert changed(G1, G2) and not changed(D1, D2)  # the G step moves only G
    again = one_round(cfg)
    assert not changed(G2, again[2][0]) and not changed(D2, again[2][1])  # deterministic under a seed


def test_wgan_clips_every_critic_weight():
    (_, _), (_, D1), _, _ = one_round(ObjectiveConfig(name="wgan", clip=0.01))
    assert all(v.abs().max() <= 0.01 for v in D1.values())
    assert any(v.abs().max() == pytest.approx(0.01) for v in D1.values())  # clipping did bind
