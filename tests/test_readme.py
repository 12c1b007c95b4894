"""The README's self-contained Python examples run and print what they claim."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _block(section: str, index: int = 0) -> str:
    """The ``index``-th ```python block of README section ``section`` (a ``##`` heading)."""
    text = README.read_text()
    start = text.index(f"## {section}\n")
    end = text.find("\n## ", start + 1)
    blocks = re.findall(r"```python\n(.*?)```", text[start : end if end != -1 else None], re.S)
    return blocks[index]


def _run(code: str, tmp_path: Path) -> str:
    script = tmp_path / "example.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_tf1_example_trains_the_line(tmp_path: Path) -> None:
    out = _run(_block("TensorFlow 1 graph code"), tmp_path)
    first = out.splitlines()[0]
    assert first.startswith("model/add:0 ")
    # "model/add:0 [array([[2.99...]], dtype=float32), np.float32(-0.99...)] 4.1e-12"
    w, b, loss = map(float, re.findall(r"-?\d+\.\d+(?:e-?\d+)?", first)[:3])
    assert abs(w - 3) < 1e-3 and abs(b + 1) < 1e-3 and loss < 1e-6


def test_shape_test_example_passes_under_pytest(tmp_path: Path) -> None:
    pytest.importorskip("hypothesis")
    test = tmp_path / "test_my_model.py"
    test.write_text(_block("Property-based shape tests"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test), "--flowir-backends", "numpy"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
