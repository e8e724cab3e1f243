"""The README's and docs/'s examples run as written: every Python snippet, and every `gankit` or `torchrun` command
in their bash blocks, in page order, in a fresh folder whose data/mnist and data/fashion-mnist are the official
files (the shared-data fixture). Commands only get smaller: training runs are cut to a few steps, evaluations to
few samples, the lab is started on a free port and stopped once it serves. Not run: install and make lines (the
Makefile and CI run those), and torchrun across several machines."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from gankit import load_config, train
from gankit.cli import main
from gankit.objectives.fgan import DIVERGENCES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHARED = Path(os.environ.get("GANKIT_SHARED_DATA", ROOT.parent / "shared" / "data"))
# Appended to each command (argparse and config overrides: the last value wins), so the docs' commands stay as
# a user types them while the suite runs them in seconds.
SMALLER = {
    "train": ["--steps", "4", "--train.log_every=2", "--no-progress"],
    "evaluate": ["--n", "200"],
    "theory": ["--d-steps", "20", "--critic-steps", "5", "--saturation-steps", "2", "--no-mnist",
               "--w1-samples", "200", "--no-progress"],
    "sample": ["--n", "300"],  # --grid: samples per class, see run_command
}


def python_blocks() -> list[str]:
    return [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", README, flags=re.S)]


def commands(page: Path) -> list[list[str]]:
    """The `gankit` and single-machine `torchrun` commands of a page's bash blocks, in order."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            for part in line.split("&&"):
                argv = shlex.split(part)
                if argv and (argv[0] == "gankit" or (argv[0] == "torchrun" and "--nnodes=2" not in argv)):
                    found.append(argv)
    return found


def run_command(argv: list[str]) -> None:
    """One documented command, made smaller; raises if it fails."""
    if argv[0] == "torchrun":  # the same launcher torchrun is, from this interpreter
        cmd = [sys.executable, "-m", "torch.distributed.run", *argv[1:], *SMALLER["train"]]
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        return
    args = argv[1:]
    if args and args[0] == "lab":
        serve_lab(args)
        return
    if args and args[0] in SMALLER:
        args = [*args, *(["--n", "4"] if "--grid" in args else SMALLER[args[0]])]
    if args[:1] == ["evaluate"] and "mnist" in args and "--metrics" not in args:
        args += ["--metrics", "fd", "pr", "classes"]  # not the Parzen estimate: its sigma search takes a minute
    if args and args[0] == "train" and "--nproc" in args:  # a launcher of processes: run it as one
        done = subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return
    try:
        code = main(args)
    except SystemExit as e:  # --version, --help
        code = e.code
    assert code == 0, f"`{shlex.join(argv)}` exited with {code}"


def serve_lab(args: list[str]) -> None:
    """`gankit lab ...` until it serves its page, then stopped (on a free port, without opening a browser)."""
    lab = subprocess.Popen([sys.executable, "-m", "gankit", *args, "--port", "0", "--no-browser"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = lab.stdout.readline()
        assert line.startswith("gankit lab: http://127.0.0.1:"), line
    finally:
        lab.terminate()
        lab.wait(timeout=30)


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A fresh working folder with the official MNIST files as data/mnist (and Fashion-MNIST), and a folder of
    pictures for the own-pictures example."""
    if not (SHARED / "mnist").is_dir():
        pytest.skip(f"no MNIST files in {SHARED} (set GANKIT_SHARED_DATA)")
    (tmp_path / "data").mkdir()
    for name in ("mnist", "fashion-mnist"):
        (tmp_path / "data" / name).symlink_to(SHARED / name)
    pictures = tmp_path / "my_pictures"
    pictures.mkdir()
    for i in range(8):
        Image.new("RGB", (40, 36), (30 * i, 255 - 30 * i, 90)).save(pictures / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return tmp_path


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_command_of_a_page_runs(page, sandbox):
    argvs = commands(page)
    for argv in argvs:
        for run in re.findall(r"\bruns/([\w-]+)", " ".join(argv)):  # a run the page uses before training it
            made = any(a[1:2] == ["train"] and f"--preset={run}" in "=".join(a) for a in argvs[: argvs.index(argv)])
            if not (sandbox / "runs" / run).exists() and not made:
                run_command(["gankit", "train", "--preset", run])
        run_command(argv)


def test_the_pages_show_commands_to_run():
    assert len(commands(ROOT / "README.md")) >= 10
    assert all(commands(page) for page in PAGES if page.name not in ("presets.md", "runs.md"))


def test_register_divergence_example_trains(tmp_path):
    block = next(textwrap.dedent(b) for page in PAGES for b in re.findall(r"```python\n(.*?)```", page.read_text(),
                                                                        flags=re.S) if "register_divergence(" in b)
    exec(compile(block, "docs", "exec"), {})
    assert "my-chi2" in DIVERGENCES
    cfg = load_config(preset="ring8-ns", overrides=["objective.name=fgan", "objective.divergence=my-chi2",
                                                    "train.steps=3", "train.log_every=1"])
    run = train(cfg, run_dir=tmp_path / "r", progress=False)
    assert "estimate/f_divergence" in (run / "stats.jsonl").read_text()


def test_python_api_example(tmp_path, monkeypatch):
    block = next(b for b in python_blocks() if "gankit.train(cfg)" in b)
    monkeypatch.chdir(tmp_path)
    block = block.replace('"train.steps=2000"', '"train.steps=5"')  # same calls, fewer steps
    scope: dict = {}
    exec(compile(block, "README", "exec"), scope)
    assert scope["points"].shape == (1000, 2) and (tmp_path / "runs" / "ring8-ns" / "checkpoint.pt").is_file()

