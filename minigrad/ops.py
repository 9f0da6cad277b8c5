"""The public operations, with PyTorch's names, argument names and meanings.

``mg.<name>`` mirrors ``torch.<name>``: ``sum(x, dim=1, keepdim=True)``, ``transpose(x, 0, 1)``
swaps two dims, ``split(x, [2, 4])`` cuts pieces of sizes 2 and 4, ``gather(x, dim, index)``,
``max(x, dim)`` returns ``(values, indices)``, ``var`` divides by ``N - 1``. numpy's spellings
remain only where they cannot mean something else: ``axis=``/``keepdims=`` as aliases of
``dim=``/``keepdim=``, ``concatenate``, ``expand_dims``, ``swapaxes``, ``clip``.

Every ``dim`` is checked and made non-negative here, at the boundary (:mod:`minigrad.dims`), so no
primitive or rule ever sees a negative dim. Composites never touch the tape themselves: each is a
few primitive calls, so its gradient (and its second derivative) comes from theirs. This module
is also the ``xp`` that vjp rules use when they run on Tensors (``create_graph=True``), so it
defines every ``xp.<name>`` the rules call.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from . import dims as D
from . import primitives as P
from .autograd import sum_to as _sum_to
from .creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    zeros,
    zeros_like,
)
from .dtypes import as_dtype
from .primitive import lift, nondifferentiable
from .tensor import DEFAULT_FLOAT, Tensor

__all__ = [
    # creation
    "zeros", "ones", "full", "arange", "linspace", "eye", "zeros_like", "ones_like", "full_like",
    "empty", "empty_like", "rand", "randn", "randint", "rand_like", "randn_like", "from_numpy",
    "as_tensor",
    # arithmetic and pointwise
    "add", "sub", "mul", "div", "true_divide", "truediv", "neg", "negative", "pow", "abs",
    "exp", "log", "log1p", "expm1", "log2", "sqrt", "rsqrt", "square", "reciprocal", "sin",
    "cos", "tan", "tanh", "sigmoid", "relu", "erf", "sign", "floor", "ceil", "round", "trunc",
    "clamp", "clip", "where", "maximum", "minimum", "lerp",
    # reductions
    "sum", "mean", "prod", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin",
    "logsumexp", "norm", "cumsum", "cumprod", "all", "any", "softmax", "log_softmax",
    # shapes
    "reshape", "view", "flatten", "unflatten", "squeeze", "unsqueeze", "expand_dims",
    "transpose", "swapaxes", "swapdims", "permute", "t", "movedim", "broadcast_to", "expand",
    "expand_as", "repeat", "tile", "flip", "roll", "cat", "concat", "concatenate", "stack",
    "split", "chunk", "narrow", "pad", "clone", "sum_to",
    # indexing
    "getitem", "gather", "scatter", "scatter_add", "index_select", "index_add", "masked_fill",
    "take_along_dim", "nonzero",
    # linear algebra
    "matmul", "mm", "bmm", "einsum", "outer", "dot",
    # dtypes, comparisons, logic
    "astype", "eq", "ne", "lt", "le", "gt", "ge", "equal", "not_equal", "less", "less_equal",
    "greater", "greater_equal", "logical_and", "logical_or", "logical_not", "isfinite",
    "isnan", "isinf", "allclose",
]


def _rank(x: Any) -> int:
    return lift(x).ndim


# ---- arithmetic and pointwise --------------------------------------------------------------
add = P.add
sub = P.sub
mul = P.mul
truediv = P.truediv
div = true_divide = P.truediv
neg = negative = P.neg
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
log1p = P.log1p
expm1 = P.expm1
sin = P.sin
cos = P.cos
tan = P.tan


def erf(input: Any) -> Tensor:
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``, to float64 rounding."""
    x = lift(input)
    if x.dtype.kind != "f":
        x = astype(x, DEFAULT_FLOAT)
    return P.erf(x)


def log2(input: Any) -> Tensor:
    return log(input) * (1 / math.log(2))


def rsqrt(input: Any) -> Tensor:
    """``1 / sqrt(x)``."""
    return 1 / sqrt(input)


def square(input: Any) -> Tensor:
    x = lift(input)
    return x * x


def reciprocal(input: Any) -> Tensor:
    return 1 / lift(input)


def pow(input: Any, exponent: Any) -> Tensor:
    """``input ** exponent``; a Python number as exponent is a constant (one cheap primitive).
    d/dx x**0 is 0 everywhere, x = 0 included."""
    if (isinstance(input, Tensor) and isinstance(exponent, int | float)
            and not isinstance(exponent, bool)):
        return P.pow_scalar(input, p=exponent)
    return P.power(input, exponent)


def _bound(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, Tensor):  # 0-d and constant here: clamp takes the others apart
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"clamp: {name} must be a number, got {type(value).__name__}")
    return value  # type: ignore[return-value]


def _tensor_bound(value: Any) -> bool:
    return isinstance(value, Tensor) and (value.ndim > 0 or value.requires_grad)


def clamp(input: Any, min: Any = None, max: Any = None) -> Tensor:
    """Limit values to [min, max]; the gradient passes where min <= x <= max (bounds included,
    as in PyTorch). A bound may be a tensor (broadcast with ``input``); it receives the gradient
    where it is the result: ``min`` where x < min, ``max`` where the result is ``max``."""
    if _tensor_bound(min) or _tensor_bound(max):
        # PyTorch's order, min(max(x, lo), hi): with lo > hi the result is hi
        out = lift(input)
        if min is not None:
            out = where(out < min, min, out)
        if max is not None:
            out = where(out > max, max, out)
        return out
    lo, hi = _bound(min, "min"), _bound(max, "max")
    if lo is None and hi is None:
        raise ValueError("clamp: give min, max or both")
    return P.clip(input, lo=lo, hi=hi)


def clip(input: Any, min: Any = None, max: Any = None) -> Tensor:
    """numpy's and PyTorch's other name for :func:`clamp`."""
    return clamp(input, min, max)


