"""The one atomic writer: a failed write leaves the old file, a finished one the new file, never a temp file."""

import os

import pytest

from gankit.fileio import atomic_open, link_atomic, remove_temp_files, write_text_atomic


def test_a_finished_write_replaces_the_file_with_the_umask_mode(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    write_text_atomic(path, "new")
    assert path.read_text() == "new"
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # the mode open() gives under this umask
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt", "plain.txt"]


def test_an_exception_inside_the_block_keeps_the_old_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="half"):
        with atomic_open(path) as f:
            f.write(b"half a fi")
            raise RuntimeError("half written")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_link_makes_the_same_file_and_temp_files_are_cleaned(tmp_path):
    src, dst = tmp_path / "a", tmp_path / "b"
    src.write_text("one")
    dst.write_text("two")
    link_atomic(src, dst)
    assert dst.read_text() == "one" and os.path.samefile(src, dst)
    (tmp_path / ".c.xyz.tmp").write_text("left by a killed process")
    remove_temp_files(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
