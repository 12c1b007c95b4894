"""Reference kernels: builtin ops."""

from __future__ import annotations

import numpy as np

from flowir.ir.ops.core import Constant, Placeholder, Return
from flowir.ir.reference._registry import UNSUPPORTED, impl_rule


@impl_rule(Constant)
def _constant(op: Constant) -> tuple[np.ndarray]:
    return (op.value,)


UNSUPPORTED[Placeholder] = "placeholders are fed at run time, not computed"
UNSUPPORTED[Return] = "the terminator only names the graph outputs"
