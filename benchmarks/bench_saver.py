"""Benchmark checkpoints: ``Saver.save`` and ``Saver.restore`` of 100 MiB of variables against
writing and reading the same arrays with numpy.

Usage::

    python benchmarks/bench_saver.py [--mib 100] [--variables 25] [--rounds 3] [--backend numpy jax] [--json FILE]
    python benchmarks/bench_saver.py --quick      # a smoke run: 8 MiB, 1 round

- flowir save: ``saver.save(sess, prefix)``: fetch the values from the session, SHA-256 of
  each tensor, serialize to safetensors, write to a temporary file, fsync, rename, sync the
  directory; then the graph file (``.fir``) and the index the same way.
- flowir restore: ``saver.restore(sess, prefix)``: read the file, let safetensors check it,
  verify every SHA-256, check names, dtypes and shapes, assign all variables in one run.
- numpy save: ``np.save`` of each array to its own ``.npy`` file, each flushed and fsynced
  (the same durability as the saver's writes, without the rename and directory sync).
- numpy load: ``np.load`` of each ``.npy`` file (from the page cache, as the restore reads).

Each figure is the best of ``--rounds`` interleaved rounds, in seconds; ``ratio`` is flowir's
time over numpy's. The arrays are float32 in ``--variables`` equal parts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np


def _numpy_save(directory: str, arrays: list[np.ndarray]) -> None:
    for i, a in enumerate(arrays):
        with open(os.path.join(directory, f"v{i}.npy"), "wb") as f:
            np.save(f, a)
            f.flush()
            os.fsync(f.fileno())


def _numpy_load(directory: str, n: int) -> list[np.ndarray]:
    return [np.load(os.path.join(directory, f"v{i}.npy")) for i in range(n)]


def run(mib: int, num_variables: int, rounds: int, backends: list[str]) -> dict:
    import flowir as tf

    per = mib * 2**20 // 4 // num_variables
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(per, dtype=np.float32) for _ in range(num_variables)]
    total = sum(a.nbytes for a in arrays)
    results: dict = {"bytes": total, "variables": num_variables, "rounds": rounds, "backends": {}}
    with tempfile.TemporaryDirectory() as tmp:
        np_dir = os.path.join(tmp, "npy")
        os.mkdir(np_dir)
        numpy_save = numpy_load = float("inf")
        for backend in backends:
            graph = tf.Graph()
            with graph.as_default():
                # Initializers are ops, as in a real model: a variable made from a numpy array
                # would carry its value in the graph file too (as TF's .meta does).
                variables = [tf.Variable(tf.zeros([per]), name=f"layer{i}/w") for i in range(num_variables)]
                saver = tf.train.Saver(max_to_keep=1)
                sess = tf.Session(graph=graph, backend=backend)
                sess.run(tf.global_variables_initializer())
                for v, a in zip(variables, arrays):
                    v.load(a, sess)
            ck_dir = os.path.join(tmp, backend)
            os.mkdir(ck_dir)
            prefix = os.path.join(ck_dir, "model.ckpt")
            save = restore = float("inf")
            # One warm-up of each (the restore run compiles once).
            saver.save(sess, prefix)
            saver.restore(sess, prefix)
            for _ in range(rounds):
                t = time.perf_counter()
                saver.save(sess, prefix)
                save = min(save, time.perf_counter() - t)
                t = time.perf_counter()
                saver.restore(sess, prefix)
                restore = min(restore, time.perf_counter() - t)
                t = time.perf_counter()
                _numpy_save(np_dir, arrays)
                numpy_save = min(numpy_save, time.perf_counter() - t)
                t = time.perf_counter()
                loaded = _numpy_load(np_dir, len(arrays))
                numpy_load = min(numpy_load, time.perf_counter() - t)
            check = sess.run(variables[-1])
            if not np.array_equal(check, arrays[-1]) or not np.array_equal(loaded[-1], arrays[-1]):
                raise SystemExit("restored values differ from the saved ones")
            sess.close()
            results["backends"][backend] = {"save_s": save, "restore_s": restore}
        results["numpy"] = {"save_s": numpy_save, "load_s": numpy_load}
    return results


def _table(results: dict) -> str:
    npy = results["numpy"]
    lines = [
        f"checkpoint of {results['bytes'] / 2**20:.0f} MiB in {results['variables']} float32 variables "
        f"(best of {results['rounds']} rounds, seconds)",
        f"{'backend':<8} {'op':<8} {'flowir':>9} {'numpy':>9} {'ratio':>7}",
    ]
    for backend, r in results["backends"].items():
        lines.append(
            f"{backend:<8} {'save':<8} {r['save_s']:>9.3f} {npy['save_s']:>9.3f} {r['save_s'] / npy['save_s']:>6.2f}x"
        )
        lines.append(
            f"{backend:<8} {'restore':<8} {r['restore_s']:>9.3f} {npy['load_s']:>9.3f} {r['restore_s'] / npy['load_s']:>6.2f}x"
        )
    lines.append("numpy: np.save per array, each file fsynced; np.load per array")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--variables", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", nargs="+", default=None, help="default: numpy, and jax when installed")
    parser.add_argument("--quick", action="store_true", help="8 MiB, 1 round")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    backends = args.backend
    if backends is None:
        backends = ["numpy"]
        try:
            import jax  # noqa: F401

            backends.append("jax")
        except ImportError:
            pass
    if args.quick:
        args.mib, args.rounds = 8, 1
    results = run(args.mib, args.variables, args.rounds, backends)
    print(_table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