def lerp(input: Any, end: Any, weight: Any) -> Tensor:
    """``input + weight * (end - input)``."""
    x = lift(input)
    return x + weight * (end - x)


def astype(x: Any, dtype: Any) -> Tensor:
    """``x`` converted to ``dtype``. Between floats the gradient flows (cast back); to an integer
    or bool dtype the result never requires grad (it has no gradient, as in PyTorch)."""
    x = lift(x)
    dt = as_dtype(dtype, "to")
    if dt == x.dtype:
        return x
    if dt.kind != "f" or x.dtype.kind != "f":
        return Tensor._make(x.data.astype(dt), None)
    return P.astype(x, dtype=dt)


def _as_dtype(x: Tensor, dtype: Any, op: str) -> Tensor:
    """``x`` converted to a float ``dtype`` first (the ``dtype=`` of softmax and log_softmax)."""
    if dtype is None:
        return x
    dt = as_dtype(dtype, op)
    if dt.kind != "f":
        raise TypeError(f"{op}: dtype must be a float dtype, got {dt}")
    return astype(x, dt)


def clone(input: Any) -> Tensor:
    """A copy with its own memory; the gradient passes through unchanged."""
    return P.clone(lift(input))


def _rounding(name: str, fn: Any) -> Any:
    def op(input: Any) -> Tensor:
        x = lift(input)
        return Tensor._make(np.asarray(fn(x.data)), None)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = (f"``{name}``, elementwise. Its derivative is 0 wherever it exists, so the result "
                  "does not require grad.")
    return op


floor = _rounding("floor", np.floor)
ceil = _rounding("ceil", np.ceil)
trunc = _rounding("trunc", np.trunc)


def round(input: Any, decimals: int = 0) -> Tensor:
    """Round half to even (as PyTorch and numpy), to ``decimals`` places; no gradient."""
    x = lift(input)
    return Tensor._make(np.asarray(np.round(x.data, D.as_int(decimals, "round", "decimals"))),
                        None)


# ---- reductions ----------------------------------------------------------------------------
def _dim_args(op: str, x: Tensor, dim: Any, keepdim: bool | None, axis: Any,
              keepdims: bool | None) -> tuple[tuple[int, ...] | None, bool]:
    """``dim``/``keepdim`` with numpy's ``axis``/``keepdims`` as aliases, normalised."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: give dim or its alias axis, not both")
        dim = axis
    if keepdims is not None:
        if keepdim is not None:
            raise TypeError(f"{op}: give keepdim or its alias keepdims, not both")
        keepdim = keepdims
    return D.dims(dim, x.ndim, op), builtins.bool(keepdim)


def _one_dim(op: str, x: Tensor, dim: Any) -> int:
    if isinstance(dim, Sequence) and not isinstance(dim, str):
        raise TypeError(f"{op}: dim must be a single int, got {dim!r}")
    return D.dim(dim, x.ndim, op)


def _sliceable_dim(op: str, x: Tensor, dim: Any) -> int:
    """A dim to cut along: the tensor needs at least one dim."""
    if x.ndim == 0:
        raise ValueError(f"{op}: expects a tensor with at least one dim, got a 0-d tensor")
    return _one_dim(op, x, dim)


def _axis_param(dims: tuple[int, ...] | None) -> Any:
    return dims[0] if dims is not None and len(dims) == 1 else dims


def sum(input: Any, dim: Any = None, keepdim: bool | None = None, *, dtype: Any = None,
        axis: Any = None, keepdims: bool | None = None) -> Tensor:
    """Sum over ``dim`` (an int, a tuple, or None for every dim)."""
    x = lift(input)
    if dtype is not None:
        x = astype(x, dtype)
    d, k = _dim_args("sum", x, dim, keepdim, axis, keepdims)
    return P.sum_(x, axis=d, keepdims=k)


def _count(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> int:
    """How many elements each result of a reduction over ``axis`` combines."""
    return math.prod(n for i, n in enumerate(shape) if axis is None or i in axis)


def _divide(total: Tensor, n: float) -> Tensor:
    # 0 / 0 is nan in PyTorch (no warning): multiply by a nan constant instead of dividing by 0
    return total / n if n > 0 else total * np.asarray(np.nan, dtype=total.dtype)


def _float_only(op: str, x: Tensor) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got {x.dtype} (convert it first, "
                        "e.g. x.float())")


def mean(input: Any, dim: Any = None, keepdim: bool | None = None, *, dtype: Any = None,
         axis: Any = None, keepdims: bool | None = None) -> Tensor:
    x = lift(input)
    if dtype is not None:
        x = astype(x, dtype)
    _float_only("mean", x)
    d, k = _dim_args("mean", x, dim, keepdim, axis, keepdims)
    return _divide(P.sum_(x, axis=d, keepdims=k), _count(x.shape, d))


def prod(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Product over one ``dim`` (or every element); the gradient is exact where elements are 0."""
    x = lift(input)
    if dtype is not None:
        x = astype(x, dtype)
    if dim is None:
        return P.prod(x, axis=None, keepdims=False)
    d = _one_dim("prod", x, dim)
    if x.ndim == 0:
        return x
    return P.prod(x, axis=d, keepdims=builtins.bool(keepdim))


def var(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool | None = None,
        *, correction: float | None = None, axis: Any = None,
        keepdims: bool | None = None) -> Tensor:
    """``sum((x - mean)^2) / (N - correction)`` with ``correction=1`` by default (Bessel's
    correction, as in PyTorch; numpy's default is 0). ``unbiased=False`` means correction 0."""
    x = lift(input)
    _float_only("var", x)
    if unbiased is not None:
        if correction is not None:
            raise TypeError("var: give correction or unbiased, not both")
        correction = 1 if unbiased else 0
    c = 1 if correction is None else correction
    d, k = _dim_args("var", x, dim, keepdim, axis, keepdims)
    dev = x - P.sum_(x, axis=d, keepdims=True) * (1 / builtins.max(_count(x.shape, d), 1))
    return _divide(P.sum_(dev * dev, axis=d, keepdims=k), _count(x.shape, d) - c)


