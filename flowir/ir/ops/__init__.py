"""The op catalog. Importing this package registers every op (``OP_REGISTRY``)."""

from flowir.ir.ops import array, control, core, grad, math, nn, random, state, summary, train  # noqa: F401
from flowir.ir.ops.array import *  # noqa: F403
from flowir.ir.ops.control import *  # noqa: F403
from flowir.ir.ops.core import *  # noqa: F403
from flowir.ir.ops.grad import *  # noqa: F403
from flowir.ir.ops.math import *  # noqa: F403
from flowir.ir.ops.nn import *  # noqa: F403
from flowir.ir.ops.random import *  # noqa: F403
from flowir.ir.ops.state import *  # noqa: F403
from flowir.ir.ops.summary import *  # noqa: F403
from flowir.ir.ops.train import *  # noqa: F403
