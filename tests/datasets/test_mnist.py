"""MNIST: the IDX reader, ``DataSet.next_batch``, locating files, and verified downloads.

Downloads run against local HTTP mirrors on 127.0.0.1 (``conftest.py``) serving small
synthetic IDX files whose checksums are passed in, so nothing touches the network. Tests on
the real data read ``FLOWIR_DATA_DIR`` and are skipped without it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import struct
import time
from pathlib import Path

import numpy as np
import pytest

import flowir as tf
from flowir.datasets import DatasetError, mnist
from flowir.datasets._download import download_verified, raw_sha256
from flowir.ir.errors import FlowirError

DATA_DIR = os.environ.get("FLOWIR_DATA_DIR")
needs_mnist = pytest.mark.skipif(
    not (DATA_DIR and os.path.isdir(DATA_DIR)),
    reason="real MNIST not available: set FLOWIR_DATA_DIR to a folder with the four MNIST files",
)


def idx_bytes(array: np.ndarray) -> bytes:
    codes = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}
    code = codes[array.dtype.str[1:]]
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def synthetic_mnist(n_train: int = 30, n_test: int = 12, seed: int = 0) -> dict[str, bytes]:
    """Raw (uncompressed) IDX bytes of a tiny MNIST look-alike, by uncompressed file name."""
    rng = np.random.default_rng(seed)
    arrays = {
        mnist.TRAIN_IMAGES: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        mnist.TRAIN_LABELS: rng.integers(0, 10, n_train, dtype=np.uint8),
        mnist.TEST_IMAGES: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        mnist.TEST_LABELS: rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    return {name: idx_bytes(a) for name, a in arrays.items()}


def sums(raw: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in raw.items()}


def served(raw: dict[str, bytes]) -> dict[str, bytes]:
    """What a mirror serves: the files gzip-compressed, under their ``.gz`` names."""
    return {name + ".gz": gzip.compress(data, mtime=0) for name, data in raw.items()}


def write(path: Path, data: bytes, compress: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


# --------------------------------------------------------------------------------------------
# IDX reader


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", ">i4", ">f4", ">f8"])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path: Path, dtype: str, compress: bool) -> None:
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    got = mnist.read_idx(write(tmp_path / "a.idx", idx_bytes(a), compress))
    assert got.dtype == a.dtype.newbyteorder("=") and got.dtype.isnative
    np.testing.assert_array_equal(got, a)
    got[0, 0, 0] = 1  # writable


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00", "shorter than the 4-byte magic"),
        (b"\x01\x00\x08\x01" + b"\x00" * 8, "magic number starts 0100"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "unknown element type code 0x07"),
        (b"\x00\x00\x08\x00", "declares 0 dimensions"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02\x03", "need 5 data bytes, found 3"),
        (b"\x00\x00\x0c\x01\x00\x00\x00\x01\x00\x00\x00\x01\xff", "1 unexpected bytes after the data"),
    ],
)
def test_bad_idx_files_name_the_file(tmp_path: Path, data: bytes, message: str) -> None:
    path = write(tmp_path / "bad-idx3-ubyte", data)
    with pytest.raises(DatasetError, match=message) as info:
        mnist.read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, FlowirError)


def test_truncated_and_corrupt_gzip_name_the_file(tmp_path: Path) -> None:
    payload = gzip.compress(idx_bytes(np.arange(5000, dtype=np.uint8).reshape(50, 100)))
    truncated = write(tmp_path / "trunc.gz", payload[: len(payload) // 2])
    with pytest.raises(DatasetError, match="corrupt or truncated gzip") as info:
        mnist.read_idx(truncated)
    assert str(truncated) in str(info.value)
    corrupt = bytearray(payload)
    corrupt[-6] ^= 0xFF  # inside the CRC-32 trailer
    path = write(tmp_path / "crc.gz", bytes(corrupt))
    with pytest.raises(DatasetError, match="crc.gz"):
        mnist.read_idx(path)


def test_a_missing_file_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot read .*nope"):
        mnist.read_idx(tmp_path / "nope")


def test_images_and_labels_are_checked(tmp_path: Path) -> None:
    labels = write(tmp_path / "labels", idx_bytes(np.array([1, 2, 10], np.uint8)))
    with pytest.raises(DatasetError, match=r"label 10 at index 2 is not below the 10 classes"):
        mnist.load_labels(labels)
    with pytest.raises(DatasetError, match=r"expected MNIST images \(uint8, 3 dimensions\), found uint8 \[3\]"):
        mnist.load_images(labels)
    images = write(tmp_path / "images", idx_bytes(np.zeros((2, 3, 3), np.uint8)))
    with pytest.raises(DatasetError, match=r"expected MNIST labels .* found uint8 \[2, 3, 3\]"):
        mnist.load_labels(images)


def test_dense_to_one_hot() -> None:
    got = mnist.dense_to_one_hot(np.array([3, 0, 9], np.uint8))
    assert got.dtype == np.float32 and got.shape == (3, 10)
    np.testing.assert_array_equal(got.argmax(1), [3, 0, 9])
    np.testing.assert_array_equal(got.sum(1), [1, 1, 1])


# --------------------------------------------------------------------------------------------
# DataSet


def make_dataset(n: int = 10, seed: int | None = 0) -> mnist.DataSet:
    images = np.arange(n * 4, dtype=np.uint8).reshape(n, 2, 2)
    return mnist.DataSet(images, np.arange(n), seed=seed)


def test_dataset_images_are_scaled_and_flattened() -> None:
    images = np.array([[[0, 255], [51, 102]]], np.uint8)
    ds = mnist.DataSet(images, np.array([7]))
    assert ds.images.dtype == np.float32 and ds.images.shape == (1, 4)
    np.testing.assert_allclose(ds.images, [[0.0, 1.0, 0.2, 0.4]], rtol=1e-6)
    raw = mnist.DataSet(images[..., None], np.array([7]), dtype=tf.uint8, reshape=False)
    assert raw.images.dtype == np.uint8 and raw.images.shape == (1, 2, 2, 1)
    with pytest.raises(TypeError, match="uint8 or float32"):
        mnist.DataSet(images, np.array([7]), dtype=np.float64)
    with pytest.raises(ValueError, match="differ in length"):
        mnist.DataSet(images, np.array([7, 8]))


def test_next_batch_visits_every_example_once_per_epoch_and_reshuffles() -> None:
    ds = make_dataset(10)
    before = ds.labels.copy()
    epochs = []
    for _ in range(3):
        seen = np.concatenate([ds.next_batch(5)[1] for _ in range(2)])
        assert sorted(seen) == list(range(10))
        epochs.append(seen)
    assert ds.epochs_completed == 2  # the third epoch's end is not crossed yet
    assert any(not np.array_equal(epochs[0], e) for e in epochs[1:])
    np.testing.assert_array_equal(ds.labels, before)


def test_next_batch_pairs_images_with_their_labels() -> None:
    ds = make_dataset(10)
    for _ in range(7):
        images, labels = ds.next_batch(3)
        np.testing.assert_array_equal(images, ds.images[labels])


def test_next_batch_across_the_epoch_boundary() -> None:
    ds = make_dataset(10)
    first = np.concatenate([ds.next_batch(4)[1] for _ in range(2)])
    assert ds.epochs_completed == 0
    crossing = ds.next_batch(4)[1]
    assert ds.epochs_completed == 1
    # The rest of epoch 1, then the start of epoch 2's order.
    assert sorted([*first, *crossing[:2]]) == list(range(10))
    rest_of_epoch2 = np.concatenate([crossing[2:], ds.next_batch(4)[1], ds.next_batch(4)[1]])
    assert sorted(rest_of_epoch2) == list(range(10)) and ds.epochs_completed == 1
    # As in TF1, an epoch ending exactly at a batch's end is counted when the next batch starts.
    ds.next_batch(4)
    assert ds.epochs_completed == 2


def test_next_batch_without_shuffle_is_sequential() -> None:
    ds = make_dataset(5)
    got = [ds.next_batch(2, shuffle=False)[1].tolist() for _ in range(4)]
    assert got == [[0, 1], [2, 3], [4, 0], [1, 2]]


def test_next_batch_seed_is_reproducible_and_bounds_are_checked() -> None:
    a, b = make_dataset(20, seed=3), make_dataset(20, seed=3)
    for _ in range(5):
        np.testing.assert_array_equal(a.next_batch(7)[1], b.next_batch(7)[1])
    for bad in (0, 21):
        with pytest.raises(ValueError, match=r"batch_size must be in 1\.\.20"):
            a.next_batch(bad)


# --------------------------------------------------------------------------------------------
# read_data_sets on local files


def test_read_data_sets_from_a_directory(tmp_path: Path) -> None:
    raw = synthetic_mnist()
    for name, data in raw.items():  # one raw and the others gzip
        write(
            tmp_path / (name if name == mnist.TEST_LABELS else name + ".gz"), data, compress=name != mnist.TEST_LABELS
        )
    data = mnist.read_data_sets(tmp_path, one_hot=True, validation_size=10, download=False)
    assert (data.train.num_examples, data.validation.num_examples, data.test.num_examples) == (20, 10, 12)
    train_images = mnist.read_idx(tmp_path / (mnist.TRAIN_IMAGES + ".gz"))
    np.testing.assert_allclose(data.validation.images, train_images[:10].reshape(10, 784) / 255.0, rtol=1e-6)
    np.testing.assert_allclose(data.train.images, train_images[10:].reshape(20, 784) / 255.0, rtol=1e-6)
    assert data.train.labels.shape == (20, 10) and data.train.labels.dtype == np.float32
    with pytest.raises(ValueError, match="validation_size must be between 0 and 30, got 31"):
        mnist.read_data_sets(tmp_path, validation_size=31, download=False)


def test_mismatched_counts_and_missing_files(tmp_path: Path) -> None:
    raw = synthetic_mnist()
    raw[mnist.TEST_LABELS] = idx_bytes(np.zeros(5, np.uint8))
    for name, data in raw.items():
        write(tmp_path / name, data)
    with pytest.raises(DatasetError, match="holds 12 images but .*t10k-labels-idx1-ubyte holds 5 labels"):
        mnist.read_data_sets(tmp_path, download=False)
    os.unlink(tmp_path / mnist.TEST_LABELS)
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte\(\.gz\) not found .*downloading is off"):
        mnist.read_data_sets(tmp_path, download=False)


def test_data_dir_and_mirror_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWIR_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert mnist.default_data_dir() == str(tmp_path / "cache" / "flowir" / "mnist")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert mnist.default_data_dir() == os.path.join(os.path.expanduser("~"), ".cache", "flowir", "mnist")
    monkeypatch.setenv("FLOWIR_DATA_DIR", str(tmp_path))
    assert mnist.default_data_dir() == str(tmp_path)

    monkeypatch.delenv("FLOWIR_MNIST_MIRRORS", raising=False)
    assert mnist.mirror_list() == mnist.DEFAULT_MIRRORS
    monkeypatch.setenv("FLOWIR_MNIST_MIRRORS", "http://a/x/, http://b/y http://c/")
    assert mnist.mirror_list() == ("http://a/x/", "http://b/y", "http://c/")
    assert mnist.mirror_list(["http://d/"]) == ("http://d/",)


# --------------------------------------------------------------------------------------------
# Downloads from local mirrors


def test_download_into_the_cache_through_the_env_mirror(tmp_path: Path, monkeypatch, mirror_factory) -> None:
    raw = synthetic_mnist()
    m = mirror_factory(served(raw))
    monkeypatch.delenv("FLOWIR_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("FLOWIR_MNIST_MIRRORS", m.url)
    data = mnist.read_data_sets(validation_size=5, sha256=sums(raw), timeout=5)
    cache = tmp_path / "flowir" / "mnist"
    assert sorted(os.listdir(cache)) == sorted(n + ".gz" for n in raw)  # no temporary files left
    for name, data_bytes in raw.items():
        assert raw_sha256(str(cache / (name + ".gz"))) == hashlib.sha256(data_bytes).hexdigest()
    assert data.train.num_examples == 25 and data.test.num_examples == 12
    assert sorted(m.requests) == sorted(f"/mnist/{n}.gz" for n in raw)
    # A second call finds the files and downloads nothing.
    mnist.read_data_sets(validation_size=5, sha256=sums(raw))
    assert len(m.requests) == 4


def test_a_corrupt_file_falls_through_to_the_next_mirror(tmp_path: Path, mirror_factory) -> None:
    raw = synthetic_mnist()
    bad = mirror_factory(served(raw), {n + ".gz": "corrupt" for n in raw})
    good = mirror_factory(served(raw))
    data = mnist.read_data_sets(tmp_path, mirrors=[bad.url, good.url], sha256=sums(raw), timeout=5, validation_size=0)
    assert len(bad.requests) == 4 and len(good.requests) == 4
    assert data.validation.num_examples == 0 and data.validation.images.shape == (0, 784)
    np.testing.assert_array_equal(data.test.labels, mnist.read_idx(tmp_path / (mnist.TEST_LABELS + ".gz")))


def test_every_mirror_failing_is_one_clear_error(tmp_path: Path, mirror_factory) -> None:
    raw = synthetic_mnist()
    name = mnist.TRAIN_IMAGES + ".gz"
    corrupt = mirror_factory(served(raw), {name: "corrupt"})
    dropping = mirror_factory(served(raw), {name: "drop"})
    missing = mirror_factory({})
    start = time.monotonic()
    with pytest.raises(DatasetError) as info:
        mnist.read_data_sets(tmp_path, mirrors=[corrupt.url, dropping.url, missing.url], sha256=sums(raw), timeout=5)
    assert time.monotonic() - start < 20
    message = str(info.value)
    assert f"cannot download {name} into {str(tmp_path)!r}: every mirror failed" in message
    assert f"{corrupt.url}{name}: " in message and ("SHA-256" in message or "corrupt gzip" in message)
    assert f"{dropping.url}{name}: connection closed after " in message
    assert f"{missing.url}{name}: HTTP 404" in message
    assert os.listdir(tmp_path) == []  # nothing partial left behind


def test_the_raw_bytes_are_verified_not_the_gzip_wrapper(tmp_path: Path, mirror_factory) -> None:
    payload = idx_bytes(np.arange(10, dtype=np.uint8))
    wrapped = gzip.compress(payload, compresslevel=1, mtime=12345)
    m = mirror_factory({"f.gz": wrapped})
    path = download_verified("f.gz", hashlib.sha256(payload).hexdigest(), str(tmp_path), [m.url], timeout=5)
    assert Path(path).read_bytes() == wrapped
    with pytest.raises(DatasetError, match="content SHA-256 is [0-9a-f]{64}, expected 0{64}"):
        download_verified("f.gz", "0" * 64, str(tmp_path / "other"), [m.url], timeout=5)
    assert not (tmp_path / "other" / "f.gz").exists()


def test_a_dropped_connection_then_a_good_mirror(tmp_path: Path, mirror_factory) -> None:
    payload = os.urandom(200_000)
    dropping = mirror_factory({"blob": payload}, {"blob": "drop"})
    good = mirror_factory({"blob": payload})
    path = download_verified(
        "blob", hashlib.sha256(payload).hexdigest(), str(tmp_path), [dropping.url, good.url], timeout=5
    )
    assert Path(path).read_bytes() == payload
    assert dropping.requests and good.requests


def test_a_hanging_or_unreachable_mirror_times_out(tmp_path: Path, mirror_factory) -> None:
    hanging = mirror_factory({"blob": b"x"}, {"blob": "hang"})
    # A port that refuses connections: bound, then closed, with nothing listening.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead_url = f"http://127.0.0.1:{s.getsockname()[1]}/"
    s.close()
    start = time.monotonic()
    with pytest.raises(DatasetError) as info:
        download_verified("blob", hashlib.sha256(b"x").hexdigest(), str(tmp_path), [hanging.url, dead_url], timeout=0.5)
    assert time.monotonic() - start < 10
    assert "timed out" in str(info.value) and "unreachable" in str(info.value)
    assert os.listdir(tmp_path) == []


def test_no_mirrors_and_an_unwritable_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no mirrors configured"):
        download_verified("f", "0" * 64, str(tmp_path), [])
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DatasetError, match="cannot create the data directory"):
        download_verified("f", "0" * 64, str(blocker / "sub"), ["http://127.0.0.1:9/"])


# --------------------------------------------------------------------------------------------
# The real data


@needs_mnist
def test_real_mnist_files_match_the_known_sums() -> None:
    for name, digest in mnist.FILES.items():
        path = next(p for p in (Path(DATA_DIR, name + ".gz"), Path(DATA_DIR, name)) if p.exists())
        assert raw_sha256(str(path)) == digest, name


@needs_mnist
def test_real_mnist_read_data_sets() -> None:
    data = mnist.read_data_sets(DATA_DIR, one_hot=True, seed=0, download=False)
    assert (data.train.num_examples, data.validation.num_examples, data.test.num_examples) == (55000, 5000, 10000)
    for ds in data:
        assert ds.images.dtype == np.float32 and ds.images.shape[1] == 784
        assert ds.images.min() == 0.0 and ds.images.max() == 1.0
        assert ds.labels.dtype == np.float32 and ds.labels.shape[1] == 10
        np.testing.assert_array_equal(ds.labels.sum(1), 1.0)
    counts = data.train.labels.sum(0)
    assert counts.min() > 4000  # every digit well represented
    dense = mnist.read_data_sets(DATA_DIR, download=False)
    assert dense.test.labels.dtype == np.uint8 and dense.test.labels[:5].tolist() == [7, 2, 1, 0, 4]
    xs, ys = dense.train.next_batch(100)
    assert xs.shape == (100, 784) and ys.shape == (100,)
