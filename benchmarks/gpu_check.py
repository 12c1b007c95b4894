"""A GPU check of the jax backend, for a machine with a GPU; finishes in under 2 minutes.

Usage::

    python benchmarks/gpu_check.py            # fails (exit 2) without a GPU
    python benchmarks/gpu_check.py --cpu      # a dry run of the same checks on the CPU
    python benchmarks/gpu_check.py --json FILE

Checks, each printed as ``ok``/``FAILED``:

1. Placement: a graph built under ``tf.device("/gpu:0")`` runs on the GPU: its executable's
   device, the device of a fetched result (kept on the device) and of the variables.
2. Default device: a graph without a device runs on the GPU too (as TF placed ops).
3. Correctness: the placed graph's results, and 3 training steps of the MNIST MLP (784-500-
   100-10, Adam), match the numpy backend within float32 tolerances. Matrix products run at
   full float32 precision (the backend's default), so the comparison is tight.
4. Soft placement: ``/gpu:99`` falls back to the CPU with a warning, and raises with
   ``allow_soft_placement=False``; ``ConfigProto(device_count={"GPU": 0})`` runs a graph
   without a device on the CPU.
5. Timing: one MNIST MLP training step (``sess.run([train_step, loss])``) at batch 100 and
   1000 on flowir, against the same step written directly in JAX (``jax.jit``, TF1's Adam),
   in milliseconds (best of rounds), with the ratio. Random data: nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from typing import Any

import numpy as np
from _timing import best_interleaved_ms
from bench_jax import flowir_mlp_step, jax_mlp_step, random_mnist, trainable_values

BATCHES = (100, 1000)
STEPS_PER_ROUND = 50
ROUNDS = 5


def _report(results: list[dict[str, Any]], name: str, ok: bool, detail: str = "") -> None:
    results.append({"check": name, "ok": bool(ok), "detail": detail})
    print(f"  {'ok    ' if ok else 'FAILED'} {name}{': ' + detail if detail else ''}", flush=True)


def _program_for(tensors: list[Any], feeds: list[Any]) -> Any:
    """The backend program a session compiles for ``tensors`` fed at ``feeds``."""
    from flowir.backends import Program
    from flowir.ir.transforms import extract_subgraph
    from flowir.passes import PassManager
    from flowir.passes.functionalize import functionalize_state

    graph = tensors[0].graph.ir_graph
    sub, _ = extract_subgraph(graph, [t._value for t in tensors], [t._value for t in feeds])
    sig = functionalize_state(sub)
    sub = PassManager("shape-inference,constant-fold,cse,canonicalize").run(sub).graph
    return Program(sub, len(feeds), [n for n, _ in sig.reads], len(tensors), list(sig.writes))


def check_placement(results: list[dict[str, Any]], platform: str, device_name: str) -> None:
    import jax

    import flowir as tf
    from flowir.backends.jax import JaxBackend
    from flowir.ir.reference import RefContext

    rng = np.random.default_rng(0)
    xv = rng.standard_normal((64, 256), dtype=np.float32)
    with tf.Graph().as_default():
        with tf.device(device_name):
            x = tf.placeholder(tf.float32, [None, 256], name="x")
            w = tf.Variable(rng.standard_normal((256, 128), dtype=np.float32) * 0.1, name="w")
            h = tf.nn.relu(tf.matmul(x, w))
            y = tf.reduce_sum(tf.nn.softmax(h) * h, axis=1)
            step = w.assign_sub(0.01 * tf.matmul(x, h, transpose_a=True))
        unplaced = tf.tanh(x) * 2.0
        with tf.Session(backend="jax", config={"allow_soft_placement": False}) as sess:
            sess.run(w.initializer)
            got = sess.run(y, {x: xv})
            sess.run(step, {x: xv})
            after = sess.run(y, {x: xv})
            w_device = next(iter(sess._state["w"].devices()))
        with tf.Session(backend="numpy") as ref:
            ref.run(w.initializer)
            expected = ref.run(y, {x: xv})
            ref.run(step, {x: xv})
            expected_after = ref.run(y, {x: xv})
        exe = JaxBackend().compile(_program_for([y], [x]))
        fetched, _ = exe.call_on_device([xv], [np.asarray(rng.standard_normal((256, 128)), np.float32)], RefContext())
        result_device = next(iter(fetched[0].devices()))
        default_exe = JaxBackend().compile(_program_for([unplaced], [x]))
    _report(results, f"executable placed on {device_name}", exe.devices[0].platform == platform, str(exe.devices))
    _report(
        results,
        f"fetched result lives on the {platform.upper()}",
        result_device.platform == platform,
        str(result_device),
    )
    _report(
        results, f"variable lives on the {platform.upper()} between runs", w_device.platform == platform, str(w_device)
    )
    _report(
        results,
        f"ops without a device run on the default device ({platform.upper()})",
        default_exe.devices[0].platform == platform and default_exe.devices[0] == jax.devices()[0],
        str(default_exe.devices),
    )
    err = float(np.max(np.abs(got - expected) / (np.abs(expected) + 1)))
    err_after = float(np.max(np.abs(after - expected_after) / (np.abs(expected_after) + 1)))
    _report(
        results,
        "results match the numpy backend",
        err < 1e-4 and err_after < 1e-4,
        f"max rel err {err:.2e}, {err_after:.2e}",
    )


def check_soft_placement(results: list[dict[str, Any]]) -> None:
    import flowir as tf

    with tf.Graph().as_default():
        with tf.device("/gpu:99"):
            x = tf.placeholder(tf.float32, [3])
            y = x * 2.0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with tf.Session(backend="jax") as sess:
                out = sess.run(y, {x: [1.0, 2.0, 3.0]})
        warned = any("does not exist" in str(w.message) for w in caught)
        _report(results, "a missing GPU falls back to the CPU with a warning", warned and out.tolist() == [2, 4, 6])
        try:
            with tf.Session(backend="jax", config={"allow_soft_placement": False}) as sess:
                sess.run(y, {x: [1.0, 2.0, 3.0]})
            raised = False
        except tf.errors.InvalidArgumentError:
            raised = True
        _report(results, "without soft placement a missing GPU raises", raised)
        z = tf.constant([1.0, 2.0]) * 3.0
        with tf.Session(backend="jax", config=tf.ConfigProto(device_count={"GPU": 0})) as sess:
            sess.run(z)
            where = [d.platform for d in sess.backend.compile(_program_for([z], [])).devices]
        _report(results, "ConfigProto(device_count={'GPU': 0}) runs on the CPU", where == ["cpu"], str(where))


def check_training(results: list[dict[str, Any]], device_name: str, timings: list[dict[str, Any]]) -> None:
    data = random_mnist(max(BATCHES))

    jax_step, jax_sess, jax_model = flowir_mlp_step(device_name, "jax", 100, data)
    np_step, np_sess, np_model = flowir_mlp_step(None, "numpy", 100, data)
    # The backends draw different initial weights (their random streams differ): start the
    # reference from the jax session's.
    import flowir as tf

    with np_sess.graph.as_default():
        np_vars = tf.trainable_variables()
    for v, value in zip(np_vars, trainable_values(jax_sess, jax_model)):
        v.load(value, np_sess)
    jax_losses = [jax_step() for _ in range(3)]
    np_losses = [np_step() for _ in range(3)]
    diffs = [abs(a - b) / max(abs(b), 1e-6) for a, b in zip(jax_losses, np_losses)]
    shown = ", ".join(f"{a:.6f}/{b:.6f}" for a, b in zip(jax_losses, np_losses))
    _report(results, "3 MNIST MLP Adam steps match the numpy backend", max(diffs) < 1e-4, f"losses jax/numpy {shown}")
    params = trainable_values(jax_sess, jax_model)

    for batch in BATCHES:
        flowir_step, _, _ = flowir_mlp_step(device_name, "jax", batch, data)
        hand_step = jax_mlp_step(params, batch, data)
        flowir_step(), hand_step()  # compile both
        # Interleaved rounds, so that both see the same machine state.
        flowir_ms, jax_ms = best_interleaved_ms([flowir_step, hand_step], STEPS_PER_ROUND, ROUNDS)
        timings.append({"batch": batch, "flowir_ms": flowir_ms, "jax_ms": jax_ms, "ratio": flowir_ms / jax_ms})
        print(
            f"  batch {batch:>5}: flowir {flowir_ms:.3f} ms, hand-written jax {jax_ms:.3f} ms, ratio {flowir_ms / jax_ms:.2f}x",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="run the checks on the CPU (a dry run without a GPU)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    import jax

    platform = "cpu" if args.cpu else "gpu"
    devices = jax.devices()
    print(f"jax {jax.__version__}; devices: {devices}")
    if not args.cpu and not any(d.platform == "gpu" for d in devices):
        print("no GPU: run with --cpu for a dry run")
        return 2
    device_name = "/cpu:0" if args.cpu else "/gpu:0"
    results: list[dict[str, Any]] = []
    timings: list[dict[str, Any]] = []
    print("placement and correctness")
    check_placement(results, platform, device_name)
    check_soft_placement(results)
    print("MNIST MLP training step (784-500-100-10, Adam), ms per step, best of rounds")
    check_training(results, device_name, timings)
    elapsed = time.perf_counter() - start
    failed = [r["check"] for r in results if not r["ok"]]
    print(f"{len(results) - len(failed)}/{len(results)} checks ok in {elapsed:.1f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"checks": results, "timings": timings, "seconds": elapsed, "devices": [str(d) for d in devices]},
                f,
                indent=2,
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
