"""The numpy backend: the reference kernels run as a flat, liveness-aware schedule."""

from flowir.backends.numpy.backend import NumpyBackend, NumpyExecutable

__all__ = ["NumpyBackend", "NumpyExecutable"]
