"""flowir: an MLIR-style graph compiler with a TensorFlow-1-style frontend.

``import flowir`` stays light: it never imports jax, onnx or tensorflow.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