def std(input: Any, dim: Any = None, unbiased: bool | None = None, keepdim: bool | None = None,
        *, correction: float | None = None, axis: Any = None,
        keepdims: bool | None = None) -> Tensor:
    """``sqrt(var)``, with the same ``correction=1`` default."""
    return sqrt(var(input, dim, unbiased, keepdim, correction=correction, axis=axis,
                    keepdims=keepdims))


def amax(input: Any, dim: Any = (), keepdim: bool | None = None, *, axis: Any = None,
         keepdims: bool | None = None) -> Tensor:
    """Largest value over ``dim`` (every dim by default); tied maxima share the gradient
    equally, as in PyTorch."""
    x = lift(input)
    d, k = _dim_args("amax", x, dim, keepdim, axis, keepdims)
    if x.size == 0 and (d is None or builtins.any(x.shape[i] == 0 for i in d)):
        raise ValueError(f"amax: cannot reduce a tensor of shape {x.shape} with a size-0 dim "
                         "(no identity for max)")
    return P.max_(x, axis=d, keepdims=k)


def amin(input: Any, dim: Any = (), keepdim: bool | None = None, *, axis: Any = None,
         keepdims: bool | None = None) -> Tensor:
    """Smallest value over ``dim`` (every dim by default); ties share the gradient equally."""
    return neg(amax(neg(input), dim, keepdim, axis=axis, keepdims=keepdims))


class MaxMin(NamedTuple):
    """What ``max``/``min`` with a ``dim`` return (PyTorch's ``torch.return_types.max``)."""

    values: Tensor
    indices: Tensor


def _max_min(op: str, x: Any, dim: Any, keepdim: builtins.bool, axis: Any,
             keepdims: builtins.bool | None, pick: Any) -> Any:
    x = lift(x)
    if dim is None and axis is None:
        if x.size == 0:
            raise ValueError(f"{op}: the tensor is empty (no identity for {op})")
        return amax(x) if op == "max" else amin(x)
    d = _one_dim(op, x, axis if dim is None else dim)
    keep = builtins.bool(keepdim if keepdims is None else keepdims)
    if x.ndim == 0:
        return MaxMin(x, Tensor(np.zeros((), np.int64)))
    if x.shape[d] == 0:
        raise ValueError(f"{op}: dim {d} of shape {x.shape} is empty")
    idx = np.expand_dims(pick(x.data, axis=d), d)
    values = take_along_dim(x, idx, d)
    if not keep:
        values = squeeze(values, d)
        idx = np.squeeze(idx, d)
    return MaxMin(values, Tensor(idx.astype(np.int64)))


def max(input: Any, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
        keepdims: builtins.bool | None = None) -> Any:
    """``max(x)``: the largest element (ties share the gradient). ``max(x, dim)``: the named
    pair ``(values, indices)`` along ``dim``, the gradient going to the element ``indices``
    names (the first of tied maxima). ``max(x, other)`` is :func:`maximum`."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    return _max_min("max", input, dim, keepdim, axis, keepdims, np.argmax)


def min(input: Any, dim: Any = None, keepdim: builtins.bool = False, *, axis: Any = None,
        keepdims: builtins.bool | None = None) -> Any:
    """As :func:`max`, for the smallest."""
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    return _max_min("min", input, dim, keepdim, axis, keepdims, np.argmin)


def _arg(op: str, fn: Any, input: Any, dim: Any, keepdim: builtins.bool,
         axis: Any = None) -> Tensor:
    x = lift(input)
    dim = axis if dim is None else dim
    if dim is None:
        if x.size == 0:
            raise ValueError(f"{op}: the tensor is empty")
        return Tensor(np.asarray(fn(x.data), dtype=np.int64))
    d = _one_dim(op, x, dim)
    if x.ndim == 0:
        return Tensor(np.zeros((), np.int64))
    if x.shape[d] == 0:
        raise ValueError(f"{op}: dim {d} of shape {x.shape} is empty")
    return Tensor(np.asarray(fn(x.data, axis=d, keepdims=keepdim), dtype=np.int64))


def argmax(input: Any, dim: Any = None, keepdim: builtins.bool = False, *,
           axis: Any = None) -> Tensor:
    """Index of the largest element (of the flattened tensor without ``dim``); the first of ties."""
    return _arg("argmax", np.argmax, input, dim, keepdim, axis)


def argmin(input: Any, dim: Any = None, keepdim: builtins.bool = False, *,
           axis: Any = None) -> Tensor:
    return _arg("argmin", np.argmin, input, dim, keepdim, axis)


def _stop_max(x: Tensor, axis: Any) -> Tensor:
    # NOTE: exp overflows past ~88 (float32) or ~709 (float64). Subtracting the max first keeps
    # every exponent <= 0. The shift is a constant: the results below do not depend on it, so no
    # gradient needs to flow through it (and an infinite max becomes 0 to avoid inf - inf = nan).
    m = np.max(x.data, axis=axis, keepdims=True)
    return Tensor(np.where(np.isfinite(m), m, 0).astype(x.dtype))


def logsumexp(input: Any, dim: Any = None, keepdim: builtins.bool | None = None, *,
              axis: Any = None, keepdims: builtins.bool | None = None) -> Tensor:
    """log(sum(exp(x))) over ``dim``, finite for |x| up to the dtype's range."""
    x = lift(input)
    d, k = _dim_args("logsumexp", x, dim, keepdim, axis, keepdims)
    if x.size == 0:
        return log(P.sum_(exp(x), axis=d, keepdims=k))
    m = _stop_max(x, d)
    out = log(P.sum_(exp(x - m), axis=d, keepdims=True)) + m
    return out if k else reshape(out, np.sum(x.data, axis=d).shape)


def _safe_norm2(s: Tensor) -> Tensor:
    # NOTE: d sqrt(s) / ds is inf at s = 0, and 0 * inf = nan reaches x. PyTorch defines the
    # gradient of the 2-norm at 0 as 0: take sqrt of 1 there (a constant branch) and select 0.
    zero = s.data == 0
    return where(zero, 0, sqrt(where(zero, 1, s)))


