"""Reference kernels: array ops."""

from __future__ import annotations
