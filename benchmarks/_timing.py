"""Timing loops shared by the benchmarks.

Each benchmark times a callable the same way: the mean time per call over a round of calls,
best of several rounds (the best is the least disturbed by other work on the machine), and,
for two programs compared side by side, rounds interleaved so that a slow spell of the
machine hits both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["time_per_run", "round_ms", "best_interleaved_ms", "Stopwatch"]


def time_per_run(fn: Callable[[], Any], runs: int, rounds: int = 5) -> float:
    """The best over ``rounds`` of the mean microseconds per call of ``fn`` over ``runs`` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(runs):
            fn()
        best = min(best, (time.perf_counter() - start) / runs * 1e6)
    return best


def round_ms(fn: Callable[[], Any], steps: int) -> float:
    """Milliseconds per call of ``fn`` over ``steps`` calls."""
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps * 1e3


def best_interleaved_ms(fns: Sequence[Callable[[], Any]], steps: int, rounds: int) -> list[float]:
    """For each of ``fns``, the best over ``rounds`` of its milliseconds per call over
    ``steps`` calls; the rounds of the functions alternate."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], round_ms(fn, steps))
    return best


class Stopwatch:
    """Wall and CPU seconds of a block: ``with Stopwatch() as sw: ...`` then ``sw.wall``,
    ``sw.cpu`` (this process's CPU time, which other processes on a loaded machine do not
    inflate as much as they do the wall time)."""

    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu
