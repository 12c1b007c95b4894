"""Crash-safe writes: the old file survives a failed write and no temporary file is left."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowir._fileio import atomic_file, write_atomically


def test_write_replaces_whole_file(tmp_path) -> None:
    path = str(tmp_path / "out.fir")
    write_atomically(path, "first\n")
    write_atomically(path, b"second\n")
    assert open(path, "rb").read() == b"second\n"
    assert os.listdir(tmp_path) == ["out.fir"]


def test_interrupted_write_keeps_the_old_file(tmp_path) -> None:
    path = str(tmp_path / "out.fir")
    write_atomically(path, "old\n")
    with pytest.raises(KeyboardInterrupt):
        with atomic_file(path) as f:
            f.write("half of the new")
            raise KeyboardInterrupt
    assert open(path).read() == "old\n"
    assert os.listdir(tmp_path) == ["out.fir"]


def test_unwritable_directory_raises_oserror(tmp_path) -> None:
    with pytest.raises(OSError):
        write_atomically(str(tmp_path / "missing" / "out.fir"), "x")


def test_files_get_the_mode_open_would_give(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    path = tmp_path / "out.txt"
    write_atomically(str(path), "x")
    assert (path.stat().st_mode & 0o777) == (plain.stat().st_mode & 0o777)
