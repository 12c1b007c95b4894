"""Comparing computed arrays with per-dtype tolerances.

Integers, bools and strings compare exactly; floats within ``TOLERANCES`` (relative and
absolute), NaN equal to NaN and infinities equal to infinities of the same sign.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from flowir.ir.dtypes import DType, dtype_of

__all__ = ["TOLERANCES", "assert_array_matches", "assert_results_match"]

#: ``(rtol, atol)`` per float dtype.
TOLERANCES: dict[DType, tuple[float, float]] = {
    DType.float64: (1e-6, 1e-9),
    DType.float32: (1e-5, 1e-6),
    DType.float16: (1e-2, 1e-3),
    DType.bfloat16: (1e-2, 1e-2),
}


def assert_array_matches(actual: Any, expected: Any, what: str = "value") -> None:
    """Raise ``AssertionError`` unless ``actual`` has ``expected``'s dtype and shape and its
    values within the dtype's tolerance.

    >>> import numpy as np
    >>> assert_array_matches(np.float32([1, np.nan]), np.float32([1 + 1e-7, np.nan]))
    >>> assert_array_matches(np.int32([1]), np.int64([1]))
    Traceback (most recent call last):
    AssertionError: value: dtype int32 differs from the expected int64
    """
    # Numpy scalars (a 0-d result that went through numpy arithmetic) compare as 0-d arrays.
    if isinstance(actual, np.generic):
        actual = np.asarray(actual)
    if isinstance(expected, np.generic):
        expected = np.asarray(expected)
    if not isinstance(expected, np.ndarray) or not isinstance(actual, np.ndarray):
        if type(actual) is not type(expected) or actual != expected:
            raise AssertionError(f"{what}: {actual!r} differs from the expected {expected!r}")
        return
    if actual.dtype != expected.dtype:
        raise AssertionError(f"{what}: dtype {actual.dtype} differs from the expected {expected.dtype}")
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {actual.shape} differs from the expected {expected.shape}")
    dtype = dtype_of(expected)
    tol = TOLERANCES.get(dtype)
    if tol is None:
        if not np.array_equal(actual, expected):
            raise AssertionError(f"{what}: values differ\n  actual:   {actual!r}\n  expected: {expected!r}")
        return
    rtol, atol = tol
    np.testing.assert_allclose(
        actual.astype(np.float64), expected.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True, err_msg=what
    )


def assert_results_match(actual: Sequence[Any], expected: Sequence[Any], what: str = "output") -> None:
    """``assert_array_matches`` on each pair of a sequence of results (or a mapping's values
    by key when both are dicts)."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        if set(actual) != set(expected):
            raise AssertionError(f"{what}: keys {sorted(actual)} differ from the expected {sorted(expected)}")
        for k in expected:
            assert_array_matches(actual[k], expected[k], f"{what} {k!r}")
        return
    if len(actual) != len(expected):
        raise AssertionError(f"{what}: {len(actual)} results, expected {len(expected)}")
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_array_matches(a, e, f"{what} {i}")
