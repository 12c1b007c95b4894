"""Large, model-like graphs for benchmarks: fast and deterministic (a numpy RNG and a seed).

The graph looks like a TF1 training-free model: a batch of inputs (``?xD``) flows through
towers of dense layers (variable read, matmul, bias add, relu/tanh/sigmoid), with reshapes
and transposes between layers, skip connections, reductions into outputs, and the waste
that passes clean up in real graphs: constant subexpressions (folded), repeated ops (CSE),
``x * 1``, ``x + 0``, identities, double negations and transposes (canonicalize), and
branches nobody fetches (prune).

>>> g = model_graph(2000, seed=1)
>>> 2000 <= len(g) < 2100, len(g.outputs) > 0
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from flowir.ir import ops
from flowir.ir.core import Graph, Operation, Value
from flowir.ir.dtypes import DType
from flowir.ir.location import UNKNOWN_LOC, Location
from flowir.ir.types import ResourceType, TensorType

__all__ = ["model_graph", "ModelGraphBuilder"]

_F32 = DType.float32
_WIDTHS = (8, 16, 32)


class ModelGraphBuilder:
    """Builds one model-like graph; ``build(num_ops)`` appends blocks until the graph holds
    at least ``num_ops`` ops. ``locations`` captures the creator's source line for every op
    (``user_location()``, what a frontend does) instead of ``UNKNOWN_LOC``."""

    def __init__(self, seed: int = 0, *, locations: bool = False) -> None:
        self.rng = np.random.default_rng(seed)
        self.g = Graph()
        self.loc: Location | None = None if locations else UNKNOWN_LOC
        self.layer = 0
        #: Recent activations ``(value, width)``; blocks read from and append to it.
        self.live: list[tuple[Value, int]] = []
        self.fetches: list[Value] = []

    # -- op helpers ----------------------------------------------------------------------------

    def op(self, cls: type[Operation], *operands: Any, name: str, **attrs: Any) -> Value:
        """Create ``cls`` on ``operands`` as ``layer<n>/<name>``, append it; returns its first result."""
        op = cls.create(*operands, name=f"layer{self.layer}/{name}", loc=self.loc, **attrs)
        self.g.append(op)
        return op.results[0]

    def const(self, arr: np.ndarray, name: str) -> Value:
        """A constant holding ``arr``."""
        return self.op(ops.Constant, name=name, value=arr)

    def splat(self, value: float, shape: tuple[int, ...], name: str) -> Value:
        """A float32 constant of ``shape`` filled with ``value``."""
        return self.const(np.full(shape, value, np.float32), name)

    def weights(self, shape: tuple[int, ...], name: str) -> Value:
        """A variable read, as TF1 layers hold their kernels."""
        ty = ResourceType(TensorType(_F32, shape))
        var = self.g.append(
            ops.Variable.create(name=f"layer{self.layer}/{name}", loc=self.loc, result_types=[ty])
        ).result
        return self.op(ops.Read, var, name=f"{name}/read")

    def pick(self) -> tuple[Value, int]:
        """A recent activation (the last one most often, which makes deep chains)."""
        k = len(self.live)
        i = k - 1 if self.rng.random() < 0.6 else int(self.rng.integers(max(0, k - 8), k))
        return self.live[i]

    # -- blocks --------------------------------------------------------------------------------

    def dense(self) -> None:
        """matmul + bias + activation, sometimes wrapped in no-op patterns."""
        x, d = self.pick()
        n = int(self.rng.choice(_WIDTHS))
        w = self.weights((d, n), "kernel")
        h = self.op(ops.MatMul, x, w, name="MatMul")
        if self.rng.random() < 0.3:
            # A bias computed from constants: constant folding collapses it.
            b0 = self.const(self.rng.standard_normal(n).astype(np.float32), "bias_base")
            scale = self.splat(0.5, (), "bias_scale")
            b = self.op(ops.Mul, b0, scale, name="bias")
        else:
            b = self.weights((n,), "bias")
        h = self.op(ops.Add, h, b, name="BiasAdd")
        act = (ops.Relu, ops.Tanh, ops.Sigmoid)[int(self.rng.integers(0, 3))]
        h = self.op(act, h, name=act.name.rpartition(".")[2].capitalize())
        if self.rng.random() < 0.2:
            h = self.op(ops.Mul, h, self.splat(1.0, (), "one"), name="scale_one")
        if self.rng.random() < 0.2:
            h = self.op(ops.Add, h, self.splat(0.0, (n,), "zero"), name="shift_zero")
        if self.rng.random() < 0.15:
            h = self.op(ops.Identity, h, name="Identity")
        self.live.append((h, n))

    def reshape_transpose(self) -> None:
        """Reshape to 3-D, transpose there and back, reshape back (all removable)."""
        x, d = self.pick()
        a = 4 if d % 4 == 0 else 1
        r = self.op(ops.Reshape, x, name="Reshape", shape=[-1, a, d // a])
        t = self.op(ops.Transpose, r, name="transpose", perm=[0, 2, 1])
        t = self.op(ops.Transpose, t, name="transpose_1", perm=[0, 2, 1])
        y = self.op(ops.Reshape, t, name="Reshape_1", shape=[-1, d])
        self.live.append((y, d))

    def residual(self) -> None:
        """A skip connection between two activations of the same width, or a double negation."""
        (x, d), (y, e) = self.pick(), self.pick()
        if d == e and x is not y:
            self.live.append((self.op(ops.Add, x, y, name="residual"), d))
            return
        n = self.op(ops.Neg, x, name="Neg")
        self.live.append((self.op(ops.Neg, n, name="Neg_1"), d))

    def duplicate(self) -> None:
        """The same computation twice (as two uncoordinated frontend calls make it): CSE."""
        x, d = self.pick()
        a = self.op(ops.Square, x, name="Square")
        b = self.op(ops.Square, x, name="Square_1")
        self.live.append((self.op(ops.Sub, a, b, name="diff"), d))

    def head(self) -> None:
        """A reduction into a fetched output: softmax + mean, or a loss-like mean square."""
        x, d = self.pick()
        if self.rng.random() < 0.5:
            s = self.op(ops.Softmax, x, name="Softmax")
            out = self.op(ops.ReduceMean, s, name="Mean", axes=[1])
        else:
            sq = self.op(ops.Square, x, name="Square")
            out = self.op(ops.ReduceMean, sq, name="loss")
        self.fetches.append(out)

    def dead_branch(self) -> None:
        """Work nobody fetches: prune removes it."""
        x, d = self.pick()
        h = self.op(ops.Exp, x, name="unused_exp")
        self.op(ops.ReduceSum, h, name="unused_sum", axes=[1])

    # -- driver --------------------------------------------------------------------------------

    def build(self, num_ops: int) -> Graph:
        """The graph, with at least ``num_ops`` ops (a block may overshoot by a few)."""
        x = self.g.append(
            ops.Placeholder.create(name="inputs/x", loc=self.loc, result_types=[TensorType(_F32, (None, 32))])
        ).result
        self.live.append((x, 32))
        blocks: list[tuple[float, Callable[[], None]]] = [
            (0.45, self.dense),
            (0.12, self.reshape_transpose),
            (0.12, self.residual),
            (0.1, self.duplicate),
            (0.1, self.head),
            (0.11, self.dead_branch),
        ]
        weights = np.array([w for w, _ in blocks])
        choices = self.rng.choice(len(blocks), size=num_ops, p=weights / weights.sum())
        i = 0
        while len(self.g) < num_ops:
            self.layer += 1
            blocks[choices[i % len(choices)]][1]()
            i += 1
            # Keep the window of candidates small, as real models are mostly sequential.
            if len(self.live) > 64:
                del self.live[:32]
        self.head()
        self.g.set_outputs(self.fetches, [f"output_{k}" for k in range(len(self.fetches))])
        return self.g


def model_graph(num_ops: int, seed: int = 0, *, locations: bool = False) -> Graph:
    """A deterministic model-like graph of at least ``num_ops`` ops (see the module doc)."""
    return ModelGraphBuilder(seed, locations=locations).build(num_ops)
