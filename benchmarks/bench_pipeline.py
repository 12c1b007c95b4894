"""Benchmark graph building, the default pass pipeline, printing and parsing on large graphs.

Usage::

    python benchmarks/bench_pipeline.py [--sizes 10000,100000,200000] [--repeats 3]
                                        [--json FILE] [--locations] [--profile STEP]
    python benchmarks/bench_pipeline.py --quick      # CI smoke: 2k ops, checks results too

For each size it builds a model-like graph (``flowir.testing.bigraph``) and reports the best
of ``--repeats`` wall times, in seconds and microseconds per op, of: building the graph,
the pipeline ``shape-inference,prune,constant-fold,cse,canonicalize`` (total and per pass, from
the pass manager's timing), printing and parsing. Then the scaling ratio between consecutive
sizes and the targets: t(200k)/t(100k) <= 2.3, pipeline at 100k < 3 s, print and parse at
100k < 2 s each. ``--profile STEP`` runs cProfile on one step at the largest size and prints
the hottest functions.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from flowir.ir.parser import parse_graph
from flowir.ir.printer import print_graph
from flowir.ir.verifier import verify
from flowir.passes.manager import PassManager
from flowir.testing.bigraph import model_graph

PIPELINE = "shape-inference,prune,constant-fold,cse,canonicalize"
STEPS = ("build", "pipeline", "print", "parse")
#: Seconds a step may take at 100k ops.
TARGETS_100K = {"pipeline": 3.0, "print": 2.0, "parse": 2.0}
#: The most t(2n)/t(n) may be.
MAX_SCALING = 2.3


@dataclass
class SizeResult:
    """Best-of-N seconds per step for one requested size; ``ops`` is the built graph's size."""

    size: int
    ops: int
    ops_after_pipeline: int
    seconds: dict[str, float] = field(default_factory=dict)
    passes: dict[str, float] = field(default_factory=dict)

    def us_per_op(self, step: str) -> float:
        return 1e6 * self.seconds[step] / self.ops


