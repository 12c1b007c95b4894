"""``check_shapes``: property-based shape tests of a user's graph on every backend.

For feeds drawn by ``feeds_for`` (every wildcard dim sized, edge sizes 0 and 1 included),
``check_shapes`` runs the fetches on each backend and asserts that

- each fetched tensor's runtime shape and dtype fit its static type (``tensor<?x10xf32>``
  admits ``(3, 10) float32``, not ``(3, 11)``),
- the backends agree with the first one (the numpy reference by default), within per-dtype
  tolerances (outputs that depend on random ops are compared by shape and dtype only),
- for ``onnx``: the exported model's ONNX shape inference agrees with flowir's static types
  (checked once), and onnxruntime's results pass the two checks above.

A failure is shrunk by hypothesis to a minimal feed and reported as a ``ShapeCheckError``
naming the tensor as the user named it, its static type, the runtime shape, the backend and
the feed shapes.

>>> import flowir as tf
>>> g = tf.Graph()
>>> with g.as_default():
...     x = tf.placeholder(tf.float32, [None, 4], name="x")
...     y = tf.nn.relu(tf.matmul(x, tf.ones([4, 2])), name="y")
>>> report = check_shapes(y, backends=("numpy",), max_examples=5)
>>> report.backends
('numpy',)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from flowir.ir.core import Operation, Trait, Value
from flowir.ir.dtypes import DType, dtype_of
from flowir.ir.transforms import needed_ops
from flowir.ir.types import ResourceType, TensorType
from flowir.testing.checks import TOLERANCES
from flowir.testing.feeds import feeds_for, resolve_fetches

__all__ = ["check_shapes", "ShapeCheckError", "ShapeCheckReport", "DEFAULT_BACKENDS"]

#: The backends ``check_shapes`` runs by default, those installed among them.
DEFAULT_BACKENDS: tuple[str, ...] = ("numpy", "jax", "onnx")


class ShapeCheckError(AssertionError):
    """A fetched tensor whose runtime shape or dtype does not fit its static type, a backend
    that disagrees with the reference, or a backend that failed on a valid feed."""


@dataclass
class ShapeCheckReport:
    """What ``check_shapes`` ran: the backends, how many feeds, and the backends it skipped
    (not installed) with the reason."""

    backends: tuple[str, ...]
    examples: int = 0
    skipped: dict[str, str] = field(default_factory=dict)


def _describe_feeds(feed: Mapping[Any, np.ndarray]) -> str:
    parts = []
    for k, a in feed.items():
        name = getattr(k, "name", None) or str(k)
        parts.append(f"{name} {tuple(a.shape)} {a.dtype}")
    return ", ".join(parts) or "(none)"


def _static_type(v: Value) -> TensorType | None:
    ty = v.type
    if type(ty) is ResourceType:
        ty = ty.value_type
    return ty if type(ty) is TensorType else None  # type: ignore[return-value]


def _fits(ty: TensorType, a: np.ndarray) -> bool:
    if ty.dtype is not DType.string and np.dtype(a.dtype) != np.dtype(ty.dtype.numpy):
        return False
    if ty.shape is None:
        return True
    return len(ty.shape) == a.ndim and all(d is None or d == n for d, n in zip(ty.shape, a.shape))


def _disagreement(actual: np.ndarray, expected: np.ndarray) -> str | None:
    """Why ``actual`` does not match ``expected``, or ``None``. Floats compare within the
    dtype's tolerance scaled by the largest magnitude of ``expected``: backends sum long
    reductions in different orders, so an entry that cancels to near zero differs by
    rounding of the large terms, not of itself."""
    if actual.dtype != expected.dtype and not (actual.dtype.kind in "OSU" and expected.dtype.kind in "OSU"):
        return f"dtype {actual.dtype} differs from {expected.dtype}"
    if actual.shape != expected.shape:
        return f"shape {actual.shape} differs from {expected.shape}"
    if expected.dtype.kind != "f" and expected.dtype.name != "bfloat16":
        if not np.array_equal(actual, expected):
            return f"values differ\n  got:      {actual!r}\n  expected: {expected!r}"
        return None
    rtol, atol = TOLERANCES.get(dtype_of(expected), (1e-5, 1e-6))
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    finite = np.isfinite(e)
    scale = float(np.max(np.abs(e[finite]))) if finite.any() else 0.0
    close = np.isclose(a, e, rtol=rtol, atol=atol + rtol * scale, equal_nan=True)
    if close.all():
        return None
    i = np.unravel_index(int(np.argmin(close)), close.shape) if close.ndim else ()
    return f"{int((~close).sum())} of {close.size} values differ, e.g. at {i}: {a[i]!r} vs {e[i]!r}"


class _Check:
    """The state of one ``check_shapes`` call: one session per backend, variables equal."""

    def __init__(self, fetches: Any, backends: Sequence[str], session: Any) -> None:
        import flowir as tf

        self.graph, self.values, frontend = resolve_fetches(fetches)
        if frontend is None:
            raise TypeError("check_shapes needs tensors of a flowir graph (tf.Graph); got IR values")
        self.frontend = frontend
        self.names = [frontend._tensor_of(v).name if v.owner is not None else str(v) for v in self.values]
        self.fetches = [frontend._tensor_of(v) for v in self.values]
        ops = needed_ops(self.graph, self.values)
        self.random = _random_dependent(ops, self.values)
        needed = set(ops)
        variables = [
            v
            for v in frontend.get_collection(tf.GraphKeys.GLOBAL_VARIABLES) + frontend.get_collection(tf.GraphKeys.LOCAL_VARIABLES)
            if v.op.ir_op in needed
        ]
        self.sessions: dict[str, Any] = {}
        self.onnx: Any = None
        values: list[np.ndarray] | None = None
        if variables:
            if session is not None:
                values = session.run(variables)
        for name in backends:
            if name == "onnx":
                continue
            sess = tf.Session(graph=frontend, backend=name)
            self.sessions[name] = sess
            if not variables:
                continue
            if values is None:
                sess.run([v.initializer for v in variables])
                values = sess.run(variables)
            else:
                for var, value in zip(variables, values):
                    var.load(value, sess)
        if "onnx" in backends:
            self.onnx = _OnnxRunner(self, variables, values)

    def close(self) -> None:
        for sess in self.sessions.values():
            sess.close()

    def run_one(self, feed: Mapping[Any, np.ndarray]) -> None:
        reference: tuple[str, list[Any]] | None = None
        runners = [(name, lambda f, s=sess: s.run(self.fetches, feed_dict=f)) for name, sess in self.sessions.items()]
        if self.onnx is not None:
            runners.append(("onnx", self.onnx.run))
        for backend, run in runners:
            try:
                results = [np.asarray(r) for r in run(feed)]
            except Exception as e:  # noqa: BLE001 - any failure of a backend on a valid feed is a finding
                raise ShapeCheckError(
                    f"check_shapes: backend {backend!r} failed: {type(e).__name__}: {e}\n  feeds: {_describe_feeds(feed)}"
                ) from e
            for name, v, a in zip(self.names, self.values, results):
                ty = _static_type(v)
                if ty is not None and not _fits(ty, a):
                    raise ShapeCheckError(
                        f"check_shapes: fetched tensor {name!r} (static type {ty!r}) has runtime shape "
                        f"{tuple(a.shape)} {a.dtype} on backend {backend!r}\n  feeds: {_describe_feeds(feed)}"
                    )
            if reference is None:
                reference = (backend, results)
                continue
            ref_name, ref_results = reference
            for name, v, a, b in zip(self.names, self.values, results, ref_results):
                if v in self.random:
                    if a.shape != b.shape:
                        raise ShapeCheckError(
                            f"check_shapes: fetched tensor {name!r} has shape {a.shape} on {backend!r} but "
                            f"{b.shape} on {ref_name!r}\n  feeds: {_describe_feeds(feed)}"
                        )
                    continue
                why = _disagreement(a, b)
                if why is not None:
                    raise ShapeCheckError(
                        f"check_shapes: backend {backend!r} disagrees with {ref_name!r} on {name!r}: {why}\n"
                        f"  feeds: {_describe_feeds(feed)}"
                    )


class _OnnxRunner:
    """The fetches exported to ONNX (variables frozen at the reference values) in onnxruntime."""

    def __init__(self, check: _Check, variables: list[Any], values: list[np.ndarray] | None) -> None:
        import onnxruntime as ort  # noqa: TID251 - the toolkit runs onnxruntime as an oracle

        from flowir import onnx as fonnx

        source = next(iter(check.sessions.values()), None)
        if source is None:
            import flowir as tf

            source = tf.Session(graph=check.frontend, backend="numpy")
            check.sessions["numpy"] = source
            if variables:
                source.run([v.initializer for v in variables])
        inputs = _placeholders_of(check)
        self.inputs = inputs
        model = fonnx.export(source, inputs, check.fetches)
        self.input_names = [i.name for i in model.graph.input]
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])

    def run(self, feed: Mapping[Any, np.ndarray]) -> list[np.ndarray]:
        by_input = {name: feed[t] for name, t in zip(self.input_names, self.inputs)}
        return self.session.run(None, by_input)


def _placeholders_of(check: _Check) -> list[Any]:
    from flowir.ir.ops.core import Placeholder

    ops = needed_ops(check.graph, check.values)
    return [check.frontend._tensor_of(op.results[0]) for op in ops if type(op) is Placeholder]


def _random_dependent(ops: Sequence[Operation], outputs: Sequence[Value]) -> set[Value]:
    """The values among ``outputs`` that depend on a random op."""
    tainted: set[Value] = set()
    for op in ops:
        if Trait.RANDOM in op.traits or any(v in tainted for v in op.operands):
            tainted.update(op.results)
    return {v for v in outputs if v in tainted}


def _installed(name: str) -> str | None:
    """Why backend ``name`` cannot run here, or ``None`` if it can."""
    import importlib.util

    from flowir import backends

    if name == "onnx":
        for module in ("onnx", "onnxruntime"):
            if importlib.util.find_spec(module) is None:
                return f"{module} is not installed"
        return None
    if name not in backends.available():
        return f"the {name} backend is not available here"
    return None


def check_shapes(
    fetches: Any,
    feeds: Any = None,
    *,
    backends: Sequence[str] | None = None,
    max_examples: int = 100,
    session: Any = None,
    min_side: int = 0,
    max_side: int = 4,
    settings: hsettings | None = None,
) -> ShapeCheckReport:
    """Property-test the shapes of ``fetches`` (tensors of one ``tf.Graph``) on ``backends``.

    ``feeds``: ``None`` (draw with ``feeds_for(fetches, min_side=, max_side=)``), a hypothesis
    strategy of feed dicts, or one feed dict (checked once). ``backends``: names among
    ``numpy``, ``jax``, ``onnx`` (default: those installed, in that order; the first is the
    reference the others must agree with); a backend named explicitly that is not installed
    is an error. Variables get their values from ``session`` if given, else from their
    initializers run once, and every backend sees the same values. ``settings`` overrides
    the hypothesis settings (default: the active profile with ``max_examples`` and no
    deadline).

    Returns a ``ShapeCheckReport``; raises ``ShapeCheckError`` for the shrunk first failure.
    """
    skipped: dict[str, str] = {}
    if backends is None:
        chosen = []
        for name in DEFAULT_BACKENDS:
            why = _installed(name)
            if why is None:
                chosen.append(name)
            else:
                skipped[name] = why
    else:
        chosen = list(backends)
        for name in chosen:
            why = _installed(name)
            if why is not None:
                raise ValueError(f"check_shapes: backend {name!r} cannot run: {why}")
    if not chosen:
        raise ValueError("check_shapes: no backend to run")
    check = _Check(fetches, chosen, session)
    report = ShapeCheckReport(tuple(chosen), skipped=skipped)
    try:
        if isinstance(feeds, Mapping):
            check.run_one(feeds)
            report.examples = 1
            return report
        strategy = feeds if feeds is not None else feeds_for(fetches, min_side=min_side, max_side=max_side)
        if not isinstance(strategy, st.SearchStrategy):
            raise TypeError(f"feeds must be None, a feed dict or a hypothesis strategy, not {type(feeds).__name__}")
        config = settings or hsettings(
            max_examples=max_examples,
            deadline=None,
            # The example database keys examples by test function, and this one is shared by
            # every call: a failure saved for one graph must not be replayed on another.
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        )

        @config
        @given(feed=strategy)
        def run(feed: Mapping[Any, np.ndarray]) -> None:
            report.examples += 1
            check.run_one(feed)

        run()
    finally:
        check.close()
    return report