def norm(input: Any, p: Any = "fro", dim: Any = None, keepdim: builtins.bool = False, *,
         dtype: Any = None) -> Tensor:
    """The vector p-norm over ``dim`` (every element by default): ``p=2`` (or ``'fro'``), 1,
    ``inf``, ``-inf``, 0 (count of nonzeros) or any other number. The gradient of the 2-norm at
    the zero vector is 0, as in PyTorch."""
    x = lift(input)
    if dtype is not None:
        x = astype(x, dtype)
    _float_only("norm", x)
    d = D.dims(dim, x.ndim, "norm")
    keep = builtins.bool(keepdim)
    if p == "fro" or p == 2:
        return _safe_norm2(P.sum_(x * x, axis=d, keepdims=keep))
    if isinstance(p, str) or isinstance(p, bool) or not isinstance(p, int | float):
        raise ValueError(f"norm: p must be a number or 'fro', got {p!r}")
    if p == 1:
        return P.sum_(abs(x), axis=d, keepdims=keep)
    if p == math.inf:
        return amax(abs(x), d, keep)
    if p == -math.inf:
        return amin(abs(x), d, keep)
    if p == 0:
        return Tensor._make(np.asarray(np.sum(x.data != 0, axis=d, keepdims=keep),
                                       dtype=x.dtype), None)
    return pow(P.sum_(pow(abs(x), p), axis=d, keepdims=keep), 1 / p)


def cumsum(input: Any, dim: Any, *, dtype: Any = None) -> Tensor:
    x = lift(input)
    if dtype is not None:
        x = astype(x, dtype)
    d = _one_dim("cumsum", x, dim)
    return P.cumsum(x, axis=d) if x.ndim else clone(x)


def cumprod(input: Any, dim: Any, *, dtype: Any = None) -> Tensor:
    """Running product along ``dim``; the gradient is exact where elements are 0 (it costs n^2
    memory in the length of ``dim``)."""
    x = lift(input)
    if dtype is not None:
        x = astype(x, dtype)
    d = _one_dim("cumprod", x, dim)
    return P.cumprod(x, axis=d) if x.ndim else clone(x)


def _logic_reduce(op: str, fn: Any, input: Any, dim: Any, keepdim: builtins.bool) -> Tensor:
    x = lift(input)
    d = D.dims(dim, x.ndim, op)
    return Tensor._make(np.asarray(fn(x.data, axis=d, keepdims=keepdim)), None)


def all(input: Any, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
    """True where every element over ``dim`` is nonzero; no gradient."""
    return _logic_reduce("all", np.all, input, dim, keepdim)


def any(input: Any, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
    """True where some element over ``dim`` is nonzero; no gradient."""
    return _logic_reduce("any", np.any, input, dim, keepdim)


def softmax(input: Any, dim: Any = -1, *, axis: Any = None, dtype: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``, shifted by the max so nothing overflows;
    ``dtype=`` converts the input first, as in PyTorch."""
    x = _as_dtype(lift(input), dtype, "softmax")
    d = _one_dim("softmax", x, dim if axis is None else axis) if x.ndim else None
    if x.size == 0:  # as numpy and PyTorch: the empty result
        return clone(x)
    e = exp(x - _stop_max(x, d))
    return e / P.sum_(e, axis=d, keepdims=True)


def log_softmax(input: Any, dim: Any = -1, *, axis: Any = None, dtype: Any = None) -> Tensor:
    # NOTE: log(softmax(x)) is -inf once softmax underflows to 0; shifted - logsumexp is not.
    x = _as_dtype(lift(input), dtype, "log_softmax")
    d = _one_dim("log_softmax", x, dim if axis is None else axis) if x.ndim else None
    if x.size == 0:
        return clone(x)
    z = x - _stop_max(x, d)
    return z - log(P.sum_(exp(z), axis=d, keepdims=True))


# ---- shapes --------------------------------------------------------------------------------
def _positional_or_keyword(given: tuple[Any, ...], keyword: Any, op: str, name: str
                           ) -> tuple[Any, ...]:
    """The sizes of ``op(x, *given)`` or ``op(x, name=keyword)``, not both."""
    if keyword is None:
        return given
    if given:
        raise TypeError(f"{op}: got {name} both as positional arguments {given} and as "
                        f"{name}={keyword!r}")
    return (keyword,)


def reshape(input: Any, *sizes: Any, shape: Any = None) -> Tensor:
    """The same elements in a new shape (one size may be -1: inferred): ``reshape(x, (2, 3))``,
    ``reshape(x, 2, 3)`` or PyTorch's keyword ``reshape(x, shape=(2, 3))``."""
    x = lift(input)
    new = D.shape_arg(_positional_or_keyword(sizes, shape, "reshape", "shape"), "reshape")
    if new == x.shape:
        return x
    try:
        return P.reshape(x, shape=new)  # numpy infers a -1 and checks the element count
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} "
                         f"elements) into shape {new}") from None


view = reshape


def flatten(input: Any, start_dim: Any = 0, end_dim: Any = -1) -> Tensor:
    """Merge dims ``start_dim .. end_dim`` (inclusive) into one; a 0-d tensor becomes (1,)."""
    x = lift(input)
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = D.dim(start_dim, x.ndim, "flatten", what="start_dim"), \
        D.dim(end_dim, x.ndim, "flatten", what="end_dim")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


def unflatten(input: Any, dim: Any, sizes: Sequence[int]) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one may be -1)."""
    x = lift(input)
    d = _one_dim("unflatten", x, dim)
    sizes = D.shape_arg((sizes,), "unflatten")
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


def squeeze(input: Any, dim: Any = None, *, axis: Any = None) -> Tensor:
    """Drop size-1 dims (only those in ``dim`` when given; others named there are kept, as in
    PyTorch)."""
    x = lift(input)
    d = D.dims(dim if axis is None else axis, x.ndim, "squeeze")
    drop = {i for i, n in enumerate(x.shape) if n == 1 and (d is None or i in d)}
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in drop))


def unsqueeze(input: Any, dim: Any) -> Tensor:
    """Insert a size-1 dim at ``dim`` (in ``[-rank - 1, rank]``)."""
    x = lift(input)
    d = D.dim(dim, x.ndim, "unsqueeze", extra=1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def expand_dims(input: Any, axis: Any) -> Tensor:
    """numpy's name for :func:`unsqueeze`."""
    return unsqueeze(input, axis)