def best_of(repeats: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The smallest wall time of ``repeats`` calls and the last call's result."""
    best = float("inf")
    result = None
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def measure(size: int, repeats: int, *, locations: bool, seed: int = 0) -> SizeResult:
    build_s, g = best_of(repeats, lambda: model_graph(size, seed, locations=locations))
    res = SizeResult(size, len(g), 0)
    res.seconds["build"] = build_s

    res.seconds["print"], text = best_of(repeats, lambda: print_graph(g))
    res.seconds["parse"], _ = best_of(repeats, lambda: parse_graph(text))

    best = float("inf")
    for _ in range(repeats):
        fresh = model_graph(size, seed)
        gc.collect()
        pm = PassManager(PIPELINE, timing=True)
        start = time.perf_counter()
        out = pm.run(fresh).graph
        elapsed = time.perf_counter() - start
        if elapsed < best:
            best = elapsed
            res.passes = {t.name: t.seconds for t in pm.timings}
            res.ops_after_pipeline = len(out)
    res.seconds["pipeline"] = best
    return res


def scaling(results: list[SizeResult]) -> list[tuple[int, int, dict[str, float]]]:
    """``t(b) / t(a)`` per step for consecutive sizes ``a < b``."""
    out = []
    for a, b in zip(results, results[1:]):
        out.append((a.size, b.size, {s: b.seconds[s] / a.seconds[s] for s in STEPS}))
    return out


def check_targets(results: list[SizeResult]) -> list[str]:
    """Human-readable target checks (``ok`` / ``MISSED``)."""
    lines = []
    by_size = {r.size: r for r in results}
    r100 = by_size.get(100_000)
    if r100 is not None:
        for step, limit in TARGETS_100K.items():
            verdict = "ok" if r100.seconds[step] < limit else "MISSED"
            lines.append(f"{step} at 100k: {r100.seconds[step]:.3f} s (target < {limit} s) {verdict}")
    r200 = by_size.get(200_000)
    if r100 is not None and r200 is not None:
        for step in STEPS:
            ratio = r200.seconds[step] / r100.seconds[step]
            verdict = "ok" if ratio <= MAX_SCALING else "MISSED"
            lines.append(f"{step} t(200k)/t(100k): {ratio:.2f} (target <= {MAX_SCALING}) {verdict}")
    return lines


def report(results: list[SizeResult]) -> str:
    lines = [f"{'size':>8} {'ops':>8} {'step':<16} {'seconds':>9} {'us/op':>8}"]
    for r in results:
        for step in STEPS:
            lines.append(f"{r.size:>8} {r.ops:>8} {step:<16} {r.seconds[step]:>9.3f} {r.us_per_op(step):>8.2f}")
        for name, secs in r.passes.items():
            lines.append(f"{'':>8} {'':>8} {'  ' + name:<16} {secs:>9.3f} {1e6 * secs / r.ops:>8.2f}")
        lines.append(f"{'':>8} {'':>8} {'(ops after pipeline: ' + str(r.ops_after_pipeline) + ')'}")
    for a, b, ratios in scaling(results):
        shown = ", ".join(f"{s} {v:.2f}" for s, v in ratios.items())
        lines.append(f"t({b})/t({a}): {shown}")
    lines.extend(check_targets(results))
    return "\n".join(lines)


def profile(step: str, size: int, *, locations: bool, top: int = 25) -> str:
    """cProfile one run of ``step`` at ``size``; the hottest functions by own time."""
    g = model_graph(size, locations=locations)
    text = print_graph(g)
    actions: dict[str, Callable[[], Any]] = {
        "build": lambda: model_graph(size, locations=locations),
        "pipeline": lambda: PassManager(PIPELINE).run(g),
        "print": lambda: print_graph(g),
        "parse": lambda: parse_graph(text),
    }
    prof = cProfile.Profile()
    prof.runcall(actions[step])
    out = _StringSink()
    stats = pstats.Stats(prof, stream=out)  # type: ignore[arg-type]
    stats.sort_stats("tottime").print_stats(top)
    return out.text


class _StringSink:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> int:
        self.text += s
        return len(s)


def quick() -> int:
    """Smoke run at 2k ops: every step works and gives right results; no timing targets."""
    g = model_graph(2000, seed=0)
    verify(g)
    text = print_graph(g)
    parsed = parse_graph(text)
    if print_graph(parsed) != text:
        print("FAIL: print(parse(print(g))) != print(g)", file=sys.stderr)
        return 1
    out = PassManager(PIPELINE, verify_each=True).run(g).graph
    verify(out)
    if len(out) >= len(parsed):
        print(f"FAIL: the pipeline removed nothing ({len(parsed)} -> {len(out)} ops)", file=sys.stderr)
        return 1
    res = measure(2000, 1, locations=False)
    print(report([res]))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,200000", help="comma-separated op counts")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs per step")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ap.add_argument("--locations", action="store_true", help="capture user locations while building")
    ap.add_argument("--profile", choices=STEPS, help="cProfile this step at the largest size")
    ap.add_argument("--quick", action="store_true", help="smoke mode for CI: 2k ops, checks, one repeat")
    args = ap.parse_args(argv)
    if args.quick:
        return quick()
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    if args.profile:
        print(profile(args.profile, sizes[-1], locations=args.locations))
        return 0
    results = []
    for size in sizes:
        results.append(measure(size, args.repeats, locations=args.locations))
        print(f"measured {size}", file=sys.stderr, flush=True)
    print(report(results))
    if args.json:
        payload = {
            "pipeline": PIPELINE,
            "repeats": args.repeats,
            "locations": args.locations,
            "results": [asdict(r) | {"us_per_op": {s: r.us_per_op(s) for s in STEPS}} for r in results],
            "scaling": [{"from": a, "to": b, "ratios": ratios} for a, b, ratios in scaling(results)],
            "targets": check_targets(results),
        }
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

