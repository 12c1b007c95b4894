"""The seed examples (``tests/frontend/test_seed_examples.py``) on each backend explicitly,
whatever the default: sessions opened without ``backend=`` get the parametrized one."""

from __future__ import annotations

import pytest

from flowir import backends
from tests.frontend import test_seed_examples as seed

pytest.importorskip("jax")

graph = seed.graph
extracted = seed.extracted

#: The examples that run sessions (the others check the API surface, not a backend).
test_variable_named_a = seed.test_variable_named_a
test_placeholder_matmul_constant = seed.test_placeholder_matmul_constant
test_product_of_two_variables_needs_the_initializer = seed.test_product_of_two_variables_needs_the_initializer
test_only_what_the_fetch_needs_is_computed = seed.test_only_what_the_fetch_needs_is_computed
test_result_is_kept_after_the_session_closes = seed.test_result_is_kept_after_the_session_closes
test_cpu_device_block_runs = seed.test_cpu_device_block_runs


@pytest.fixture(autouse=True, params=["numpy", "jax"])
def default_backend(request, monkeypatch) -> str:
    monkeypatch.setattr(backends, "default_name", lambda: request.param)
    return request.param


def test_sessions_use_the_parametrized_backend(default_backend: str) -> None:
    import flowir as tf

    with tf.Session() as sess:
        assert sess.backend.name == default_backend
