"""The ONNX export rules, one module per dialect. Importing this package fills
``EXPORT_RULES`` and ``UNSUPPORTED`` (``flowir.backends.onnx.exporter``)."""

from flowir.backends.onnx.rules import array, control, core, grad, math, nn, random, state, summary, train  # noqa: F401  (fill the tables)
