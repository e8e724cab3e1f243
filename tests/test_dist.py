"""DistributedDataParallel with 2 gloo processes on the CPU: the DDP step equals the full-batch step,
both ranks hold identical weights, the loop trains and resumes exactly, and `gankit train --nproc`."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import torch.distributed as td
import torch.multiprocessing as mp

from gankit import load_config, train
from gankit.cli import main
from gankit.data import toy2d
from gankit.models import build_models, sample_z
from gankit.objectives import make_objective
from gankit.training import dist
from gankit.training.checkpoint import load_checkpoint
from gankit.training.game import make_optimizer
from gankit.training.steps import d_step, g_step

WORLD, BATCH, STEPS = 2, 64, 3


def setup(objective: str = "ns"):
    """Same G, D, SGD optimizers and global batches in every process (SGD: the update is linear in
    the gradient, so the comparison below measures the gradient itself)."""
    cfg = load_config(preset="ring8-ns", overrides=["opt_G.name=sgd", "opt_D.name=sgd", "opt_G.lr=0.05",
                                                    "opt_D.lr=0.05", f"objective.name={objective}"])
    torch.manual_seed(0)
    G, D = build_models(cfg.model, (2,))
    gen = torch.Generator().manual_seed(1)
    ring = toy2d.ring8()
    batches = [(ring.sample(BATCH, gen)[0], sample_z(BATCH, cfg.model, generator=gen),
                sample_z(BATCH, cfg.model, generator=gen)) for _ in range(STEPS)]
    return G, D, make_optimizer(G, cfg.opt_G), make_optimizer(D, cfg.opt_D), make_objective(cfg.objective), batches


def run_steps(G, D, G_step, D_step, opt_G, opt_D, objective, batches, rows: slice) -> None:
    for real, z_d, z_g in batches:
        d_step(G, D_step, opt_D, objective=objective, real=real[rows], z=z_d[rows])
        g_step(G_step, D, opt_G, objective=objective, z=z_g[rows])


def worker(rank: int, init_file: str, out: str) -> None:
    """Both parts in one pair of processes (starting them is most of the time)."""
    torch.set_num_threads(1)
    td.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        step_part(rank, out)
        loop_part(out)
    finally:
        td.destroy_process_group()


@pytest.fixture(scope="module")
def spawned(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    mp.spawn(worker, args=(str(out / "init"), str(out)), nprocs=WORLD, join=True)
    return out


def step_part(rank: int, out: str) -> None:
    """DDP steps on each rank's half of the global batches; check_consistency; the gradient penalty."""
    G, D, opt_G, opt_D, objective, batches = setup()
    cpu = torch.device("cpu")
    n = BATCH // WORLD  # each rank: its half of every global batch
    run_steps(G, D, dist.wrap(G, cpu), dist.wrap(D, cpu), opt_G, opt_D, objective, batches,
              slice(rank * n, (rank + 1) * n))
    torch.save({"G": G.state_dict(), "D": D.state_dict()}, f"{out}/rank{rank}.pt")
    dist.check_consistency(G, D)  # passes: the ranks agree bit for bit
    if rank == 1:
        with torch.no_grad():
            next(D.parameters()).view(-1)[0] += 1e-3
    try:
        dist.check_consistency(G, D)
        caught = False
    except RuntimeError:
        caught = True
    # the gradient penalty (a double backward through D's wrapper) trains under DDP too
    G, D, opt_G, opt_D, objective, batches = setup("wgan-gp")
    run_steps(G, D, dist.wrap(G, cpu), dist.wrap(D, cpu), opt_G, opt_D, objective, batches,
              slice(rank * n, (rank + 1) * n))
    dist.check_consistency(G, D)
    torch.save({"caught": caught}, f"{out}/caught{rank}.pt")


