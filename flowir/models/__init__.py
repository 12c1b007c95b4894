"""Ready-made TF1-style models behind the ``flowir`` command: ``mnist_mlp`` (``flowir mnist``).

Import a model's module directly (``from flowir.models import mnist_mlp``); this package
imports none of them, so ``import flowir`` stays light.
"""

__all__ = ["mnist_mlp"]
