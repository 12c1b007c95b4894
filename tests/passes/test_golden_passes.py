"""Golden text: each ``tests/golden/passes/<case>.fir`` through its pipeline, against ``<case>.out``.

A case file starts with ``// pipeline: <pipeline>``; ``// input: <path>`` (relative to the
repository root) takes the IR from another file. The output is the printed graph, or
``error: <message>`` when the pipeline raises. Regenerate with ``pytest --update-golden``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flowir.ir import FlowirError, parse_graph, print_graph
from flowir.passes import PassManager
from tests.golden_support import GOLDEN_DIR, assert_golden, update_golden_requested

CASES = sorted((GOLDEN_DIR / "passes").glob("*.fir"))
ROOT = Path(__file__).resolve().parents[2]


def _directives(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if not line.startswith("//"):
            break
        key, sep, value = line[2:].strip().partition(":")
        if sep and key in ("pipeline", "input"):
            out[key] = value.strip()
    return out


def run_case(path: Path) -> str:
    text = path.read_text()
    directives = _directives(text)
    if "input" in directives:
        source = ROOT / directives["input"]
        text, filename = source.read_text(), directives["input"]
    else:
        filename = path.name
    g = parse_graph(text, filename=filename)
    try:
        PassManager(directives["pipeline"], verify_each=True).run(g)
    except FlowirError as e:
        return f"error: {e}\n"
    return print_graph(g)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden(path: Path, request: pytest.FixtureRequest) -> None:
    actual = run_case(path)
    assert_golden(path.with_suffix(".out"), actual, update=update_golden_requested(request.config))
    if not actual.startswith("error:"):
        # The pipeline has reached its fixpoint: a second run changes nothing.
        g = parse_graph(actual)
        result = PassManager(_directives(path.read_text())["pipeline"], verify_each=True).run(g)
        assert result.modified is False
        assert print_graph(g) == actual


def test_cases_exist() -> None:
    assert {p.stem for p in CASES} >= {"shape_inference", "prune", "constant_fold", "cse", "canonicalize"}
