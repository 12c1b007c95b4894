"""The pytest plugin: a user's shape test is a few lines and fails on a planted bug."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = '''
import numpy as np
import flowir as tf


def build(bad):
    x = tf.placeholder(tf.float32, [None, 6], name="x")
    labels = tf.placeholder(tf.float32, [None, 3], name="labels")
    w = tf.Variable(tf.truncated_normal([6, 3], stddev=0.1), name="w")
    logits = tf.matmul(x, w, name="logits")
    if bad:
        # A user mistake the static shapes hide: a reshape that assumes batch 2.
        logits = tf.reshape(tf.reshape(logits, [2, -1]), [-1, 3], name="logits_fixed")
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits), name="loss")
    return logits, loss


def test_good_model(flowir_graph, shape_check):
    logits, loss = build(bad=False)
    report = shape_check([logits, loss])
    assert report.examples == 7
    assert report.backends == ("numpy",)


def test_bad_model(flowir_graph, shape_check):
    logits, loss = build(bad=True)
    shape_check([logits, loss])
'''


def _plugin_args() -> list[str]:
    installed = importlib.metadata.entry_points(group="pytest11", name="flowir")
    return [] if installed else ["-p", "flowir.testing.pytest_plugin"]


def test_the_fixtures_run_check_shapes_with_the_command_line_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess(*_plugin_args(), "--flowir-backends", "numpy", "--flowir-max-examples", "7", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ShapeCheckError*"])


def test_the_readme_example_runs(pytester: pytest.Pytester) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Property-based shape tests") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None, "the README section has a Python example"
    pytester.makepyfile(test_my_model=code.group(1))
    result = pytester.runpytest_subprocess(*_plugin_args(), "--flowir-backends", "numpy", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
