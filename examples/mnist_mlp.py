"""The seed's example: train TensorFlow 1's tutorial MLP on MNIST with flowir.

The network (784 -> 500 -> 100 -> 10, ReLU, Adam) is TF1 code in ``flowir/models/mnist_mlp.py``
(``build_model`` and ``train``); this script is ``flowir mnist`` and takes the same options:

    python3 examples/mnist_mlp.py                   # 20000 steps, prints the test accuracy
    python3 examples/mnist_mlp.py --steps 1000 --seed 0 --data-dir ~/data/mnist

The data come from ``--data-dir``, else ``$FLOWIR_DATA_DIR``, else ``~/.cache/flowir/mnist``,
downloading what is missing.
"""

import sys

from flowir.cli import main

if __name__ == "__main__":
    sys.exit(main(["mnist", *sys.argv[1:]]))
