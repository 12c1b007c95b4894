"""The jax backend: a program lowered to jax and compiled by XLA as one jitted function.

Compilation partitions the program by where each op runs:

- ops on strings (or summaries) run on the host with their reference kernels: jax has no
  string arrays;
- every other op runs on a jax device: the one its ``device`` names (``/gpu:0``), else the
  default device (the first GPU when there is one, else the CPU; see ``devices.py``);
- control ops (``control.group``, ``control.no_op``) yield ``CONTROL_TOKEN`` and run nowhere.

Ops on one device form one segment, traced and compiled as one ``jax.jit`` per input
signature (shapes and dtypes); a program that mixes places splits into segments run in
dependency order, values moving between them. A numeric program on one device, the common
case, is a single jitted call: feeds and state in, fetches and new state out, no Python per op.

State stays on the device: new state values are returned as jax arrays and come back in as
the next run's state. Variables that a run both reads and writes are donated to the new
values (XLA updates them in place) unless the program has run-time checks, whose failure must
leave the old values intact. Fetches are returned as numpy arrays.

64 bits: every trace and call runs under ``jax.enable_x64(True)``, a thread-local setting, so
int64 and float64 programs compute in 64 bits while the user's global jax configuration is
left alone. Random ops draw from keys derived from ``RefContext.draw_key``.

Semantics are the numpy reference's (``flowir.ir.reference``), checks and errors included,
with one difference: XLA flushes subnormal floats to zero (as TF's CPU and GPU kernels do),
where numpy keeps them.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import SingleDeviceSharding

from flowir.backends.base import Backend, Executable, Program
from flowir.backends.jax.devices import DeviceResolver
from flowir.backends.jax.lowering import LOWERING_RULES, UNSUPPORTED, Check, LoweringContext, lower_ops, may_fail
from flowir.ir.core import BlockArgument, Graph, Operation, Trait, Value
from flowir.ir.dtypes import DType, dtype_of
from flowir.ir.errors import DTypeError, FlowirError, ShapeError
from flowir.ir.ops.core import Constant
from flowir.ir.reference import CONTROL_TOKEN, IMPL_RULES, RefContext, run_op
from flowir.ir.reference import UNSUPPORTED as REFERENCE_UNSUPPORTED
from flowir.ir.types import ControlType, TensorType

__all__ = ["JaxBackend", "JaxExecutable", "runs_on_host"]

logger = logging.getLogger("flowir.backends.jax")

#: Constants with more elements than this are passed to the compiled function as arguments
#: (uploaded once) rather than embedded in the program, which would slow XLA down.
CAPTURE_THRESHOLD = 1024

#: Matrix-product precisions by name (``JaxBackend(matmul_precision=...)``).
_PRECISIONS = {
    "highest": jax.lax.Precision.HIGHEST,
    "high": jax.lax.Precision.HIGH,
    "default": jax.lax.Precision.DEFAULT,
}


def _is_string(v: Value) -> bool:
    ty = v.type
    return type(ty) is TensorType and ty.dtype is DType.string  # type: ignore[attr-defined]


def runs_on_host(op: Operation) -> bool:
    """Whether ``op`` runs on the host: it reads or yields strings (summaries do)."""
    # Loops rather than any(): this runs for every op of every program compiled.
    for v in op.operands:
        if _is_string(v):
            return True
    for v in op.results:
        if _is_string(v):
            return True
    return False


@functools.cache
def _never_lowered(cls: type[Operation]) -> str | None:
    """Why no op of class ``cls`` runs on this backend, from its traits (fixed per class)."""
    if Trait.STATEFUL in cls.traits:
        return "a stateful op; backends run programs after the functionalize-state pass"
    if Trait.INPUT in cls.traits:
        return "an input that is not fed"
    return None


def _is_control_op(op: Operation) -> bool:
    return not op.operands and bool(op.results) and all(type(r.type) is ControlType for r in op.results)


class JaxBackend(Backend):
    """Compiles programs with jax/XLA for the CPU and GPUs (see the module docstring).

    ``soft_placement``: a named device that does not exist runs on the CPU (with one warning)
    rather than raising. ``device_count``: at most this many devices per TF device type
    (``{"GPU": 0}``: the CPU only). ``matmul_precision``: ``"highest"`` (default; float32 products in
    full float32, as numpy and TF1), ``"high"`` or ``"default"`` (TF32/bfloat16 passes on
    GPUs: faster, less exact). ``compilations`` counts the XLA compilations of this backend's
    executables, each logged at INFO on the ``flowir.backends.jax`` logger, and
    ``compile_seconds`` adds up the calls that compiled (tracing, XLA, the first run).
    """

    name = "jax"
    donates_state = True

    def __init__(
        self,
        *,
        soft_placement: bool = True,
        matmul_precision: str = "highest",
        device_count: Mapping[str, int] | None = None,
    ) -> None:
        if matmul_precision not in _PRECISIONS:
            raise ValueError(f"matmul_precision must be one of {', '.join(_PRECISIONS)}, got {matmul_precision!r}")
        self.soft_placement = soft_placement
        self.matmul_precision = matmul_precision
        self.device_count = dict(device_count or {})
        self.devices = DeviceResolver(soft_placement, self.device_count)
        #: Whether programs are compiled for data parallelism over every device (``sharded.py``).
        self.data_parallel = False
        self.compilations = 0
        self.compile_seconds = 0.0
        self._variants: dict[tuple[Any, ...], JaxBackend] = {self._key(soft_placement, self.device_count): self}

    def _key(self, soft_placement: bool, device_count: Mapping[str, int], data_parallel: bool = False) -> tuple[Any, ...]:
        counts = tuple(sorted((k.upper(), n) for k, n in device_count.items()))
        return soft_placement, self.matmul_precision, counts, data_parallel

    def with_options(
        self,
        *,
        allow_soft_placement: bool = True,
        device_count: Mapping[str, int] | None = None,
        data_parallel: bool = False,
    ) -> JaxBackend:
        """This backend with a session's placement options: one instance per setting.
        ``data_parallel``: programs are compiled with ``compile_data_parallel`` instead."""
        key = self._key(allow_soft_placement, device_count or {}, data_parallel)
        found = self._variants.get(key)
        if found is None:
            found = JaxBackend(
                soft_placement=allow_soft_placement, matmul_precision=self.matmul_precision, device_count=device_count
            )
            found.data_parallel = data_parallel
            found._variants = self._variants
            self._variants[key] = found
        return found

    def compile_data_parallel(self, program: Program, batch_feeds: Sequence[int]) -> Executable:
        """An executable running ``program`` data-parallel over every device of the default
        platform in every process: the feeds at ``batch_feeds`` split along their first dim,
        everything else replicated (see ``sharded.py``)."""
        from flowir.backends.jax.sharded import ShardedExecutable

        self.check_supported(program.graph)
        return ShardedExecutable(self, program, batch_feeds)

    def unsupported_reason(self, op: Operation) -> str | None:
        cls = type(op)
        never = _never_lowered(cls)
        if never is not None:
            return never
        if runs_on_host(op):
            if cls in IMPL_RULES:
                return None
            why = REFERENCE_UNSUPPORTED.get(cls, "no reference kernel")
            return f"it handles strings, which run on the host with reference kernels, and it has none ({why})"
        if cls not in LOWERING_RULES:
            return UNSUPPORTED.get(cls, "no jax lowering")
        return None

    def unsupported_ops(self, graph: Graph) -> list[Operation]:
        return [op for op in graph.ops if self.unsupported_reason(op) is not None]

    def compile(self, program: Program) -> JaxExecutable:
        self.check_supported(program.graph)
        return JaxExecutable(self, program)


# --------------------------------------------------------------------------------------------
# Partitioning


class _Segment:
    """Ops of one place (a jax device, or ``None`` for the host) that run together."""

    __slots__ = ("place", "ops", "inputs", "outputs")

    def __init__(self, place: jax.Device | None) -> None:
        self.place = place
        self.ops: list[Operation] = []
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []


def _partition(graph: Graph, devices: DeviceResolver) -> tuple[list[_Segment], list[Value]]:
    """The segments of ``graph`` in an order that runs each after those it reads from, and
    the control values (which need no segment).

    An op joins the segment of its place at the smallest depth that follows every segment of
    another place it reads from, so segments of one depth never depend on each other.
    """
    where: dict[Value, tuple[int, Any]] = {}
    by_key: dict[tuple[int, Any], _Segment] = {}
    controls: list[Value] = []
    # Per device name, its jax device (resolved, with the first op's description, once).
    resolved: dict[str | None, Any] = {}
    for op in graph.ops:
        if _is_control_op(op):
            controls.extend(op.results)
            continue
        if runs_on_host(op):
            place = None
        else:
            place = resolved.get(op.device)
            if place is None:
                place = resolved[op.device] = devices.resolve(op.device, op.describe_op())
        depth = 0
        for v in op.operands:
            src = where.get(v)
            if src is not None:
                # jax devices are singletons: identity is equality.
                depth = max(depth, src[0] if src[1] is place else src[0] + 1)
        key = (depth, place)
        seg = by_key.get(key)
        if seg is None:
            seg = by_key[key] = _Segment(place)
        seg.ops.append(op)
        for r in op.results:
            where[r] = key
    order = sorted(by_key, key=lambda k: (k[0], k[1] is not None, str(k[1])))
    segments = [by_key[k] for k in order]
    used_outside: set[Value] = set(graph.outputs)
    for seg in segments:
        inside = {r for op in seg.ops for r in op.results}
        for op in seg.ops:
            for v in op.operands:
                if v not in inside:
                    inside.add(v)  # an input once is enough
                    seg.inputs.append(v)
                    used_outside.add(v)
    for seg in segments:
        seg.outputs = [r for op in seg.ops for r in op.results if r in used_outside]
    return segments, controls


# --------------------------------------------------------------------------------------------
# One device segment as one jitted function


def _key_words(words: Sequence[int]) -> list[int]:
    """``RefContext.draw_key`` words as uint32 halves (low, high)."""
    out = []
    for w in words:
        out.append(w & 0xFFFFFFFF)
        out.append((w >> 32) & 0xFFFFFFFF)
    return out


class _DeviceFunction:
    """Ops of one device, traced into one ``jax.jit`` (compiled once per input signature).

    Called with the values of ``inputs``; returns the values of ``outputs`` (which may repeat
    a value: each position gets its own buffer). Large constants are uploaded once and passed
    in; random ops get their keys as a uint32 array built per call; run-time checks come back
    as an error code (and details), raised here before anything is handed out.
    """

    def __init__(
        self,
        owner: JaxExecutable,
        device: jax.Device,
        ops: list[Operation],
        inputs: list[Value],
        outputs: list[Value],
        donate: frozenset[Value],
    ) -> None:
        self.owner = owner
        self.device = device
        self.ops = ops
        self.inputs = inputs
        self.outputs = outputs
        self.random_ops = [op for op in ops if Trait.RANDOM in op.traits]
        self._key_rows = {op: i for i, op in enumerate(self.random_ops)}
        self.captured = [op for op in ops if type(op) is Constant and op.value.size > CAPTURE_THRESHOLD]
        self._captured_values: list[Any] | None = None
        self.may_fail = any(may_fail(op) for op in ops)
        self.donated = () if self.may_fail else tuple(i for i, v in enumerate(inputs) if v in donate)
        self._checks: dict[tuple[Any, ...], list[tuple[Check, str]]] = {}
        self._jitted = self._jit()

    def _jit(self) -> Any:
        """The jitted trace, placed on this function's device."""
        sharding = SingleDeviceSharding(self.device)
        return jax.jit(self._trace, donate_argnums=self.donated, in_shardings=sharding, out_shardings=sharding)

    def _upload(self, value: np.ndarray) -> Any:
        """A host array (a captured constant, the random keys) as an argument of the call."""
        return jax.device_put(value, self.device)

    def _upload_keys(self, keys: np.ndarray) -> Any:
        """The random keys of a call as its argument: the numpy array (jit places it)."""
        return keys

    def _error_code(self, code: Any) -> int:
        """The run-time check code a call returned, as an int."""
        return int(code)

    # -- tracing (once per input signature) -----------------------------------------------

    def _trace(self, *args: Any) -> list[Any]:
        n = len(self.inputs)
        m = n + len(self.captured)
        for v, a in zip(self.inputs, args[:n]):
            _check_input(v, a)
        env: dict[Value, Any] = dict(zip(self.inputs, args[:n]))
        ctx = LoweringContext(
            keys=args[m] if self.random_ops else None,
            key_rows=self._key_rows,
            constants=dict(zip(self.captured, args[n:m])),
            matmul_precision=self.owner.backend_precision,
        )
        lower_ops(self.ops, env, ctx)
        self.owner._compiled(self, args[:n])
        outs = [env[v] for v in self.outputs]
        undeclared = [c.op for c in ctx.checks if not may_fail(c.op)]
        if undeclared:
            raise FlowirError(
                f"the jax lowering of {undeclared[0].name} checks at run time, which its lowering_rule "
                "does not declare (may_fail=...)"
            )
        if self.may_fail:
            # Checks describe themselves with this signature's shapes; a failed run looks up
            # the ones of its own signature.
            self._checks[_signature(args)] = [(c, _describe_operands(c.op, env)) for c in ctx.checks]
            code = jax.numpy.int32(-1)
            for i in reversed(range(len(ctx.checks))):
                code = jax.numpy.where(ctx.checks[i].ok, code, jax.numpy.int32(i))
            outs.append(code)
            for c in ctx.checks:
                outs.extend(c.details)
        return outs

    # -- calling --------------------------------------------------------------------------

    def __call__(self, args: list[Any], ctx: RefContext | None) -> list[Any]:
        """The output values for input values ``args``; raises the failed check's error."""
        if self.captured:
            if self._captured_values is None:
                self._captured_values = [self._upload(op.value) for op in self.captured]
            args = args + self._captured_values
        if self.random_ops:
            if ctx is None:
                ctx = RefContext()
            keys = np.array(
                [_key_words(ctx.draw_key(op, op.seed, op.seed2)) for op in self.random_ops], dtype=np.uint32
            )
            args = [*args, self._upload_keys(keys)]
        owner = self.owner
        compiled = owner.compilations
        start = time.perf_counter()
        try:
            outs = self._jitted(*args)
        except FlowirError:
            raise
        except Exception as e:
            raise _runtime_error(e) from e
        if owner.compilations != compiled:
            owner._compile_time(time.perf_counter() - start)
        if self.may_fail:
            n = len(self.outputs)
            code = self._error_code(outs[n])
            if code >= 0:
                self._raise_check(self._checks[_signature(args)], code, outs[n + 1 :])
            outs = outs[:n]
        return outs

    @staticmethod
    def _raise_check(checks: list[tuple[Check, str]], code: int, details: Sequence[Any]) -> None:
        start = sum(len(c.details) for c, _ in checks[:code])
        check, operands = checks[code]
        values = [np.asarray(d) for d in details[start : start + len(check.details)]]
        e = FlowirError(check.describe(*values))
        check.op.annotate_error(e)
        e.add_context(f"  run-time operands: {operands}")
        raise e


