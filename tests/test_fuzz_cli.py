"""A corpus of malformed invocations over every subcommand: each must end as ONE line `gankit: error: ...` on
stderr with exit code 2, no traceback, and nothing written. Run in-process through `gankit.cli.main` (fast);
the broken pipe and the 100,000-level JSON run as real processes.

The corpus is a table built from kinds of bad values (seeds, sizes, paths, damaged files) crossed with the
flags that take them. `{w}` in an argument is the folder of prepared files (the `world` fixture).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit.cli import main

TOO_LONG = "x" * 300  # longer than any file system's name limit (255 bytes)
DEEP = "[" * 100_000
BAD_SEEDS = ["-1", str(2**64), str(2**70), str(2**63), "9" * 40]
HUGE = 10**12  # no machine holds a tensor of 10^12 floats times anything
TRAIN = ["--steps", "2", "--no-progress"]  # should a case wrongly pass, it trains for an instant


def _train(*argv: str) -> list[str]:
    """A train invocation; one that names no run directory writes under the world, where it would be seen."""
    argv = list(argv)
    if "--resume" not in argv and "--run-dir" not in argv:
        argv += ["--run-dir", "{w}/new-run"]
    return ["train", *TRAIN, *argv]  # the case's own --steps comes last and wins


def corpus() -> list[tuple[str, list[str]]]:
    cases: list[tuple[str, list[str]]] = []

    def add(name: str, argv: list[str]) -> None:
        cases.append((f"{len(cases):03d}-{name}", argv))

    # top level and argparse's own mistakes: one line, not a usage block
    for argv in ([], ["nope"], ["--nope"], ["TRAIN"], ["train", "--steps"], ["train", "--steps", "abc"],
                 ["train", "--steps", "1.5"], ["train", "--seed", "x"], ["train", "--nproc", "two"],
                 ["train", "--preset", "ring8-ns", "--config", "a.toml"], ["sample"], ["sample", "{w}/ring"],
                 ["sample", "{w}/ring", "--out", "{w}/x.png", "--n", "ten"], ["evaluate"], ["theory"],
                 ["theory", "--out", "{w}/t", "--grid-points", "many"], ["plot"], ["features"],
                 ["features", "train"], ["features", "fit", "--data", "mnist"],
                 ["features", "train", "--data", "cifar"],
                 ["list"], ["list", "nope"], ["list", "presets", "extra"], ["config"], ["config", "--show", "--nope"],
                 ["lab", "--port", "http"], ["lab", "--threads", "many"], ["plot", "{w}/ring", "--bogus"]):
        add("argparse", argv)

    # seeds beyond torch's range or negative, on every flag and file that takes one
    for seed in BAD_SEEDS:
        add("seed-flag", _train("--preset", "ring8-ns", "--seed", seed))
        add("seed-override", _train("--preset", "ring8-ns", f"--train.seed={seed}"))
        add("seed-config-show", ["config", "--show", "--preset", "ring8-ns", f"--train.seed={seed}"])
        add("seed-sample", ["sample", "{w}/ring", "--out", "{w}/s.npy", "--seed", seed])
        add("seed-evaluate", ["evaluate", "{w}/ring", "--seed", seed])
        add("seed-theory", ["theory", "--out", "{w}/t", "--seed", seed])
        add("seed-features", ["features", "train", "--data", "mnist", "--root", "{w}/none", "--seed", seed])
    for name in ("seed-big.toml", "seed-negative.toml", "seed-big.json"):
        add("seed-file", _train("--config", f"{{w}}/{name}"))
        add("seed-file-show", ["config", "--show", "--config", f"{{w}}/{name}"])

    # sizes that cannot fit in memory: refused before anything is allocated
    for override in (f"--train.batch_size={HUGE}", f"--model.z_dim={HUGE}", f"--model.g_hidden={HUGE}",
                     f"--model.d_hidden={HUGE}", "--model.g_hidden=1000000,1000000,1000000",
                     f"--train.grid_size={HUGE}", f"--model.z_dim={10**30}", "--model.d_hidden=3000000,3000000"):
        add("size", _train("--preset", "ring8-ns", override))
        add("size-show", ["config", "--show", "--preset", "ring8-ns", override])
    for override in (f"--train.batch_size={HUGE}", "--model.g_hidden=1000000,1000000",
                     f"--model.d_hidden={10**9},{10**9}"):
        add("size-image", _train("--preset", "classic-mlp-mnist", "--data.name=mnist-5k", override))
    # a base width whose sizes alone look affordable, but whose conv kernels (widths doubled per layer) are not
    add("size-conv", _train("--preset", "dcgan-mnist", "--data.name=mnist-5k", "--model.d_hidden=200000"))
    add("size-eval", _train("--preset", "ring8-ns", "--train.eval_every=1", f"--train.eval_n={HUGE}"))
    add("size-embed", _train("--preset", "ring8-cgan", f"--model.embed_dim={HUGE}", "--model.cond=embed"))
    for n in (str(HUGE), str(10**20)):
        add("size-sample", ["sample", "{w}/ring", "--out", "{w}/s.npy", "--n", n])
        add("size-sample-grid", ["sample", "{w}/cring", "--out", "{w}/s.png", "--grid", "--n", n])
        add("size-evaluate", ["evaluate", "{w}/ring", "--n", n])
    for args in (["--grid-points", "10000000"], ["--grid-points", str(HUGE)], ["--w1-samples", "100000000"],
                 ["--data", "gaussian:mean=0,std=1", "--model", "gaussian:mean=1,std=1", "--grid-points", str(10**11)],
                 ["--data", "ring8", "--model", "grid25", "--grid-points", "3000000"]):
        add("size-theory", ["theory", "--out", "{w}/t", *args])

    # numbers out of range
    for argv in (_train("--preset", "ring8-ns", "--train.threads=-1"), _train("--preset", "ring8-ns",
                 "--train.threads=1000000"), _train("--preset", "ring8-ns", "--nproc", "0"),
                 _train("--preset", "ring8-ns", "--nproc", "100000"), _train("--preset", "ring8-ns", "--steps", "0"),
                 _train("--preset", "ring8-ns", "--model.g_hidden=-1"), _train("--preset", "ring8-ns", "--name=a\0b"),
                 ["sample", "{w}/ring", "--out", "{w}/s.npy", "--n", "0"],
                 ["sample", "{w}/ring", "--out", "{w}/s.npy", "--n", "-5"],
                 ["sample", "{w}/ring", "--out", "{w}/s.npy", "--class", "3"],
                 ["sample", "{w}/ring", "--out", "{w}/s.png", "--grid"],
                 ["sample", "{w}/cring", "--out", "{w}/s.png", "--grid", "--class", "1"],
                 ["sample", "{w}/cring", "--out", "{w}/s.npy", "--class", "99"],
                 ["evaluate", "{w}/ring", "--n", "0"], ["evaluate", "{w}/ring", "--n", "-1"],
                 ["theory", "--out", "{w}/t", "--grid-points", "1"],
                 ["theory", "--out", "{w}/t", "--grid-points", "-5"],
                 ["theory", "--out", "{w}/t", "--threads", "-1"], ["theory", "--out", "{w}/t", "--threads", "100000"],
                 ["theory", "--out", "{w}/t", "--d-steps", "-1"], ["theory", "--out", "{w}/t", "--w1-samples", "1"],
                 ["theory", "--out", "{w}/t", "--data", "ring8"], ["theory", "--out", "{w}/t", "--data", "nope",
                                                                 "--model", "ring8"],
                 ["theory", "--out", "{w}/t", "--data", "gaussian:mean=x", "--model", "ring8"],
                 ["theory", "--out", "{w}/t", "--data", "ring8", "--model", "gaussian:mean=0,std=1"],
                 ["theory", "--out", "{w}/t", "--data", "gaussian:mean=1e308,std=1", "--model",
                  "gaussian:mean=0,std=1"],
                 ["theory", "--out", "{w}/t", "--data", "ring8:radius=1e308", "--model", "ring8"],
                 # fails inside the report, after its folder was made: the folder goes again
                 ["theory", "--out", "{w}/t/u", "--no-progress", "--data", "gaussian:mean=0,std=1e-300", "--model",
                  "gaussian:mean=0,std=1"]):
        add("range", argv)

    # output paths: a file where a folder belongs, a folder where a file belongs, under a file, unwritable,
    # names longer than the file system allows
    unwritable = "/proc/gankit-fuzz"  # even root cannot make files in /proc
    too_deep = "{w}/" + "/".join(["d" * 200] * 25)  # each name fits, the whole path (5,000 bytes) does not
    for path in ("{w}/file.txt", "{w}/file.txt/run", unwritable, f"{{w}}/{TOO_LONG}", too_deep):
        add("run-dir", _train("--preset", "ring8-ns", "--run-dir", path))
        add("theory-out", ["theory", "--out", path])
    add("run-name", ["train", "--preset", "ring8-ns", f"--name={TOO_LONG}", *TRAIN])  # runs/<name>
    for path in ("{w}/folder.png", "{w}/file.txt/x.png", f"{unwritable}/x.png", f"{{w}}/{TOO_LONG}.png",
                 "{w}/nowhere/x.png", "{w}/x.jpg"):
        add("sample-out", ["sample", "{w}/ring", "--out", path])
        add("plot-out", ["plot", "{w}/ring", "--out", path])
        add("features-out", ["features", "train", "--data", "mnist", "--root", "{w}/none", "--out", path])
    add("sample-out-npy-dir", ["sample", "{w}/ring", "--out", "{w}/folder.npy"])
    add("sample-labels-dir", ["sample", "{w}/cring", "--out", "{w}/lab.npy"])  # lab-labels.npy is a folder
    add("evaluate-report-dir", ["evaluate", "{w}/ring-report", "--n", "20"])  # eval-<step>.json is a folder
    add("evaluate-report-npy", ["evaluate", "{w}/points-report.npy", "--data", "ring8"])

    # run directories that are not runs, and checkpoints that load safely but are not what they claim
    for run in ("{w}/nowhere", "{w}/file.txt", "{w}/empty", "{w}/garbage-ckpt-0", "{w}/garbage-ckpt-1",
                "{w}/garbage-ckpt-2", "{w}/truncated-ckpt", "{w}/flipped-ckpt", "{w}/pickle-ckpt", "{w}/foreign-ckpt",
                "{w}/schema-ckpt", "{w}/tensor-ckpt", "{w}/mismatch-ckpt", "{w}/latest-garbage", "{w}/ckpt-folder"):
        add("run-sample", ["sample", run, "--out", "{w}/s.npy"])
        add("run-evaluate", ["evaluate", run, "--n", "20"])
        add("run-resume", _train("--resume", run))
    add("resume-stats-dir", _train("--resume", "{w}/stats-folder"))
    add("resume-mismatch-override", _train("--resume", "{w}/ring", "--model.g_hidden=7,7"))
    add("resume-and-preset", _train("--resume", "{w}/ring", "--preset", "ring8-ns"))

    # config files: nested 100,000 levels deep, garbage bytes, numbers json cannot hold, the wrong shape
    for name in ("deep.json", "deep.toml", "garbage.toml", "garbage.json", "bigint.json", "list.json",
                 "bad.toml", "folder.toml", "missing.toml", "unknown-key.toml", "bad-type.json"):
        add("config", _train("--config", f"{{w}}/{name}"))
        add("config-show", ["config", "--show", "--config", f"{{w}}/{name}"])
    for override in (f"--train.seed={DEEP}", f"--train.steps={'9' * 5000}", "--train.nope=1", "--nope.x=1",
                     "--a.b.c=1", "--model.name=nope", "--train.batch_size=big", "--model.z_dim=1e400",
                     "--opt_G.lr=-1", "--data.name=points", "positional"):
        add("override", _train("--preset", "ring8-ns", override))

    # samples for evaluate: never unpickled, never trusted
    for name in ("random.npy", "truncated.npy", "object.npy", "strings.npy", "complex.npy", "nan.npy", "npz.npy",
                 "bool.npy", "scalar.npy", "wrong-shape.npy", "huge-header.npy", "missing.npy", "few.npy"):
        add("npy", ["evaluate", f"{{w}}/{name}", "--data", "ring8"])
    for name in ("random", "object", "float", "strings", "negative", "short"):
        add("npy-labels", ["evaluate", f"{{w}}/with-{name}-labels.npy", "--data", "ring8"])
    for argv in (["evaluate", "{w}/points.npy"], ["evaluate", "{w}/points.npy", "--data", "nope"],
                 ["evaluate", "{w}/points.npy", "--data", "ring8", "--metrics", "nope"],
                 ["evaluate", "{w}/points.npy", "--data", "ring8", "--metrics", "fd"],
                 ["evaluate", "{w}/points.npy", "--data", "mnist"], ["evaluate", "{w}/ring", "--data", "nope"],
                 ["evaluate", "{w}/images.npy", "--data", "mnist", "--root", "{w}/none", "--metrics", "parzen"]):
        add("evaluate", argv)

    # stats.jsonl that is garbage or a folder
    for run in ("{w}/stats-garbage", "{w}/stats-folder", "{w}/stats-truncated", "{w}/stats-empty",
                "{w}/stats-deep", "{w}/nowhere", "{w}/file.txt"):
        add("plot", ["plot", run])

    # the lab: bad addresses, ports, threads; it must never start
    for argv in (["--port", "-1"], ["--port", "65536"], ["--port", str(2**64)], ["--host", ""], ["--host", "bad host"],
                 ["--host", "a..b"], ["--host", "http://x"], ["--host", "-x"], ["--host", "ä.example"],
                 ["--host", "x" * 300], ["--host", "host:80"], ["--threads", "0"], ["--threads", "1000"],
                 ["--runs-dir", "{w}/file.txt"]):
        add("lab", ["lab", "--no-browser", *argv])

    # features: data that is not there (the hint names features' own flag)
    add("features-root", ["features", "train", "--data", "mnist", "--root", "{w}/none"])
    add("features-root-file", ["features", "train", "--data", "fashion-mnist", "--root", "{w}/file.txt"])
    return cases


CORPUS = corpus()


class PickleBomb:
    """A pickle that would run code when unpickled: a checkpoint must never be loaded that way."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """Every damaged, foreign or misplaced file the corpus points at, beside two tiny trained runs."""
    w = tmp_path_factory.mktemp("world")
    tiny = ["--steps", "2", "--no-progress", "--train.batch_size=16", "--train.log_every=1"]
    assert main(["train", "--preset", "ring8-ns", "--run-dir", str(w / "ring"), *tiny]) == 0
    assert main(["train", "--preset", "ring8-cgan", "--run-dir", str(w / "cring"), *tiny]) == 0
    ring = w / "ring"
    state = torch.load(ring / "checkpoint.pt", weights_only=True)

    (w / "file.txt").write_text("not a folder\n")
    (w / "folder.png").mkdir()
    (w / "folder.npy").mkdir()
    (w / "lab-labels.npy").mkdir()
    (w / "empty").mkdir()

    def run_with(name: str, payload) -> None:
        d = w / name
        d.mkdir()
        shutil.copy(ring / "config.json", d / "config.json")
        if isinstance(payload, bytes):
            (d / "checkpoint.pt").write_bytes(payload)
        elif payload is not None:
            torch.save(payload, d / "checkpoint.pt")

    for seed in range(3):  # damaged bytes, the same in every run of the test
        run_with(f"garbage-ckpt-{seed}", np.random.default_rng(seed).bytes(2000))
    zipped = (ring / "checkpoint.pt").read_bytes()
    run_with("truncated-ckpt", zipped[: len(zipped) // 2])
    run_with("flipped-ckpt", zipped[:200] + bytes(b ^ 0xFF for b in zipped[200:400]) + zipped[400:])
    run_with("pickle-ckpt", pickle.dumps(PickleBomb()))  # weights_only refuses to run it
    run_with("foreign-ckpt", {"weights": torch.zeros(3)})
    run_with("schema-ckpt", {k: v for k, v in state.items() if k != "opt_D"})
    run_with("tensor-ckpt", torch.zeros(4))
    mismatch = {**state, **{net: {k: torch.zeros(*(s + 1 for s in v.shape)) for k, v in state[net].items()}
                            for net in ("G", "D", "G_ema") if net in state}}  # every network one unit too wide
    run_with("mismatch-ckpt", mismatch)
    run_with("latest-garbage", None)
    (w / "latest-garbage" / "latest").write_bytes(b"\xff\xfe\x00garbage")
    run_with("ckpt-folder", None)
    (w / "ckpt-folder" / "checkpoint.pt").mkdir()

    shutil.copytree(ring, w / "ring-report")
    (w / "ring-report" / f"eval-{state['step']}.json").mkdir()
    shutil.copytree(ring, w / "stats-folder")
    (w / "stats-folder" / "stats.jsonl").unlink()
    (w / "stats-folder" / "stats.jsonl").mkdir()
    for name, data in (("stats-garbage", b"\xff\xfe\xfa" + os.urandom(500)), ("stats-truncated", b'{"step": 1, "lo'),
                       ("stats-empty", b""), ("stats-deep", b"[" * 100_000 + b"\n")):
        (w / name).mkdir()
        (w / name / "stats.jsonl").write_bytes(data)

    points = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    np.save(w / "points.npy", points)
    np.save(w / "points-report.npy", points)
    (w / "points-report-eval.json").mkdir()
    np.save(w / "images.npy", np.zeros((20, 1, 28, 28), np.float32))
    (w / "random.npy").write_bytes(os.urandom(300))
    (w / "truncated.npy").write_bytes((w / "points.npy").read_bytes()[:150])
    np.save(w / "object.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(w / "strings.npy", np.array([["a", "b"]] * 20))
    np.save(w / "complex.npy", points.astype(np.complex64))
    np.save(w / "nan.npy", np.full((20, 2), np.nan, np.float32))
    np.savez(w / "npz.npy", x=points)
    (w / "npz.npy.npz").rename(w / "npz.npy")
    np.save(w / "bool.npy", np.ones((20, 2), bool))
    np.save(w / "scalar.npy", np.float32(1))
    np.save(w / "wrong-shape.npy", np.zeros((20, 3), np.float32))
    np.save(w / "few.npy", points[:3])
    _huge_header(w / "huge-header.npy")
    for name, labels in (("random", os.urandom(100)), ("object", np.array([None] * 50, dtype=object)),
                         ("float", np.zeros(50)), ("strings", np.array(["1"] * 50)),
                         ("negative", -np.ones(50, np.int64)), ("short", np.zeros(3, np.int64))):
        np.save(w / f"with-{name}-labels.npy", points)
        target = w / f"with-{name}-labels-labels.npy"
        if isinstance(labels, bytes):
            target.write_bytes(labels)
        else:
            np.save(target, labels, allow_pickle=True)

    (w / "deep.json").write_text(DEEP)
    (w / "deep.toml").write_text("x = " + "[" * 100_000)
    (w / "garbage.toml").write_bytes(b"\xff\xfe" + os.urandom(200))
    (w / "garbage.json").write_bytes(b"\xff\xfe" + os.urandom(200))
    (w / "bigint.json").write_text('{"train": {"seed": ' + "9" * 5000 + "}}")
    (w / "list.json").write_text("[1, 2]")
    (w / "bad.toml").write_text("[train\nseed = ")
    (w / "folder.toml").mkdir()
    (w / "unknown-key.toml").write_text("[train]\nnope = 1\n")
    (w / "bad-type.json").write_text('{"train": {"steps": "many"}}')
    (w / "seed-big.toml").write_text(f"[train]\nseed = {2**64}\n")
    (w / "seed-negative.toml").write_text("[train]\nseed = -1\n")
    (w / "seed-big.json").write_text(json.dumps({"train": {"seed": 2**80}}))
    (w / "cwd").mkdir()
    return w


def _huge_header(path: Path) -> None:
    """A .npy whose header claims 10^13 rows but holds 16 bytes: reading it must not try to allocate them."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (10000000000000, 2), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 16)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under `folder` with its size and modification time: what 'nothing written' compares."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(root) / name
            st = p.lstat()
            out[str(p.relative_to(folder))] = (st.st_size if not p.is_dir() else 0, st.st_mtime_ns)
    return out


