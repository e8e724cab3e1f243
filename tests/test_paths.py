"""Checks of output paths before any work (gankit/paths.py): nothing is created by a check."""

import os

import pytest

from gankit.errors import GankitError
from gankit.paths import check_output_dir, check_output_file


def test_a_new_folder_passes_and_is_not_made(tmp_path):
    assert check_output_dir(tmp_path / "a" / "b", "--out") == tmp_path / "a" / "b"
    assert check_output_file(tmp_path / "x.png", "--out") == tmp_path / "x.png"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make, path, match", [
    ("file", "f", "is a file, not a folder"),
    ("file", "f/run", "lies under the file"),
    (None, "x" * 300, "is 300 bytes, longer than the 255"),
    (None, "/".join(["d" * 200] * 25), "is longer than the 4096 bytes"),
])
def test_a_folder_that_cannot_be_made_is_refused(tmp_path, make, path, match):
    if make:
        (tmp_path / "f").write_text("")
    with pytest.raises(GankitError, match=match):
        check_output_dir(tmp_path / path, "--run-dir")


def test_a_folder_where_a_file_belongs_is_refused(tmp_path):
    (tmp_path / "x.png").mkdir()
    with pytest.raises(GankitError, match=r"'.*x\.png' is a folder; give a file name inside it"):
        check_output_file(tmp_path / "x.png", "--out")
    with pytest.raises(GankitError, match="does not exist"):
        check_output_file(tmp_path / "no" / "x.png", "--out")


def test_a_file_system_that_takes_no_files_is_refused():
    # /proc refuses new files even for root, who passes every permission check
    with pytest.raises(GankitError, match="cannot write --out '/proc/gankit-test': the folder '/proc' is not writable"):
        check_output_dir("/proc/gankit-test", "--out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    (tmp_path / "ro").mkdir(mode=0o500)
    with pytest.raises(GankitError, match="is not writable"):
        check_output_file(tmp_path / "ro" / "x.png", "--out")