def test_ddp_step_equals_the_full_batch_step_and_ranks_agree(spawned):
    tmp_path = spawned
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD))
    G, D, opt_G, opt_D, objective, batches = setup()
    start = {k: v.clone() for k, v in [*G.state_dict().items(), *D.state_dict().items()]}
    run_steps(G, D, G, D, opt_G, opt_D, objective, batches, slice(None))  # one process, the global batch
    full = {**G.state_dict(), **D.state_dict()}
    G, D, opt_G, opt_D, objective, batches = setup()
    run_steps(G, D, G, D, opt_G, opt_D, objective, batches, slice(0, BATCH // WORLD))  # rank 0's half alone
    half = {**G.state_dict(), **D.state_dict()}
    ddp = {**rank0["G"], **rank0["D"]}
    for key in full:
        # ranks: identical to the bit (the same averaged gradient, the same update)
        assert torch.equal(ddp[key], {**rank1["G"], **rank1["D"]}[key]), key
        # DDP against one process: each loss is a batch mean, so the mean of the two ranks' gradients
        # is the full-batch gradient; only the float32 summation order differs, |error| <~ log2(64) *
        # 6e-8 * |g| per step, ~1e-7 on the weights after 3 SGD steps of lr 0.05 with |g| ~ 1.
        # 1e-5 leaves a 100x margin (measured: 3e-8).
        assert torch.allclose(ddp[key], full[key], rtol=0, atol=1e-5), (key, (ddp[key] - full[key]).abs().max())
    # the test can fail: the weights moved (measured 5.6e-3) and training on rank 0's half of the batch
    # alone lands elsewhere (measured 1.0e-3), both far outside the tolerance
    moved = max((full[k] - start[k]).abs().max().item() for k in full)
    off = max((half[k] - full[k]).abs().max().item() for k in full)
    assert moved > 1e-3 and off > 1e-4
    assert [torch.load(tmp_path / f"caught{r}.pt")["caught"] for r in range(WORLD)] == [True, True]


def loop_part(out: str) -> None:
    """The training loop in 2 processes: 6 steps then resumed to 9, and 9 straight."""
    def cfg(steps: int):
        return load_config(preset="ring8-ns", overrides=[f"train.steps={steps}", "train.batch_size=64",
                                                         "train.log_every=2", "train.ckpt_every=3", "train.threads=1"])

    train(cfg(6), run_dir=f"{out}/a", progress=False)  # check_consistency at every checkpoint
    train(cfg(9), run_dir=f"{out}/a", resume=True, progress=False)
    train(cfg(9), run_dir=f"{out}/b", progress=False)
    with pytest.raises(Exception, match="must divide by the world size 2"):
        train(load_config(preset="ring8-ns", overrides=["train.batch_size=63"]), run_dir=f"{out}/c")


def test_two_processes_train_and_resume_exactly(spawned):
    tmp_path = spawned
    a, b = load_checkpoint(tmp_path / "a" / "checkpoint.pt"), load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert a["step"] == b["step"] == 9 and a["nimg"] == b["nimg"] == 9 * 64  # nimg counts the global batch
    for net in ("G", "D", "G_ema"):
        for key, value in a[net].items():
            assert torch.equal(value, b[net][key]), f"{net}.{key}"
    assert a["world_size"] == 2 and len(a["rng_ranks"]) == 2
    assert not torch.equal(a["rng_ranks"][0]["data"], a["rng_ranks"][1]["data"])  # each rank its own stream
    steps = [[json.loads(x)["step"] for x in (tmp_path / r / "stats.jsonl").read_text().splitlines()] for r in "ab"]
    assert steps[0] == steps[1] == [2, 4, 6, 8, 9]
    assert not (tmp_path / "c").exists()


def test_gankit_train_nproc_launches_torchrun(tmp_path, capsys, monkeypatch):
    run = tmp_path / "r"
    argv = ["train", "--preset", "ring8-ns", "--steps", "4", "--run-dir", str(run), "--no-progress",
            "--train.batch_size=32", "--train.log_every=2", "--train.threads=1"]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert main([*argv, "--nproc", "2"]) == 0
    state = load_checkpoint(run / "checkpoint.pt")
    assert state["world_size"] == 2 and state["step"] == 4 and state["nimg"] == 4 * 32
    assert main(["train", "--preset", "ring8-ns", "--nproc", "2", "--train.batch_size=63"]) == 2
    assert "must divide by --nproc 2" in capsys.readouterr().err


@pytest.mark.parametrize("world_size", [None, "2"])
def test_a_torchrun_worker_exits_without_python_teardown(world_size, monkeypatch):
    """A rank's exit skips the interpreter's teardown (atexit handlers do not run), where gloo's worker
    thread, still releasing the last collective's tensors, once aborted a finished run (dist.exit_worker);
    a plain process tears down as usual. The exit code passes through either way (2: a missing run)."""
    if world_size:
        monkeypatch.setenv("WORLD_SIZE", world_size)
    else:
        monkeypatch.delenv("WORLD_SIZE", raising=False)
    code = ("import atexit, sys; atexit.register(print, 'teardown'); sys.argv = ['gankit', 'plot', 'no-such-run']; "
            "from gankit.cli import entry; entry()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "'no-such-run' does not exist" in done.stderr
    assert ("teardown" in done.stdout) == (world_size is None)


def _processes_of(run) -> dict[int, str]:
    """pid -> command line of every live process whose command line names `run`."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
                with open(f"/proc/{entry}/stat") as f:
                    zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
            except OSError:
                continue
            if str(run) in cmd and not zombie:
                found[int(entry)] = cmd
    return found


def _start_long_run(run):
    """`gankit train --nproc 2` for far more steps than the test waits, until its first checkpoint exists."""
    argv = [sys.executable, "-m", "gankit", "train", "--preset", "ring8-ns", "--steps", "1000000", "--run-dir",
            str(run), "--no-progress", "--train.batch_size=32", "--train.ckpt_every=20", "--train.threads=1",
            "--nproc", "2"]
    launcher = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 120
    while not (run / "checkpoint.pt").exists():
        assert launcher.poll() is None and time.monotonic() < deadline, "the run never wrote a checkpoint"
        time.sleep(0.2)
    return launcher


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_failed_rank_ends_the_output_with_the_resume_command(tmp_path):
    run = tmp_path / "r"
    launcher = _start_long_run(run)
    try:
        ranks = [pid for pid, cmd in _processes_of(run).items()
                 if "--nproc" not in cmd and "distributed.run" not in cmd]
        assert len(ranks) == 2
        os.kill(ranks[1], signal.SIGKILL)  # one rank dies; torchrun stops the other
        _, err = launcher.communicate(timeout=120)
    finally:
        launcher.kill()
    last = err.strip().splitlines()[-1]
    assert launcher.returncode not in (0, 2, 3)
    assert last.startswith("gankit: error: a training process failed")
    assert f"continue with: gankit train --resume {run} --nproc 2" in last
    assert load_checkpoint(run / "checkpoint.pt")["step"] >= 20  # and the checkpoint it names is whole


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_the_launcher_leaves_no_rank_training(tmp_path):
    run = tmp_path / "r"
    launcher = _start_long_run(run)
    assert len(_processes_of(run)) >= 4  # gankit, torchrun and two ranks
    launcher.kill()  # SIGKILL: no chance to clean up; torchrun and the ranks must notice on their own
    launcher.wait()
    deadline = time.monotonic() + 60
    while _processes_of(run) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _processes_of(run)
    for pid in left:  # do not leave them running whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert not left, f"still running after the launcher was killed: {left}"