def _signature(args: Sequence[Any]) -> tuple[tuple[tuple[int, ...], np.dtype], ...]:
    """The shapes and dtypes of a call's arguments (traced or concrete): what jit compiles for."""
    return tuple((tuple(a.shape), np.dtype(a.dtype)) for a in args)


def _describe_operands(op: Operation, env: dict[Value, Any]) -> str:
    """``float32[3], int32[2, 2]``: the operands of ``op`` as traced, for error messages."""
    return ", ".join(f"{np.dtype(env[v].dtype)}{list(env[v].shape)}" for v in op.operands)


def _check_input(value: Value, array: Any) -> None:
    """A fed array must fit the program input it is fed to."""
    if not isinstance(value, BlockArgument) or type(value.type) is not TensorType:
        return
    ty: TensorType = value.type  # type: ignore[assignment]
    dt = dtype_of(np.dtype(array.dtype))
    what = value.name or f"input {value.index}"
    if dt is not ty.dtype:
        raise DTypeError(f"cannot feed a {dt.value} value to {what!r} of type {ty.describe()}")
    if not TensorType(dt, array.shape).is_compatible_with(ty):
        raise ShapeError(f"cannot feed a value of shape {tuple(array.shape)} to {what!r} of type {ty.describe()}")


def _runtime_error(e: Exception) -> BaseException:
    """A failure inside XLA as a flowir error (``MemoryError`` when memory ran out)."""
    text = str(e)
    if "RESOURCE_EXHAUSTED" in text or "Out of memory" in text:
        return MemoryError(f"the jax backend ran out of device memory: {text}")
    return FlowirError(f"the jax backend failed to run the program: {type(e).__name__}: {text}")


