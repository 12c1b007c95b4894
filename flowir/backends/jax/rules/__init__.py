"""The jax lowering rules, one module per dialect. Importing this package fills
``LOWERING_RULES`` and ``UNSUPPORTED`` (``flowir.backends.jax.lowering``)."""

from flowir.backends.jax.rules import array, core, grad, math, nn, random, train, window  # noqa: F401  (fill the tables)
