"""Prints the ONNX node-suite tally by backend at the end of the session."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

#: Test class name prefix -> backend name (see test_node_suite.py).
_BACKENDS = {"NumpyOnnxNodeTest": "numpy", "JaxOnnxNodeTest": "jax"}
_DTYPE = re.compile(r"element type (\w+)")
_SKIP_PREFIX = "flowir: "


def _skip_kind(reason: str) -> str:
    """What a skip is about: the ONNX op type, ``dtype X``, ``opset<13`` or a model input kind."""
    reason = reason.partition(_SKIP_PREFIX)[2] or reason
    m = _DTYPE.search(reason)
    if m:
        return f"dtype {m.group(1)}"
    if reason.startswith("model "):
        return "opset<13" if "opset" in reason else "non-tensor input"
    return reason.split(" ", 1)[0].rstrip(":")


def _backend(nodeid: str) -> str | None:
    if "test_node_suite.py" not in nodeid:
        return None
    return next((b for cls, b in _BACKENDS.items() if f"::{cls}::" in nodeid), None)


def _reason(report: Any) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    counts: dict[str, Counter[str]] = {}
    unsupported: dict[str, Counter[str]] = {}
    for outcome in ("passed", "failed", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            backend = _backend(getattr(report, "nodeid", ""))
            if backend is None or (outcome != "skipped" and report.when != "call"):
                continue
            counts.setdefault(backend, Counter())[outcome] += 1
            if outcome == "skipped":
                unsupported.setdefault(backend, Counter())[_skip_kind(_reason(report))] += 1
    for backend, c in counts.items():
        total = sum(c.values())
        reasons = ", ".join(f"{k} ({n})" for k, n in unsupported.get(backend, Counter()).most_common())
        terminalreporter.write_line(
            f"onnx node tests: {backend} passed {c['passed']} / failed {c['failed']} / skipped {c['skipped']} "
            f"of {total} (skips: {reasons or 'none'})"
        )
