"""Data sets for examples and tests: ``flowir.datasets.mnist``."""

from flowir.datasets import mnist
from flowir.datasets._download import DatasetError

__all__ = ["mnist", "DatasetError"]