def permute(input: Any, *order: Any, dims: Any = None) -> Tensor:
    """Reorder the dims: result dim i is input dim ``dims[i]`` (negative dims allowed), given
    as ``permute(x, (1, 0))``, ``permute(x, 1, 0)`` or ``permute(x, dims=(1, 0))``."""
    x = lift(input)
    raw = D.shape_arg(_positional_or_keyword(order, dims, "permute", "dims"), "permute")
    if len(raw) != x.ndim:
        raise ValueError(f"permute: dims {raw} must name each of the {x.ndim} dims once")
    perm = D.dims(raw, x.ndim, "permute") or ()
    if perm == tuple(range(x.ndim)):
        return x
    return P.transpose(x, axes=perm)


def transpose(input: Any, dim0: Any, dim1: Any = None) -> Tensor:
    """Swap dims ``dim0`` and ``dim1`` (PyTorch's meaning; for numpy's whole permutation use
    :func:`permute`)."""
    x = lift(input)
    if isinstance(dim0, Sequence) or dim1 is None:
        raise TypeError(f"transpose: takes two dims to swap, got {dim0!r}; to reorder every "
                        "dim use permute(x, dims)")
    a = D.dim(dim0, x.ndim, "transpose", what="dim0")
    b = D.dim(dim1, x.ndim, "transpose", what="dim1")
    if x.ndim < 2 or a == b:
        return x
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return P.transpose(x, axes=tuple(perm))


swapaxes = swapdims = transpose


def t(input: Any) -> Tensor:
    """The transpose of a matrix (a tensor of rank 0 or 1 is returned as is)."""
    x = lift(input)
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor of rank <= 2, got shape {x.shape}; use "
                         "transpose(x, dim0, dim1) or permute")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def movedim(input: Any, source: Any, destination: Any) -> Tensor:
    """Move dim(s) ``source`` to position(s) ``destination``; the others keep their order."""
    x = lift(input)
    src = D.dims(source, x.ndim, "movedim", what="source") or ()
    dst = D.dims(destination, x.ndim, "movedim", what="destination") or ()
    if len(src) != len(dst):
        raise ValueError(f"movedim: {len(src)} source dims but {len(dst)} destinations")
    order = [i for i in range(x.ndim) if i not in src]
    for s, d in sorted(zip(dst, src)):
        order.insert(s, d)
    return permute(x, order)


def broadcast_to(input: Any, shape: Sequence[int]) -> Tensor:
    x = lift(input)
    shape = D.shape_arg((shape,), "broadcast_to")
    try:
        if np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast {x.shape} to {shape}") from None
    return x if x.shape == shape else P.broadcast_to(x, shape=shape)


def expand(input: Any, *sizes: Any) -> Tensor:
    """Broadcast to ``sizes``; -1 keeps a dim's size. New dims may only be added in front."""
    x = lift(input)
    sizes = D.shape_arg(sizes, "expand")
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: {len(sizes)} sizes for a tensor of rank {x.ndim} "
                         f"(shape {x.shape})")
    if builtins.any(n == -1 for n in sizes[:lead]):
        raise ValueError(f"expand: -1 is not allowed for the new leading dims in {sizes}")
    target = tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
    return broadcast_to(x, target)


def expand_as(input: Any, other: Any) -> Tensor:
    return expand(input, lift(other).shape)


def repeat(input: Any, *repeats: Any) -> Tensor:
    """Tile the tensor ``repeats[i]`` times along dim i (``Tensor.repeat``; numpy's ``tile``).
    There must be at least as many repeats as dims; extra ones add leading dims."""
    x = lift(input)
    reps = D.shape_arg(repeats, "repeat")
    if len(reps) < x.ndim:
        raise ValueError(f"repeat: {len(reps)} repeats for a tensor of rank {x.ndim}; give "
                         "one per dim (or more)")
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    # as (1, s0, 1, s1, ...) broadcast to (r0, s0, r1, s1, ...): one broadcast, one reshape
    inter = tuple(v for n in shape for v in (1, n))
    big = tuple(v for r, n in zip(reps, shape) for v in (r, n))
    return reshape(broadcast_to(reshape(x, inter), big),
                   tuple(r * n for r, n in zip(reps, shape)))


def tile(input: Any, dims: Sequence[int]) -> Tensor:
    """:func:`repeat` with missing leading repeats taken as 1."""
    x = lift(input)
    reps = D.shape_arg((dims,), "tile")
    return repeat(x, (1,) * (x.ndim - len(reps)) + reps)


def flip(input: Any, dims: Any) -> Tensor:
    """Reverse the order of elements along ``dims``."""
    x = lift(input)
    d = D.dims(dims, x.ndim, "flip") or ()
    if not d:
        return x
    return getitem(x, tuple(slice(None, None, -1) if i in d else slice(None)
                            for i in range(x.ndim)))


def roll(input: Any, shifts: Any, dims: Any = None) -> Tensor:
    """Shift elements along ``dims`` cyclically by ``shifts``; without dims, of the flattened
    tensor (then restored to its shape)."""
    x = lift(input)
    if dims is None:
        if isinstance(shifts, Sequence):
            raise ValueError("roll: several shifts need dims")
        return reshape(roll(reshape(x, (-1,)), shifts, 0), x.shape)
    sh = shifts if isinstance(shifts, Sequence) else (shifts,)
    ds = D.dims(dims, x.ndim, "roll") or ()
    if len(sh) != len(ds):
        raise ValueError(f"roll: {len(sh)} shifts but {len(ds)} dims")
    for s, d in zip(sh, ds):
        n = x.shape[d]
        if n:
            idx = np.roll(np.arange(n), D.as_int(s, "roll", "shift"))
            x = getitem(x, (slice(None),) * d + (idx,))
    return x


