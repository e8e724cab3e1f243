"""The engine's speed switches change how the steps run, not what they compute: bf16/fp16 autocast with
fp32 losses and fp16 loss scaling, one D pass over real and fake, fused optimizers, channels-last."""

import copy

import pytest
import torch
from torch import nn

from gankit import load, load_config, train
from gankit.config import OptimConfig
from gankit.models import build_models
from gankit.objectives import make_objective
from gankit.training import steps
from gankit.training.game import make_optimizer
from gankit.training.precision import Precision
from gankit.training.steps import couples_samples, d_step, g_step


def pair(name="classic-mlp", shape=(1, 28, 28), seed=0, **kw):
    torch.manual_seed(seed)
    cfg = load_config(overrides=[f"model.name={name}", "model.z_dim=16", *[f"model.{k}={v}" for k, v in kw.items()]])
    G, D = build_models(cfg.model, shape)
    return cfg, G, D


def batch(n=32, shape=(1, 28, 28), seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, *shape, generator=g) * 2 - 1, torch.randn(n, 16, generator=g)


def test_one_pass_over_real_and_fake_gives_the_same_update_as_two(monkeypatch):
    # D without batch norm: D(cat[real, fake]) split in two equals D(real), D(fake) row by row, so the
    # loss, its gradient and the updated weights agree to float rounding.
    cfg, G, D = pair()
    assert not couples_samples(D)
    real, z = batch()
    results = []
    for joint in (True, False):
        D1 = copy.deepcopy(D)
        opt = make_optimizer(D1, cfg.opt_D)
        monkeypatch.setattr(steps, "couples_samples", lambda D, joint=joint: not joint)
        stats = d_step(G, D1, opt, objective=make_objective(cfg.objective), real=real, z=z)
        results.append((stats["loss/D"], torch.cat([p.flatten() for p in D1.parameters()])))
    (loss_a, w_a), (loss_b, w_b) = results
    assert torch.allclose(loss_a, loss_b, atol=1e-6)
    assert torch.allclose(w_a, w_b, atol=1e-6)
    assert not torch.equal(w_a, torch.cat([p.flatten() for p in D.parameters()]))  # the step did update D


def test_batch_norm_discriminators_see_real_and_fake_apart():
    _, _, D = pair("dcgan")
    assert couples_samples(D)  # DCGAN: BN statistics per batch, real and fake never mixed
    _, _, D_sn = pair("dcgan", spectral_norm="true")
    assert not couples_samples(D_sn)
    assert not couples_samples(D.eval())  # running statistics: samples independent


@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_fused_optimizers_match_the_reference_update(name):
    # The fused kernels compute the same update as torch's per-parameter loop (to float rounding).
    layer = nn.Linear(20, 7)
    o = OptimConfig(name=name, lr=1e-2, momentum=0.9)
    fused, ref = copy.deepcopy(layer), copy.deepcopy(layer)
    opt = make_optimizer(fused, o)
    assert opt.defaults.get("fused")
    opt_ref = (torch.optim.Adam(ref.parameters(), lr=1e-2, betas=(0.5, 0.999), foreach=False) if name == "adam"
               else torch.optim.SGD(ref.parameters(), lr=1e-2, momentum=0.9, foreach=False))
    x = torch.randn(16, 20)
    for _ in range(5):
        for net, o_ in ((fused, opt), (ref, opt_ref)):
            o_.zero_grad()
            net(x).pow(2).mean().backward()
            o_.step()
    assert torch.allclose(fused.weight, ref.weight, atol=1e-6)
    assert not torch.allclose(fused.weight, layer.weight, atol=1e-3)


def test_bf16_autocast_runs_half_precision_products_with_fp32_losses():
    cfg, G, D = pair()
    real, z = batch()
    objective = make_objective(cfg.objective)
    losses = {}
    for name in ("fp32", "bf16"):
        D1, G1 = copy.deepcopy(D), copy.deepcopy(G)
        stats = d_step(G1, D1, make_optimizer(D1, cfg.opt_D), objective=objective, real=real, z=z,
                       precision=Precision(name))
        g = g_step(G1, D1, make_optimizer(G1, cfg.opt_G), objective=objective, z=z, precision=Precision(name))
        assert stats["loss/D"].dtype == g["loss/G"].dtype == torch.float32
        assert all(p.dtype == torch.float32 for p in (*G1.parameters(), *D1.parameters()))  # fp32 master weights
        losses[name] = stats["loss/D"].item()
    # bf16 keeps 8 bits of mantissa: the loss (about log 4 = 1.39 at the start) moves by rounding,
    # by far less than 0.05, but it does move (so the products did run in bf16).
    assert losses["fp32"] != losses["bf16"]
    assert losses["fp32"] == pytest.approx(losses["bf16"], abs=0.05)


