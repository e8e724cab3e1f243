"""Dataset `images`: a folder of PNG/JPEG files -> uint8 (N, C, S, S), centre-cropped, cached, and trained on."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.config import DataConfig
from gankit.data import conditional_classes, load_dataset
from gankit.data.images import image_cache_dir, load_image_folder
from gankit.errors import GankitError

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def thirds(size: tuple[int, int], outer, middle) -> Image.Image:
    """A wide (or tall) RGB picture whose outer thirds along its long side are `outer`, its middle `middle`."""
    w, h = size
    a = np.zeros((h, w, 3), np.uint8)
    a[...] = outer
    if w > h:
        a[:, w // 3 : 2 * w // 3] = middle
    else:
        a[h // 3 : 2 * h // 3, :] = middle
    return Image.fromarray(a)


@pytest.fixture
def pictures(tmp_path) -> Path:
    """Five pictures of different sizes, modes and extension cases (one in a subfolder), plus files to ignore."""
    folder = tmp_path / "pictures"
    (folder / "sub").mkdir(parents=True)
    thirds((48, 16), RED, GREEN).save(folder / "a_wide.png")  # centre square: all green
    thirds((16, 48), RED, BLUE).save(folder / "b_tall.jpg", quality=95)  # centre square: all blue
    Image.new("RGB", (20, 30), (200, 120, 40)).save(folder / "c_photo.JPEG", quality=95)
    Image.fromarray(np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))).save(folder / "sub" / "d_gray.PNG")
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(folder / "sub" / "e_clear.png")  # fully transparent
    (folder / "notes.txt").write_text("not a picture")
    Image.new("RGB", (8, 8)).save(folder / ".hidden.png")  # hidden: left out
    return folder


def load(folder: Path, tmp_path: Path, channels: int = 3, size: int = 8):
    return load_image_folder(folder, image_size=size, channels=channels, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize("channels", [1, 3])
def test_every_picture_becomes_a_uint8_square(pictures, tmp_path, channels):
    x = load(pictures, tmp_path, channels)
    assert x.shape == (5, channels, 8, 8) and x.dtype == torch.uint8


def test_centre_crop_keeps_the_middle_and_modes_are_converted(pictures, tmp_path):
    x = load(pictures, tmp_path).numpy()  # sorted: wide, tall, photo, sub/gray, sub/clear
    wide, tall, photo, gray, clear = x
    # after crop + resize every pixel, corners included, comes from the middle third
    assert (wide.transpose(1, 2, 0) == GREEN).all()
    assert np.abs(tall.transpose(1, 2, 0).astype(int) - BLUE).max() <= 8  # JPEG at quality 95
    assert np.abs(photo.transpose(1, 2, 0).astype(int) - (200, 120, 40)).max() <= 8
    assert (gray[0] == gray[1]).all() and (gray[1] == gray[2]).all()  # grey -> RGB: equal channels
    assert gray[0, 0, 0] < 40 and gray[0, 0, -1] > 215  # the gradient runs left to right
    assert (clear == 255).all()  # transparent -> white
    grey = load(pictures, tmp_path, channels=1).numpy()
    assert grey[0, 0, 0, 0] == round(0.587 * 255)  # green in Pillow's "L" (ITU-R 601-2 luma)


def test_decoded_once_then_read_from_the_cache(pictures, tmp_path, monkeypatch):
    first = load(pictures, tmp_path)
    (cache,) = (tmp_path / "cache").glob("*.npy")
    assert np.array_equal(np.load(cache, allow_pickle=False), first.numpy())  # a plain array, no pickle

    def broken(*args, **kwargs):
        raise AssertionError("decoded again although the cache is valid")

    with monkeypatch.context() as m:
        m.setattr(Image, "open", broken)
        assert np.array_equal(load(pictures, tmp_path).numpy(), first.numpy())
    Image.new("RGB", (9, 9), BLUE).save(pictures / "f_new.png")
    assert len(load(pictures, tmp_path)) == 6  # a new file: decoded again
    assert [p.name for p in (tmp_path / "cache").glob("*.npy")] != [cache.name]  # the stale cache is gone
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1
    os.utime(pictures / "f_new.png", ns=(0, 0))  # an edited file (new mtime) is decoded again too
    with monkeypatch.context() as m:
        m.setattr(Image, "open", broken)  # so every file fails to decode
        with pytest.raises(GankitError, match="decoded again"):
            load(pictures, tmp_path)
    assert load(pictures, tmp_path, size=16).shape == (6, 3, 16, 16)  # another size: its own cache file
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2


def test_a_damaged_cache_is_rebuilt(pictures, tmp_path):
    first = load(pictures, tmp_path)
    (cache,) = (tmp_path / "cache").glob("*.npy")
    cache.write_bytes(b"\x93NUMPY garbage")
    assert np.array_equal(load(pictures, tmp_path).numpy(), first.numpy())
    assert np.array_equal(np.load(cache, allow_pickle=False), first.numpy())


def test_unreadable_files_are_skipped_with_one_warning(pictures, tmp_path, capsys):
    (pictures / "broken.png").write_bytes(b"\x89PNG not really")
    (pictures / "empty.jpg").write_bytes(b"")
    assert len(load(pictures, tmp_path)) == 5
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "skipped 2 of 7" in lines[0] and "broken.png" in lines[0]


def test_a_folder_of_only_unreadable_files_is_an_error(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.png").write_text("hello")
    with pytest.raises(GankitError, match=r"none of the 1 pictures.*x\.png"):
        load(folder, tmp_path)


@pytest.mark.parametrize("case, match", [
    ("unset", r"--data\.path=DIR"),
    ("missing", r"missing.*does not exist"),
    ("file", r"f\.png.*is a file"),
    ("empty", r"empty.*holds no pictures: looked for \*\.png, \*\.jpg, \*\.jpeg"),
])
def test_bad_paths_are_one_line_errors(tmp_path, case, match):
    path = {"unset": "", "missing": tmp_path / "missing", "file": tmp_path / "f.png", "empty": tmp_path / "empty"}[case]
    if case == "file":
        Image.new("RGB", (8, 8)).save(path)
    if case == "empty":
        path.mkdir()
        (path / "notes.txt").write_text("no pictures here")
    with pytest.raises(GankitError, match=match) as e:
        load_image_folder(path, image_size=8, channels=3, cache_dir=tmp_path / "cache")
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_registered_dataset_is_unlabelled_images_in_pixel_range(pictures, tmp_path):
    cfg = DataConfig(name="images", path=str(pictures), root=str(tmp_path), image_size=8, channels=3)
    data = load_dataset(cfg)
    assert data.kind == "image" and data.labels is None and data.shape == (3, 8, 8) and len(data) == 5
    assert len(list(image_cache_dir(tmp_path).glob("*.npy"))) == 1
    x, y = data.sample(16, torch.Generator().manual_seed(0))
    assert y is None and x.shape == (16, 3, 8, 8) and x.min() >= -1 and x.max() <= 1
    with pytest.raises(GankitError, match="no labels"):
        conditional_classes(data, "images", "concat")


def test_cli_trains_samples_and_refuses_metrics(pictures, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "--preset", "mnist-recommended", "--data.name=images", f"--data.path={pictures}",
                 f"--data.root={tmp_path}", "--data.image_size=16", "--model.name=lrelu-mlp", "--train.steps=3",
                 "--train.batch_size=8", "--train.log_every=1", "--no-progress", "--run-dir", str(run)])
    assert code == 0, capsys.readouterr().err
    with Image.open(run / "samples.png") as grid:
        assert grid.format == "PNG" and grid.mode == "RGB" and grid.size[0] >= 8 * 16
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
    with Image.open(tmp_path / "s.png") as grid:
        assert grid.mode == "RGB"
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (4, 3, 16, 16)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--n", "20"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the sampling progress bar
    assert last.startswith("gankit: error: ") and "'images'" in last and "mnist, fashion-mnist" in last


@pytest.mark.parametrize("extra, match", [
    (["--data.path={missing}"], "{missing}"),
    (["--data.path={pictures}", "--train.eval_every=1"], "can evaluate"),
])
def test_cli_bad_input_is_one_line_and_exit_2(pictures, tmp_path, capsys, extra, match):
    names = {"missing": tmp_path / "no_such_folder", "pictures": pictures}
    code = main(["train", "--preset", "mnist-recommended", "--data.name=images", f"--data.root={tmp_path}",
                 "--train.steps=1", "--no-progress", "--run-dir", str(tmp_path / "run"),
                 *(e.format(**names) for e in extra)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("gankit: error: ")
    assert match.format(**names) in err and "Traceback" not in err