def _cat(op: str, tensors: Sequence[Any], dim: Any) -> Tensor:
    if isinstance(tensors, Tensor) or len(tensors) == 0:
        raise ValueError(f"{op}: expects a non-empty list of tensors")
    like = next((t.dtype for t in tensors if isinstance(t, Tensor)), None)
    ts = [lift(t, like) for t in tensors]
    shapes = [t.shape for t in ts]
    if len({len(s) for s in shapes}) != 1 or shapes[0] == ():
        raise ValueError(f"{op}: tensors must have the same number (>= 1) of dims, got shapes "
                         f"{shapes}")
    d = D.dim(dim, len(shapes[0]), op)
    if len({s[:d] + s[d + 1:] for s in shapes}) != 1:
        raise ValueError(f"{op}: shapes {shapes} differ outside dim {d}")
    if len(ts) == 1:  # nothing to join: no tape entry
        return ts[0]
    return P.concatenate(*ts, axis=d)


def cat(tensors: Sequence[Any], dim: Any = 0, *, axis: Any = None) -> Tensor:
    """Join tensors along an existing dim; their other dims must match."""
    return _cat("cat", tensors, dim if axis is None else axis)


def concatenate(tensors: Sequence[Any], axis: Any = 0, *, dim: Any = None) -> Tensor:
    """numpy's name for :func:`cat`."""
    return _cat("concatenate", tensors, axis if dim is None else dim)


def concat(tensors: Sequence[Any], dim: Any = 0, *, axis: Any = None) -> Tensor:
    """PyTorch's other name for :func:`cat`."""
    return _cat("concat", tensors, dim if axis is None else axis)


def stack(tensors: Sequence[Any], dim: Any = 0, *, axis: Any = None) -> Tensor:
    """Join same-shape tensors along a new dim."""
    if isinstance(tensors, Tensor) or len(tensors) == 0:
        raise ValueError("stack: expects a non-empty list of tensors")
    ts = [lift(t) for t in tensors]
    if len({t.shape for t in ts}) > 1:
        raise ValueError(f"stack: all shapes must be equal, got {[t.shape for t in ts]}")
    d = D.dim(dim if axis is None else axis, ts[0].ndim, "stack", extra=1)
    return cat([unsqueeze(t, d) for t in ts], d)


def _pieces(x: Tensor, d: int, sizes: Sequence[int]) -> tuple[Tensor, ...]:
    lead = (slice(None),) * d
    ends = np.cumsum([0, *sizes])
    return tuple(getitem(x, lead + (slice(int(a), int(b)),)) for a, b in zip(ends[:-1], ends[1:]))


