"""All distributed code (DESIGN principle 6, after EDM's torch_utils/distributed.py): one process is
world size 1 and goes through the same calls, which then do nothing. Processes are launched by
torchrun, which sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; gloo on the CPU,
NCCL on CUDA. G and D are wrapped in DistributedDataParallel separately (see `wrap`).
"""

from __future__ import annotations

import ctypes  # imported here, not in die_with_parent: it runs between fork and exec
import os
import signal
import subprocess
import sys
from typing import NoReturn

import torch
import torch.distributed as td
from torch import nn

from gankit.errors import GankitError


def world_size() -> int:
    return td.get_world_size() if td.is_available() and td.is_initialized() else 1


def rank() -> int:
    return td.get_rank() if td.is_available() and td.is_initialized() else 0


def under_torchrun() -> bool:
    """Whether this process is one of several ranks torchrun started (it sets WORLD_SIZE for them)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: torch.device) -> tuple[torch.device, bool]:
    """Join the process group torchrun describes, if any, and choose this rank's device (cuda:LOCAL_RANK
    on GPUs). Returns the device and whether this call started the group (and so must end it)."""
    if not under_torchrun() or td.is_initialized():
        return device, False
    die_with_parent()  # torchrun killed (or its launcher): this rank stops too
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    td.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device, True


def shutdown(started: bool) -> None:
    if started and td.is_initialized():
        td.destroy_process_group()


def exit_worker(code: int) -> NoReturn:
    """End this torchrun worker now, without the interpreter's teardown, as multiprocessing's children end.

    After the last collective, gloo's worker thread may still be releasing that collective's tensors, which
    takes the GIL; once the main thread has begun finalising Python, the thread is stopped inside C++ and
    the process aborts ("terminate called without an active exception", SIGABRT) after a finished run
    (ProcessGroupGloo::runLoop -> ~AsyncBarrierWork -> TensorImpl::decref_pyobject -> take_gil). Files are
    closed by now."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def local_batch(batch_size: int) -> int:
    """This rank's share of the global batch `train.batch_size`."""
    world = world_size()
    if batch_size % world:
        raise GankitError(f"train.batch_size {batch_size} is the global batch and must divide by the world size "
                          f"{world}; choose a multiple of {world}, e.g. {world * max(batch_size // world, 1)}")
    return batch_size // world


def rank_seed(seed: int) -> int:
    """Seed of this rank's data and latent stream; rank 0 keeps `seed` (a one-process run is unchanged)."""
    return seed + 100_003 * rank()


def wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """DistributedDataParallel around `module` (rank 0's weights are copied to every rank), or the module
    itself in one process. The training step updates a network through its wrapper, whose backward
    averages gradients over ranks; it calls the other network's plain module (`steps.py`): D's wrapper
    in the G step would wait for D gradients that the frozen D never produces."""
    if world_size() == 1:
        return module
    return nn.parallel.DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def barrier() -> None:
    """Wait until every rank arrives here (nothing to wait for in one process)."""
    if world_size() > 1:
        td.barrier()


def mean(values: list[torch.Tensor]) -> list[torch.Tensor]:
    """The mean over ranks of each scalar tensor, in one all-reduce."""
    if world_size() == 1 or not values:
        return values
    stacked = torch.stack([v.float() for v in values])
    td.all_reduce(stacked)
    return list(stacked / world_size())


def minimum(value: torch.Tensor) -> torch.Tensor:
    """The elementwise minimum over ranks."""
    if world_size() > 1:
        value = value.clone()
        td.all_reduce(value, op=td.ReduceOp.MIN)
    return value


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when it is true on one (decisions every rank must take together)."""
    if world_size() == 1:
        return flag
    t = torch.tensor([int(flag)], device=device)
    td.all_reduce(t, op=td.ReduceOp.MAX)
    return bool(t.item())


def broadcast(obj):
    """Rank 0's `obj` on every rank (a picklable object)."""
    if world_size() == 1:
        return obj
    box = [obj]
    td.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj) -> list:
    """Every rank's `obj`, in rank order, on every rank."""
    if world_size() == 1:
        return [obj]
    out = [None] * world_size()
    td.all_gather_object(out, obj)
    return out


@torch.no_grad()
def check_consistency(*modules: nn.Module) -> None:
    """Raise if any parameter differs between ranks, bit for bit (run at checkpoints: DDP keeps the ranks
    equal by construction, and this shows it; after StyleGAN3's check_ddp_consistency). Buffers are left
    out: batch-norm running statistics follow each rank's own batches between DDP's broadcasts."""
    if world_size() == 1:
        return
    differ = []
    for module in modules:
        for name, t in module.named_parameters():
            other = t.detach().clone()
            td.broadcast(other, src=0)
            if not torch.equal(other, t):
                differ.append(name)
    device = next(modules[0].parameters()).device
    if any_rank(bool(differ), device):
        raise RuntimeError(f"rank {rank()}: weights differ from rank 0 ({', '.join(differ[:3]) or 'on another rank'})")


def launch(nproc: int, argv: list[str], run_dir: str) -> int:
    """`gankit ARGV` in `nproc` processes on this machine, through torchrun (`python -m torch.distributed.run`),
    training into `run_dir`. torchrun dies with this process, and the ranks with torchrun (`die_with_parent`),
    so killing the launcher leaves no rank training on detached. When a rank fails, the output ends with one
    line naming the run and the command that continues it."""
    if nproc < 1:
        raise GankitError(f"--nproc must be at least 1, got {nproc}")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "gankit", *argv]
    code = subprocess.run(cmd, preexec_fn=die_with_parent).returncode
    if code not in (0, 2, 3):  # 2: a user mistake, 3: a NaN/Inf alarm; each rank has printed why
        resume = f"gankit train --resume {run_dir} --nproc {nproc}"
        print(f"gankit: error: a training process failed (torchrun exit {code}); {run_dir} keeps its last "
              f"checkpoint; continue with: {resume}", file=sys.stderr)
    return code


def die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent dies (prctl PR_SET_PDEATHSIG); nothing elsewhere.
    Called in torchrun's process before it starts, and by every rank at `init`."""
    if not sys.platform.startswith("linux"):
        return
    PR_SET_PDEATHSIG = 1
    parent = os.getppid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # no glibc: the ranks stop at their next collective instead
        return
    if os.getppid() != parent:  # the parent died before the request: act on it now
        os.kill(os.getpid(), signal.SIGTERM)
