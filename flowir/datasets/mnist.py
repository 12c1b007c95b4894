"""MNIST: an IDX reader and ``read_data_sets``, as TensorFlow 1's tutorial helper provided.

>>> from flowir.datasets import mnist
>>> data = mnist.read_data_sets(one_hot=True)           # doctest: +SKIP
>>> data.train.images.shape, data.train.labels.shape    # doctest: +SKIP
((55000, 784), (55000, 10))
>>> xs, ys = data.train.next_batch(100)                  # doctest: +SKIP

Where the files come from: the ``train_dir`` argument, else the ``FLOWIR_DATA_DIR``
environment variable, else ``$XDG_CACHE_HOME/flowir/mnist`` (``~/.cache/flowir/mnist``). The
four files may be gzip (``train-images-idx3-ubyte.gz``) or uncompressed
(``train-images-idx3-ubyte``). Missing files are downloaded into that directory from the
mirrors (the ``mirrors`` argument, else ``FLOWIR_MNIST_MIRRORS``, a comma- or space-separated
list of base URLs, else ``DEFAULT_MIRRORS``), each checked against the SHA-256 of the
original, uncompressed MNIST file before it is renamed into place. Files already present are
not checksummed (the same names hold look-alike sets such as Fashion-MNIST), but every file is
parsed strictly: a wrong magic number, dtype, rank or size, truncated or corrupt gzip data,
is a ``DatasetError`` naming the file.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from flowir.datasets._download import DatasetError, download_verified
from flowir.ir.dtypes import DType as IRDType

__all__ = [
    "DataSet",
    "Datasets",
    "DatasetError",
    "DEFAULT_MIRRORS",
    "FILES",
    "read_data_sets",
    "read_idx",
    "load_images",
    "load_labels",
    "dense_to_one_hot",
    "default_data_dir",
    "mirror_list",
]

#: Public copies of the original files, tried in order (each file is verified by its content).
DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: The four MNIST files (uncompressed names) and the SHA-256 of their uncompressed bytes.
FILES: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = FILES

NUM_CLASSES = 10

#: IDX element type codes (the third magic byte); data are big-endian.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


# --------------------------------------------------------------------------------------------
# IDX files


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip-compressed or not) into an array of its dtype and dimensions.

    The header is checked strictly: two zero bytes, a known element type, at least one
    dimension, and exactly ``prod(dims) * itemsize`` data bytes after it. Returns a writable
    array in native byte order. Raises ``DatasetError`` naming ``path`` for a missing,
    unreadable, corrupt or truncated file, or one that is not IDX.
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DatasetError(f"{path}: not an IDX file: {len(data)} bytes, shorter than the 4-byte magic number")
    if data[0] != 0 or data[1] != 0:
        raise DatasetError(f"{path}: not an IDX file: magic number starts {data[:2].hex()}, expected 0000")
    dtype = _IDX_DTYPES.get(data[2])
    if dtype is None:
        raise DatasetError(f"{path}: not an IDX file: unknown element type code 0x{data[2]:02x}")
    ndim = data[3]
    if ndim == 0:
        raise DatasetError(f"{path}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path}: truncated IDX header: {len(data)} bytes, the header needs {header}")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = math.prod(dims) * dtype.itemsize
    found = len(data) - header
    if found < expected:
        raise DatasetError(
            f"{path}: truncated IDX file: dimensions {list(dims)} of {dtype.name} need {expected} data bytes, found {found}"
        )
    if found > expected:
        raise DatasetError(
            f"{path}: {found - expected} unexpected bytes after the data of an IDX file of dimensions {list(dims)}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DatasetError(f"cannot read {path!r}: {e.strerror or e}") from None
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        # gzip raises EOFError for a truncated stream and BadGzipFile (an OSError) for a bad CRC.
        raise DatasetError(f"{path}: corrupt or truncated gzip data: {e}") from None


def load_images(path: str | os.PathLike[str]) -> np.ndarray:
    """The images of an MNIST-style IDX file: ``uint8 [N, rows, cols]``.

    Raises ``DatasetError`` naming the file unless it holds unsigned bytes in 3 dimensions.
    """
    images = read_idx(path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DatasetError(
            f"{os.fspath(path)}: expected MNIST images (uint8, 3 dimensions), found {images.dtype.name} {list(images.shape)}"
        )
    return images


def load_labels(path: str | os.PathLike[str], num_classes: int = NUM_CLASSES) -> np.ndarray:
    """The labels of an MNIST-style IDX file: ``uint8 [N]`` with values below ``num_classes``.

    Raises ``DatasetError`` naming the file for another dtype or rank, or an out-of-range label.
    """
    labels = read_idx(path)
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetError(
            f"{os.fspath(path)}: expected MNIST labels (uint8, 1 dimension), found {labels.dtype.name} {list(labels.shape)}"
        )
    if labels.size and int(labels.max()) >= num_classes:
        bad = int(np.argmax(labels >= num_classes))
        raise DatasetError(
            f"{os.fspath(path)}: label {int(labels[bad])} at index {bad} is not below the {num_classes} classes"
        )
    return labels


def dense_to_one_hot(labels_dense: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Class indices ``[N]`` as one-hot rows ``float32 [N, num_classes]``."""
    labels_dense = np.asarray(labels_dense)
    one_hot = np.zeros((labels_dense.shape[0], num_classes), np.float32)
    one_hot[np.arange(labels_dense.shape[0]), labels_dense.astype(np.intp)] = 1.0
    return one_hot


