"""TF 1.15's ``tf.train.Saver`` and checkpoint files, crash-safe and checked on restore.

A checkpoint with the path prefix ``P`` (``model.ckpt-100``) is two files, and its directory
has a third:

- ``P.safetensors``: the variables' values, one tensor per checkpoint key (``v.op.name`` by
  default) in the safetensors format (no pickle: nothing executable is ever loaded). Its
  header metadata records each tensor's dtype, shape and SHA-256, and a SHA-256 of that
  record, so a truncated file, a flipped byte in a tensor or in the header is a
  ``DataLossError`` naming the file (and the tensor).
- ``P.fir``: the graph as flowir's textual IR (TF's ``.meta`` file), preceded by ``//``
  comment lines holding what a ``MetaGraphDef`` adds to a graph (variables, collections, the
  saver, the graph seed) and a SHA-256 of the IR text. ``flowir opt`` reads it as a plain
  graph; ``import_meta_graph`` rebuilds the graph, its variables and collections from it.
- ``checkpoint``: the index (TF's ``CheckpointState`` text): the latest checkpoint and the
  kept ones, as paths relative to the directory.

Every file is written through ``flowir._fileio`` (temporary name, flush, fsync, rename, then
the directory is synced), the index last, and old checkpoints are removed only after the
index stops naming them: a crash or a full disk in the middle of ``save`` leaves the
previous checkpoint and the index intact and readable.

``Saver.restore`` reads and checks every tensor (present, dtype, shape, checksum) before it
assigns anything, then assigns them all in one session run: all or nothing.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import numbers
import os
import struct
import sys
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from flowir import _fileio
from flowir.frontends.graph import errors
from flowir.frontends.graph.building import group, placeholder
from flowir.frontends.graph.graph import Graph, GraphKeys, get_default_graph
from flowir.frontends.graph.session import Session
from flowir.frontends.graph.tensor import Operation, Tensor
from flowir.frontends.graph.variables import Variable, assign
from flowir.ir.dtypes import DType, dtype_of
from flowir.ir.ops.state import Variable as VariableOp
from flowir.ir.printer import print_graph

__all__ = [
    "Saver",
    "CheckpointState",
    "latest_checkpoint",
    "get_checkpoint_state",
    "update_checkpoint_state",
    "checkpoint_exists",
    "list_variables",
    "load_variable",
    "import_meta_graph",
    "export_meta_graph",
]

#: The file holding the weights of the checkpoint ``prefix`` is ``prefix + DATA_SUFFIX``.
DATA_SUFFIX = ".safetensors"
#: The file holding its graph (TF's ``.meta``) is ``prefix + META_SUFFIX``.
META_SUFFIX = ".fir"
#: The index file in a checkpoint directory (TF's default ``latest_filename``).
INDEX_FILENAME = "checkpoint"

_FORMAT = "flowir.checkpoint/1"
_META_FORMAT = "flowir.meta_graph/1"

#: safetensors' dtype tags for the dtypes a checkpoint can hold (strings cannot be stored).
_TAG_OF: dict[DType, str] = {
    DType.bool: "BOOL",
    DType.int8: "I8",
    DType.int16: "I16",
    DType.int32: "I32",
    DType.int64: "I64",
    DType.uint8: "U8",
    DType.float16: "F16",
    DType.bfloat16: "BF16",
    DType.float32: "F32",
    DType.float64: "F64",
}
_DTYPE_OF_TAG: dict[str, DType] = {tag: dt for dt, tag in _TAG_OF.items()}
#: Below this many bytes in all, tensors are hashed one after another (threads cost more).
_PARALLEL_HASH_BYTES = 8 << 20


# --------------------------------------------------------------------------------------------
# The checkpoint index (TF's CheckpointState)


@dataclasses.dataclass
class CheckpointState:
    """TF's ``CheckpointState``: the latest checkpoint prefix and the kept ones, oldest first.

    Paths are as ``get_checkpoint_state`` resolves them (joined to the checkpoint directory);
    timestamps are seconds since the epoch, one per kept path.
    """

    model_checkpoint_path: str = ""
    all_model_checkpoint_paths: list[str] = dataclasses.field(default_factory=list)
    all_model_checkpoint_timestamps: list[float] = dataclasses.field(default_factory=list)
    last_preserved_timestamp: float = 0.0


def _index_text(state: CheckpointState) -> str:
    # Protobuf text format; JSON string quoting reads back under it for these paths.
    def q(path: str) -> str:
        return json.dumps(path, ensure_ascii=False)

    lines = [f"model_checkpoint_path: {q(state.model_checkpoint_path)}"]
    lines += [f"all_model_checkpoint_paths: {q(p)}" for p in state.all_model_checkpoint_paths]
    lines += [f"all_model_checkpoint_timestamps: {t!r}" for t in state.all_model_checkpoint_timestamps]
    lines.append(f"last_preserved_timestamp: {state.last_preserved_timestamp!r}")
    return "\n".join(lines) + "\n"


def _parse_index(text: str) -> CheckpointState:
    """The state in an index file's text; ``ValueError`` for a line that is not a known field."""
    state = CheckpointState()
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        value = value.strip()
        if not sep:
            raise ValueError(f"line {n}: expected 'field: value', got {line!r}")
        if key == "model_checkpoint_path":
            state.model_checkpoint_path = _parse_quoted(value, n)
        elif key == "all_model_checkpoint_paths":
            state.all_model_checkpoint_paths.append(_parse_quoted(value, n))
        elif key == "all_model_checkpoint_timestamps":
            state.all_model_checkpoint_timestamps.append(_parse_number(value, n))
        elif key == "last_preserved_timestamp":
            state.last_preserved_timestamp = _parse_number(value, n)
        else:
            raise ValueError(f"line {n}: unknown field {key!r}")
    return state


