"""Checks of the paths gankit is asked to write (run directories, pictures, reports), made before any work:
a path under a file, a folder that cannot be written, or a name longer than the file system allows is a
`GankitError` naming the path, not an OSError after minutes of training or scoring.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from gankit.errors import GankitError


def check_output_dir(path: str | Path, what: str) -> Path:
    """`path` is a folder, or can be made one: no part of it is a file, its names fit the file system, and the
    nearest existing folder at or above it is writable. Nothing is created."""
    path = Path(path)
    base = _inspect(path, what)
    if base == path and not path.is_dir():
        raise GankitError(f"{what} {str(path)!r} is a file, not a folder; choose a folder")
    _probe(base, path, what)
    return path


def check_output_file(path: str | Path, what: str) -> Path:
    """`path` can be written as a file: it is not a folder, its folder exists and is writable, and its name
    fits the file system."""
    path = Path(path)
    base = _inspect(path, what)
    if base == path and path.is_dir():
        raise GankitError(f"{what} {str(path)!r} is a folder; give a file name inside it")
    if base not in (path, path.parent) or not path.parent.is_dir():
        raise GankitError(f"the folder of {what} {str(path)!r} does not exist")
    _probe(path.parent, path, what)
    return path


def _inspect(path: Path, what: str) -> Path:
    """The nearest existing path at or above `path`, after checking that the names below it fit the file
    system and that it is not a file with `path` below it."""
    if not str(path) or "\x00" in str(path):
        raise GankitError(f"{what} {str(path)!r} is not a valid path (empty, or holds a NUL byte)")
    base = _existing_ancestor(path)
    name_max, path_max = _limits(base if base.is_dir() else base.parent)
    for part in path.parts:
        if len(os.fsencode(part)) > name_max:
            raise GankitError(f"{what}: the name {part[:40]!r}... is {len(os.fsencode(part))} bytes, longer than "
                              f"the {name_max} this file system allows")
    if len(os.fsencode(str(path.absolute()))) >= path_max:
        raise GankitError(f"{what} {str(path)[:60]!r}... is longer than the {path_max} bytes a path may have here")
    if base != path and not base.is_dir():
        raise GankitError(f"{what} {str(path)!r} lies under the file {str(base)!r}; choose a path under a folder")
    return base


def _existing_ancestor(path: Path) -> Path:
    """The nearest path at or above `path` that exists (a file or a folder)."""
    for candidate in [path, *path.parents, *path.absolute().parents]:
        try:
            if candidate.exists():
                return candidate
        except OSError as e:  # ENAMETOOLONG from stat: the name checks report it
            if e.errno != errno.ENAMETOOLONG:
                raise
    return Path("/")


def _probe(folder: Path, path: Path, what: str) -> None:
    """Can a new file be made in `folder`? Root passes os.access on any folder, so the last word is a nameless
    temporary file: it shows that the file system takes one (read-only mounts, /proc) and leaves nothing."""
    if not folder.is_dir():
        return
    try:
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "permission denied")
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise GankitError(f"cannot write {what} {str(path)!r}: the folder {str(folder)!r} is not writable "
                          f"({e.strerror or e})") from None


def _limits(folder: Path) -> tuple[int, int]:
    """The longest file name and path in bytes on `folder`'s file system (255 and 4096 where unknown)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX"), os.pathconf(folder, "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):
        return 255, 4096