def split(tensor: Any, split_size_or_sections: Any, dim: Any = 0) -> tuple[Tensor, ...]:
    """An int: pieces of that size (the last may be smaller). A list: pieces of those sizes,
    which must add up to the dim's size (PyTorch's meaning; numpy's takes cut indices)."""
    x = lift(tensor)
    d = _sliceable_dim("split", x, dim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, Sequence):
        sizes = [D.size(s, "split", "section size") for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} add up to {builtins.sum(sizes)}, but dim "
                             f"{d} has size {n}")
        return _pieces(x, d, sizes)
    size = D.size(split_size_or_sections, "split", "split_size")
    if size == 0:
        if n:
            raise ValueError(f"split: split_size 0 cannot cut dim {d} of size {n}")
        return (x,)
    return _pieces(x, d, [size] * (n // size) + ([n % size] if n % size else []))


def chunk(input: Any, chunks: int, dim: Any = 0) -> tuple[Tensor, ...]:
    """At most ``chunks`` pieces of size ceil(n / chunks) (the last may be smaller, and there
    may be fewer pieces), as in PyTorch."""
    x = lift(input)
    c = D.size(chunks, "chunk", "chunks")
    if c == 0:
        raise ValueError("chunk: chunks must be at least 1")
    d = _sliceable_dim("chunk", x, dim)
    n = x.shape[d]
    return split(x, builtins.max(-(-n // c), 1), d)


def narrow(input: Any, dim: Any, start: int, length: int) -> Tensor:
    """``length`` elements from ``start`` along ``dim`` (start may be negative)."""
    x = lift(input)
    d = _sliceable_dim("narrow", x, dim)
    n = x.shape[d]
    s = D.as_int(start, "narrow", "start")
    if not -n <= s <= n:
        raise IndexError(f"narrow: start {s} is out of range for dim {d} of size {n}")
    if s < 0:
        s += n
    ln = D.size(length, "narrow", "length")
    if s + ln > n:
        raise ValueError(f"narrow: start {s} + length {ln} exceeds dim {d} of size {n}")
    return getitem(x, (slice(None),) * d + (slice(s, s + ln),))


def pad(input: Any, pad_width: Any, value: float = 0.0) -> Tensor:
    """Constant padding with one ``(before, after)`` pair per dim (numpy's full form only; for
    PyTorch's flat tuple, last dim first, use ``nn.functional.pad``)."""
    x = lift(input)
    w = np.asarray(pad_width)
    if w.shape != (x.ndim, 2):
        raise ValueError(f"pad: pad_width must hold one (before, after) pair per dim, shape "
                         f"({x.ndim}, 2), got shape {w.shape}; for PyTorch's flat pad tuple "
                         "use nn.functional.pad")
    widths = tuple((int(a), int(b)) for a, b in w)
    if builtins.min((v for pair in widths for v in pair), default=0) < 0:
        raise ValueError(f"pad: widths must be >= 0, got {widths}")
    return P.pad(x, widths=widths, value=value)


def sum_to(x: Any, shape: Sequence[int]) -> Tensor:
    """Sum ``x`` down to ``shape`` (the adjoint of broadcasting)."""
    return _sum_to(lift(x), tuple(shape))


# ---- indexing ------------------------------------------------------------------------------
def _plain_index(index: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def getitem(x: Any, index: Any) -> Tensor:
    """``x[index]``: ints, slices, negative indices, integer arrays (repeats add up), masks."""
    x = lift(x)
    try:
        return P.getitem(x, index=_plain_index(index))
    except IndexError as e:
        raise IndexError(f"getitem: {e} (tensor shape {x.shape})") from None


def index_add_at(src: Any, index: Any, shape: Sequence[int]) -> Tensor:
    """zeros(shape) with ``src`` added at ``index``; repeated indices add up (getitem's adjoint)."""
    return P.index_add(src, index=_plain_index(index), shape=tuple(shape))


def _index_array(op: str, index: Any, what: str = "index") -> np.ndarray:
    idx = np.asarray(_plain_index(index))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: {what} must hold integers (int64), got dtype {idx.dtype}")
    return idx


def _check_range(op: str, idx: np.ndarray, n: int, d: int, *, negative: bool = False) -> None:
    """Indices in ``[0, n)``, as PyTorch's gather, scatter and index ops require (numpy would
    wrap a negative one around); ``negative=True`` also admits ``[-n, 0)``."""
    low = -n if negative else 0
    if idx.size and (idx.min() < low or idx.max() >= n):
        bad = int(idx.max()) if idx.max() >= n else int(idx.min())
        raise IndexError(f"{op}: index {bad} is out of range for dim {d} of size {n}")


def _along(op: str, x: Tensor, d: int, idx: np.ndarray, *, check_sizes: bool = True) -> tuple:
    """The advanced index that picks ``x[..., idx[...], ...]`` along ``d`` (gather's meaning)."""
    if idx.ndim != builtins.max(x.ndim, 1) and not (x.ndim == 0 and idx.ndim == 0):
        raise ValueError(f"{op}: index must have the same rank as the input ({x.ndim}), got "
                         f"shape {idx.shape}")
    if x.ndim == 0:
        _check_range(op, idx, 1, 0)
        return ()
    if check_sizes:
        for i in range(x.ndim):
            if i != d and idx.shape[i] > x.shape[i]:
                raise ValueError(f"{op}: index shape {idx.shape} exceeds the input shape "
                                 f"{x.shape} at dim {i}")
    _check_range(op, idx, x.shape[d], d)
    grids = np.ix_(*(np.arange(n) for n in idx.shape)) if idx.ndim else ()
    return tuple(idx if i == d else grids[i] for i in range(x.ndim))


def gather(input: Any, dim: Any, index: Any) -> Tensor:
    """``out[i][j] = input[index[i][j]][j]`` for dim 0 (every dim alike): index has the input's
    rank, its size along the other dims at most the input's. Repeated indices add up in the
    gradient."""
    x = lift(input)
    d = D.dim(dim, x.ndim, "gather")
    idx = _index_array("gather", index)
    return getitem(x, _along("gather", x, d, idx))


def take_along_dim(input: Any, indices: Any, dim: Any = None) -> Tensor:
    """numpy's ``take_along_axis``: input and indices broadcast except along ``dim``; without
    ``dim`` both are flattened."""
    x = lift(input)
    idx = _index_array("take_along_dim", indices, "indices")
    if dim is None:
        flat = reshape(x, (-1,))
        idx = idx.reshape(-1)
        _check_range("take_along_dim", idx, flat.shape[0], 0)
        return getitem(flat, idx)
    d = D.dim(dim, x.ndim, "take_along_dim")
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_dim: indices must have the input's rank {x.ndim}, got "
                         f"shape {idx.shape}")
    # along a dim, a negative index counts from the end (numpy's take_along_axis; PyTorch too)
    n = x.shape[d] if x.ndim else 1
    _check_range("take_along_dim", idx, n, d, negative=True)
    idx = np.where(idx < 0, idx + n, idx)
    if x.ndim == 0:
        return gather(x, 0, idx)
    try:
        common = np.broadcast_shapes(x.shape[:d] + (1,) + x.shape[d + 1:],
                                     idx.shape[:d] + (1,) + idx.shape[d + 1:])
    except ValueError:
        raise ValueError(f"take_along_dim: input shape {x.shape} and indices shape "
                         f"{idx.shape} do not broadcast outside dim {d}") from None
    x = broadcast_to(x, common[:d] + (x.shape[d],) + common[d + 1:])
    idx = np.broadcast_to(idx, common[:d] + (idx.shape[d],) + common[d + 1:])
    return gather(x, d, idx)


def _scatter_parts(op: str, x: Tensor, dim: Any, index: Any, src: Any) -> tuple:
    d = D.dim(dim, x.ndim, op)
    idx = _index_array(op, index)
    adv = _along(op, x, d, idx)
    if isinstance(src, Tensor | np.ndarray | list):
        s = lift(src, x.dtype) if not isinstance(src, Tensor) else src
        if s.ndim != idx.ndim or builtins.any(a > b for a, b in zip(idx.shape, s.shape)):
            raise ValueError(f"{op}: src shape {s.shape} must have the index's rank and be at "
                             f"least as large as index shape {idx.shape}")
        s = getitem(s, tuple(slice(0, n) for n in idx.shape)) if s.shape != idx.shape else s
    else:
        s = broadcast_to(lift(src, x.dtype), idx.shape)
    return d, idx, adv, s


def scatter(input: Any, dim: Any, index: Any, src: Any = None, *, value: Any = None) -> Tensor:
    """``input`` with ``out[index[i][j]][j] = src[i][j]`` (dim 0; every dim alike); ``src`` may
    be a number (or give ``value=``). Where an index repeats, which value wins is unspecified in
    PyTorch; here the values add up, so keep indices unique along ``dim``."""
    x = lift(input)
    if (src is None) == (value is None):
        raise TypeError("scatter: give src or value")
    _, _, adv, s = _scatter_parts("scatter", x, dim, index, value if src is None else src)
    hit = np.zeros(x.shape, dtype=bool)
    hit[adv] = True
    return where(hit, index_add_at(s, adv, x.shape), x)


def scatter_add(input: Any, dim: Any, index: Any, src: Any) -> Tensor:
    """``input`` with ``src[i][j]`` added at ``out[index[i][j]][j]`` (dim 0); repeats add up."""
    x = lift(input)
    _, _, adv, s = _scatter_parts("scatter_add", x, dim, index, src)
    return x + index_add_at(s, adv, x.shape)


def index_select(input: Any, dim: Any, index: Any) -> Tensor:
    """The slices at positions ``index`` (1-D) along ``dim``."""
    x = lift(input)
    d = D.dim(dim, x.ndim, "index_select")
    idx = _index_array("index_select", index)
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 1-D, got shape {idx.shape}")
    if x.ndim == 0:
        _check_range("index_select", idx, 1, 0)
        return reshape(x, (1,)) if idx.ndim else x
    _check_range("index_select", idx, x.shape[d], d)
    return getitem(x, (slice(None),) * d + (idx.reshape(-1),))


def index_add(input: Any, dim: Any, index: Any, source: Any, *, alpha: float = 1) -> Tensor:
    """``input`` with ``alpha * source`` slices added at positions ``index`` along ``dim``."""
    x = lift(input)
    d = D.dim(dim, x.ndim, "index_add")
    idx = _index_array("index_add", index)
    if idx.ndim != 1:
        raise ValueError(f"index_add: index must be 1-D, got shape {idx.shape}")
    _check_range("index_add", idx, x.shape[d], d)
    s = lift(source, x.dtype)
    want = x.shape[:d] + (idx.shape[0],) + x.shape[d + 1:]
    if s.shape != want:
        raise ValueError(f"index_add: source shape {s.shape} must be {want}")
    return x + index_add_at(s * alpha, (slice(None),) * d + (idx,), x.shape)


def masked_fill(input: Any, mask: Any, value: Any) -> Tensor:
    """``value`` where ``mask`` (bool, broadcast to the input) is True, the input elsewhere."""
    x = lift(input)
    m = np.asarray(_plain_index(mask))
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be bool, got dtype {m.dtype}")
    try:
        if np.broadcast_shapes(m.shape, x.shape) != x.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"masked_fill: mask shape {m.shape} does not broadcast to the input "
                         f"shape {x.shape}") from None
    if isinstance(value, Tensor) and value.ndim:
        raise ValueError(f"masked_fill: value must be a number or 0-d tensor, got shape "
                         f"{value.shape}")
    return where(m, lift(value, x.dtype) if not isinstance(value, Tensor) else value, x)


def nonzero(input: Any, *, as_tuple: builtins.bool = False) -> Any:
    """Indices of the nonzero elements: an (n, rank) int64 tensor, or one 1-D tensor per dim
    with ``as_tuple=True``. No gradient."""
    x = lift(input)
    found = np.nonzero(np.atleast_1d(x.data))
    if as_tuple:
        return tuple(Tensor(i.astype(np.int64)) for i in found)
    return Tensor(np.stack(found, axis=1).astype(np.int64).reshape(-1, builtins.max(x.ndim, 1))
                  if x.ndim else np.stack(found, axis=1).astype(np.int64)[:, :0])


# ---- linear algebra ------------------------------------------------------------------------
def mm(input: Any, mat2: Any) -> Tensor:
    """Matrix product of two 2-D tensors."""
    a, b = lift(input), lift(mat2)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expects two 2-D tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def bmm(input: Any, mat2: Any) -> Tensor:
    """Batched matrix product of (b, n, m) and (b, m, p) tensors (no broadcasting)."""
    a, b = lift(input), lift(mat2)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: expects 3-D tensors with the same batch size, got shapes "
                         f"{a.shape} and {b.shape}")
    return matmul(a, b)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, as ``torch.einsum`` (``einsum('bij,bjk->bik', a, b)``; implicit
    output and ``...`` supported; a repeated index within one operand is not)."""
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    ts = [lift(o) for o in operands]
    ins, out = P.parse_einsum(equation, [t.ndim for t in ts])
    eq = ",".join(ins) + "->" + out
    try:
        np.einsum(eq, *(np.empty(t.shape, np.int8) for t in ts))
    except ValueError as e:
        raise ValueError(f"einsum: {equation!r} does not fit shapes "
                         f"{[t.shape for t in ts]}: {e}") from None
    return P.einsum(*ts, equation=eq)


def outer(input: Any, vec2: Any) -> Tensor:
    """``out[i, j] = input[i] * vec2[j]`` for 1-D tensors."""
    a, b = lift(input), lift(vec2)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: expects two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


def dot(input: Any, other: Any) -> Tensor:
    """The inner product of two 1-D tensors of the same length."""
    a, b = lift(input), lift(other)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"dot: expects two 1-D tensors of the same size, got shapes {a.shape} "
                         f"and {b.shape}")
    return matmul(a, b)


# ---- never differentiable ------------------------------------------------------------------
eq = nondifferentiable("eq", np.equal)
ne = nondifferentiable("ne", np.not_equal)
lt = nondifferentiable("lt", np.less)
le = nondifferentiable("le", np.less_equal)
gt = nondifferentiable("gt", np.greater)
ge = nondifferentiable("ge", np.greater_equal)
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
isnan = nondifferentiable("isnan", np.isnan)
isinf = nondifferentiable("isinf", np.isinf)


def equal(input: Any, other: Any) -> builtins.bool:
    """True when both have the same shape and elements (PyTorch's meaning: one Python bool;
    the elementwise comparison is :func:`eq`)."""
    a, b = lift(input), lift(other)
    return a.shape == b.shape and builtins.bool(np.array_equal(a.data, b.data))


def allclose(input: Any, other: Any, rtol: float = 1e-5, atol: float = 1e-8,
             equal_nan: builtins.bool = False) -> builtins.bool:
    return builtins.bool(np.allclose(lift(input).data, lift(other).data, rtol, atol, equal_nan))
