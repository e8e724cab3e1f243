"""The command line: the happy paths, and every user mistake as one line with exit code 2."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main

TINY = ["--steps", "3", "--no-progress", "--train.batch_size=16", "--train.log_every=1"]


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "ring"
    assert main(["train", "--preset", "ring8-ns", "--run-dir", str(run), *TINY]) == 0
    return run


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "mnist"
    assert main(["train", "--preset", "classic-mlp-mnist", "--data.name=mnist-5k", "--run-dir", str(run),
                 *TINY]) == 0
    return run


def test_list_commands_describe_every_entry(capsys):
    for what, expected in [("presets", "goodfellow2014-mnist"), ("datasets", "mnist-5k"),
                           ("objectives", "minimax"), ("models", "classic-mlp"),
                           ("divergences", "jensen-shannon")]:
        code, out, _ = run_main(capsys, "list", what)
        assert code == 0 and expected in out
        assert all(len(line.split(None, 1)) == 2 for line in out.splitlines())  # name + description


def test_train_writes_a_complete_image_run(mnist_run):
    names = {p.name for p in mnist_run.iterdir()}
    assert {"config.json", "stats.jsonl", "checkpoint.pt", "samples.png", "losses.png"} <= names
    grid = Image.open(mnist_run / "samples.png")
    assert grid.mode == "L" and grid.size[0] >= 8 * 28  # 64 samples: an 8 x 8 grid


def test_sample_npy_images_are_in_pixel_scale(capsys, mnist_run, tmp_path):
    out = tmp_path / "x.npy"
    code, stdout, _ = run_main(capsys, "sample", str(mnist_run), "--n", "7", "--out", str(out))
    assert code == 0 and str(out) in stdout
    x = np.load(out)
    assert x.shape == (7, 1, 28, 28) and x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1


def test_sample_png_and_points(capsys, ring_run, tmp_path):
    assert run_main(capsys, "sample", str(ring_run), "--n", "100", "--out", str(tmp_path / "p.png"))[0] == 0
    assert Image.open(tmp_path / "p.png").size[0] > 100
    assert run_main(capsys, "sample", str(ring_run), "--n", "5", "--out", str(tmp_path / "p.npy"))[0] == 0
    assert np.load(tmp_path / "p.npy").shape == (5, 2)


def test_resume_continues_to_more_steps(capsys, ring_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(ring_run, run)
    code, _, _ = run_main(capsys, "train", "--resume", str(run), "--steps", "5", "--no-progress")
    assert code == 0
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 5


@pytest.mark.parametrize("argv, match", [
    (["train", "--preset", "nope"], "unknown preset 'nope'; valid choices: "),
    (["train", "--preset", "ring8-ns", "--data.name=nope"], "unknown dataset 'nope'; valid choices: "),
    (["train", "--preset", "ring8-ns", "--objective.name=nope"], "unknown objective 'nope'"),
    (["train", "--preset", "ring8-ns", "--train.nope=1"], "unknown config key 'train.nope'"),
    (["train", "--preset", "ring8-ns", "--train.batch_size=big"], "must be int"),
    (["train", "--preset", "ring8-ns", "--steps", "-3"], "train.steps must be at least 1"),
    (["train", "--preset", "ring8-ns", "--bogus"], "unrecognized argument '--bogus'"),
    (["train"], "--preset NAME"),
    (["train", "--config", "missing.toml"], "does not exist"),
    (["train", "--resume", "no/such/run"], "not a run directory"),
    (["sample", "no/such/run", "--out", "x.png"], "does not exist"),
    (["train", "--preset", "classic-mlp-mnist", "--data.root=/nonexistent/mnist", "--data.download=false"],
     "download"),
    (["train", "--preset", "ring8-ns", "--data.name=points", "--data.path=nope.csv"], "does not exist"),
])
def test_user_mistakes_are_one_line_and_exit_2(capsys, argv, match):
    import re

    code, _, err = run_main(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gankit: error: ")
    assert re.search(match, lines[0]), lines[0]


def test_sample_bad_output_and_corrupt_checkpoint(capsys, ring_run, tmp_path):
    code, _, err = run_main(capsys, "sample", str(ring_run), "--out", str(tmp_path / "x.jpg"))
    assert code == 2 and ".png or .npy" in err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "checkpoint.pt").write_bytes(b"garbage")
    code, _, err = run_main(capsys, "sample", str(broken), "--out", str(tmp_path / "x.png"))
    assert code == 2 and "not a readable checkpoint" in err
    assert not (tmp_path / "x.png").exists()


def test_corrupt_gz_in_data_folder(capsys, tmp_path):
    from gankit.data.mnist import SETS

    for name in SETS["mnist"]["files"]["train"]:
        (tmp_path / name).write_bytes(b"\x1f\x8b broken")
    code, _, err = run_main(capsys, "train", "--preset", "classic-mlp-mnist", f"--data.root={tmp_path}",
                            "--data.download=false", "--no-progress")
    assert code == 2 and "gankit: error:" in err and "train-images" in err


def test_existing_run_is_not_damaged(capsys, ring_run):
    before = (ring_run / "checkpoint.pt").read_bytes()
    code, _, err = run_main(capsys, "train", "--preset", "ring8-ns", "--run-dir", str(ring_run), *TINY)
    assert code == 2 and "--resume" in err
    assert (ring_run / "checkpoint.pt").read_bytes() == before


def test_python_dash_m_runs_without_traceback():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ok = subprocess.run([sys.executable, "-m", "gankit", "--help"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and "train" in ok.stdout and "sample" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "gankit", "train", "--preset", "nope"], capture_output=True,
                         text=True, env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "unknown preset" in bad.stderr


@pytest.mark.parametrize("given, busy, expected", [(None, 1.0, "PASSIVE"), (None, 0.0, "unset"),
                                                   ("ACTIVE", 1.0, "ACTIVE")])
def test_the_command_line_chooses_threading_before_torch_loads(given, busy, expected):
    """OpenMP reads OMP_WAIT_POLICY once, when torch loads it: `import gankit.cli` must not load torch, and
    entry() sets PASSIVE when another process keeps a core busy (no collapse), leaves OpenMP's own spinning on
    an idle machine (faster there), and never overrides the user's choice."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    code = ("import os, sys; import gankit.cli; loaded = 'torch' in sys.modules; "
            f"gankit.cli.choose_threading(busy={busy}); import torch; "
            "print(loaded, os.environ.get('OMP_WAIT_POLICY', 'unset'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", expected]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/stat")
def test_busy_cores_sees_a_process_that_keeps_a_core_busy():
    from gankit.cli import busy_cores

    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it start spinning
        assert busy_cores(0.5) >= 0.7  # one full core, less scheduling noise
    finally:
        hog.kill()
        hog.wait()
    assert 0 <= busy_cores(0.05) <= os.cpu_count()


def test_version(capsys):
    import gankit

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"gankit {gankit.__version__}"
