"""The ``flowir`` command line tool.

Subcommands are registered in ``SUBCOMMANDS`` (name -> function adding its parser); each
parser sets ``handler`` to a function ``(args) -> exit code``. Errors a user can cause
(flowir errors, unreadable files) are printed as ``flowir <cmd>: error: ...`` with exit
code 1 and no traceback; usage errors exit with 2, as argparse does.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import TextIO

from flowir import _fileio

__all__ = ["main", "build_parser", "SUBCOMMANDS"]


class CommandError(Exception):
    """A failure reported as ``flowir <cmd>: error: <message>`` (exit code 1)."""


# --------------------------------------------------------------------------------------------
# flowir opt

_OPT_EXAMPLES = """\
examples:
  flowir opt examples/mlp.fir --pipeline "shape-inference,prune,constant-fold,cse,canonicalize" --timing
  flowir opt model.fir --pipeline "constant-fold{max-bytes=4096},cse" -o model.opt.fir
  cat model.fir | flowir opt - --pipeline canonicalize --dump-after-each
  flowir opt --list-passes
"""


def _add_opt(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "opt",
        help="run a pass pipeline over textual IR (like mlir-opt)",
        description=(
            "Parse textual IR (verifying it), run a pass pipeline over it (verifying after every "
            "pass unless --no-verify-each) and print the result. With no pipeline the graph is "
            "printed back unchanged."
        ),
        epilog=_OPT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", nargs="?", metavar="FILE", help="the IR file to read; '-' reads standard input")
    p.add_argument(
        "--pipeline",
        "-p",
        default="",
        metavar="PIPELINE",
        help='comma-separated passes with options in braces, e.g. "prune,constant-fold{max-bytes=4096}"',
    )
    p.add_argument("-o", "--output", metavar="OUT", help="write the result to OUT (atomically) instead of stdout")
    p.add_argument("--timing", action="store_true", help="print per-pass wall time to stderr")
    p.add_argument("--dump-after-each", action="store_true", help="print the IR after every pass to stderr")
    p.add_argument(
        "--no-verify-each",
        dest="verify_each",
        action="store_false",
        help="do not verify the graph after every pass",
    )
    p.add_argument("--list-passes", action="store_true", help="list the registered passes and their options, then exit")
    p.set_defaults(handler=_run_opt)


def _run_opt(args: argparse.Namespace) -> int:
    from flowir.ir.parser import parse_graph
    from flowir.ir.printer import print_graph
    from flowir.passes.manager import PassManager

    if args.list_passes:
        sys.stdout.write(_list_passes())
        return 0
    if args.file is None:
        raise CommandError("no input file (use '-' to read standard input)")
    pm = PassManager(
        args.pipeline,
        verify_each=args.verify_each,
        timing=args.timing,
        dump_after_each=sys.stderr if args.dump_after_each else None,
    )
    text, filename = _read_input(args.file)
    graph = parse_graph(text, filename=filename, verify=True)
    graph = pm.run(graph).graph
    out = print_graph(graph)
    if not out.endswith("\n"):
        out += "\n"
    if args.output is None or args.output == "-":
        sys.stdout.write(out)
        sys.stdout.flush()
    else:
        write_atomically(args.output, out)
    if args.timing:
        sys.stderr.write(pm.timing_report() + "\n")
    return 0


def _list_passes() -> str:
    from flowir.passes.manager import available_passes, get_pass

    lines = ["passes:"]
    for name in available_passes():
        cls = get_pass(name)
        lines.append(f"  {name:<18} {cls.description}")
        for o in cls.options:
            lines.append(f"      {o.name}={o.default!r:<10} {o.help}")
    return "\n".join(lines) + "\n"


def _read_input(path: str) -> tuple[str, str]:
    try:
        if path == "-":
            return sys.stdin.read(), "<stdin>"
        with open(path, encoding="utf-8") as f:
            return f.read(), path
    except OSError as e:
        raise CommandError(f"cannot read {path!r}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise CommandError(f"cannot read {path!r}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    try:
        _fileio.write_atomically(path, text)
    except OSError as e:
        raise CommandError(f"cannot write {path!r}: {e.strerror or e}") from None


# --------------------------------------------------------------------------------------------
# flowir mnist

_MNIST_EXAMPLES = """\
examples:
  flowir mnist                                   # 20000 steps, about 98% test accuracy
  flowir mnist --steps 1000 --seed 0 --backend numpy
  FLOWIR_DATA_DIR=~/data/mnist flowir mnist      # read the four MNIST files from a folder
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_mnist(sub: argparse._SubParsersAction) -> None:
    from flowir.models.mnist_mlp import DEFAULT_BATCH_SIZE, DEFAULT_LEARNING_RATE, DEFAULT_STEPS

    p = sub.add_parser(
        "mnist",
        help="train the TF1 tutorial's MNIST MLP and print its test accuracy",
        description=(
            "Train the TensorFlow 1 tutorial's MLP (784-500-100-10, ReLU, Adam) on MNIST with "
            "flowir, showing a progress bar with the current loss, then print the test "
            "accuracy. The data come from --data-dir, else $FLOWIR_DATA_DIR, else "
            "~/.cache/flowir/mnist; missing files are downloaded from the mirrors in "
            "$FLOWIR_MNIST_MIRRORS (default: public MNIST mirrors) and checked by SHA-256."
        ),
        epilog=_MNIST_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--steps", type=_positive_int, default=DEFAULT_STEPS, help="training steps (default: %(default)s)")
    p.add_argument("--batch-size", type=_positive_int, default=DEFAULT_BATCH_SIZE, help="examples per step (default: %(default)s)")
    p.add_argument("--learning-rate", type=float, default=DEFAULT_LEARNING_RATE, help="Adam's learning rate (default: %(default)s)")
    p.add_argument("--backend", default=None, help="the session's backend (default: the best installed)")
    p.add_argument("--data-dir", default=None, metavar="DIR", help="folder holding the MNIST files (gzip or not)")
    p.add_argument("--seed", type=int, default=None, help="fix the initial weights and the batch order")
    p.add_argument(
        "--logdir",
        default=os.path.join(tempfile.gettempdir(), "flowir", "mnist"),
        metavar="DIR",
        help="where TensorBoard summaries and the checkpoint go (default: %(default)s)",
    )
    p.set_defaults(handler=_run_mnist)


def _run_mnist(args: argparse.Namespace) -> int:
    import logging

    from flowir import backends
    from flowir.datasets import mnist
    from flowir.models import mnist_mlp

    if args.backend is not None and args.backend not in backends.available():
        raise CommandError(f"unknown backend {args.backend!r} (available: {', '.join(backends.available())})")
    # Downloads report what they fetch; the library itself only logs.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("flowir.datasets")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        data = mnist.read_data_sets(args.data_dir, one_hot=True, seed=args.seed)
    finally:
        log.removeHandler(handler)
    if args.batch_size > data.train.num_examples:
        raise CommandError(f"--batch-size {args.batch_size} exceeds the {data.train.num_examples} training examples")

    def notice(message: str) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    result = mnist_mlp.train(
        args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        backend=args.backend,
        data=data,
        seed=args.seed,
        logdir=args.logdir,
        progress=sys.stderr,
        notice=notice,
    )
    sys.stdout.write(
        f"test accuracy {result.test_accuracy:.4f} after {result.steps} steps "
        f"({result.seconds:.1f} s on the {result.backend} backend; last batch loss {result.final_loss:.4f})\n"
    )
    sys.stdout.flush()
    return 0


# --------------------------------------------------------------------------------------------
# flowir graph

_GRAPH_EXAMPLES = """\
examples:
  flowir graph examples/mlp.fir                       # DOT text on stdout
  flowir graph examples/mlp.fir --format svg -o mlp.svg
  flowir graph model.fir --format png -o model.png    # svg and png need Graphviz's dot
"""


def _add_graph(sub: argparse._SubParsersAction) -> None:
    from flowir.tools.dot import FORMATS

    p = sub.add_parser(
        "graph",
        help="draw a graph (textual IR) with its name scopes as clusters",
        description=(
            "Parse textual IR (a .fir file, or a checkpoint's graph) and draw it: ops as boxes "
            "inside one cluster per name scope, edges labelled with dtypes and shapes, control "
            "dependencies dashed. --format dot prints Graphviz text; svg and png run Graphviz's "
            "'dot' executable."
        ),
        epilog=_GRAPH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="the IR file to read; '-' reads standard input")
    p.add_argument("--format", "-f", choices=FORMATS, default="dot", help="output format (default: %(default)s)")
    p.add_argument("-o", "--output", metavar="OUT", help="write to OUT (atomically) instead of stdout")
    p.set_defaults(handler=_run_graph)


def _run_graph(args: argparse.Namespace) -> int:
    from flowir.ir.parser import parse_graph
    from flowir.tools.dot import RenderError, render, to_dot

    text, filename = _read_input(args.file)
    graph = parse_graph(text, filename=filename, verify=True)
    try:
        data = render(to_dot(graph), args.format)
    except RenderError as e:
        raise CommandError(str(e)) from None
    if args.output is None or args.output == "-":
        if args.format == "png" and sys.stdout.isatty():
            raise CommandError("refusing to write PNG bytes to a terminal; use -o OUT")
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        try:
            _fileio.write_atomically(args.output, data)
        except OSError as e:
            raise CommandError(f"cannot write {args.output!r}: {e.strerror or e}") from None
    return 0


# --------------------------------------------------------------------------------------------
# flowir check-shapes


def _add_check_shapes(sub: argparse._SubParsersAction) -> None:
    from flowir.testing._cli import add_check_shapes_parser

    add_check_shapes_parser(sub, CommandError)


# --------------------------------------------------------------------------------------------
# flowir convert

_CONVERT_EXAMPLES = """\
examples:
  flowir convert /tmp/flowir/mnist --inputs x --outputs logits -o mnist.onnx  # latest checkpoint
  flowir convert model.ckpt-100 --inputs input/x --outputs logits -o model.onnx --opset 17
  flowir convert model.fir --inputs x --outputs y -o model.onnx
"""


def _add_convert(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="export a checkpoint or an IR file to ONNX",
        description=(
            "Export what the outputs need from the inputs as an ONNX model: from a checkpoint "
            "(a directory holding one, a prefix P with P.fir and P.safetensors, or either file), "
            "with the variables frozen at their saved values, or from a textual IR file, with "
            "the variables frozen at their initial values when those are constants. Names are "
            "tensor or op names ('input/x:0', 'input/x') or a unique last part ('x'). Prints "
            "the nodes per op type, the inputs and outputs with their shapes, and the file size."
        ),
        epilog=_CONVERT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="CHECKPOINT_OR_IR_FILE", help="a checkpoint (directory, prefix or file) or an IR file")
    p.add_argument("--inputs", required=True, metavar="NAMES", help="comma-separated input tensors")
    p.add_argument("--outputs", required=True, metavar="NAMES", help="comma-separated output tensors")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the ONNX file to write (atomically)")
    p.add_argument("--opset", type=int, default=None, help="the ONNX opset (default: the newest onnxruntime runs)")
    p.add_argument("--static-dims", action="store_true", help="leave unknown dims unnamed instead of named symbols")
    p.set_defaults(handler=_run_convert)


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise CommandError(f"no tensor names in {text!r}")
    return names


def _checkpoint_prefix(path: str) -> str | None:
    """The checkpoint prefix ``path`` denotes, or ``None`` when it is a plain IR file."""
    from flowir.frontends.graph import saver

    if os.path.isdir(path):
        latest = saver.latest_checkpoint(path)
        if latest is None:
            raise CommandError(f"no checkpoint in the directory {path!r}")
        return latest
    for suffix in (saver.DATA_SUFFIX, saver.META_SUFFIX):
        if path.endswith(suffix):
            prefix = path[: -len(suffix)]
            return prefix if os.path.exists(prefix + saver.DATA_SUFFIX) else None
    if os.path.exists(path + saver.META_SUFFIX):
        return path
    return None


def _run_convert(args: argparse.Namespace) -> int:
    import flowir.onnx

    inputs, outputs = _names(args.inputs), _names(args.outputs)
    options = {"path": args.output, "opset": args.opset, "dynamic_dims": not args.static_dims}
    try:
        prefix = _checkpoint_prefix(args.source)
        if prefix is not None:
            import flowir as tf
            from flowir.frontends.graph import saver

            graph = tf.Graph()
            with graph.as_default():
                restorer = saver.import_meta_graph(prefix + saver.META_SUFFIX)
                with tf.Session(graph=graph, backend="numpy") as sess:
                    if restorer is not None:
                        restorer.restore(sess, prefix)
                    model = flowir.onnx.export(sess, inputs, outputs, **options)
        else:
            from flowir.ir.parser import parse_graph

            text, filename = _read_input(args.source)
            model = flowir.onnx.export(parse_graph(text, filename=filename, verify=True), inputs, outputs, **options)
    except (KeyError, ValueError) as e:
        from flowir.ir.errors import FlowirError

        if isinstance(e, FlowirError):
            raise
        raise CommandError(str(e.args[0]) if e.args else str(e)) from None
    except OSError as e:
        raise CommandError(f"cannot convert {args.source!r}: {e.strerror or e}") from None
    except Exception as e:
        # The frontend's OpErrors (NotFoundError, DataLossError) from reading a checkpoint.
        if type(e).__module__.startswith("flowir.frontends"):
            raise CommandError(str(e)) from None
        raise
    sys.stdout.write(flowir.onnx.model_summary(model, args.output))
    sys.stdout.flush()
    return 0


# --------------------------------------------------------------------------------------------
# The command

#: Subcommands: name -> function adding its parser to the subparsers (and setting ``handler``).
SUBCOMMANDS: dict[str, Callable[[argparse._SubParsersAction], None]] = {
    "opt": _add_opt,
    "mnist": _add_mnist,
    "graph": _add_graph,
    "check-shapes": _add_check_shapes,
    "convert": _add_convert,
}


_MAIN_EXAMPLES = """\
examples:
  flowir opt examples/mlp.fir --pipeline "shape-inference,prune,constant-fold,cse,canonicalize"
  flowir graph examples/mlp.fir --format svg -o mlp.svg
  flowir check-shapes examples/mlp.fir
  flowir mnist --steps 1000 && flowir convert /tmp/flowir/mnist --inputs x --outputs logits -o mnist.onnx

run 'flowir <command> --help' for a command's options and examples; the documentation site
is built with 'python3 -m mkdocs build' from the repository (docs/)
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``flowir`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="flowir",
        description=(
            "flowir: an MLIR-style graph compiler with a TensorFlow-1-style frontend. The commands "
            "read and transform textual IR (.fir files), draw it, property-test its shapes, export "
            "it to ONNX, and train the TF1 MNIST tutorial model."
        ),
        epilog=_MAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from flowir import __version__

    parser.add_argument("--version", action="version", version=f"flowir {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for add in SUBCOMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``flowir`` with ``argv`` (default: the process arguments); return the exit code."""
    from flowir.ir.errors import FlowirError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args)
    except (FlowirError, CommandError) as e:
        _error(args.command, str(e), sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`flowir opt ... | head`); nothing left to report.
        _silence_stdout()
        return 1


def _error(command: str, message: str, stream: TextIO) -> None:
    stream.write(f"flowir {command}: error: {message}\n")
    stream.flush()


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
