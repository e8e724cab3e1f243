"""The objective contract (tests/test_objective_contract.py) for conditional GANs: every conditioning
mode with every objective (and every f-divergence) gives finite losses, a D step that moves only D, a
G step that moves only G, and the same result under the same seed."""

import copy

import pytest
import torch

from gankit.config import ModelConfig, ObjectiveConfig
from gankit.models import build_models, sample_z
from gankit.models.conditioning import CONDITIONING
from gankit.objectives import OBJECTIVES, make_objective
from gankit.objectives.fgan import DIVERGENCES
from gankit.training.steps import d_step, g_step

OBJECTIVE_CASES = [ObjectiveConfig(name=n) for n in OBJECTIVES.names() if n != "fgan"]
OBJECTIVE_CASES += [ObjectiveConfig(name="fgan", divergence=d) for d in DIVERGENCES.names()]
OBJECTIVE_CASES += [ObjectiveConfig(name="fgan", divergence="kl", g_form="alternative"),
                    ObjectiveConfig(name="ns", r1_gamma=1.0)]
MODES = [c for c in CONDITIONING if c != "none"]
CLASSES = 3


def ids(cfg: ObjectiveConfig) -> str:
    return cfg.name + (f"-{cfg.divergence}-{cfg.g_form}" if cfg.name == "fgan" else "") + (
        "-r1" if cfg.r1_gamma else "")


def one_round(cond: str, cfg: ObjectiveConfig, seed: int = 0):
    torch.manual_seed(seed)
    model = ModelConfig(name="mlp2d", z_dim=2, g_hidden=[16], d_hidden=[16], cond=cond, embed_dim=4)
    G, D = build_models(model, (2,), num_classes=CLASSES)
    opt_G, opt_D = torch.optim.Adam(G.parameters(), 1e-2), torch.optim.Adam(D.parameters(), 1e-2)
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(CLASSES, (32,), generator=gen)
    real = torch.randn(32, 2, generator=gen) + y[:, None].float()  # one cluster per label
    objective = make_objective(cfg)
    G0, D0 = copy.deepcopy(G.state_dict()), copy.deepcopy(D.state_dict())
    d_stats = d_step(G, D, opt_D, objective=objective, real=real, z=sample_z(32, model, generator=gen), y=y)
    G1, D1 = copy.deepcopy(G.state_dict()), copy.deepcopy(D.state_dict())
    g_stats = g_step(G, D, opt_G, objective=objective, z=sample_z(32, model, generator=gen),
                     y=torch.randint(CLASSES, (32,), generator=gen))
    return (G0, D0), (G1, D1), (G.state_dict(), D.state_dict()), {**d_stats, **g_stats}


def changed(a: dict, b: dict) -> bool:
    return any(not torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("cfg", OBJECTIVE_CASES, ids=ids)
@pytest.mark.parametrize("cond", MODES)
def test_every_conditioning_mode_keeps_the_objective_contract(cond, cfg):
    (G0, D0), (G1, D1), (G2, D2), stats = one_round(cond, cfg)
    assert all(torch.isfinite(v).all() for v in stats.values()), stats
    assert changed(D0, D1) and not changed(G0, G1)  # the D step moves only D
    assert changed(G1, G2) and not changed(D1, D2)  # the G step moves only G
    again = one_round(cond, cfg)
    assert not changed(G2, again[2][0]) and not changed(D2, again[2][1])  # deterministic under a seed


@pytest.mark.parametrize("cond", MODES)
def test_the_label_pathways_learn(cond):
    """The label pathway is trained, not just fed: D's label parameters (the weights reading the
    one-hot code, the embedding, the projection vectors) move in the D step, G's in the G step."""
    (_, D0), (G1, D1), (G2, _), _ = one_round(cond, ObjectiveConfig(name="ns"))

    def d_label(state):
        return {"concat": lambda: state["D.body.0.weight"][:, 2:],  # columns after x's 2 coordinates
                "embed": lambda: state["code.embed.weight"], "projection": lambda: state["embed.weight"]}[cond]()

    def g_label(state):
        return state["code.embed.weight"] if cond == "embed" else state["G.body.0.weight"][:, 2:]  # after z

    assert not torch.equal(d_label(D0), d_label(D1))
    assert not torch.equal(g_label(G1), g_label(G2))
