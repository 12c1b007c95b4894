"""Reference kernels: math ops."""

from __future__ import annotations
