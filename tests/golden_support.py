"""Golden-file tests: compare produced text with a checked-in file under ``tests/golden/``.

Run ``pytest --update-golden`` to rewrite the files from the current output instead of
comparing, then review the diff (``git diff tests/golden``) before committing.

``tests/conftest.py`` registers the option. Import the module, not the function: pytest
takes every ``pytest_*`` name in a conftest for a hook and rejects unknown ones::

    from tests import golden_support

    def pytest_addoption(parser):
        golden_support.pytest_addoption_golden(parser)
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

__all__ = ["GOLDEN_DIR", "pytest_addoption_golden", "update_golden_requested", "assert_golden"]

GOLDEN_DIR = Path(__file__).parent / "golden"


def pytest_addoption_golden(parser: pytest.Parser) -> None:
    """Register ``--update-golden`` (call from ``pytest_addoption`` in ``tests/conftest.py``)."""
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden files under tests/golden/ from the current output instead of comparing",
    )


def update_golden_requested(config: pytest.Config) -> bool:
    """Whether this run rewrites golden files (``False`` when the option is not registered)."""
    return bool(config.getoption("--update-golden", default=False))


def assert_golden(path: Path, actual: str, *, update: bool) -> None:
    """Fail with a unified diff unless ``actual`` equals the text of ``path``; with ``update``,
    write ``actual`` to ``path`` instead."""
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(actual)
        return
    if not path.exists():
        pytest.fail(f"golden file {path} is missing; run pytest --update-golden to create it", pytrace=False)
    with open(path, encoding="utf-8", newline="") as f:
        expected = f.read()
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), str(path), "actual output")
        )
        pytest.fail(f"output differs from {path} (run pytest --update-golden to accept it):\n{diff}", pytrace=False)
