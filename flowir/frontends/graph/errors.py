"""TF's ``tf.errors``: the exceptions a ``Session.run`` raises, with TF's names and codes.

``OpError(node_def, op, message)`` is the base (also a ``FlowirError``, so one ``except``
catches every flowir error); each subclass fixes its ``error_code`` as TF's does. ``op`` is
the frontend ``Operation`` that failed when it is known (the unfed placeholder, the
uninitialized variable), ``None`` otherwise.
"""

from __future__ import annotations

from typing import Any

from flowir.ir.errors import FlowirError

__all__ = [
    "OpError",
    "CancelledError",
    "UnknownError",
    "InvalidArgumentError",
    "DeadlineExceededError",
    "NotFoundError",
    "AlreadyExistsError",
    "PermissionDeniedError",
    "UnauthenticatedError",
    "ResourceExhaustedError",
    "FailedPreconditionError",
    "AbortedError",
    "OutOfRangeError",
    "UnimplementedError",
    "InternalError",
    "UnavailableError",
    "DataLossError",
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "UNAUTHENTICATED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "exception_type_from_error_code",
    "error_code_from_exception_type",
]

OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
DATA_LOSS = 15
UNAUTHENTICATED = 16


class OpError(FlowirError):
    """A failure while running a graph (TF's ``tf.errors.OpError``).

    ``message`` is TF's text; ``op`` the failing frontend ``Operation`` or ``None``;
    ``node_def`` its ``NodeDef`` or ``None``; ``error_code`` one of the codes above. The
    string form adds where ``op`` was created.
    """

    error_code_default: int = UNKNOWN

    def __init__(self, node_def: Any, op: Any, message: str, error_code: int | None = None) -> None:
        self._node_def = node_def
        self._op = op
        self._tf_message = message
        self._error_code = self.error_code_default if error_code is None else error_code
        context = []
        loc = getattr(getattr(op, "_ir", None), "location", None)
        if loc is not None and loc.is_known:
            context.append(f"  {op.type} {op.name!r} created at {loc}")
        super().__init__(message, context)

    @property
    def message(self) -> str:
        """TF's error text, without the creation site that ``str(error)`` adds."""
        return self._tf_message

    @property
    def op(self) -> Any:
        """The frontend ``Operation`` that failed, or ``None`` when unknown."""
        return self._op

    @property
    def node_def(self) -> Any:
        """The failing op's ``NodeDef``, or ``None`` when unknown."""
        return self._node_def

    @property
    def error_code(self) -> int:
        """TF's error code (``errors.INVALID_ARGUMENT`` ...), the class's unless one was given."""
        return self._error_code

    def __reduce__(self) -> tuple:
        return (type(self), (None, None, self._tf_message))


def _error_class(name: str, code: int, doc: str) -> type[OpError]:
    def __init__(self: OpError, node_def: Any, op: Any, message: str, *args: Any) -> None:
        OpError.__init__(self, node_def, op, message, code)

    return type(name, (OpError,), {"__doc__": doc, "__init__": __init__, "error_code_default": code, "__module__": __name__})


CancelledError = _error_class("CancelledError", CANCELLED, "An operation or step was cancelled.")
UnknownError = _error_class("UnknownError", UNKNOWN, "An error without a more specific class.")
InvalidArgumentError = _error_class(
    "InvalidArgumentError", INVALID_ARGUMENT, "An op received an invalid argument (a missing feed, a bad runtime shape)."
)
DeadlineExceededError = _error_class("DeadlineExceededError", DEADLINE_EXCEEDED, "A deadline expired.")
NotFoundError = _error_class("NotFoundError", NOT_FOUND, "A requested entity (a file, a device) was not found.")
AlreadyExistsError = _error_class("AlreadyExistsError", ALREADY_EXISTS, "An entity to be created already exists.")
PermissionDeniedError = _error_class("PermissionDeniedError", PERMISSION_DENIED, "The caller may not run the operation.")
UnauthenticatedError = _error_class("UnauthenticatedError", UNAUTHENTICATED, "The request has no valid credentials.")
ResourceExhaustedError = _error_class("ResourceExhaustedError", RESOURCE_EXHAUSTED, "A resource (memory) ran out.")
FailedPreconditionError = _error_class(
    "FailedPreconditionError", FAILED_PRECONDITION, "The system is not in a state to run the op (an uninitialized variable)."
)
AbortedError = _error_class("AbortedError", ABORTED, "The operation was aborted.")
OutOfRangeError = _error_class("OutOfRangeError", OUT_OF_RANGE, "An iteration ran past its end.")
UnimplementedError = _error_class("UnimplementedError", UNIMPLEMENTED, "The operation is not supported (by this backend).")
InternalError = _error_class("InternalError", INTERNAL, "An internal invariant broke.")
UnavailableError = _error_class("UnavailableError", UNAVAILABLE, "The runtime is unavailable.")
DataLossError = _error_class("DataLossError", DATA_LOSS, "Unrecoverable data loss or corruption.")

_CODE_TO_CLASS: dict[int, type[OpError]] = {
    cls.error_code_default: cls
    for cls in (
        CancelledError,
        UnknownError,
        InvalidArgumentError,
        DeadlineExceededError,
        NotFoundError,
        AlreadyExistsError,
        PermissionDeniedError,
        UnauthenticatedError,
        ResourceExhaustedError,
        FailedPreconditionError,
        AbortedError,
        OutOfRangeError,
        UnimplementedError,
        InternalError,
        UnavailableError,
        DataLossError,
    )
}


def exception_type_from_error_code(error_code: int) -> type[OpError]:
    """The ``OpError`` subclass for a TF error code; ``KeyError`` for an unknown code."""
    return _CODE_TO_CLASS[error_code]


def error_code_from_exception_type(cls: type[OpError]) -> int:
    """The TF error code of an ``OpError`` subclass."""
    return cls.error_code_default