# --------------------------------------------------------------------------------------------
# Data sets


class DataSet:
    """Images and labels with TF1's ``next_batch`` (``mnist.train``, ``.validation``, ``.test``).

    ``images``: ``uint8 [N, rows, cols]`` or ``[N, rows, cols, 1]``; kept as
    ``float32 [N, rows*cols]`` scaled to [0, 1] (``dtype=float32``, ``reshape=True``, the
    defaults), as ``uint8`` without scaling with ``dtype=uint8``, as ``[N, rows, cols, 1]``
    with ``reshape=False``. ``labels``: any array with ``N`` rows. ``seed`` makes the
    shuffling order reproducible. ``.images`` and ``.labels`` keep their order; batches are
    drawn through a permutation redrawn at every epoch.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        dtype: Any = np.float32,
        reshape: bool = True,
        seed: int | None = None,
    ) -> None:
        images = np.asarray(images)
        labels = np.asarray(labels)
        np_dtype = _numpy_dtype(dtype)
        if np_dtype not in (np.dtype(np.uint8), np.dtype(np.float32)):
            raise TypeError(f"DataSet dtype must be uint8 or float32, got {np_dtype.name}")
        if images.shape[:1] != labels.shape[:1]:
            raise ValueError(
                f"images and labels differ in length: images {list(images.shape)}, labels {list(labels.shape)}"
            )
        if images.ndim == 4 and images.shape[3] == 1:
            images = images[..., 0]
        if images.ndim != 3:
            raise ValueError(f"images must be [N, rows, cols] or [N, rows, cols, 1], got {list(images.shape)}")
        n, rows, cols = images.shape
        images = images.reshape(n, rows * cols) if reshape else images[..., np.newaxis]
        if np_dtype == np.float32:
            images = images.astype(np.float32) * np.float32(1.0 / 255.0)
        else:
            images = images.astype(np.uint8)
        self._images = images
        self._labels = labels
        self._num_examples = images.shape[0]
        self._rng = np.random.default_rng(seed)
        self._order: np.ndarray | None = None
        self._epochs_completed = 0
        self._index_in_epoch = 0

    @property
    def images(self) -> np.ndarray:
        """All images, in their original order (``float32 [N, 784]`` by default)."""
        return self._images

    @property
    def labels(self) -> np.ndarray:
        """All labels, in the images' order."""
        return self._labels

    @property
    def num_examples(self) -> int:
        """The number of examples, ``N``."""
        return self._num_examples

    @property
    def epochs_completed(self) -> int:
        """How many full passes ``next_batch`` has made over the data."""
        return self._epochs_completed

    def next_batch(self, batch_size: int, shuffle: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The next ``batch_size`` examples, as ``(images, labels)``.

        With ``shuffle`` the examples are visited in a random order redrawn at every epoch;
        a batch that crosses the end of an epoch takes the epoch's remaining examples then
        the first of the next epoch (TF1's rule), and counts the epoch as completed.
        Raises ``ValueError`` unless ``0 < batch_size <= num_examples``.
        """
        n = self._num_examples
        if not 0 < batch_size <= n:
            raise ValueError(f"batch_size must be in 1..{n} (the examples in this set), got {batch_size}")
        start = self._index_in_epoch
        if start == 0 and self._order is None:
            self._order = self._new_order(shuffle)
        assert self._order is not None
        if start + batch_size <= n:
            self._index_in_epoch = start + batch_size
            idx = self._order[start : start + batch_size]
        else:
            rest = self._order[start:]
            self._epochs_completed += 1
            self._order = self._new_order(shuffle)
            self._index_in_epoch = batch_size - rest.shape[0]
            idx = np.concatenate([rest, self._order[: self._index_in_epoch]])
        return self._images[idx], self._labels[idx]

    def _new_order(self, shuffle: bool) -> np.ndarray:
        return self._rng.permutation(self._num_examples) if shuffle else np.arange(self._num_examples)

    def __repr__(self) -> str:
        return f"DataSet(images={self._images.dtype.name}{list(self._images.shape)}, labels={self._labels.dtype.name}{list(self._labels.shape)})"


class Datasets(NamedTuple):
    """The three MNIST splits, as TF1's ``base.Datasets``."""

    train: DataSet
    validation: DataSet
    test: DataSet


def _numpy_dtype(dtype: Any) -> np.dtype:
    as_numpy = getattr(dtype, "as_numpy_dtype", None)  # tf.float32 and its kin
    if as_numpy is not None:
        return np.dtype(as_numpy)
    if isinstance(dtype, IRDType):
        return dtype.numpy
    return np.dtype(dtype)


# --------------------------------------------------------------------------------------------
# Locating and downloading


def default_data_dir() -> str:
    """Where MNIST is read from when no directory is given: ``FLOWIR_DATA_DIR`` if set,
    else ``$XDG_CACHE_HOME/flowir/mnist`` (``~/.cache/flowir/mnist``)."""
    env = os.environ.get("FLOWIR_DATA_DIR")
    if env:
        return env
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "flowir", "mnist")


def mirror_list(mirrors: Sequence[str] | str | None = None) -> tuple[str, ...]:
    """The mirrors to download from: ``mirrors`` if given, else ``FLOWIR_MNIST_MIRRORS``
    (comma- or space-separated base URLs), else ``DEFAULT_MIRRORS``."""
    if mirrors is None:
        mirrors = os.environ.get("FLOWIR_MNIST_MIRRORS") or DEFAULT_MIRRORS
    if isinstance(mirrors, str):
        mirrors = mirrors.replace(",", " ").split()
    return tuple(mirrors)


def _find_or_download(
    directory: str,
    name: str,
    download: bool,
    mirrors: Sequence[str] | str | None,
    sums: dict[str, str],
    timeout: float,
) -> str:
    for candidate in (name + ".gz", name):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    if not download:
        raise DatasetError(f"MNIST file {name}(.gz) not found in {directory!r} (downloading is off)")
    return download_verified(name + ".gz", sums[name], directory, mirror_list(mirrors), timeout=timeout)


def read_data_sets(
    train_dir: str | os.PathLike[str] | None = None,
    one_hot: bool = False,
    *,
    validation_size: int = 5000,
    seed: int | None = None,
    dtype: Any = np.float32,
    reshape: bool = True,
    download: bool = True,
    mirrors: Sequence[str] | str | None = None,
    timeout: float = 30.0,
    sha256: dict[str, str] | None = None,
) -> Datasets:
    """Load MNIST as ``Datasets(train, validation, test)`` (TF1's ``input_data.read_data_sets``).

    The directory is ``train_dir``, else ``default_data_dir()``; missing files are downloaded
    into it (unless ``download=False``) from ``mirror_list(mirrors)`` with ``timeout`` seconds
    per network operation, verified against ``sha256`` (uncompressed name -> hex digest of the
    uncompressed bytes; default ``FILES``). The first ``validation_size`` training examples
    become ``validation``. Labels are ``uint8 [N]``, or ``float32 [N, 10]`` one-hot rows with
    ``one_hot``; images as ``DataSet`` describes. Raises ``DatasetError`` (naming the file)
    when a file cannot be found, downloaded or parsed, ``ValueError`` for a
    ``validation_size`` outside ``0..len(train)``.
    """
    directory = os.fspath(train_dir) if train_dir is not None else default_data_dir()
    sums = {**FILES, **(sha256 or {})}
    paths = {name: _find_or_download(directory, name, download, mirrors, sums, timeout) for name in FILES}
    train_images = load_images(paths[TRAIN_IMAGES])
    train_labels = load_labels(paths[TRAIN_LABELS])
    test_images = load_images(paths[TEST_IMAGES])
    test_labels = load_labels(paths[TEST_LABELS])
    for images, labels, images_name, labels_name in (
        (train_images, train_labels, TRAIN_IMAGES, TRAIN_LABELS),
        (test_images, test_labels, TEST_IMAGES, TEST_LABELS),
    ):
        if images.shape[0] != labels.shape[0]:
            raise DatasetError(
                f"{paths[images_name]} holds {images.shape[0]} images but {paths[labels_name]} holds {labels.shape[0]} labels"
            )
    if not 0 <= validation_size <= len(train_images):
        raise ValueError(f"validation_size must be between 0 and {len(train_images)}, got {validation_size}")
    if one_hot:
        train_labels = dense_to_one_hot(train_labels)
        test_labels = dense_to_one_hot(test_labels)
    options = {"dtype": dtype, "reshape": reshape, "seed": seed}
    return Datasets(
        train=DataSet(train_images[validation_size:], train_labels[validation_size:], **options),
        validation=DataSet(train_images[:validation_size], train_labels[:validation_size], **options),
        test=DataSet(test_images, test_labels, **options),
    )