@pytest.fixture
def no_server(monkeypatch):
    """The lab must refuse every corpus case before it serves: a server that starts fails the test."""
    try:
        import gankit.lab.server as server
    except ImportError:  # the lab's extra is missing: `gankit lab` refuses with a line of its own
        return

    def serve(**kwargs):
        raise AssertionError(f"the lab started a server for a bad invocation: {kwargs}")

    monkeypatch.setattr(server, "serve", serve)


def test_the_corpus_is_large_and_covers_every_subcommand():
    assert len(CORPUS) >= 200
    commands = {argv[0] if argv else "" for _, argv in CORPUS}
    assert {"train", "config", "sample", "evaluate", "theory", "plot", "features", "list", "lab", ""} <= commands


@pytest.mark.parametrize("name, argv", CORPUS, ids=[name for name, _ in CORPUS])
def test_a_malformed_invocation_is_one_line_and_exit_2(world, name, argv, capsys, monkeypatch, no_server):
    argv = [a.replace("{w}", str(world)) for a in argv]
    monkeypatch.chdir(world / "cwd")  # runs/<name> would land here
    before = snapshot(world)
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's errors
        code = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("gankit: error: "), err
    assert snapshot(world) == before, "a failed invocation wrote or changed files"


def _gankit(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "gankit", *argv], capture_output=True, text=True, env=env,
                          timeout=120, **kwargs)