# --------------------------------------------------------------------------------------------
# Executables


class JaxExecutable(Executable):
    """A ``Program`` compiled for the jax backend (see ``Executable`` for the call).

    Fetches come back as numpy arrays, new state values as jax arrays on their device.
    ``compilations`` counts the XLA compilations so far (one per input signature and
    segment) and ``compile_seconds`` the time of the calls that compiled; ``devices`` lists the devices the program runs on; ``donated_state`` names the
    state inputs a call consumes.
    """

    def __init__(self, backend: JaxBackend, program: Program) -> None:
        donate = self._setup(backend, program)
        graph = program.graph
        self._segments, controls = _partition(graph, backend.devices)
        self._controls = frozenset(controls)
        outputs = graph.outputs
        inputs = graph.inputs
        self._functions: dict[int, _DeviceFunction] = {}
        self._single: _DeviceFunction | None = None
        self._control_positions = tuple(i for i, v in enumerate(outputs) if v in self._controls)
        on_one_device = len(self._segments) == 1 and self._segments[0].place is not None
        if on_one_device and not any(_is_string(v) for v in (*inputs, *outputs)):
            seg = self._segments[0]
            tensors = [v for v in outputs if v not in self._controls]
            self._single = _DeviceFunction(self, seg.place, seg.ops, list(inputs), tensors, donate)
        else:
            on_device = [k for k, seg in enumerate(self._segments) if seg.place is not None]
            for k in on_device:
                seg = self._segments[k]
                # The only device segment (a training step, with summaries on the host) may
                # donate the state it updates, as the single function does, unless another
                # segment reads it or it is passed through to an output.
                seg_donate: frozenset[Value] = frozenset()
                if len(on_device) == 1:
                    elsewhere = {v for j, other in enumerate(self._segments) if j != k for v in other.inputs}
                    elsewhere.update(outputs)
                    seg_donate = frozenset(v for v in seg.inputs if v in donate and v not in elsewhere)
                self._functions[k] = _DeviceFunction(self, seg.place, seg.ops, seg.inputs, seg.outputs, seg_donate)
        fns = [self._single] if self._single is not None else list(self._functions.values())
        self.devices = list(dict.fromkeys(f.device for f in fns))
        #: Where new state computed on the host (or passed through from a feed) is put.
        self._state_device = self.devices[0] if self.devices else backend.devices.default
        positions = {v: i for i, v in enumerate(inputs)}
        self.donated_state = [
            program.state_reads[positions[fn.inputs[i]] - self._num_feeds] for fn in fns for i in fn.donated
        ]
        self.donates_state = bool(self.donated_state)

    def _setup(self, backend: Any, program: Program) -> frozenset[Value]:
        """The fields every jax executable has; returns the state inputs a call may donate
        (those a state write of the same static type replaces)."""
        self.program = program
        self.backend = backend
        self.backend_precision = _PRECISIONS[backend.matmul_precision]
        self.compilations = 0
        self.compile_seconds = 0.0
        inputs, outputs = program.graph.inputs, program.graph.outputs
        self._num_feeds = program.num_feeds
        self._num_state = len(program.state_reads)
        self._num_fetches = program.num_fetches
        reads = {name: inputs[program.num_feeds + i] for i, name in enumerate(program.state_reads)}
        return frozenset(
            arg
            for name, out in zip(program.state_writes, outputs[program.num_fetches :])
            if (arg := reads.get(name)) is not None and arg.type == out.type and out.type.is_static  # type: ignore[attr-defined]
        )

    def _compile_time(self, seconds: float) -> None:
        self.compile_seconds += seconds
        self.backend.compile_seconds += seconds

    def _compiled(self, fn: _DeviceFunction, args: Sequence[Any]) -> None:
        """Count and log one compilation (called while jax traces ``fn``)."""
        self.compilations += 1
        self.backend.compilations += 1
        if logger.isEnabledFor(logging.INFO):
            sig = ", ".join(f"{dtype_of(np.dtype(a.dtype)).value}{list(a.shape)}" for a in args)
            logger.info(
                "jax: compiling %d ops on %s for inputs (%s) [compilation %d of this program]",
                len(fn.ops),
                fn.device,
                sig,
                self.compilations,
            )

    def __call__(
        self, feeds: Sequence[np.ndarray], state: Sequence[Any], ctx: RefContext | None
    ) -> tuple[list[Any], list[Any]]:
        if len(feeds) != self._num_feeds or len(state) != self._num_state:
            raise ValueError(
                f"this executable takes {self._num_feeds} feeds and {self._num_state} state values, "
                f"got {len(feeds)} and {len(state)}"
            )
        with jax.enable_x64(True):
            values = self._run([*feeds, *state], ctx)
        n = self._num_fetches
        return [_to_numpy(v) for v in values[:n]], values[n:]

    def call_on_device(
        self, feeds: Sequence[Any], state: Sequence[Any], ctx: RefContext | None
    ) -> tuple[list[Any], list[Any]]:
        """Like calling the executable, but fetches stay jax arrays on their device."""
        with jax.enable_x64(True):
            values = self._run([*feeds, *state], ctx)
        n = self._num_fetches
        return values[:n], values[n:]

    def _run(self, args: list[Any], ctx: RefContext | None) -> list[Any]:
        single = self._single
        if single is not None:
            outs = single(args, ctx)
            if not self._control_positions:
                return outs
            outs = list(outs)
            for i in self._control_positions:
                outs.insert(i, CONTROL_TOKEN)
            return outs
        return self._run_segments(args, ctx)

    def _run_segments(self, args: list[Any], ctx: RefContext | None) -> list[Any]:
        graph = self.program.graph
        env: dict[Value, Any] = dict(zip(graph.inputs, args))
        for v in self._controls:
            env[v] = CONTROL_TOKEN
        for k, seg in enumerate(self._segments):
            fn = self._functions.get(k)
            if fn is None:
                _run_on_host(seg, env, ctx)
                continue
            outs = fn([env[v] for v in seg.inputs], ctx)
            env.update(zip(seg.outputs, outs))
        n = self._num_fetches
        out = []
        for i, v in enumerate(graph.outputs):
            value = env[v]
            if isinstance(value, np.ndarray):
                # Host kernels may return views of their operands: hand out no feed's memory.
                if any(isinstance(a, np.ndarray) and np.may_share_memory(value, a) for a in args):
                    value = value.copy()
                if i >= n and value.dtype.kind != "O":
                    value = jax.device_put(value, self._state_device)
            elif isinstance(value, jax.Array) and isinstance(v, BlockArgument):
                # Passed through: a fetch gets its own host copy, new state its own buffer (the
                # old one may be donated later).
                value = np.array(value) if i < n else value.copy()
            out.append(value)
        return out


def _run_on_host(seg: _Segment, env: dict[Value, Any], ctx: RefContext | None) -> None:
    """Run a host segment's ops with their reference kernels."""
    for op in seg.ops:
        args = [_to_numpy(env[v]) for v in op.operands]
        try:
            results = run_op(op, args, ctx)
        except FlowirError as e:
            op.annotate_error(e)
            raise
        except Exception as e:
            err = FlowirError(f"{type(e).__name__}: {e}")
            op.annotate_error(err)
            raise err from e
        env.update(zip(op.results, results))


def _to_numpy(v: Any) -> Any:
    return np.asarray(v) if isinstance(v, jax.Array) else v