def _parse_quoted(value: str, n: int) -> str:
    try:
        s = json.loads(value)
    except json.JSONDecodeError:
        s = None
    if not isinstance(s, str):
        raise ValueError(f"line {n}: expected a quoted path, got {value!r}")
    return s


def _parse_number(value: str, n: int) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"line {n}: expected a number, got {value!r}") from None


def _index_path(checkpoint_dir: str, latest_filename: str | None) -> str:
    name = INDEX_FILENAME if latest_filename is None else latest_filename
    if os.path.split(name)[0]:
        raise ValueError(f"'latest_filename' must not contain path components: {name!r}")
    return os.path.join(checkpoint_dir, name)


def get_checkpoint_state(
    checkpoint_dir: str | os.PathLike, latest_filename: str | None = None
) -> CheckpointState | None:
    """The index of ``checkpoint_dir`` (``None`` when it has none), with relative paths joined
    to ``checkpoint_dir``.

    As TF, an index that cannot be read or parsed gives a warning and ``None``.
    """
    checkpoint_dir = os.fspath(checkpoint_dir)
    path = _index_path(checkpoint_dir, latest_filename)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        warnings.warn(f"{path}: {e}; checkpoint index ignored", stacklevel=2)
        return None
    try:
        state = _parse_index(text)
    except ValueError as e:
        warnings.warn(f"{path}: {e}; checkpoint index ignored", stacklevel=2)
        return None
    if not state.model_checkpoint_path:
        warnings.warn(f"{path}: no model_checkpoint_path; checkpoint index ignored", stacklevel=2)
        return None

    def resolve(p: str) -> str:
        return p if os.path.isabs(p) else os.path.join(checkpoint_dir, p)

    state.model_checkpoint_path = resolve(state.model_checkpoint_path)
    state.all_model_checkpoint_paths = [resolve(p) for p in state.all_model_checkpoint_paths]
    return state


def update_checkpoint_state(
    save_dir: str | os.PathLike,
    model_checkpoint_path: str,
    all_model_checkpoint_paths: Sequence[str] | None = None,
    latest_filename: str | None = None,
    all_model_checkpoint_timestamps: Sequence[float] | None = None,
    last_preserved_timestamp: float | None = None,
) -> None:
    """Replace the index of ``save_dir`` (atomically): ``model_checkpoint_path`` is the latest,
    ``all_model_checkpoint_paths`` the kept ones (the latest is appended if missing). Paths
    inside ``save_dir`` are written relative to it."""
    save_dir = os.fspath(save_dir)
    paths = list(all_model_checkpoint_paths or ())
    stamps = list(all_model_checkpoint_timestamps or ())
    if not paths or paths[-1] != model_checkpoint_path:
        if model_checkpoint_path in paths:
            i = paths.index(model_checkpoint_path)
            del paths[i]
            if i < len(stamps):
                del stamps[i]
        paths.append(model_checkpoint_path)
    if len(stamps) != len(paths):
        stamps = []

    def rel(p: str) -> str:
        full = os.path.abspath(p)
        directory = os.path.abspath(save_dir)
        if os.path.dirname(full) == directory:
            return os.path.basename(full)
        return full

    state = CheckpointState(
        rel(model_checkpoint_path),
        [rel(p) for p in paths],
        stamps,
        0.0 if last_preserved_timestamp is None else float(last_preserved_timestamp),
    )
    _fileio.write_atomically(_index_path(save_dir, latest_filename), _index_text(state))


def checkpoint_exists(checkpoint_prefix: str | os.PathLike) -> bool:
    """Whether a checkpoint with this path prefix exists (its weights file does)."""
    return os.path.isfile(os.fspath(checkpoint_prefix) + DATA_SUFFIX)