def test_a_config_nested_100000_levels_deep_is_one_line(tmp_path):
    (tmp_path / "deep.json").write_text(DEEP)
    done = _gankit("train", "--config", str(tmp_path / "deep.json"), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"gankit: error: config file {tmp_path / 'deep.json'} nests its values too deeply to be a config"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.json"]  # no runs/ folder


def test_a_reader_that_leaves_early_gets_no_broken_pipe_traceback():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # `true` exits without reading, long before gankit writes: every write meets a closed pipe
    for reader in ("true", "head -1"):
        done = subprocess.run(f"{sys.executable} -m gankit list presets | {reader}", shell=True, capture_output=True,
                              text=True, env=env, timeout=120)
        assert done.stderr == "", done.stderr


def test_an_argparse_mistake_is_one_line_naming_the_choices(capsys):
    with pytest.raises(SystemExit) as done:
        main(["list", "nope"])
    err = capsys.readouterr().err
    assert done.value.code == 2
    assert err.splitlines() == ["gankit: error: argument what: invalid choice: 'nope' (choose from 'presets', "
                                "'datasets', 'objectives', 'models', 'divergences', 'metrics'); "
                                "see `gankit list --help`"]


def test_evaluate_checks_its_report_before_drawing_a_sample(world, capsys, monkeypatch):
    import gankit.training

    def sample(*args, **kwargs):
        raise AssertionError("evaluate drew samples before checking where its report goes")

    monkeypatch.setattr(gankit.training, "sample", sample)
    code = main(["evaluate", str(world / "ring-report")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [f"gankit: error: the report {str(world / 'ring-report' / 'eval-2.json')!r} "
                                        "is a folder; give a file name inside it"]


def test_evaluate_names_its_own_flags_when_the_data_is_missing(world, capsys):
    code = main(["evaluate", str(world / "images.npy"), "--data", "mnist", "--root", str(world / "none"),
                 "--metrics", "parzen"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--download" in err and "--data.download" not in err


def test_features_names_its_own_flags_when_the_data_is_missing(world, capsys):
    code = main(["features", "train", "--data", "mnist", "--root", str(world / "none")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--data." not in err and "put the official files there" in err


def test_resume_and_plot_skip_garbage_lines_in_stats(world, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(world / "ring", run)
    with open(run / "stats.jsonl", "ab") as f:
        f.write(b"\xff\xfe garbage \x00\n" + b"[" * 10_000 + b"\n" + b'{"step": 1e999}\n{"step": 2, "loss/D": 1')
    assert main(["plot", str(run)]) == 0
    assert main(["train", "--resume", str(run), "--steps", "3", "--no-progress"]) == 0
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 3
    assert "Traceback" not in capsys.readouterr().err


def test_resume_without_a_run_passes_over_damaged_runs(tmp_path, capsys, monkeypatch):
    """`--resume` alone reads every folder under runs/: garbage there is passed over, not a traceback."""
    monkeypatch.chdir(tmp_path)
    for name, files in (("a", {"config.json": b"\xff\xfe", "checkpoint.pt": b"x"}),
                        ("b", {"config.json": DEEP.encode(), "checkpoint.pt": b"x"}),
                        ("c", {"config.json": b'{"name": "ring8-ns"}', "latest": b"\xff\x00"})):
        (tmp_path / "runs" / name).mkdir(parents=True)
        for file, data in files.items():
            (tmp_path / "runs" / name / file).write_bytes(data)
    before = snapshot(tmp_path)
    code = main(["train", "--preset", "ring8-ns", "--resume", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip().splitlines() == [
        "gankit: error: no run of 'ring8-ns' with a checkpoint under 'runs' to resume; start one without --resume, "
        "or give the run: --resume runs/ring8-ns"]
    assert snapshot(tmp_path) == before


def test_plot_titles_a_run_whose_config_is_damaged(world, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(world / "ring", run)
    (run / "config.json").write_text(DEEP)
    assert main(["plot", str(run), "--out", str(tmp_path / "x.png")]) == 0
    assert (tmp_path / "x.png").stat().st_size > 0
