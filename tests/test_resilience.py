"""Never lose a run: numbered checkpoints with a `latest` pointer, --resume without a RUN, kill -9 and
resume to bit-identical weights, and a crash inside a checkpoint write leaves the previous one loadable."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from gankit import fileio, load, load_config, train
from gankit.cli import main
from gankit.training import checkpoint as ckpt_module
from gankit.training.checkpoint import load_checkpoint, numbered_checkpoints


def small(steps: int, *overrides: str):
    """A tiny ring8 config: about a millisecond per step, a checkpoint every 10 steps."""
    return load_config(preset="ring8-ns", overrides=[f"train.steps={steps}", "train.batch_size=64",
                                                     "train.log_every=5", "train.ckpt_every=10", *overrides])


def assert_same_state(a: dict, b: dict) -> None:
    assert a["step"] == b["step"] and a["nimg"] == b["nimg"]
    for net in ("G", "D", "G_ema"):
        assert a[net].keys() == b[net].keys()
        for key, value in a[net].items():
            assert torch.equal(value, b[net][key]), f"{net}.{key}"
    for opt in ("opt_G", "opt_D"):
        for i, s in a[opt]["state"].items():
            for key, value in s.items():
                assert torch.equal(value, b[opt]["state"][i][key]), f"{opt}.{i}.{key}"


def stat_steps(run) -> list[int]:
    return [line["step"] for line in map(json.loads, (run / "stats.jsonl").read_text().splitlines())
            if "alarm" not in line]


def test_keep_the_newest_n_checkpoints_and_a_latest_pointer(tmp_path):
    run = train(small(60, "train.keep=2"), run_dir=tmp_path / "r", progress=False)
    assert [p.name for p in numbered_checkpoints(run)] == ["checkpoint-50.pt", "checkpoint-60.pt"]
    assert (run / "latest").read_text() == "checkpoint-60.pt\n"
    assert os.path.samefile(run / "checkpoint.pt", run / "checkpoint-60.pt")  # a hard link: no extra disk
    assert load_checkpoint(run / "checkpoint-50.pt")["step"] == 50
    assert load(run).step == 60  # gankit.load, sample and evaluate read checkpoint.pt, the newest
    assert not list(run.glob(".*.tmp"))


def test_resume_without_a_run_continues_the_newest_run_of_the_same_config(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tiny = ["--steps", "5", "--no-progress", "--train.batch_size=16", "--train.log_every=5"]
    for argv in (["--preset", "ring8-ns"], ["--preset", "ring8-ns"], ["--preset", "ring8-ns", "--name=other"]):
        assert main(["train", *argv, *tiny]) == 0
    runs = tmp_path / "runs"
    assert sorted(p.name for p in runs.iterdir()) == ["other", "ring8-ns", "ring8-ns-2"]
    # the newest checkpoint of config `ring8-ns` is runs/ring8-ns (touched last), not the higher suffix
    # and not the newer run of another config
    newest = time.time() + 10
    os.utime(runs / "ring8-ns" / "checkpoint.pt", (newest, newest))
    os.utime(runs / "other" / "checkpoint.pt", (newest + 10, newest + 10))
    assert main(["train", "--preset", "ring8-ns", "--resume", "--steps", "8", "--no-progress"]) == 0
    assert f"run finished: {os.path.join('runs', 'ring8-ns')}\n" in capsys.readouterr().out
    assert load(runs / "ring8-ns").step == 8
    assert load(runs / "ring8-ns-2").step == load(runs / "other").step == 5
    assert not (runs / "ring8-ns-3").exists()

    assert main(["train", "--preset", "grid25-ns", "--resume", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gankit: error: no run of 'grid25-ns'") and len(err.strip().splitlines()) == 1
    assert main(["train", "--resume", "--no-progress"]) == 2
    assert "--preset NAME" in capsys.readouterr().err


def test_kill_9_mid_run_then_resume_reaches_bit_identical_weights(tmp_path):
    args = ["--preset", "ring8-ns", "--train.batch_size=64", "--train.log_every=5", "--train.ckpt_every=10",
            "--train.keep=2", "--train.threads=1", "--no-progress"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "train", *args, "--steps", "1000000", "--run-dir",
                             str(killed)], env={**os.environ, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120  # a guard against a hang, not a timing assertion
        while not (killed / "latest").exists():  # the first checkpoint is complete
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.02)
        time.sleep(0.5)  # on into later steps and checkpoint writes
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    step = load_checkpoint(killed / "checkpoint.pt")["step"]
    assert step >= 10 and step % 10 == 0
    target = step + 17  # past the next two checkpoints, and not on one: the run ends there on its own

    assert main(["train", "--resume", str(killed), "--steps", str(target), "--no-progress"]) == 0
    assert main(["train", *args, "--steps", str(target), "--run-dir", str(tmp_path / "full")]) == 0
    assert_same_state(load_checkpoint(killed / "checkpoint.pt"), load_checkpoint(tmp_path / "full" / "checkpoint.pt"))
    assert stat_steps(killed) == stat_steps(tmp_path / "full")  # lines logged after the checkpoint were dropped
    assert not list(killed.glob(".*.tmp"))  # temp files of an interrupted write are cleaned up


def test_crash_inside_a_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    run = train(small(20), run_dir=tmp_path / "r", progress=False)
    real_replace = os.replace

    def crash_before_the_rename(src, dst):
        if "checkpoint-30" in str(dst):
            raise OSError("simulated crash between write and rename")
        real_replace(src, dst)

    monkeypatch.setattr(fileio.os, "replace", crash_before_the_rename)
    with pytest.raises(OSError, match="simulated"):
        train(small(40), run_dir=run, resume=True, progress=False)
    monkeypatch.undo()
    assert load(run).step == 20 and (run / "latest").read_text() == "checkpoint-20.pt\n"
    assert [p.name for p in numbered_checkpoints(run)] == ["checkpoint-20.pt"]
    assert not list(run.glob(".*.tmp"))

    # a crash after checkpoint-30.pt is complete but before checkpoint.pt points at it
    def crash_before_the_link(src, dst):
        raise OSError("simulated crash before the link")

    monkeypatch.setattr(ckpt_module, "link_atomic", crash_before_the_link)
    with pytest.raises(OSError, match="simulated"):
        train(small(40), run_dir=run, resume=True, progress=False)
    monkeypatch.undo()
    assert load(run).step == 20 and load_checkpoint(run / "checkpoint-30.pt")["step"] == 30
    # and the run goes on from the checkpoint that checkpoint.pt names, to the same weights as an
    # uninterrupted run
    train(small(40), run_dir=run, resume=True, progress=False)
    full = train(small(40), run_dir=tmp_path / "full", progress=False)
    assert_same_state(load_checkpoint(run / "checkpoint.pt"), load_checkpoint(full / "checkpoint.pt"))