def latest_checkpoint(checkpoint_dir: str | os.PathLike, latest_filename: str | None = None) -> str | None:
    """The prefix of the latest checkpoint in ``checkpoint_dir`` by its index, or ``None`` if
    there is no index or the checkpoint it names is missing."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is not None and checkpoint_exists(state.model_checkpoint_path):
        return state.model_checkpoint_path
    return None


# --------------------------------------------------------------------------------------------
# The weights file


def _little_endian(a: np.ndarray) -> np.ndarray:
    if not a.flags.c_contiguous:
        a = a.copy(order="C")  # np.ascontiguousarray would make a 0-d array 1-d
    # safetensors stores little-endian bytes; the digest is of the bytes as stored.
    return a.byteswap() if sys.byteorder == "big" and a.dtype.itemsize > 1 else a


def _sha256(buffer: Any) -> str:
    return hashlib.sha256(buffer).hexdigest()


def _tensor_record(tensors: Mapping[str, tuple[DType, tuple[int, ...], str]]) -> str:
    return json.dumps(
        {
            k: {"dtype": dt.value, "shape": list(shape), "sha256": digest}
            for k, (dt, shape, digest) in sorted(tensors.items())
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def _sha256_all(buffers: Sequence[Any]) -> list[str]:
    """The SHA-256 of each buffer, several at once (hashlib releases the GIL on large data)."""
    big = sum(memoryview(b).nbytes for b in buffers) >= _PARALLEL_HASH_BYTES
    workers = min(len(buffers), os.cpu_count() or 1, 8)
    if not big or workers < 2:
        return [_sha256(b) for b in buffers]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(_sha256, buffers))


def _write_weights(path: str, values: Mapping[str, np.ndarray]) -> None:
    """Write ``values`` (key -> array of a storable dtype) to the safetensors file ``path``,
    atomically, with the integrity record in its metadata.

    The header is built here and the arrays' bytes are streamed after it (the library's
    ``serialize`` would first copy every tensor into one buffer); what ``_read_weights`` reads
    back is checked by the library. Tensors are laid out by decreasing item size, then key,
    as the library does, so each is aligned in the file.
    """
    arrays = {key: _little_endian(a) for key, a in values.items()}
    order = sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k))
    raw = [arrays[k].reshape(-1).view(np.uint8) for k in order]
    digests = _sha256_all(raw)
    record = {k: (dtype_of(arrays[k].dtype), arrays[k].shape, d) for k, d in zip(order, digests)}
    text = _tensor_record(record)
    header: dict[str, Any] = {
        "__metadata__": {"format": _FORMAT, "flowir.tensors": text, "flowir.digest": _sha256(text.encode("utf-8"))}
    }
    offset = 0
    for k in order:
        a = arrays[k]
        header[k] = {
            "dtype": _TAG_OF[dtype_of(a.dtype)],
            "shape": list(a.shape),
            "data_offsets": [offset, offset + a.nbytes],
        }
        offset += a.nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with _fileio.atomic_file(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded)
        for buffer in raw:
            f.write(buffer)


def _data_loss(path: str, what: str) -> errors.DataLossError:
    return errors.DataLossError(None, None, f"Checkpoint file {path} is corrupted or truncated: {what}")


def _read_weights(path: str) -> dict[str, np.ndarray]:
    """Every tensor of the checkpoint weights file ``path``, checked against its integrity
    record. ``NotFoundError`` if it is missing; ``DataLossError`` naming the file (and the
    tensor) if it is truncated, corrupted or not a flowir checkpoint."""
    from safetensors import SafetensorError, deserialize

    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"Checkpoint file {path} not found") from None
    except PermissionError as e:
        raise errors.PermissionDeniedError(None, None, f"Checkpoint file {path} cannot be read: {e}") from e
    except OSError as e:
        raise errors.DataLossError(None, None, f"Checkpoint file {path} cannot be read: {e}") from e
    try:
        entries = deserialize(data)
        (header_size,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + header_size])
    except (SafetensorError, ValueError, struct.error) as e:
        raise _data_loss(path, str(e)) from None
    del data
    metadata = header.get("__metadata__") or {}
    text = metadata.get("flowir.tensors")
    if metadata.get("format") != _FORMAT or not isinstance(text, str):
        raise _data_loss(path, f"its header has no {_FORMAT} integrity record")
    if _sha256(text.encode("utf-8")) != metadata.get("flowir.digest"):
        raise _data_loss(path, "the digest of its tensor record does not match")
    try:
        record = json.loads(text)
    except ValueError as e:
        raise _data_loss(path, f"its tensor record is not JSON ({e})") from None
    found = {name for name, _ in entries}
    if found != set(record):
        extra = sorted(found ^ set(record))
        raise _data_loss(path, f"its tensors do not match its record (differing: {', '.join(extra[:5])})")
    out: dict[str, np.ndarray] = {}
    digests = _sha256_all([entry["data"] for _, entry in entries])
    for (name, entry), digest in zip(entries, digests):
        want = record[name]
        dt = _DTYPE_OF_TAG.get(entry["dtype"])
        if dt is None or dt.value != want.get("dtype") or list(entry["shape"]) != want.get("shape"):
            raise _data_loss(path, f"tensor {name!r}: header says {entry['dtype']}{entry['shape']}, record says {want}")
        buffer = entry["data"]
        if digest != want.get("sha256"):
            raise _data_loss(path, f"tensor {name!r}: its SHA-256 does not match (a changed byte)")
        a = np.frombuffer(buffer, dtype=dt.numpy).reshape(entry["shape"])
        out[name] = a.byteswap() if sys.byteorder == "big" and a.dtype.itemsize > 1 else a
    return out


def _resolve_prefix(ckpt_dir_or_file: str | os.PathLike) -> str:
    path = os.fspath(ckpt_dir_or_file)
    if os.path.isdir(path):
        latest = latest_checkpoint(path)
        if latest is None:
            raise errors.NotFoundError(
                None, None, f"Unsuccessful TensorSliceReader constructor: no checkpoint found in {path}"
            )
        return latest
    if path.endswith(DATA_SUFFIX):
        return path[: -len(DATA_SUFFIX)]
    return path


def list_variables(ckpt_dir_or_file: str | os.PathLike) -> list[tuple[str, list[int]]]:
    """``(key, shape)`` of every tensor in a checkpoint (a prefix, a weights file, or a
    directory: its latest checkpoint), sorted by key. Reads only the header."""
    from safetensors import SafetensorError, safe_open

    path = _resolve_prefix(ckpt_dir_or_file) + DATA_SUFFIX
    if not os.path.isfile(path):
        raise errors.NotFoundError(None, None, f"Checkpoint file {path} not found")
    try:
        with safe_open(path, framework="np") as f:
            return sorted((k, list(f.get_slice(k).get_shape())) for k in f.keys())
    except SafetensorError as e:
        raise _data_loss(path, str(e)) from None


def load_variable(ckpt_dir_or_file: str | os.PathLike, name: str) -> np.ndarray:
    """The value of the tensor ``name`` in a checkpoint (checked as ``restore`` checks it)."""
    path = _resolve_prefix(ckpt_dir_or_file) + DATA_SUFFIX
    values = _read_weights(path)
    if name.endswith(":0"):
        name = name[:-2]
    if name not in values:
        raise errors.NotFoundError(None, None, f"Key {name} not found in checkpoint {path}")
    return values[name]


# --------------------------------------------------------------------------------------------
# Saver


@dataclasses.dataclass(frozen=True)
class _Entry:
    """One saved variable: its checkpoint key, the variable op, the tensor read to save it
    and the placeholder fed to restore it."""

    key: str
    variable: Operation
    snapshot: Tensor
    feed: Tensor


def _variable_parts(item: Any) -> tuple[Operation, Tensor]:
    """The variable op and value-read tensor of a ``var_list`` item (a ``Variable`` or a
    variable handle tensor); ``TypeError`` otherwise."""
    if isinstance(item, Variable):
        return item.op, item.value()
    if isinstance(item, Tensor) and item.dtype._is_ref:
        read = item.graph._variable_reads.get(item.op)
        if read is not None:
            return item.op, read
    raise TypeError(f"Variable to save is not a Variable: {item!r}")


class Saver:
    """Saves and restores variables (TF 1.15's ``tf.train.Saver``).

    ``var_list``: the variables to save, a list (each saved under ``v.op.name``) or a dict
    from checkpoint key to variable; default all global variables and saveable objects of
    the default graph when the saver is made. ``max_to_keep``: how many recent checkpoints to
    keep (``None`` or 0: all; the index then names only the latest); additionally one
    checkpoint per ``keep_checkpoint_every_n_hours`` is preserved. ``reshape``: restore a
    value of another shape with the same number of elements. ``name``: the scope of the
    restore ops (``save``). ``pad_step_number``: ``prefix-00000100`` instead of
    ``prefix-100``. ``allow_empty``: without variables, ``save`` and ``restore`` do nothing
    (else ``ValueError``). ``saver_def``: an ``as_saver_def()`` dict naming restore ops
    already in the default graph (what ``import_meta_graph`` passes). ``sharded``,
    ``restore_sequentially``, ``builder``, ``write_version``, ``save_relative_paths`` (the
    index always holds paths relative to its directory when they are inside it) and
    ``filename`` are accepted and have no effect.

    The saver adds to the graph, in its scope, a placeholder and an assign per variable and
    ``restore_all`` grouping them (``defer_build=True`` waits for ``build()`` or the first
    ``save``/``restore``).

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     v = tf.Variable([1.0, 2.0], name="v")
    ...     saver = tf.train.Saver()
    ...     saver.as_saver_def()["restore_op"], [e["key"] for e in saver.as_saver_def()["entries"]]
    ('save/restore_all', ['v'])
    """

    def __init__(
        self,
        var_list: Sequence[Any] | Mapping[str, Any] | None = None,
        reshape: bool = False,
        sharded: bool = False,
        max_to_keep: int | None = 5,
        keep_checkpoint_every_n_hours: float = 10000.0,
        name: str | None = None,
        restore_sequentially: bool = False,
        saver_def: Mapping[str, Any] | None = None,
        builder: Any = None,
        defer_build: bool = False,
        allow_empty: bool = False,
        write_version: Any = None,
        pad_step_number: bool = False,
        save_relative_paths: bool = False,
        filename: str | None = None,
    ) -> None:
        if defer_build and var_list is not None:
            raise ValueError(
                "If `var_list` is provided then build cannot be deferred. Either set defer_build=False or var_list=None."
            )
        self._reshape = reshape
        self._max_to_keep = max_to_keep
        self._keep_every_s = float(keep_checkpoint_every_n_hours) * 3600.0
        self._name = name
        self._allow_empty = allow_empty
        self._pad_step_number = pad_step_number
        self._var_list = var_list
        self._entries: list[_Entry] = []
        self._graph: Graph | None = None
        self._restore_op: Operation | None = None
        self._built = False
        self._is_empty = False
        self._last_checkpoints: list[tuple[str, float]] = []
        self._to_delete: list[tuple[str, float]] = []
        self._next_checkpoint_time = time.time() + self._keep_every_s
        self._last_preserved = 0.0
        if saver_def is not None:
            self._from_saver_def(saver_def)
        elif not defer_build:
            self.build()

    # -- building ----------------------------------------------------------------------------

    def build(self) -> None:
        """Create the restore ops (done at construction unless ``defer_build``)."""
        if self._built:
            return
        items = self._named_variables()
        if not items:
            if not self._allow_empty:
                raise ValueError("No variables to save")
            self._is_empty = True
            self._graph = get_default_graph()
            self._built = True
            return
        graphs = {op.graph for _, op, _ in items}
        if len(graphs) > 1:
            raise ValueError("The variables to save come from different graphs")
        graph = graphs.pop()
        for key, op, _ in items:
            if key == "__metadata__":
                raise ValueError("'__metadata__' cannot be a checkpoint key (safetensors reserves it)")
            if op.outputs[0].dtype.base_dtype.ir is DType.string:
                raise TypeError(f"Variable {key!r} holds strings, which a checkpoint (safetensors) cannot store")
        entries = []
        with (
            graph.as_default(),
            graph.control_dependencies(None),
            graph.device(None),
            graph.name_scope(self._name or "save"),
        ):
            for key, op, snapshot in items:
                ref = op.outputs[0]
                shape = ref.shape
                feed = placeholder(
                    ref.dtype.base_dtype, None if shape.ndims is None else shape.as_list(), name="RestoreV2"
                )
                entries.append(_Entry(key, op, snapshot, feed))
            assigns = [assign(e.variable.outputs[0], e.feed) for e in entries]
            self._restore_op = group(*assigns, name="restore_all")
        self._entries = entries
        self._graph = graph
        self._built = True

    def _named_variables(self) -> list[tuple[str, Operation, Tensor]]:
        var_list = self._var_list
        if var_list is None:
            graph = get_default_graph()
            var_list = graph.get_collection(GraphKeys.GLOBAL_VARIABLES) + graph.get_collection(
                GraphKeys.SAVEABLE_OBJECTS
            )
        items: list[tuple[str, Operation, Tensor]] = []
        if isinstance(var_list, Mapping):
            for key, item in var_list.items():
                if not isinstance(key, str):
                    raise TypeError(f"Checkpoint keys must be strings, got {key!r}")
                items.append((key, *_variable_parts(item)))
            return items
        if isinstance(var_list, (str, bytes)) or not isinstance(var_list, Iterable):
            raise TypeError(f"Variables to save should be passed in a dict or a list: {var_list!r}")
        seen_keys: set[str] = set()
        seen_ops: set[Operation] = set()
        for item in var_list:
            op, snapshot = _variable_parts(item)
            if op in seen_ops:
                continue  # a variable both in the global variables and the saveable objects
            if op.name in seen_keys:
                raise ValueError(f"At least two variables have the same name: {op.name}")
            seen_ops.add(op)
            seen_keys.add(op.name)
            items.append((op.name, op, snapshot))
        return items

    def _from_saver_def(self, saver_def: Mapping[str, Any]) -> None:
        graph = get_default_graph()
        try:
            self._restore_op = graph.get_operation_by_name(saver_def["restore_op"])
            self._entries = [
                _Entry(
                    e["key"],
                    graph.get_operation_by_name(e["variable"]),
                    graph.get_tensor_by_name(e["snapshot"]),
                    graph.get_tensor_by_name(e["feed"]),
                )
                for e in saver_def["entries"]
            ]
        except (KeyError, TypeError) as e:
            raise ValueError(f"saver_def does not describe a saver of the default graph: {e}") from None
        self._max_to_keep = saver_def.get("max_to_keep", self._max_to_keep)
        self._keep_every_s = float(saver_def.get("keep_checkpoint_every_n_hours", 10000.0)) * 3600.0
        self._next_checkpoint_time = time.time() + self._keep_every_s
        self._reshape = bool(saver_def.get("reshape", False))
        self._pad_step_number = bool(saver_def.get("pad_step_number", False))
        self._graph = graph
        self._is_empty = not self._entries
        self._built = True

    @property
    def saver_def(self) -> dict[str, Any]:
        """``as_saver_def()``: a JSON-able dict (TF 1.15 returns a ``SaverDef`` protobuf)."""
        return self.as_saver_def()

    def as_saver_def(self) -> dict[str, Any]:
        """What ``import_meta_graph`` needs to rebuild this saver (TF's ``SaverDef``), JSON-able."""
        self.build()
        return {
            "restore_op": self._restore_op.name if self._restore_op is not None else None,
            "entries": [
                {"key": e.key, "variable": e.variable.name, "snapshot": e.snapshot.name, "feed": e.feed.name}
                for e in self._entries
            ],
            "max_to_keep": self._max_to_keep,
            "keep_checkpoint_every_n_hours": self._keep_every_s / 3600.0,
            "reshape": self._reshape,
            "pad_step_number": self._pad_step_number,
        }

    # -- checkpoint bookkeeping --------------------------------------------------------------

    @property
    def last_checkpoints(self) -> list[str]:
        """The kept checkpoint prefixes this saver wrote (or was given), oldest first."""
        return [p for p, _ in self._last_checkpoints]

    def set_last_checkpoints(self, last_checkpoints: Sequence[str]) -> None:
        """Take over ``last_checkpoints`` (oldest first) as if this saver had written them."""
        self._last_checkpoints = [(str(p), time.time()) for p in last_checkpoints]

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time: Sequence[tuple[str, float]]) -> None:
        """Take over ``(prefix, timestamp)`` pairs (oldest first) as if this saver had written them then."""
        self._last_checkpoints = [(str(p), float(t)) for p, t in last_checkpoints_with_time]

    def recover_last_checkpoints(self, checkpoint_paths: Sequence[str]) -> None:
        """Take over those of ``checkpoint_paths`` that exist, with their files' times (after a
        restart: ``saver.recover_last_checkpoints(state.all_model_checkpoint_paths)``)."""
        kept = []
        for p in checkpoint_paths:
            try:
                kept.append((p, os.path.getmtime(p + DATA_SUFFIX)))
            except OSError:
                continue
        self._last_checkpoints = kept

    def _record_last_checkpoint(self, path: str) -> None:
        if not self._max_to_keep:
            return
        self._last_checkpoints = [(p, t) for p, t in self._last_checkpoints if p != path]
        self._last_checkpoints.append((path, time.time()))
        while len(self._last_checkpoints) > self._max_to_keep:
            self._to_delete.append(self._last_checkpoints.pop(0))

    def _delete_old_checkpoints(self) -> None:
        while self._to_delete:
            path, stamp = self._to_delete.pop(0)
            if stamp > self._next_checkpoint_time:
                # TF's rule: one checkpoint per keep_checkpoint_every_n_hours is left on disk.
                self._next_checkpoint_time += self._keep_every_s
                self._last_preserved = stamp
                continue
            for suffix in (DATA_SUFFIX, META_SUFFIX):
                _fileio.remove_quietly(path + suffix)

    # -- save and restore --------------------------------------------------------------------

    def save(
        self,
        sess: Session,
        save_path: str | os.PathLike,
        global_step: Any = None,
        latest_filename: str | None = None,
        meta_graph_suffix: str = "meta",
        write_meta_graph: bool = True,
        write_state: bool = True,
        strip_default_attrs: bool = False,
        save_debug_info: bool = False,
    ) -> str | None:
        """Save the variables' current values in ``sess`` to the checkpoint ``save_path``
        (``save_path-<global_step>`` when ``global_step``, an int or a tensor, is given).

        Writes ``<prefix>.safetensors``, ``<prefix>.fir`` (unless not ``write_meta_graph``;
        ``meta_graph_suffix`` is ignored: the graph file is always ``.fir``) and, unless not
        ``write_state``, the directory's index (named ``latest_filename``, default
        ``checkpoint``), then removes checkpoints beyond ``max_to_keep``. Returns the prefix,
        or ``None`` for an empty saver.

        Raises ``ValueError`` if the parent directory is missing, ``TypeError`` if ``sess``
        is no ``Session``, ``errors.FailedPreconditionError`` for an uninitialized variable,
        ``OSError`` (``ENOSPC`` ...) from writing; a failed save leaves earlier checkpoints
        and the index as they were. In a session on a ``tf.train.Server``'s target only the
        chief (task 0) writes; the other tasks return the same prefix and write nothing.
        """
        self.build()
        if not isinstance(sess, Session):
            raise TypeError(f"'sess' must be a Session; {sess!r}")
        save_path = os.fspath(save_path)
        if latest_filename is not None and os.path.split(latest_filename)[0]:
            raise ValueError("'latest_filename' collides with 'save_path': 'latest_filename' must not contain a path")
        if global_step is not None:
            if not isinstance(global_step, numbers.Integral):
                global_step = sess.run(global_step)
            step = int(global_step)
            prefix = f"{save_path}-{step:08d}" if self._pad_step_number else f"{save_path}-{step}"
        else:
            prefix = save_path
        parent = os.path.dirname(os.path.abspath(prefix))
        # In a cluster only the chief writes (as TF's MonitoredTrainingSession); every task
        # still runs the same reads, so the tasks' runs stay in step.
        chief = sess.is_chief
        if chief and not os.path.isdir(parent):
            raise ValueError(f"Parent directory of {save_path} doesn't exist, can't save.")
        if self._is_empty:
            return None
        if sess.graph is not self._graph:
            raise ValueError("The session's graph is not the graph of the saver's variables")
        values = sess.run([e.snapshot for e in self._entries])
        if not chief:
            return prefix
        _write_weights(
            prefix + DATA_SUFFIX,
            {e.key: np.asarray(v, dtype=e.feed.dtype.base_dtype.ir.numpy) for e, v in zip(self._entries, values)},
        )
        if write_meta_graph:
            text = _meta_graph_text(self._graph, self.as_saver_def(), None, False)
            _fileio.write_atomically(prefix + META_SUFFIX, text)
        if write_state:
            self._record_last_checkpoint(prefix)
            kept = self._last_checkpoints
            update_checkpoint_state(
                parent,
                prefix,
                [p for p, _ in kept],
                latest_filename,
                [t for _, t in kept],
                self._last_preserved,
            )
            self._delete_old_checkpoints()
        return prefix

    def restore(self, sess: Session, save_path: str | os.PathLike | None) -> None:
        """Set the variables in ``sess`` to their values in the checkpoint ``save_path`` (a prefix).

        Every variable is checked before any is set, and all are set in one run: on any
        error nothing changes. Raises ``ValueError`` for ``save_path=None``,
        ``errors.NotFoundError`` for a missing checkpoint file or a variable missing from it,
        ``errors.InvalidArgumentError`` for a dtype or shape that does not match the
        variable's, ``errors.DataLossError`` for a truncated or corrupted file; each names the
        file and the variables.
        """
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        self.build()
        if not isinstance(sess, Session):
            raise TypeError(f"'sess' must be a Session; {sess!r}")
        if self._is_empty:
            return
        if sess.graph is not self._graph:
            raise ValueError("The session's graph is not the graph of the saver's variables")
        prefix = os.fspath(save_path)
        path = prefix + DATA_SUFFIX
        if not os.path.isfile(path):
            raise errors.NotFoundError(
                None, None, f"The passed save_path is not a valid checkpoint: {prefix} (no file {path})"
            )
        values = _read_weights(path)
        feed: dict[Tensor, np.ndarray] = {}
        problems: list[tuple[type[errors.OpError], str]] = []
        for e in self._entries:
            value = values.get(e.key)
            if value is None:
                problems.append((errors.NotFoundError, f"Key {e.key} not found in checkpoint {path}"))
                continue
            want = e.feed.dtype.base_dtype
            got = dtype_of(value.dtype)
            if got is not want.ir:
                problems.append(
                    (
                        errors.InvalidArgumentError,
                        f"tensor_name = {e.key}; expected dtype {want.name} (variable {e.variable.name!r}) "
                        f"does not equal original dtype {_tf_dtype_name(got)} in checkpoint {path}",
                    )
                )
                continue
            shape = e.feed.shape
            if not shape.is_compatible_with(value.shape):
                if self._reshape and shape.is_fully_defined() and shape.num_elements() == value.size:
                    value = value.reshape(shape.as_list())
                else:
                    problems.append(
                        (
                            errors.InvalidArgumentError,
                            f"Restoring variable {e.variable.name!r} (key {e.key}) from checkpoint {path}: "
                            f"the checkpoint's shape {list(value.shape)} does not match the variable's shape {shape}",
                        )
                    )
                    continue
            feed[e.feed] = value
        if problems:
            cls = problems[0][0]
            message = problems[0][1]
            if len(problems) > 1:
                message = f"{len(problems)} variables cannot be restored; nothing was restored:\n  " + "\n  ".join(
                    m for _, m in problems
                )
            raise cls(None, None, message)
        sess.run(self._restore_op, feed_dict=feed)

    # -- meta graphs -------------------------------------------------------------------------

    def export_meta_graph(
        self,
        filename: str | os.PathLike | None = None,
        collection_list: Sequence[str] | None = None,
        as_text: bool = False,
        export_scope: str | None = None,
        clear_devices: bool = False,
        clear_extraneous_savers: bool = False,
        strip_default_attrs: bool = False,
        save_debug_info: bool = False,
    ) -> str:
        """The meta graph text of this saver's graph (with this saver), also written to
        ``filename`` when given (atomically)."""
        self.build()
        text = _meta_graph_text(self._graph or get_default_graph(), self.as_saver_def(), collection_list, clear_devices)
        if filename is not None:
            _fileio.write_atomically(os.fspath(filename), text)
        return text


def _tf_dtype_name(dt: DType) -> str:
    from flowir.frontends.graph.dtypes import as_dtype

    return as_dtype(dt.numpy).name


# --------------------------------------------------------------------------------------------
# Meta graphs: the graph's IR text with what a MetaGraphDef adds


def _encode_item(item: Any) -> dict[str, Any] | None:
    if isinstance(item, Variable):
        return {"variable": item.op.name}
    if isinstance(item, Tensor):
        return {"tensor": item.name}
    if isinstance(item, Operation):
        return {"operation": item.name}
    if isinstance(item, (bool, int, float, str)):
        return {"value": item}
    return None  # as TF, what a collection holds beyond graph elements and scalars is not exported


def _meta_graph_text(
    graph: Graph, saver_def: dict[str, Any] | None, collection_list: Sequence[str] | None, clear_devices: bool
) -> str:
    with graph._lock:
        ir_text = print_graph(graph.ir_graph)
        keys = graph.get_all_collection_keys() if collection_list is None else list(collection_list)
        collections = {}
        variables: dict[str, Variable] = {}
        for key in keys:
            items = []
            for item in graph.get_collection(key):
                encoded = _encode_item(item)
                if encoded is None:
                    continue
                if isinstance(item, Variable):
                    variables[item.op.name] = item
                items.append(encoded)
            collections[key] = items
        unfeedable = sorted(t.name for t in graph._unfeedable if not t.dtype._is_ref)
        unfetchable = sorted(op.name for op in graph._unfetchable)
    meta = {
        "format": _META_FORMAT,
        "seed": graph.seed,
        "variables": [
            {
                "op": v.op.name,
                "initializer": v.initializer.name,
                "snapshot": v.value().name,
                "initial_value": v.initial_value.name,
                "trainable": v.trainable,
            }
            for v in variables.values()
        ],
        "collections": collections,
        "saver": saver_def,
        "unfeedable": unfeedable,
        "unfetchable": unfetchable,
        "clear_devices": clear_devices,
    }
    return (
        f"// {_META_FORMAT}: a flowir graph and what TF's MetaGraphDef adds to it (read by import_meta_graph)\n"
        f"// meta: {json.dumps(meta, separators=(',', ':'))}\n"
        f"// sha256: {_sha256(ir_text.encode('utf-8'))}\n" + ir_text
    )


def export_meta_graph(
    filename: str | os.PathLike | None = None,
    collection_list: Sequence[str] | None = None,
    graph: Graph | None = None,
    clear_devices: bool = False,
    saver: Saver | None = None,
    **kwargs: Any,
) -> str:
    """The meta graph text of ``graph`` (default: the default graph), written to ``filename``
    when given; with ``saver``, ``import_meta_graph`` returns an equivalent saver."""
    graph = graph or get_default_graph()
    saver_def = saver.as_saver_def() if saver is not None else None
    text = _meta_graph_text(graph, saver_def, collection_list, clear_devices)
    if filename is not None:
        _fileio.write_atomically(os.fspath(filename), text)
    return text


def _meta_graph_path(path: str) -> str:
    """The graph file that ``path`` names: itself, or TF's spellings of it (``P.meta``, ``P``)."""
    if os.path.isfile(path):
        return path
    if path.endswith(".meta") and os.path.isfile(path[: -len(".meta")] + META_SUFFIX):
        return path[: -len(".meta")] + META_SUFFIX
    if os.path.isfile(path + META_SUFFIX):
        return path + META_SUFFIX
    raise errors.NotFoundError(None, None, f"Meta graph file {path} not found")


def _split_meta_graph(text: str, path: str) -> tuple[dict[str, Any], str]:
    header: dict[str, str] = {}
    rest = text
    for _ in range(3):
        line, sep, remainder = rest.partition("\n")
        if not line.startswith("// ") or not sep:
            break
        key, _, value = line[3:].partition(": ")
        header[key] = value
        rest = remainder
    if _META_FORMAT not in header or "meta" not in header or "sha256" not in header:
        raise errors.DataLossError(None, None, f"{path} is not a flowir meta graph (no {_META_FORMAT} header)")
    if _sha256(rest.encode("utf-8")) != header["sha256"]:
        raise errors.DataLossError(
            None, None, f"Meta graph file {path} is corrupted: the SHA-256 of its graph does not match"
        )
    try:
        meta = json.loads(header["meta"])
    except ValueError as e:
        raise errors.DataLossError(
            None, None, f"Meta graph file {path} is corrupted: its meta line is not JSON ({e})"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != _META_FORMAT:
        raise errors.DataLossError(None, None, f"Meta graph file {path} has an unknown format")
    return meta, rest


def import_meta_graph(
    meta_graph_or_file: str | os.PathLike,
    clear_devices: bool = False,
    import_scope: str | None = None,
    **kwargs: Any,
) -> Saver | None:
    """Rebuild the graph saved in a meta graph file (``P.fir``; TF's ``P.meta`` and the bare
    prefix ``P`` are accepted) into the default graph, with its variables, collections and
    graph seed, and return its saver (``None`` if it had neither a saver nor variables).

    Then ``saver.restore(sess, P)`` sets the variables, and tensors are found by name
    (``graph.get_tensor_by_name("logits:0")``). ``clear_devices`` drops the ops' devices.
    Raises ``errors.NotFoundError`` for a missing file, ``errors.DataLossError`` for a
    corrupted one, ``ValueError`` if the default graph already has an op of the same name.
    """
    from flowir.ir.parser import parse_graph

    if import_scope:
        raise NotImplementedError("import_meta_graph(import_scope=...) is not supported; import into an empty graph")
    path = _meta_graph_path(os.fspath(meta_graph_or_file))
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise errors.DataLossError(None, None, f"Meta graph file {path} cannot be read: {e}") from e
    meta, ir_text = _split_meta_graph(text, path)
    ir = parse_graph(ir_text, filename=path)
    graph = get_default_graph()
    _import_ops(graph, ir, clear_devices or bool(meta.get("clear_devices")))
    _import_meta(graph, meta)
    saver_def = meta.get("saver")
    if saver_def is not None:
        return Saver(saver_def=saver_def)
    if graph.get_collection(GraphKeys.GLOBAL_VARIABLES):
        return Saver()
    return None


def _import_ops(graph: Graph, ir: Any, clear_devices: bool) -> None:
    """Append copies of the parsed IR graph's ops to ``graph``, with their frontend wrappers
    and names in use (as if they had been built there)."""
    if ir.inputs or ir.return_op is not None:
        raise ValueError("a meta graph holds a frontend graph: no graph inputs or outputs")
    with graph._lock:
        graph._check_not_finalized()
        ops = list(ir.ops)
        names = [op.user_name for op in ops]
        if any(not n for n in names):
            raise ValueError("a meta graph's ops all have names")
        clashes = [n for n in names if n in graph._ir_by_name]
        if clashes:
            raise ValueError(f"cannot import the meta graph: the default graph already has ops named {clashes[:3]}")
        mapping: dict[Any, Any] = {}
        for op in ops:
            copy = type(op)(
                [mapping[v] for v in op.operands],
                [r.type for r in op.results],
                dict(op.attributes),
                user_name=op.user_name,
                location=op.location,
                control_deps=[mapping[v] for v in op.control_deps],
                device=None if clear_devices else op.device,
            )
            graph._ir.append(copy)
            mapping.update(zip(op.results, copy.results))
            # Typed as the file says, not by the rules: a session re-infers them.
            graph._retyped.update(copy.results)
            graph._last_id += 1
            graph._ir_by_name[copy.user_name] = copy
            # Building the op made its name and each enclosing scope name used.
            parts = copy.user_name.split("/")
            for i in range(1, len(parts) + 1):
                key = "/".join(parts[:i]).lower()
                graph._names_in_use.setdefault(key, 1)


def _import_meta(graph: Graph, meta: dict[str, Any]) -> None:
    variables: dict[str, Variable] = {}
    for record in meta.get("variables", ()):
        op = graph.get_operation_by_name(record["op"])
        if not isinstance(op.ir_op, VariableOp):
            raise ValueError(f"meta graph: {record['op']!r} is not a variable")
        variables[record["op"]] = Variable._from_ops(
            op,
            graph.get_operation_by_name(record["initializer"]),
            graph.get_tensor_by_name(record["snapshot"]),
            graph.get_tensor_by_name(record["initial_value"]),
            bool(record.get("trainable", True)),
        )
    saver_def = meta.get("saver") or {}
    for e in saver_def.get("entries", ()):
        op = graph.get_operation_by_name(e["variable"])
        if op not in graph._variable_reads:
            graph._variable_reads[op] = graph.get_tensor_by_name(e["snapshot"])
            graph.prevent_feeding(op.outputs[0])
    for key, items in meta.get("collections", {}).items():
        for item in items:
            if "variable" in item:
                graph.add_to_collection(key, variables[item["variable"]])
            elif "tensor" in item:
                graph.add_to_collection(key, graph.get_tensor_by_name(item["tensor"]))
            elif "operation" in item:
                graph.add_to_collection(key, graph.get_operation_by_name(item["operation"]))
            else:
                graph.add_to_collection(key, item["value"])
    for name in meta.get("unfeedable", ()):
        graph.prevent_feeding(graph.get_tensor_by_name(name))
    for name in meta.get("unfetchable", ()):
        graph.prevent_fetching(graph.get_operation_by_name(name))
    if graph.seed is None and meta.get("seed") is not None:
        graph.seed = int(meta["seed"])
