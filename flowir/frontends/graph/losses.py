"""``tf.losses``: TF 1.15's weighted losses and the loss collections.

Each loss computes per-element losses, multiplies them by ``weights`` (a scalar, or a tensor
of the losses' rank whose dims are 1 or the losses'), and reduces the product as
``reduction`` says (default ``Reduction.SUM_BY_NONZERO_WEIGHTS``: the weighted sum divided by
the number of elements with a non-zero weight, 0 when there is none). The result is added to
``loss_collection`` (``GraphKeys.LOSSES``). Names follow TF: ``mean_squared_error/value:0``.
"""

from __future__ import annotations

from typing import Any

from flowir.frontends.graph import math_ops
from flowir.frontends.graph import nn as nn_ops
from flowir.frontends.graph.array_ops import ir_type, make1, ones_like, shape, size, squeeze, zeros_like
from flowir.frontends.graph.building import convert_to_tensor, identity
from flowir.frontends.graph.dtypes import float32
from flowir.frontends.graph.gradients import stop_gradient
from flowir.frontends.graph.graph import GraphKeys, add_to_collection, get_collection, name_scope
from flowir.frontends.graph.tensor import Tensor
from flowir.ir import ops

__all__ = [
    "Reduction",
    "compute_weighted_loss",
    "mean_squared_error",
    "absolute_difference",
    "softmax_cross_entropy",
    "sparse_softmax_cross_entropy",
    "sigmoid_cross_entropy",
    "add_loss",
    "get_losses",
    "get_regularization_losses",
    "get_total_loss",
]


class Reduction:
    """How a loss reduces its weighted per-element losses (TF's ``tf.losses.Reduction``)."""

    #: The weighted losses, unreduced.
    NONE = "none"
    #: Their sum.
    SUM = "weighted_sum"
    #: Their sum divided by the number of elements.
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    #: Their sum divided by the sum of the weights (broadcast to the losses' shape).
    MEAN = "weighted_mean"
    #: Their sum divided by the number of non-zero weights (broadcast to the losses' shape).
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    #: TF's alias of ``SUM_BY_NONZERO_WEIGHTS``.
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls) -> tuple[str, ...]:
        """Every reduction key, as TF's ``Reduction.all()`` (the alias's value appears twice)."""
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE, cls.SUM_OVER_NONZERO_WEIGHTS, cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key: str) -> None:
        """``ValueError`` unless ``key`` is one of ``all()``."""
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction Key {key}.")


# --------------------------------------------------------------------------------------------
# The weighted reduction


def _check_broadcastable(weights: Tensor, values: Tensor) -> None:
    """TF's ``assert_broadcastable`` on static shapes: ``weights`` is a scalar, or has the
    rank of ``values`` with each dim 1 or ``values``' (``ValueError`` otherwise)."""
    ws, vs = ir_type(weights).shape, ir_type(values).shape
    if ws is None or vs is None or ws == ():
        return
    if len(ws) != len(vs):
        raise ValueError(
            f"weights can not be broadcast to values. values.rank={len(vs)}. weights.rank={len(ws)}. "
            f"values.shape={list(vs)}. weights.shape={list(ws)}."
        )
    for w, v in zip(ws, vs):
        if w is not None and w != 1 and v is not None and w != v:
            raise ValueError(f"weights can not be broadcast to values. values.shape={list(vs)}. weights.shape={list(ws)}.")


def _div_no_nan(total: Tensor, count: Tensor, name: str) -> Tensor:
    """``total / count``, 0 where ``count`` is 0 (TF's ``div_no_nan``, named ``name``).

    The divisor is replaced by 1 where it is 0 before dividing, so the gradient of the
    unselected quotient is 0, not nan.
    """
    with name_scope(name, "div_no_nan", [total, count]) as scope:
        nonzero = math_ops.not_equal(count, 0.0)
        safe = math_ops.where(nonzero, count, ones_like(count))
        return make1(ops.Select, [nonzero, math_ops.truediv(total, safe), zeros_like(total)], scope, "value")


def _broadcast_weights(weights: Tensor, values: Tensor) -> Tensor:
    """``weights`` expanded to ``values``' shape (as is when it has it already)."""
    with name_scope(None, "broadcast_weights", [weights, values]) as scope:
        ws, vs = ir_type(weights).shape, ir_type(values).shape
        if ws is not None and vs is not None and None not in vs and ws == vs:
            return weights
        return math_ops.multiply(weights, ones_like(values), name=scope)


def _num_present(losses: Tensor, weights: Tensor) -> Tensor:
    """The number of elements of ``losses`` with a non-zero (broadcast) weight."""
    with name_scope(None, "num_present", [losses, weights]) as scope:
        weights = math_ops.cast(weights, float32)
        present = math_ops.where(math_ops.equal(weights, 0.0), zeros_like(weights), ones_like(weights))
        present = _broadcast_weights(present, losses)
        return math_ops.reduce_sum(present, name=scope)


