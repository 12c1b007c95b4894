"""flowir's IR: types, values, ops, graphs, the op catalog, the textual form and the verifier.

``ir`` depends on numpy (and ml_dtypes) only, never on the rest of flowir.
"""

from flowir.ir import ops
from flowir.ir.attributes import Dense, Floats, Ints, ShapeKind, Strs
from flowir.ir.core import (
    OP_REGISTRY,
    PURE,
    REQUIRED,
    BlockArgument,
    Graph,
    Operation,
    OpResult,
    Trait,
    Value,
    attr,
    get_op_class,
    operand,
    register_op,
    variadic_operand,
)
from flowir.ir.dtypes import DType, dtype_of
from flowir.ir.errors import (
    DTypeError,
    FlowirError,
    OpAttributeError,
    ParseError,
    PassError,
    ShapeError,
    UnsupportedOpError,
    VerificationError,
)
from flowir.ir.location import UNKNOWN_LOC, Location, register_exclusion, user_location
from flowir.ir.parser import parse_graph
from flowir.ir.printer import print_graph
from flowir.ir.types import (
    CONTROL,
    ControlType,
    ResourceType,
    Shape,
    TensorType,
    Type,
    broadcast_shapes,
    join_shapes,
    meet_shapes,
    shapes_compatible,
)
from flowir.ir.verifier import verify, verify_op

__all__ = [
    "ops",
    "Dense",
    "Floats",
    "Ints",
    "ShapeKind",
    "Strs",
    "OP_REGISTRY",
    "PURE",
    "REQUIRED",
    "BlockArgument",
    "Graph",
    "Operation",
    "OpResult",
    "Trait",
    "Value",
    "attr",
    "get_op_class",
    "operand",
    "register_op",
    "variadic_operand",
    "DType",
    "dtype_of",
    "DTypeError",
    "FlowirError",
    "OpAttributeError",
    "ParseError",
    "PassError",
    "ShapeError",
    "UnsupportedOpError",
    "VerificationError",
    "UNKNOWN_LOC",
    "Location",
    "register_exclusion",
    "user_location",
    "parse_graph",
    "print_graph",
    "CONTROL",
    "ControlType",
    "ResourceType",
    "Shape",
    "TensorType",
    "Type",
    "broadcast_shapes",
    "join_shapes",
    "meet_shapes",
    "shapes_compatible",
    "verify",
    "verify_op",
]
