"""The jax lowering of ``train.adam_update`` against the reference kernel, alone and as
functionalize-state makes it from ``state.apply_adam`` (an optimizer step's new state)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

from flowir.backends.jax import JaxBackend  # noqa: E402
from flowir.backends.numpy import NumpyBackend  # noqa: E402
from flowir.ir import DType, Graph, ResourceType, TensorType, Value  # noqa: E402
from flowir.ir import ops as O  # noqa: E402
from flowir.ir.ops.core import Placeholder  # noqa: E402
from flowir.ir.reference import RefContext  # noqa: E402
from flowir.testing import assert_results_match  # noqa: E402
from tests.backends.helpers import make_program  # noqa: E402

JAX = JaxBackend()
NUMPY = NumpyBackend()
SCALARS = ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon")
HYPER = (0.9**2, 0.999**2, 0.01, 0.9, 0.999, 1e-3)


def placeholder(g: Graph, name: str, shape, dtype: DType) -> Value:
    return g.append(Placeholder.create(name=name, result_types=[TensorType(dtype, shape)])).result


def run(backend, g: Graph, arrays, state=()):
    exe = backend.compile(make_program(g))
    return exe(list(arrays), list(state), RefContext())


def arrays(dtype: DType, shape: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """var, m, v (non-negative), the scalars, grad."""
    rng = np.random.default_rng(seed)
    nd = dtype.numpy
    var, m, grad = (rng.standard_normal(shape).astype(nd) for _ in range(3))
    v = np.abs(rng.standard_normal(shape)).astype(nd)
    return [var, m, v, *(np.asarray(h, np.float64).astype(nd) for h in HYPER), grad]


@pytest.mark.parametrize("dtype", [DType.float32, DType.float64, DType.float16, DType.bfloat16], ids=lambda d: d.value)
@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("shape", [(), (5, 7)])
def test_adam_update_matches_the_reference(dtype: DType, nesterov: bool, shape: tuple[int, ...]) -> None:
    values = arrays(dtype, shape, seed=0)
    g = Graph()
    names = ("var", "m", "v", *SCALARS, "grad")
    xs = [placeholder(g, n, a.shape, dtype) for n, a in zip(names, values)]
    g.set_outputs(list(g.append(O.AdamUpdate.create(*xs, name="u", use_nesterov=nesterov)).results))
    expected, _ = run(NUMPY, g, values)
    actual, _ = run(JAX, g, values)
    assert_results_match(actual, expected)
    assert [a.dtype for a in actual] == [dtype.numpy] * 3


def test_apply_adam_steps_update_the_state_like_the_reference() -> None:
    dtype = DType.float32
    values = arrays(dtype, (4, 3), seed=1)
    g = Graph()
    handles = [
        g.append(O.Variable.create(name=n, result_types=[ResourceType(TensorType(dtype, (4, 3)))])).result
        for n in ("w", "w/Adam", "w/Adam_1")
    ]
    xs = [placeholder(g, n, (), dtype) for n in SCALARS]
    grad = placeholder(g, "grad", (4, 3), dtype)
    step = g.append(O.ApplyAdam.create(*handles, *xs, grad, name="Adam/update_w/ApplyAdam"))
    g.set_outputs([step.result])
    feeds = [*values[3:9], values[9]]
    state_np = state_jax = values[:3]
    for _ in range(3):
        (fetched_np,), state_np = run(NUMPY, g, feeds, state_np)
        (fetched_jax,), state_jax = run(JAX, g, feeds, [np.asarray(s) for s in state_jax])
        # The jax executable keeps the state on the device: compare host copies.
        assert_results_match([np.asarray(a) for a in (fetched_jax, *state_jax)], [fetched_np, *state_np])
    assert len(state_np) == 3
