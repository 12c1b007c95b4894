"""TF 1.15's session and run options: ``ConfigProto``, ``GPUOptions``, ``RunOptions``, ``RunMetadata``.

Plain mutable objects with TF's field names and defaults (proto3: ``False``, ``0``, ``""``),
so tutorial code such as ``config = tf.ConfigProto(); config.gpu_options.allow_growth = True``
runs unchanged. Assigning a field that does not exist is a ``ValueError`` naming it, as
protobuf raises; an unknown keyword argument is a ``TypeError``.

What a session does with them:

- ``allow_soft_placement``: an op placed on a device that does not exist runs on the CPU (with
  one warning) instead of failing the run; TF's default for a ``ConfigProto`` is ``False``. A
  session made without a config keeps flowir's own default, ``True``.
- ``device_count``: at most this many devices of a type are used (``{"GPU": 0}`` hides the
  GPUs, so everything runs on the CPU, as in TF).
- ``log_device_placement``: each compiled run logs, at INFO on the ``flowir.session`` logger,
  the devices its program runs on.
- ``inter_op_parallelism_threads``, ``intra_op_parallelism_threads``, ``gpu_options`` and
  ``operation_timeout_in_ms``: accepted and kept (``Session.config``); XLA sizes its own thread
  pools and jax allocates GPU memory as ``XLA_PYTHON_CLIENT_*`` variables say, before jax starts.
  ``operation_timeout_in_ms`` is the default run timeout of data-parallel sessions.
- ``data_parallel`` (a flowir extension, not in TF): run data-parallel over every local device
  (with the jax backend): fed batches are split along their first dim over the devices,
  variables replicated, gradients averaged over the whole batch by XLA's SPMD partitioner.
  A session on a ``tf.train.Server``'s target is data-parallel across the cluster anyway. For
  several CPU devices start Python with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``;
  on a machine with few cores, also set ``PJRT_NPROC`` to at least twice N, or XLA's CPU
  collectives can deadlock with queued steps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["ConfigProto", "GPUOptions", "RunOptions", "RunMetadata"]


class _Message:
    """Protobuf-like behaviour shared by the option classes: assigning an unknown field is a
    ``ValueError``; ``CopyFrom`` and ``MergeFrom`` copy fields."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._fields():
            raise ValueError(f'Protocol message {type(self).__name__} has no "{name}" field.')
        object.__setattr__(self, name, value)

    @classmethod
    def _fields(cls) -> frozenset[str]:
        return frozenset(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    def CopyFrom(self, other: _Message) -> None:  # noqa: N802 (protobuf's name)
        """Make every field of this message a copy of ``other``'s."""
        if type(other) is not type(self):
            raise TypeError(f"Parameter to CopyFrom() must be instance of same class: expected {type(self).__name__}")
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            object.__setattr__(self, f.name, _copy(getattr(other, f.name)))

    def MergeFrom(self, other: _Message) -> None:  # noqa: N802 (protobuf's name)
        """Copy the fields ``other`` sets (those that differ from their defaults)."""
        if type(other) is not type(self):
            raise TypeError(f"Parameter to MergeFrom() must be instance of same class: expected {type(self).__name__}")
        blank = type(self)()
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(other, f.name)
            if isinstance(value, _Message):
                getattr(self, f.name).MergeFrom(value)
            elif isinstance(value, dict):
                getattr(self, f.name).update(value)
            elif value != getattr(blank, f.name):
                object.__setattr__(self, f.name, value)


def _copy(value: Any) -> Any:
    if isinstance(value, _Message):
        out = type(value)()
        out.CopyFrom(value)
        return out
    return dict(value) if isinstance(value, dict) else value


@dataclass(eq=True)
class GPUOptions(_Message):
    """TF's ``GPUOptions``: how GPU memory is allocated (kept; see the module docstring)."""

    per_process_gpu_memory_fraction: float = 0.0
    allow_growth: bool = False
    allocator_type: str = ""
    visible_device_list: str = ""


@dataclass(eq=True)
class ConfigProto(_Message):
    """TF's ``ConfigProto``: options of a ``Session`` (see the module docstring for each).

    >>> config = ConfigProto(allow_soft_placement=True, device_count={"GPU": 0})
    >>> config.gpu_options.allow_growth = True
    >>> config.device_count["GPU"]
    0
    """

    device_count: dict[str, int] = field(default_factory=dict)
    intra_op_parallelism_threads: int = 0
    inter_op_parallelism_threads: int = 0
    allow_soft_placement: bool = False
    log_device_placement: bool = False
    gpu_options: GPUOptions = field(default_factory=GPUOptions)
    operation_timeout_in_ms: int = 0
    data_parallel: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.gpu_options, GPUOptions):
            raise TypeError(f"gpu_options must be a GPUOptions, got {type(self.gpu_options).__name__}")
        for kind, count in self.device_count.items():
            if not isinstance(kind, str) or not isinstance(count, int) or count < 0:
                raise ValueError(f"device_count maps device types to counts >= 0, got {kind!r}: {count!r}")
        object.__setattr__(self, "device_count", dict(self.device_count))


@dataclass(eq=True)
class RunOptions(_Message):
    """TF's ``RunOptions`` for one ``Session.run``: accepted; tracing is not recorded."""

    NO_TRACE: ClassVar[int] = 0
    SOFTWARE_TRACE: ClassVar[int] = 1
    HARDWARE_TRACE: ClassVar[int] = 2
    FULL_TRACE: ClassVar[int] = 3

    trace_level: int = 0
    timeout_in_ms: int = 0
    inter_op_thread_pool: int = 0
    output_partition_graphs: bool = False
    report_tensor_allocations_upon_oom: bool = False


@dataclass(eq=True)
class RunMetadata(_Message):
    """TF's ``RunMetadata``: what a run reports back; flowir records no step stats, so its
    fields stay empty."""

    step_stats: dict[str, Any] = field(default_factory=dict)
    partition_graphs: list[Any] = field(default_factory=list)