def test_fp16_loss_scaling_unscales_gradients_and_skips_overflowing_steps():
    cfg, G, D = pair()
    real, z = batch()
    objective = make_objective(cfg.objective)
    # fp32 reference gradient norm of the same step
    D_ref = copy.deepcopy(D)
    ref = d_step(G, D_ref, make_optimizer(D_ref, cfg.opt_D), objective=objective, real=real, z=z)
    fp16 = Precision("fp16")
    # A sane scale: the logged norm is the unscaled one (fp16 products: within a few percent), D moves.
    D1 = copy.deepcopy(D)
    scaler = fp16.scaler()
    assert scaler.is_enabled() and scaler.get_scale() == 65536.0
    stats = d_step(G, D1, make_optimizer(D1, cfg.opt_D), objective=objective, real=real, z=z,
                   precision=fp16, scaler=scaler)
    assert stats["grad/D"].item() == pytest.approx(ref["grad/D"].item(), rel=0.05)
    assert stats["amp/skipped/D"].item() == 0.0
    assert not all(torch.equal(a, b) for a, b in zip(D1.parameters(), D.parameters()))
    # A scale so large that the scaled gradients overflow fp16... and fp32: the step is skipped, nothing
    # changes, the skip is logged (not an Inf alarm) and the scale is halved.
    D2 = copy.deepcopy(D)
    scaler = torch.amp.GradScaler("cpu", init_scale=1e38)
    stats = d_step(G, D2, make_optimizer(D2, cfg.opt_D), objective=objective, real=real, z=z,
                   precision=fp16, scaler=scaler)
    assert stats["amp/skipped/D"].item() == 1.0 and stats["grad/D"].item() == 0.0
    assert all(torch.equal(a, b) for a, b in zip(D2.parameters(), D.parameters()))
    assert scaler.get_scale() == pytest.approx(0.5e38)


def test_fp16_runs_checkpoint_their_loss_scale_and_resume(tmp_path):
    over = ["train.precision=fp16", "train.batch_size=32", "train.log_every=5", "train.ckpt_every=5"]
    run = train(load_config(preset="ring8-ns", overrides=["train.steps=5", *over]), run_dir=tmp_path / "r",
                progress=False)
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["scaler_G"]["scale"] > 0 and state["scaler_D"]["scale"] > 0
    train(load_config(preset="ring8-ns", overrides=["train.steps=10", *over]), run_dir=run, resume=True,
          progress=False)
    assert load(run).step == 10


def test_channels_last_changes_the_layout_not_the_result(tmp_path):
    # The same dcgan run with and without channels-last memory: the weights after 2 steps agree to
    # float rounding (convolution kernels may sum in another order).
    over = ["data.name=mnist-5k", "model.g_hidden=8", "model.d_hidden=8", "train.batch_size=8", "train.steps=2",
            "train.grid_size=4"]
    weights = []
    for flag in ("true", "false"):
        run = train(load_config(preset="dcgan-mnist", overrides=[*over, f"train.channels_last={flag}"]),
                    run_dir=tmp_path / flag, progress=False)
        state = torch.load(run / "checkpoint.pt", weights_only=True)
        weights.append(torch.cat([v.flatten().float() for v in state["G"].values()]))
    assert torch.allclose(weights[0], weights[1], atol=1e-4)


def test_compiled_training_matches_eager(tmp_path):
    # torch.compile (inductor, ~30 s to compile on one CPU thread) fuses kernels but computes the same
    # steps: 3 generator steps from the same seed give the same weights to float rounding.
    weights = []
    for mode in ("default", "off"):
        cfg = load_config(preset="ring8-ns", overrides=["train.steps=3", "train.batch_size=32", f"train.compile={mode}",
                                                        "train.ema_halflife=0"])
        state = torch.load(train(cfg, run_dir=tmp_path / mode, progress=False) / "checkpoint.pt", weights_only=True)
        weights.append(torch.cat([v.flatten() for v in (*state["G"].values(), *state["D"].values())]))
    assert torch.allclose(weights[0], weights[1], atol=1e-5)
