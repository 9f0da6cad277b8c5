"""Stateless layers and losses, as in ``torch.nn.functional``.

Losses take ``reduction``: ``"none"`` keeps one value per element (per position for the
classification losses), ``"sum"`` adds them up and ``"mean"`` averages them. For ``cross_entropy``
and ``nll_loss`` the mean is over the targets that are not ``ignore_index`` (weighted by the class
weights when given), as in PyTorch; it is nan when every target is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import ops
from ..ops import log_softmax, relu, sigmoid, softmax, tanh
from ..primitive import lift
from ..tensor import Tensor
from .init import get_rng
from .losses import cross_entropy_primitive, softplus_primitive

__all__ = [
    "linear", "embedding", "dropout", "layer_norm", "softplus", "relu", "tanh", "sigmoid",
    "softmax", "log_softmax", "cross_entropy", "nll_loss", "mse_loss",
    "binary_cross_entropy_with_logits",
]

_REDUCTIONS = ("mean", "sum", "none")


# ---- layers --------------------------------------------------------------------------------
def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """``y = x W^T + b``; ``x`` has shape ``(..., in)``, ``W`` ``(out, in)``, ``b`` ``(out,)``."""
    x, weight = lift(x), lift(weight)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must have shape (out_features, in_features), got "
                         f"{weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not end in in_features = "
                         f"{weight.shape[1]} (weight shape {weight.shape})")
    y = ops.matmul(x, ops.t(weight))
    return y if bias is None else y + bias


def embedding(indices: Any, weight: Any, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (shape ``(num, dim)``) at integer ``indices`` of any shape:
    the result has shape ``indices.shape + (dim,)``. Repeated indices add up in the gradient;
    no gradient reaches the row ``padding_idx``."""
    weight = lift(weight)
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx.max()) if idx.max() >= n else int(idx.min())
        raise IndexError(f"embedding: index {bad} is out of range for {n} embeddings "
                         f"(valid indices are 0..{n - 1})")
    out = ops.getitem(weight, idx)
    if padding_idx is not None and out.requires_grad:
        keep = np.expand_dims(idx != padding_idx, -1)
        out = ops.where(keep, out, Tensor(out.data))  # same values; no gradient at padding
    return out


