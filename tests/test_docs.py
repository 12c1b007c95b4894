"""The documentation stays true: generated pages are current, examples run, the site builds."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from flowir.cli import SUBCOMMANDS, main
from flowir.ir import parse_graph, print_graph

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _load_gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flowir_docs_gen", DOCS / "gen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_gen()


def _blocks(page: str, *langs: str) -> list[str]:
    text = (DOCS / page).read_text()
    return re.findall(rf"```(?:{'|'.join(langs)})\n(.*?)```", text, re.S)


# --------------------------------------------------------------------------------------------
# Generated pages


@pytest.mark.parametrize("page", sorted(gen.PAGES))
def test_generated_page_is_current(page: str) -> None:
    text = gen.PAGES[page]()
    current = (DOCS / page).read_text() if (DOCS / page).exists() else ""
    assert current == text, f"docs/{page} is out of date: run `python3 docs/gen.py`"


def test_check_mode_reports_a_stale_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for page in gen.PAGES:
        (tmp_path / page).write_text((DOCS / page).read_text())
    (tmp_path / "tf1_names.txt").write_text((DOCS / "tf1_names.txt").read_text())
    monkeypatch.setattr(gen, "DOCS", tmp_path)
    assert gen.main(["--check"]) == 0
    (tmp_path / "errors.md").write_text("stale\n")
    assert gen.stale_pages() == ["errors.md"]
    assert gen.main(["--check"]) == 1
    assert gen.main([]) == 0
    assert gen.stale_pages() == []


def test_op_catalog_lists_every_registered_op() -> None:
    from flowir.ir.core import OP_REGISTRY

    text = (DOCS / "ops.md").read_text()
    for cls in OP_REGISTRY.values():
        if cls.__module__.startswith("flowir."):
            assert f"### `{cls.name}`" in text, cls.name
    assert "**missing**" not in text.split("## Support matrix")[1], "an op has neither a rule nor a reason"


def _tf1_names() -> list[str]:
    return [n.strip() for n in (DOCS / "tf1_names.txt").read_text().splitlines() if n.strip() and not n.startswith("#")]


def test_tf1_names_are_unique_and_the_partial_ones_exist() -> None:
    names = _tf1_names()
    assert len(names) == len(set(names))
    assert all(n.startswith("tf.") for n in names)
    import flowir

    for name in gen.PARTIAL:
        gen._resolve(flowir, name)


def _listed(section: str) -> set[str]:
    """The full names a ``- `tf.mod`: `a`, `b``` section of tf1.md lists."""
    names = set()
    for module, rest in re.findall(r"^- `([\w.]+)`: (.*)$", section, re.M):
        names.update(f"{module}.{n}" for n in re.findall(r"`([\w.]+)`", rest))
    return names


def test_tf1_table_classifies_by_the_public_surface() -> None:
    import flowir

    text = (DOCS / "tf1.md").read_text()
    supported = _listed(text.split("## Supported")[1].split("## Not supported")[0])
    missing = _listed(text.split("## Not supported")[1])
    partial = set(re.findall(r"^\| `([\w.]+)` \|", text.split("## Partly supported")[1].split("## Supported")[0], re.M))
    assert partial == set(gen.PARTIAL)
    for name in _tf1_names():
        try:
            gen._resolve(flowir, name)
        except AttributeError:
            assert name in missing, name
        else:
            assert name in (partial if name in gen.PARTIAL else supported), name
    assert "tf.matmul" in supported and "tf.placeholder" in supported


# --------------------------------------------------------------------------------------------
# Tested examples


def test_ir_page_examples_parse_and_print_back() -> None:
    blocks = _blocks("ir.md", "mlir", "fir")
    assert len(blocks) >= 5
    for text in blocks:
        assert print_graph(parse_graph(text)) == text


def test_pass_examples_are_what_the_passes_print() -> None:
    blocks = _blocks("passes.md", "mlir")
    pipelines = re.findall(r'`flowir opt before\.fir --pipeline "([^"]+)"`', (DOCS / "passes.md").read_text())
    assert len(blocks) == 2 * len(pipelines) == 2 * len(gen.PASS_EXAMPLES)
    for pipeline, before, after in zip(pipelines, blocks[::2], blocks[1::2], strict=True):
        assert gen.run_pipeline(pipeline, before) == after, pipeline
        assert before != after, f"the {pipeline} example shows no change"


def test_pass_examples_match_the_cli(tmp_path: Path) -> None:
    pipeline, before = gen.PASS_EXAMPLES["constant-fold"]
    src = tmp_path / "before.fir"
    src.write_text(before)
    out = subprocess.run(
        [sys.executable, "-m", "flowir", "opt", str(src), "--pipeline", pipeline],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == gen.run_pipeline(pipeline, before)


def test_index_example_runs(tmp_path: Path) -> None:
    (code,) = _blocks("index.md", "python")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert out.strip() == "[[2. 2.]]"


# --------------------------------------------------------------------------------------------
# The site


def test_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "index.html").exists()
    for page in ("ir", "ops", "passes", "backends", "tf1", "errors"):
        html = (tmp_path / "site" / page / "index.html").read_text()
        # mkdocs does not check links within a page; the op catalog's matrix has one per op.
        ids = set(re.findall(r'id="([^"]+)"', html))
        broken = [a for a in re.findall(r'href="#([^"]+)"', html) if a not in ids]
        assert broken == [], (page, broken)


# --------------------------------------------------------------------------------------------
# Command-line help


@pytest.mark.parametrize("command", [None, *SUBCOMMANDS])
def test_every_command_help_says_what_it_does_with_an_example(command: str | None, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"] if command is None else [command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    usage, description = out.split("\n\n")[:2]
    assert usage.startswith("usage: flowir")
    assert len(description.split()) >= 8, description
    examples = out.split("\nexamples:\n")[1]
    prefix = "  flowir " + (command or "")
    assert any(line.startswith(prefix) for line in examples.splitlines()), examples


def test_ir_page_python_example_prints_the_file_back() -> None:
    (code,) = _blocks("ir.md", "python")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out == print_graph(parse_graph((ROOT / "examples" / "mlp.fir").read_text())) + "\n"


def test_backends_page_example_backend_runs_and_agrees_with_numpy(tmp_path: Path) -> None:
    (code,) = [b for b in _blocks("backends.md", "python") if "register_backend(" in b and "class " in b]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert out.strip() == "0.40499997 [1.  1.9]"
