"""The README's code examples run as written."""

import re
import textwrap
from pathlib import Path

from gankit import load_config, train
from gankit.objectives.fgan import DIVERGENCES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def python_blocks() -> list[str]:
    return [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", README, flags=re.S)]


def test_register_divergence_example_trains(tmp_path):
    block = next(b for b in python_blocks() if "register_divergence(" in b)
    exec(compile(block, "README", "exec"), {})
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
