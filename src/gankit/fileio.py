"""Atomic file writes: every file gankit writes (checkpoints, stats, configs, caches, downloads) goes to a
temporary file in the same folder, is flushed to disk, then renamed over its final name, so a crash or a
concurrent reader never sees half a file: the final name holds the old file or the complete new one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

TEMP_SUFFIX = ".tmp"  # temporary files are .<name>.<random>.tmp beside their target (see remove_temp_files)


def _read_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


# Read once: os.umask can only be read by setting it, which would race with other threads' file creation.
UMASK = _read_umask()


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; when the block ends without an exception it is
    fsynced and renamed over `path`, otherwise it is removed and `path` is left as it was.

    Example:
        with atomic_open(run_dir / "checkpoint.pt") as f:
            torch.save(state, f)
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes whole files: mode 'wb' or 'w', not {mode!r}")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes it 0600; give it the mode a plain open() would
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write a text file atomically (see `atomic_open`)."""
    with atomic_open(path, "w") as f:
        f.write(text)


def link_atomic(src: str | Path, dst: str | Path) -> None:
    """Make `dst` the same file as `src`: a hard link renamed over `dst` (a copy where links fail)."""
    src, dst = Path(src), Path(dst)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=TEMP_SUFFIX)
    os.close(fd)
    try:
        os.remove(tmp)  # os.link needs a free name
        try:
            os.link(src, tmp)
        except OSError:  # no hard links on this file system
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def remove_temp_files(folder: str | Path) -> None:
    """Remove the temporary files a killed process left in `folder` (its writes never reached the rename)."""
    for p in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        p.unlink(missing_ok=True)