def dropout(x: Any, p: float = 0.5, training: bool = True,
            rng: np.random.Generator | int | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by
    ``1 / (1 - p)``, so the expectation is unchanged; the identity when not ``training``.

    The mask is drawn from ``rng`` (a Generator or an int seed), else from the module-level
    generator of :mod:`minigrad.nn.init` (see :func:`minigrad.nn.manual_seed`).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p}")
    x = lift(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * np.zeros((), dtype=x.dtype)
    keep = get_rng(rng).random(x.shape) >= p
    return x * (keep * (1.0 / (1.0 - p))).astype(x.dtype)


def _normalized_axes(x: Tensor, normalized_shape: tuple[int, ...], who: str) -> tuple[int, ...]:
    k = len(normalized_shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise ValueError(f"{who}: input of shape {x.shape} does not end in normalized_shape "
                         f"{normalized_shape}")
    return tuple(range(x.ndim - k, x.ndim))


def layer_norm(x: Any, normalized_shape: int | Sequence[int], weight: Any = None,
               bias: Any = None, eps: float = 1e-5) -> Tensor:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the trailing ``normalized_shape``
    axes, with the biased variance (divide by the count), as in PyTorch."""
    x = lift(x)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    axes = _normalized_axes(x, shape, "layer_norm")
    mu = ops.mean(x, axes, keepdims=True)
    d = x - mu
    y = d / ops.sqrt(ops.mean(d * d, axes, keepdims=True) + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def softplus(x: Any) -> Tensor:
    """``log(1 + exp(x))``, computed stably; its derivative is ``sigmoid(x)``."""
    return softplus_primitive(lift(x))


# ---- losses --------------------------------------------------------------------------------
def _float_input(value: Any, who: str) -> Tensor:
    x = lift(value)
    if x.dtype.kind != "f":
        raise TypeError(f"{who}: input must be floating point, got {x.dtype}")
    return x


def _like(value: Any, dtype: np.dtype) -> Tensor:
    """A Tensor as is; anything else (arrays, lists, numbers) as a constant of ``dtype``, so a
    float64 or integer target does not turn a float32 loss into float64."""
    return value if isinstance(value, Tensor) else Tensor(np.asarray(value, dtype=dtype))


def _check_reduction(reduction: str, who: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{who}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "sum":
        return ops.sum(loss)
    if reduction == "mean":
        return ops.mean(loss) if loss.size else ops.sum(loss) * np.asarray(np.nan, loss.dtype)
    return loss


def _class_inputs(x: Any, target: Any, ignore_index: int, who: str
                  ) -> tuple[Tensor, np.ndarray, bool]:
    """Check ``x`` (``(N, C, *d)`` or unbatched ``(C,)``) against integer ``target``
    (``(N, *d)`` or ``()``); returns batched versions and whether the input was unbatched."""
    x = _float_input(x, who)
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{who}: target must hold integer class labels, got dtype {t.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{who}: input must have a class axis, got a 0-d tensor")
    unbatched = x.ndim == 1
    if unbatched:
        x = ops.reshape(x, (1, x.shape[0]))
        t = t.reshape((1,) + t.shape)
    expected = (x.shape[0],) + tuple(x.shape[2:])
    if t.shape != expected:
        got = t.shape[1:] if unbatched else t.shape
        want = () if unbatched else expected
        raise ValueError(f"{who}: target shape {got} does not match input shape "
                         f"{x.shape[1:] if unbatched else x.shape}: expected {want}")
    n_classes = x.shape[1]
    if n_classes == 0:
        raise ValueError(f"{who}: input has no classes (shape {x.shape})")
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if bad.any():
        value = int(t[bad].flat[0])
        raise IndexError(f"{who}: target {value} is out of range for {n_classes} classes "
                         f"(labels must be in [0, {n_classes}) or equal "
                         f"ignore_index={ignore_index})")
    return x, t, unbatched


def _weighted_reduce(loss: Tensor, t: np.ndarray, weight: Any, ignore_index: int,
                     reduction: str, unbatched: bool, who: str, n_classes: int) -> Tensor:
    """Apply class weights and the reduction to per-position losses."""
    valid = t != ignore_index
    if weight is not None:
        weight = _like(weight, loss.dtype)
        if weight.shape != (n_classes,):
            raise ValueError(f"{who}: weight must have shape ({n_classes},) (one per class), "
                             f"got {weight.shape}")
        w = ops.where(valid, ops.getitem(weight, np.where(valid, t, 0)), 0)
        loss = loss * w
    if reduction == "none":
        return ops.reshape(loss, ()) if unbatched else loss
    total = ops.sum(loss)
    if reduction == "sum":
        return total
    if not valid.any():  # PyTorch's 0 / 0 = nan when every target is ignored (no numpy warning)
        return total * np.asarray(np.nan, dtype=loss.dtype)
    return total / (ops.sum(w) if weight is not None else int(valid.sum()))


def cross_entropy(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean") -> Tensor:
    """Cross-entropy of logits ``input`` against integer class labels ``target``.

    ``input`` has shape ``(N, C)`` or ``(N, C, d1, ..., dk)`` (or ``(C,)`` for one sample) and
    ``target`` shape ``(N,)`` or ``(N, d1, ..., dk)`` (or ``()``). Per position,

        loss = -w[t] * log softmax(x)[t] = w[t] * (log sum_c exp(x_c) - x_t),

    with ``w`` the class ``weight`` (all ones by default) and 0 where ``t == ignore_index``.
    ``"mean"`` divides the sum by the sum of ``w[t]`` over non-ignored positions (their count
    when unweighted). Log-softmax and NLL are one fused primitive whose backward is
    ``softmax(x) - onehot(t)``, finite for any finite logits (see
    :mod:`minigrad.nn.losses`); it can be differentiated again.

    A label outside ``[0, C)`` other than ``ignore_index`` raises IndexError naming it.
    """
    _check_reduction(reduction, "cross_entropy")
    x, t, unbatched = _class_inputs(input, target, ignore_index, "cross_entropy")
    loss = cross_entropy_primitive(x, Tensor(t), ignore_index=int(ignore_index))
    return _weighted_reduce(loss, t, weight, ignore_index, reduction, unbatched,
                            "cross_entropy", x.shape[1])


def nll_loss(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (shapes as :func:`cross_entropy`):
    ``loss = -w[t] * input[t]`` per position, 0 where ``t == ignore_index``.

    ``cross_entropy(x, t)`` equals ``nll_loss(log_softmax(x, axis=1), t)``.
    """
    _check_reduction(reduction, "nll_loss")
    x, t, unbatched = _class_inputs(input, target, ignore_index, "nll_loss")
    n_classes = x.shape[1]
    classes = np.arange(n_classes).reshape((1, n_classes) + (1,) * (x.ndim - 2))
    pick = (np.expand_dims(t, 1) == classes) & np.expand_dims(t != ignore_index, 1)
    # where(), not x * onehot: a -inf log-probability of another class must not give 0 * inf
    loss = -ops.sum(ops.where(pick, x, 0), axis=1)
    return _weighted_reduce(loss, t, weight, ignore_index, reduction, unbatched, "nll_loss",
                            n_classes)


def _same_shape(x: Tensor, y: Tensor, who: str, a: str, b: str) -> None:
    if x.shape != y.shape:
        raise ValueError(f"{who}: {a} shape {x.shape} and {b} shape {y.shape} differ")


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target)^2``, reduced. The shapes must be equal."""
    _check_reduction(reduction, "mse_loss")
    x = _float_input(input, "mse_loss")
    y = _like(target, x.dtype)
    _same_shape(x, y, "mse_loss", "input", "target")
    d = x - y
    return _reduce(d * d, reduction)


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)`` against targets in [0, 1], from the logits:

        loss = -w * (p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))
             = w * ((1 - y) x + (1 + (p - 1) y) softplus(-x))

    with ``w`` the elementwise ``weight`` and ``p`` the ``pos_weight`` (both optional, broadcast
    against the input). Without ``pos_weight`` this is ``w * (softplus(x) - x y)``, whose
    gradient in ``x`` is ``w * (sigmoid(x) - y)``.

    NOTE: log(sigmoid(x)) is -inf once sigmoid(x) underflows (x below about -100 in float32), and
    log(1 - sigmoid(x)) once it rounds to 1 (x above about 17). ``softplus`` computes
    log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)) without either, so the loss is finite for
    any finite logits.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    x = _float_input(input, "binary_cross_entropy_with_logits")
    y = _like(target, x.dtype)
    _same_shape(x, y, "binary_cross_entropy_with_logits", "input", "target")
    if pos_weight is None:
        loss = softplus_primitive(x) - x * y
    else:
        loss = (1 - y) * x + (1 + (_like(pos_weight, x.dtype) - 1) * y) * softplus_primitive(-x)
    if weight is not None:
        loss = loss * _like(weight, x.dtype)
    return _reduce(loss, reduction)
