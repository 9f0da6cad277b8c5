"""The public operations: the primitives under their public names, and everything composed of them.

Composites never touch the tape themselves: each is a few primitive calls, so its gradient (and its
second derivative) comes from theirs. This module is also the ``xp`` that vjp rules use when they
run on Tensors (``create_graph=True``), so it defines every ``xp.<name>`` the rules call.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import primitives as P
from .autograd import sum_to as _sum_to
from .primitive import lift, nondifferentiable
from .tensor import Axis, Tensor

__all__ = [
    "add", "sub", "mul", "truediv", "neg", "pow", "matmul", "exp", "log", "sqrt", "tanh",
    "sigmoid", "relu", "abs", "maximum", "minimum", "where", "clip", "sum", "mean", "max", "min",
    "var", "logsumexp", "softmax", "log_softmax", "reshape", "transpose", "permute", "swapaxes",
    "expand_dims", "squeeze", "broadcast_to", "expand", "getitem", "concatenate", "stack", "split",
    "pad", "gather", "astype", "sum_to", "zeros_like", "ones_like", "equal", "not_equal", "less",
    "less_equal", "greater", "greater_equal", "logical_and", "logical_or", "logical_not", "sign",
    "argmax", "isfinite", "index_add",
]

# ---- primitives under their public names ----------------------------------------------------
add = P.add
sub = P.sub
mul = P.mul
truediv = P.truediv
neg = P.neg
matmul = P.matmul
exp = P.exp
log = P.log
sqrt = P.sqrt
tanh = P.tanh
sigmoid = P.sigmoid
relu = P.relu
abs = P.absolute
maximum = P.maximum
minimum = P.minimum
where = P.where


def index_add(src: Tensor, index: Any, shape: Sequence[int]) -> Tensor:
    """zeros(shape) with ``src`` added at ``index``; repeated indices add up (getitem's adjoint)."""
    return P.index_add(src, index=_plain_index(index), shape=tuple(shape))


def pow(x: Any, y: Any) -> Tensor:
    """``x ** y``; a Python number as exponent is a constant (one cheap primitive)."""
    if isinstance(x, Tensor) and isinstance(y, int | float) and not isinstance(y, bool):
        return P.pow_scalar(x, p=y)
    return P.power(x, y)


def clip(x: Tensor, lo: float | None = None, hi: float | None = None) -> Tensor:
    """Limit values to [lo, hi]; the gradient passes where lo <= x <= hi."""
    if lo is None and hi is None:
        raise ValueError("clip: give lo, hi or both")
    return P.clip(x, lo=lo, hi=hi)


def astype(x: Tensor, dtype: Any) -> Tensor:
    return P.astype(x, dtype=np.dtype(dtype))


# ---- reductions ----------------------------------------------------------------------------
def _axis(axis: Axis | Sequence[int]) -> Axis:
    return tuple(axis) if isinstance(axis, list) else axis  # type: ignore[return-value]


def sum(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return P.sum_(x, axis=_axis(axis), keepdims=keepdims)


def max(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Largest element; tied maxima share the gradient equally."""
    if lift(x).size == 0:
        raise ValueError("max: the tensor is empty")
    return P.max_(x, axis=_axis(axis), keepdims=keepdims)


def min(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return neg(max(neg(x), axis, keepdims))


def _count(shape: tuple[int, ...], axis: Axis) -> int:
    return math.prod(shape) // math.prod(P.kept_shape(shape, axis))


def mean(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    x = lift(x)
    return sum(x, axis, keepdims) / _count(x.shape, _axis(axis))


def var(x: Tensor, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance with ``ddof`` delta degrees of freedom (0 as numpy and JAX; 1 as PyTorch)."""
    x = lift(x)
    d = x - mean(x, axis, keepdims=True)
    return sum(d * d, axis, keepdims) / (_count(x.shape, _axis(axis)) - ddof)


def _stop_max(x: Tensor, axis: Axis) -> Tensor:
    # NOTE: exp overflows past ~88 (float32) or ~709 (float64). Subtracting the max first keeps
    # every exponent <= 0. The shift is a constant: the results below do not depend on it, so no
    # gradient needs to flow through it (and an infinite max becomes 0 to avoid inf - inf = nan).
    m = np.max(x.data, axis=axis, keepdims=True)
    return Tensor(np.where(np.isfinite(m), m, 0).astype(x.dtype))


def logsumexp(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) along ``axis``, finite for |x| up to the dtype's range."""
    x = lift(x)
    axis = _axis(axis)
    m = _stop_max(x, axis)
    out = log(sum(exp(x - m), axis, keepdims=True)) + m
    return out if keepdims else reshape(out, np.sum(x.data, axis=axis).shape)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    x = lift(x)
    e = exp(x - _stop_max(x, axis))
    return e / sum(e, axis, keepdims=True)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    # NOTE: log(softmax(x)) is -inf once softmax underflows to 0; shifted - logsumexp is not.
    x = lift(x)
    z = x - _stop_max(x, axis)
    return z - log(sum(exp(z), axis, keepdims=True))


# ---- shapes --------------------------------------------------------------------------------
def reshape(x: Tensor, shape: Sequence[int] | int) -> Tensor:
    shape = (shape,) if isinstance(shape, int) else tuple(int(n) for n in shape)
    return P.reshape(x, shape=shape)


def transpose(x: Tensor, axes: Sequence[int] | None = None) -> Tensor:
    return P.transpose(x, axes=None if axes is None else tuple(int(a) for a in axes))


permute = transpose


def swapaxes(x: Tensor, a: int, b: int) -> Tensor:
    axes = list(range(lift(x).ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, axes)


def expand_dims(x: Tensor, axis: int) -> Tensor:
    x = lift(x)
    return reshape(x, np.expand_dims(x.data, axis).shape)


def squeeze(x: Tensor, axis: Axis = None) -> Tensor:
    x = lift(x)
    return reshape(x, np.squeeze(x.data, axis).shape)


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    x = lift(x)
    shape = tuple(int(n) for n in shape)
    try:
        np.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast {x.shape} to {shape}") from None
    return x if x.shape == shape else P.broadcast_to(x, shape=shape)


expand = broadcast_to


def sum_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """Sum ``x`` down to ``shape`` (the adjoint of broadcasting)."""
    return _sum_to(lift(x), tuple(shape))


def _plain_index(index: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]``: ints, slices, negative indices, integer arrays (repeats add up), masks."""
    x = lift(x)
    try:
        return P.getitem(x, index=_plain_index(index))
    except IndexError as e:
        raise IndexError(f"getitem: {e} (tensor shape {x.shape})") from None


def gather(x: Tensor, indices: Any, axis: int = 0) -> Tensor:
    """Pick slices of ``x`` along ``axis`` (numpy's ``take``): ``gather(table, ids)`` is an
    embedding lookup, and repeated ids add up in the gradient."""
    x = lift(x)
    idx = np.asarray(_plain_index(indices))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"gather: indices must be integers, got {idx.dtype}")
    n = x.shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = int(idx.max()) if idx.max() >= n else int(idx.min())
        raise IndexError(f"gather: index {bad} is out of range for axis {axis} of size {n}")
    return P.getitem(x, index=(slice(None),) * (axis % x.ndim) + (idx,))


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    if len(tensors) == 0:
        raise ValueError("concatenate: need at least one tensor")
    like = next((t.dtype for t in tensors if isinstance(t, Tensor)), None)
    ts = [lift(t, like) for t in tensors]
    shapes = [t.shape for t in ts]
    if len({len(s) for s in shapes}) != 1 or shapes[0] == ():
        raise ValueError(f"concatenate: tensors must have the same number (>= 1) of "
                         f"dimensions, got shapes {shapes}")
    ax = axis % len(shapes[0])
    if len({s[:ax] + s[ax + 1:] for s in shapes}) != 1:
        raise ValueError(f"concatenate: shapes {shapes} differ outside axis {axis}")
    if len(ts) == 1:  # nothing to join: no tape entry (tensors are never changed in place)
        return ts[0]
    return P.concatenate(*ts, axis=ax)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    ts = [lift(t) for t in tensors]
    if len({t.shape for t in ts}) > 1:
        raise ValueError(f"stack: all shapes must be equal, got {[t.shape for t in ts]}")
    return concatenate([expand_dims(t, axis) for t in ts], axis)


def split(x: Tensor, sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
    """Split into ``sections`` equal parts, or at the given indices (as numpy.split)."""
    x = lift(x)
    n = x.shape[axis]
    if isinstance(sections, int):
        if sections <= 0 or n % sections:
            raise ValueError(f"split: axis {axis} of size {n} does not divide into "
                             f"{sections} equal parts")
        cuts = list(range(0, n + 1, n // sections))
    else:
        cuts = [0, *sections, n]
    lead = (slice(None),) * (axis % x.ndim)
    return [getitem(x, lead + (slice(a, b),)) for a, b in zip(cuts[:-1], cuts[1:])]


def pad(x: Tensor, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding; ``pad_width`` as numpy.pad: an int, a pair, or one pair per axis."""
    x = lift(x)
    widths = tuple((int(a), int(b)) for a, b in np.broadcast_to(np.asarray(pad_width),
                                                                  (x.ndim, 2)))
    if builtins.min((w for pair in widths for w in pair), default=0) < 0:
        raise ValueError(f"pad: widths must be >= 0, got {widths}")
    return P.pad(x, widths=widths, value=value)


# ---- never differentiable ------------------------------------------------------------------
equal = nondifferentiable("equal", np.equal)
not_equal = nondifferentiable("not_equal", np.not_equal)
less = nondifferentiable("less", np.less)
less_equal = nondifferentiable("less_equal", np.less_equal)
greater = nondifferentiable("greater", np.greater)
greater_equal = nondifferentiable("greater_equal", np.greater_equal)
logical_and = nondifferentiable("logical_and", np.logical_and)
logical_or = nondifferentiable("logical_or", np.logical_or)
logical_not = nondifferentiable("logical_not", np.logical_not)
sign = nondifferentiable("sign", np.sign)
isfinite = nondifferentiable("isfinite", np.isfinite)
zeros_like = nondifferentiable("zeros_like", np.zeros_like)
ones_like = nondifferentiable("ones_like", np.ones_like)


def argmax(x: Tensor, axis: int | None = None) -> Tensor:
    return Tensor(np.asarray(np.argmax(lift(x).data, axis=axis)))
