"""Logging: TensorBoard event files hold what stats.jsonl holds; `gankit plot RUN` redraws the curves."""

import json
import sys

import pytest
from PIL import Image

from gankit import GankitError, load_config, train
from gankit.cli import main


def small(steps: int, *overrides: str):
    return load_config(preset="ring8-ns", overrides=[f"train.steps={steps}", "train.batch_size=64",
                                                     "train.log_every=5", "train.ckpt_every=10", *overrides])


def test_tensorboard_scalars_match_stats_jsonl_and_pictures_are_logged(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = train(small(20, "train.tensorboard=true"), run_dir=tmp_path / "r", progress=False)
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    lines = [json.loads(x) for x in (run / "stats.jsonl").read_text().splitlines()]
    for key in ("loss/D", "loss/G", "D/real", "estimate/value", "grad/G"):
        logged = [(e.step, e.value) for e in events.Scalars(key)]
        assert [s for s, _ in logged] == [line["step"] for line in lines]
        assert [v for _, v in logged] == pytest.approx([line[key] for line in lines], rel=1e-6)  # float32 events
    assert [e.step for e in events.Images("scatter")] == [10, 20]


def test_tensorboard_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    with pytest.raises(GankitError, match=r"pip install 'gankit\[tb\]'"):
        train(small(2, "train.tensorboard=true"), run_dir=tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()  # checked before anything is written


def test_plot_redraws_the_curves_from_stats(tmp_path, capsys):
    run = train(small(20), run_dir=tmp_path / "r", progress=False)
    (run / "losses.png").unlink()
    with open(run / "stats.jsonl", "a") as f:  # an alarm, and a line cut short by a killed process
        f.write(json.dumps({"step": 20, "alarm": "saturation", "message": "D saturated"}) + '\n{"step": 2')
    assert main(["plot", str(run)]) == 0
    assert "(4 lines, 1 alarms)" in capsys.readouterr().out
    assert Image.open(run / "losses.png").size[0] > 400
    assert main(["plot", str(run), "--out", str(tmp_path / "curves.svg")]) == 0
    assert (tmp_path / "curves.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize("argv, match", [
    (["plot", "no/such/run"], "does not exist"),
    (["plot", "{empty}"], "holds no stats lines"),
    (["plot", "{empty}", "--out", "x.jpg"], "must end in .png, .pdf or .svg"),
])
def test_plot_mistakes_are_one_line(tmp_path, capsys, argv, match):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "stats.jsonl").write_text("" if "--out" not in argv else '{"step": 1, "loss/D": 1.0}\n')
    assert main([a.replace("{empty}", str(empty)) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gankit: error:") and match in err[0]
