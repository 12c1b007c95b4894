"""Test configuration: hypothesis profiles and shared options.

Profiles: ``ci`` (derandomized, no deadline, 200 examples) is selected when ``CI`` is set;
``dev`` (30 examples) otherwise; ``HYPOTHESIS_PROFILE`` overrides both.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


def pytest_addoption(parser) -> None:
    """Register ``--update-golden`` (pytest hook)."""
    from tests import golden_support

    golden_support.pytest_addoption_golden(parser)
