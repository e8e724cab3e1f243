"""Your own pictures: a folder of PNG/JPEG files, centre-cropped to squares and resized, decoded once.

The decoded images are one uint8 array (N, C, S, S) cached as a plain .npy (never a pickle) in
`<data.root>/cache/images`; its name holds a SHA-256 of the folder's file list, sizes and mtimes,
data.image_size and data.channels, so adding, removing or editing a picture decodes the folder again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from tqdm.auto import tqdm

from gankit.errors import GankitError
from gankit.fileio import atomic_open

EXTENSIONS = (".png", ".jpg", ".jpeg")  # matched in any case: .JPG, .Png, ...
CACHE_VERSION = 1  # part of the cache key: bump it when decoding changes, so old caches are not reused
PROGRESS_MIN_FILES = 200  # fewer pictures decode in a second or two: no progress bar


def image_cache_dir(root: str | Path) -> Path:
    """Where decoded folders are cached: `<data.root>/cache/images` (data/cache/images by default)."""
    return Path(root) / "cache" / "images"


def find_images(path: str | Path) -> list[Path]:
    """The PNG/JPEG files under the folder `path` (subfolders too), sorted by relative path.

    Hidden files and folders (names starting with ".", e.g. macOS "._photo.jpg") are left out.

    Raises:
        GankitError: `path` is empty, missing, not a folder, or holds no PNG/JPEG file.
    """
    if not str(path):
        raise GankitError("dataset 'images' needs a folder: --data.path=DIR (PNG/JPEG files, subfolders included)")
    folder = Path(path)
    if not folder.exists():
        raise GankitError(f"image folder {str(path)!r} (data.path) does not exist")
    if not folder.is_dir():
        raise GankitError(f"data.path {str(path)!r} is a file; dataset 'images' needs a folder of PNG/JPEG files")
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):  # os.walk does not follow symlinked folders: no loops
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        files += [Path(dirpath, f) for f in filenames if f.lower().endswith(EXTENSIONS) and not f.startswith(".")]
    if not files:
        looked = ", ".join(f"*{e}" for e in EXTENSIONS)
        raise GankitError(f"image folder {str(path)!r} holds no pictures: looked for {looked} (any case, in subfolders "
                          "too)")
    return sorted(files, key=lambda f: f.relative_to(folder).as_posix())


def load_image_folder(path: str | Path, *, image_size: int, channels: int, cache_dir: str | Path,
                      progress: bool = True) -> torch.Tensor:
    """Every picture in a folder, centre-cropped to a square and resized, as one uint8 tensor.

    The first call decodes the files (a progress bar when there are many) and caches the result in
    `cache_dir`; later calls with the same files and settings read the cache. Files Pillow cannot read
    are skipped with one warning line on stderr (their count and the first one); transparent pixels
    become white; JPEG EXIF rotations are applied.

    Args:
        path: the folder (searched recursively for *.png, *.jpg, *.jpeg, any case).
        image_size: S, the side of the square each picture is resized to (Lanczos).
        channels: 1 (converted to grayscale, Pillow "L") or 3 (RGB).
        cache_dir: folder for the decoded .npy (created if needed), e.g. `image_cache_dir(data.root)`.
        progress: show a tqdm bar while decoding at least PROGRESS_MIN_FILES pictures.

    Returns:
        uint8 (N, C, S, S), 0 = black, in the sorted order of the files' relative paths.

    Raises:
        GankitError: a bad path (see `find_images`), channels not 1 or 3, or no file could be read.
    """
    if channels not in (1, 3) or image_size < 1:
        raise GankitError(f"images need channels 1 or 3 and image_size >= 1, got {channels} and {image_size}")
    files = find_images(path)
    folder = Path(path)
    stats = [(f.relative_to(folder).as_posix(), *_size_mtime(f)) for f in files]
    where = str(folder.resolve())
    # Two names: one for this folder at this size (older caches of it are deleted), one for its contents.
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", folder.resolve().name)[:40] or "folder"
    prefix = f"{slug}-{_sha256([CACHE_VERSION, where])[:8]}-{image_size}px-{channels}ch-"
    cache = Path(cache_dir) / f"{prefix}{_sha256([CACHE_VERSION, where, image_size, channels, stats])[:16]}.npy"
    x = _read_cache(cache, (channels, image_size, image_size))
    if x is None:
        x = _decode_all(folder, files, image_size, "L" if channels == 1 else "RGB", progress)
        _write_cache(cache, x)
        for old in cache.parent.glob(f"{prefix}*.npy"):  # the same folder before its files changed
            if old != cache:
                old.unlink(missing_ok=True)
    return torch.from_numpy(x)


def decode(path: str | Path, image_size: int, mode: str) -> np.ndarray:
    """One picture -> uint8 (C, S, S): converted to `mode` ("L" or "RGB"), the largest centred square
    cropped out and resized to S x S with Lanczos (a good low-pass filter when shrinking)."""
    with Image.open(path) as img:
        img.draft(mode, (image_size, image_size))  # JPEG: decode big photos at 1/2..1/8 scale, still >= S (fast)
        img = ImageOps.exif_transpose(img)  # phone photos store their rotation in EXIF
        if img.mode.startswith("I;16"):  # 16-bit grey: scale to 8 bits (convert("L") would clip above 255)
            img = img.convert("I").point(lambda v: v * (1 / 256))
        if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
            white = Image.new("RGBA", img.size, (255, 255, 255, 255))
            img = Image.alpha_composite(white, img.convert("RGBA"))  # transparent -> white, not black
        img = img.convert(mode)
        w, h = img.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        # crop first: resize(box=...) would let the filter reach pixels outside the box into the edges
        img = img.crop((left, top, left + side, top + side)).resize((image_size, image_size), Image.Resampling.LANCZOS)
        arr = np.asarray(img, dtype=np.uint8)  # (S, S) for "L", (S, S, 3) for "RGB"
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def _decode_all(folder: Path, files: list[Path], image_size: int, mode: str, progress: bool) -> np.ndarray:
    out, bad = [], []
    bar = tqdm(files, desc=f"decoding {folder.name or folder}", unit="img", leave=False,
               disable=not progress or len(files) < PROGRESS_MIN_FILES)
    for f in bar:
        try:
            out.append(decode(f, image_size, mode))
        except Exception as e:  # Pillow raises many types on broken files (OSError, SyntaxError, struct.error, ...)
            bad.append(f"{f} ({type(e).__name__}: {' '.join(str(e).split())[:200]})")
    if not out:
        raise GankitError(f"none of the {len(files)} pictures in {str(folder)!r} could be read; the first: {bad[0]}")
    if bad:
        print(f"gankit: warning: skipped {len(bad)} of {len(files)} pictures in {str(folder)!r} that could not be "
              f"read; the first: {bad[0]}", file=sys.stderr)
    return np.ascontiguousarray(np.stack(out))  # (N, C, S, S)


def _read_cache(path: Path, shape: tuple[int, int, int]) -> np.ndarray | None:
    """The cached array, or None when it is missing, damaged or of another shape (then decoded again)."""
    try:
        x = np.load(path, allow_pickle=False)  # a plain array: never unpickle
    except (OSError, ValueError, EOFError):
        return None
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != shape or not len(x):
        return None
    return x


def _write_cache(path: Path, x: np.ndarray) -> None:
    """Atomically: a temporary file in the same folder renamed into place, so a reader (another DDP rank,
    a killed run) never sees half a file. A folder that cannot be written costs a warning, not the run."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path) as f:
            np.save(f, x, allow_pickle=False)
    except OSError as e:
        print(f"gankit: warning: could not cache the decoded pictures in {path.parent} ({e}); they are decoded "
              "again next time", file=sys.stderr)


def _size_mtime(f: Path) -> tuple[int, int]:
    st = f.stat()
    return st.st_size, st.st_mtime_ns


def _sha256(value) -> str:
    return hashlib.sha256(json.dumps(value).encode()).hexdigest()