def _num_elements(losses: Tensor) -> Tensor:
    with name_scope(None, "num_elements") as scope:
        return math_ops.cast(size(losses, name=scope), losses.dtype)


def compute_weighted_loss(
    losses: Any,
    weights: Any = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """``losses * weights`` reduced by ``reduction`` (``tf.losses.compute_weighted_loss``),
    computed in float32 and cast back to ``losses``' dtype, and added to ``loss_collection``.

    A scalar unless ``reduction`` is ``Reduction.NONE`` (then ``losses``' shape). Raises
    ``ValueError`` for an unknown ``reduction`` or ``weights`` that do not broadcast to
    ``losses``. Default scope ``"weighted_loss"``.
    """
    Reduction.validate(reduction)
    with name_scope(scope, "weighted_loss", [losses, weights]):
        losses = convert_to_tensor(losses)
        input_dtype = losses.dtype
        weights = math_ops.cast(weights, float32)
        _check_broadcastable(weights, losses)
        losses = math_ops.cast(losses, float32)
        weighted = math_ops.multiply(losses, weights)
        if reduction == Reduction.NONE:
            loss = weighted
        else:
            loss = math_ops.reduce_sum(weighted)
            if reduction == Reduction.MEAN:
                loss = _div_no_nan(loss, math_ops.reduce_sum(ones_like(losses) * weights), "value")
            elif reduction == Reduction.SUM_BY_NONZERO_WEIGHTS:
                loss = _div_no_nan(loss, _num_present(losses, weights), "value")
            elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
                loss = _div_no_nan(loss, _num_elements(losses), "value")
        loss = math_ops.cast(loss, input_dtype)
        add_loss(loss, loss_collection)
        return loss


# --------------------------------------------------------------------------------------------
# Losses


def _require(value: Any, what: str) -> None:
    if value is None:
        raise ValueError(f"{what} must not be None.")


def _float_pair(labels: Any, predictions: Any) -> tuple[Tensor, Tensor]:
    """``labels`` and ``predictions`` cast to float32, of compatible static shapes."""
    predictions = math_ops.cast(predictions, float32)
    labels = math_ops.cast(labels, float32)
    if not predictions.shape.is_compatible_with(labels.shape):
        raise ValueError(f"Shapes {predictions.shape} and {labels.shape} are incompatible")
    return labels, predictions


def mean_squared_error(
    labels: Any,
    predictions: Any,
    weights: Any = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """The weighted ``(predictions - labels) ** 2`` (``tf.losses.mean_squared_error``): with
    the default reduction and weights, the mean squared error. Both are cast to float32 and
    must have compatible shapes (``ValueError``). Default scope ``"mean_squared_error"``.

    >>> import flowir as tf
    >>> with tf.Graph().as_default():
    ...     loss = tf.losses.mean_squared_error([1.0, 2.0], [1.0, 4.0])
    ...     loss.name, tf.Session().run(loss)
    ('mean_squared_error/value:0', np.float32(2.0))
    """
    _require(labels, "labels")
    _require(predictions, "predictions")
    with name_scope(scope, "mean_squared_error", [predictions, labels, weights]) as scope:
        labels, predictions = _float_pair(labels, predictions)
        diff = math_ops.subtract(predictions, labels)
        losses = make1(ops.Square, [diff], None, "SquaredDifference")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def absolute_difference(
    labels: Any,
    predictions: Any,
    weights: Any = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """The weighted ``|predictions - labels|`` (``tf.losses.absolute_difference``); arguments
    as ``mean_squared_error``. Default scope ``"absolute_difference"``."""
    _require(labels, "labels")
    _require(predictions, "predictions")
    with name_scope(scope, "absolute_difference", [predictions, labels, weights]) as scope:
        labels, predictions = _float_pair(labels, predictions)
        losses = math_ops.abs(math_ops.subtract(predictions, labels))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def softmax_cross_entropy(
    onehot_labels: Any,
    logits: Any,
    weights: Any = 1.0,
    label_smoothing: float = 0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """The weighted softmax cross-entropy of ``logits`` [batch, classes] against
    ``onehot_labels`` (``tf.losses.softmax_cross_entropy``); no gradient flows into the
    labels. ``label_smoothing > 0`` mixes the labels with the uniform distribution:
    ``labels * (1 - s) + s / classes``. ``weights`` are per example or a scalar. Default
    scope ``"softmax_cross_entropy_loss"``."""
    _require(onehot_labels, "onehot_labels")
    _require(logits, "logits")
    with name_scope(scope, "softmax_cross_entropy_loss", [logits, onehot_labels, weights]) as scope:
        logits = convert_to_tensor(logits)
        onehot_labels = math_ops.cast(onehot_labels, logits.dtype)
        if not logits.shape.is_compatible_with(onehot_labels.shape):
            raise ValueError(f"Shapes {logits.shape} and {onehot_labels.shape} are incompatible")
        if label_smoothing > 0:
            classes = math_ops.cast(shape(onehot_labels)[-1], logits.dtype)
            onehot_labels = onehot_labels * (1 - label_smoothing) + label_smoothing / classes
        onehot_labels = stop_gradient(onehot_labels, name="labels_stop_gradient")
        losses = nn_ops.softmax_cross_entropy_with_logits_v2(labels=onehot_labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def _squeeze_labels(labels: Tensor, logits: Tensor, weights: Any) -> tuple[Tensor, Tensor, Any]:
    """TF's ``_remove_squeezable_dimensions`` for rank(logits) = rank(labels) + 1, on static
    ranks: labels of logits' rank with a last dim of 1 lose it; weights one rank above the
    labels lose their last dim."""
    lr, pr = ir_type(labels).rank, ir_type(logits).rank
    if lr is not None and pr is not None:
        last = ir_type(labels).shape[-1] if lr else None  # type: ignore[index]
        if pr - lr == 0 and last in (1, None):
            labels = squeeze(labels, [-1])
        elif pr - lr == 2 and ir_type(logits).shape[-1] in (1, None):  # type: ignore[index]
            logits = squeeze(logits, [-1])
    if weights is not None:
        weights = convert_to_tensor(weights)
        wr, lr = ir_type(weights).rank, ir_type(labels).rank
        if wr is not None and lr is not None and wr - lr == 1:
            weights = squeeze(weights, [-1])
    return labels, logits, weights


def sparse_softmax_cross_entropy(
    labels: Any,
    logits: Any,
    weights: Any = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """The weighted cross-entropy of class indices ``labels`` [batch] (or [batch, 1]) against
    ``logits`` [batch, classes] (``tf.losses.sparse_softmax_cross_entropy``). Default scope
    ``"sparse_softmax_cross_entropy_loss"``."""
    _require(labels, "labels")
    _require(logits, "logits")
    with name_scope(scope, "sparse_softmax_cross_entropy_loss", [logits, labels, weights]) as scope:
        labels, logits = convert_to_tensor(labels), convert_to_tensor(logits)
        labels, logits, weights = _squeeze_labels(labels, logits, weights)
        losses = nn_ops.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


def sigmoid_cross_entropy(
    multi_class_labels: Any,
    logits: Any,
    weights: Any = 1.0,
    label_smoothing: float = 0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """The weighted logistic loss of ``logits`` for ``multi_class_labels`` in [0, 1]
    (``tf.losses.sigmoid_cross_entropy``); ``label_smoothing > 0`` moves the labels toward
    1/2: ``labels * (1 - s) + s / 2``. Default scope ``"sigmoid_cross_entropy_loss"``."""
    _require(multi_class_labels, "multi_class_labels")
    _require(logits, "logits")
    with name_scope(scope, "sigmoid_cross_entropy_loss", [logits, multi_class_labels, weights]) as scope:
        logits = convert_to_tensor(logits)
        labels = math_ops.cast(multi_class_labels, logits.dtype)
        if not logits.shape.is_compatible_with(labels.shape):
            raise ValueError(f"Shapes {logits.shape} and {labels.shape} are incompatible")
        if label_smoothing > 0:
            labels = labels * (1 - label_smoothing) + 0.5 * label_smoothing
        losses = nn_ops.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction=reduction)


# --------------------------------------------------------------------------------------------
# Collections


def add_loss(loss: Tensor, loss_collection: str | None = GraphKeys.LOSSES) -> None:
    """Add ``loss`` to ``loss_collection`` (nothing for ``None``)."""
    if loss_collection:
        add_to_collection(loss_collection, loss)


def get_losses(scope: str | None = None, loss_collection: str = GraphKeys.LOSSES) -> list[Tensor]:
    """The losses in ``loss_collection`` (those whose name matches ``scope``, if given)."""
    return get_collection(loss_collection, scope)


def get_regularization_losses(scope: str | None = None) -> list[Tensor]:
    """The tensors in ``GraphKeys.REGULARIZATION_LOSSES`` (matching ``scope``, if given)."""
    return get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_total_loss(add_regularization_losses: bool = True, name: str = "total_loss", scope: str | None = None) -> Tensor:
    """The sum of ``get_losses(scope)`` and, with ``add_regularization_losses``, of
    ``get_regularization_losses(scope)``, named ``name`` (TF's ``add_n``: one shape for
    all). ``ValueError`` when there is none or the shapes differ."""
    losses = get_losses(scope=scope)
    if add_regularization_losses:
        losses = losses + get_regularization_losses(scope=scope)
    if not losses:
        raise ValueError("No losses to add: the loss collections are empty.")
    for loss in losses[1:]:
        if not loss.shape.is_compatible_with(losses[0].shape):
            raise ValueError(
                f"get_total_loss: the losses must have one shape (add_n), got {losses[0].name!r} {losses[0].shape} "
                f"and {loss.name!r} {loss.shape}"
            )
    if len(losses) == 1:
        return identity(losses[0], name=name)
    with name_scope(name, "AddN", losses) as scope_name:
        total = losses[0]
        for i, loss in enumerate(losses[1:], start=1):
            total = math_ops.add(total, loss, name=scope_name if i == len(losses) - 1 else None)
        return total
