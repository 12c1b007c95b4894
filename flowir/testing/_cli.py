"""``flowir check-shapes FILE.fir``: ``check_shapes`` over a graph stored as textual IR.

The file is a plain IR file (``flowir opt`` input and output) or a checkpoint's graph
(``P.fir`` written by ``tf.train.Saver``). Variables of a checkpoint graph get the values of
the checkpoint's weights when ``P.safetensors`` is beside it; other variables (a plain IR file
holds no values) get seeded random values of their static type, since shapes do not depend
on them.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

__all__ = ["add_check_shapes_parser", "load_for_checking"]

_EXAMPLES = """\
examples:
  flowir check-shapes examples/mlp.fir
  flowir check-shapes examples/mlp.fir --outputs probabilities,confidence --backends numpy,jax
  flowir check-shapes logs/model.ckpt-1000.fir --outputs model/logits --max-examples 50
"""


class CheckShapesCommandError(Exception):
    """A bad argument or file, reported as ``flowir check-shapes: error: ...``."""


def add_check_shapes_parser(sub: argparse._SubParsersAction, handler_error: type[Exception]) -> None:
    """Add the ``check-shapes`` subcommand to ``sub``; user errors raise ``handler_error``."""
    p = sub.add_parser(
        "check-shapes",
        help="property-test the shapes of a graph (textual IR) on every backend",
        description=(
            "Draw feeds for every placeholder the outputs need (wildcard dims sized 0, 1 and up, "
            "one size for dims the graph forces to agree), run them on each backend, and check "
            "that every output's runtime shape and dtype fit its static type and that the "
            "backends agree. A failure is shrunk to the smallest feed and reported with the "
            "output's name, static type, runtime shape, backend and feed shapes (exit code 1)."
        ),
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="a .fir file: plain IR, or a checkpoint's graph")
    p.add_argument(
        "--outputs",
        metavar="NAMES",
        help="comma-separated tensors to check: op names (model/logits), tensor names (model/logits:0) "
        "or the IR's output names (default: the IR's outputs)",
    )
    p.add_argument("--backends", metavar="NAMES", help="comma-separated backends (default: every installed one of numpy,jax,onnx)")
    p.add_argument("--max-examples", type=int, default=100, metavar="N", help="feeds to try (default: %(default)s)")
    p.add_argument("--max-side", type=int, default=4, metavar="N", help="the largest wildcard dim drawn (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random variable values (default: %(default)s)")

    def run(args: argparse.Namespace) -> int:
        try:
            return _run(args)
        except CheckShapesCommandError as e:
            raise handler_error(str(e)) from None

    p.set_defaults(handler=run)


def _run(args: argparse.Namespace) -> int:
    from flowir.testing.shapecheck import ShapeCheckError, check_shapes

    graph, fetches, restore = load_for_checking(args.file, args.outputs, seed=args.seed)
    backends = tuple(n.strip() for n in args.backends.split(",") if n.strip()) if args.backends else None
    session = restore() if restore is not None else None
    try:
        with graph.as_default():
            report = check_shapes(
                list(fetches.values()), backends=backends, max_examples=args.max_examples, max_side=args.max_side, session=session
            )
    except ShapeCheckError as e:
        print(f"FAILED: {e}")
        return 1
    except ValueError as e:
        raise CheckShapesCommandError(str(e)) from None
    finally:
        if session is not None:
            session.close()
    skipped = "".join(f"; skipped {name}: {why}" for name, why in report.skipped.items())
    print(f"ok: {len(fetches)} output(s) ({', '.join(fetches)}), {report.examples} feeds on {', '.join(report.backends)}{skipped}")
    return 0


def load_for_checking(path: str, outputs: str | None, *, seed: int = 0) -> tuple[Any, dict[str, Any], Any]:
    """The frontend graph of IR file ``path``, the tensors to check by the names asked for,
    and a function returning a session holding the checkpoint's variable values (``None``
    when the file is plain IR, whose variables are frozen to seeded random values)."""
    import flowir as tf
    from flowir.frontends.graph import saver as saver_module
    from flowir.ir.errors import FlowirError
    from flowir.ir.parser import parse_graph

    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise CheckShapesCommandError(f"cannot read {path!r}: {getattr(e, 'strerror', None) or e}") from None
    graph = tf.Graph()
    restore = None
    output_names: dict[str, Any] = {}
    if text.startswith("// "):
        with graph.as_default():
            saver = tf.train.import_meta_graph(path)
        prefix = path[: -len(saver_module.META_SUFFIX)] if path.endswith(saver_module.META_SUFFIX) else path
        if saver is not None and os.path.exists(prefix + ".safetensors"):

            def restore() -> Any:
                sess = tf.Session(graph=graph, backend="numpy")
                saver.restore(sess, prefix)
                return sess
    else:
        ir = parse_graph(text, filename=path, verify=True)
        for v, name in zip(ir.outputs, ir.output_names):
            if v.owner is not None:
                output_names[name or f"{v.owner.user_name}:{v.index}"] = v
        ir.clear_outputs()
        for arg in ir.inputs:
            raise CheckShapesCommandError(f"{path}: graph inputs ({arg.describe()}) are not supported; use placeholders")
        _freeze_variables(ir, seed)
        try:
            saver_module._import_ops(graph, ir, clear_devices=False)
        except ValueError as e:
            raise CheckShapesCommandError(f"{path}: {e}") from None
        output_names = {k: graph._tensor_of(_mapped(graph, v)) for k, v in output_names.items()}
    try:
        fetches = _resolve_outputs(graph, outputs, output_names)
    except (KeyError, ValueError, FlowirError) as e:
        raise CheckShapesCommandError(str(e).strip("'\"")) from None
    return graph, fetches, restore


def _mapped(graph: Any, v: Any) -> Any:
    """The imported copy of IR value ``v`` (the copy keeps its op's name and index)."""
    op = graph.get_operation_by_name(v.owner.user_name)
    return op.ir_op.results[v.index]


def _resolve_outputs(graph: Any, outputs: str | None, output_names: dict[str, Any]) -> dict[str, Any]:
    if not outputs:
        if not output_names:
            raise ValueError("the file names no outputs: pass --outputs NAMES")
        return dict(output_names)
    out: dict[str, Any] = {}
    for name in (n.strip() for n in outputs.split(",")):
        if not name:
            continue
        if name in output_names:
            out[name] = output_names[name]
            continue
        tensor_name = name if ":" in name else f"{name}:0"
        try:
            out[name] = graph.get_tensor_by_name(tensor_name)
        except (KeyError, ValueError):
            raise ValueError(f"no tensor named {name!r} in the graph") from None
    if not out:
        raise ValueError("--outputs names no tensor")
    return out


def _freeze_variables(ir: Any, seed: int) -> None:
    """Replace each read of a variable by a constant of seeded random values (a plain IR file
    holds no variable values)."""
    from flowir.ir.dtypes import DType
    from flowir.ir.ops.core import Constant
    from flowir.ir.ops.state import Read, Variable
    from flowir.ir.types import TensorType

    rng = np.random.default_rng(seed)
    for op in list(ir.ops):
        if type(op) is not Read or type(op.operands[0].owner) is not Variable:
            continue
        ty = op.results[0].type
        if type(ty) is not TensorType or ty.shape is None or None in ty.shape:
            continue
        dtype: DType = ty.dtype
        if dtype.is_floating:
            value = (rng.standard_normal(ty.shape) * 0.1).astype(dtype.numpy)
        elif dtype.is_integer:
            value = rng.integers(0, 4, ty.shape).astype(dtype.numpy)
        elif dtype is DType.bool:
            value = rng.integers(0, 2, ty.shape).astype(bool)
        else:
            continue
        const = Constant.create(value=value, name=f"{op.user_name}/frozen", loc=op.location)
        ir.insert_before(op, const)
        op.results[0].replace_all_uses_with(const.results[0])
