"""The registry of primitives: forward on numpy arrays, backward (vjp) and forward-mode (jvp)
rules right below it.

Each rule reads ``(xp, g, ans, *inputs, **params)`` and returns one gradient per input. It is
written with operators, methods and ``xp.<name>`` calls that arrays and Tensors share, so the same
rule serves a fast backward on arrays and a recorded backward on Tensors (grad of grad). Gradients
are returned in the broadcast output shape; the engine sums them back to each input's shape
(autograd._fit). Each jvp rule reads ``(xp, tangents, ans, *inputs, **params)``, one tangent per
input (None where there is none; :func:`minigrad.forward.linear` skips those), and returns the
output's tangent, which the engine broadcasts to the output's shape (forward._fit).
Everything not here is composed from these in :mod:`minigrad.ops`.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from .autograd import sum_to
from .forward import linear
from .primitive import Primitive

# ---- elementwise, two inputs (numpy broadcasting) ------------------------------------------
add: Primitive = Primitive("add", np.add, broadcasts=True)
add.defvjp(lambda xp, g, ans, x, y: (g, g))
add.defjvp(lambda xp, t, ans, x, y: linear(t, lambda tx: tx, lambda ty: ty))

sub: Primitive = Primitive("sub", np.subtract, broadcasts=True)
sub.defvjp(lambda xp, g, ans, x, y: (g, -g))
sub.defjvp(lambda xp, t, ans, x, y: linear(t, lambda tx: tx, lambda ty: -ty))

mul: Primitive = Primitive("mul", np.multiply, broadcasts=True)
mul.defvjp(lambda xp, g, ans, x, y: (g * y, g * x))
mul.defjvp(lambda xp, t, ans, x, y: linear(t, lambda tx: tx * y, lambda ty: x * ty))

truediv: Primitive = Primitive("truediv", np.true_divide, broadcasts=True)
truediv.defvjp(lambda xp, g, ans, x, y: (g / y, -g * ans / y))
truediv.defjvp(lambda xp, t, ans, x, y: linear(t, lambda tx: tx / y, lambda ty: -ty * ans / y))

power: Primitive = Primitive("pow", np.power, broadcasts=True)


@power.defvjp
def _power_vjp(xp: Any, g: Any, ans: Any, x: Any, y: Any) -> tuple:
    # NOTE: d/dy x**y = x**y log x is real only for x > 0; elsewhere we give 0 (PyTorch does at 0).
    pos = x > 0
    return g * y * x ** (y - 1), xp.where(pos, g * ans * xp.log(xp.where(pos, x, 1)), 0)


@power.defjvp
def _power_jvp(xp: Any, t: tuple, ans: Any, x: Any, y: Any) -> Any:
    pos = x > 0
    return linear(t, lambda tx: tx * y * x ** (y - 1),
                  lambda ty: xp.where(pos, ty * ans * xp.log(xp.where(pos, x, 1)), 0))


def _tie_split(xp: Any, g: Any, win: Any, tie: Any) -> Any:
    """The gradient of max/min of two inputs: all of it to the winner, half each on a tie."""
    return xp.where(win, g, xp.where(tie, g * 0.5, 0))


maximum: Primitive = Primitive("maximum", np.maximum, broadcasts=True)
maximum.defvjp(lambda xp, g, ans, x, y: (_tie_split(xp, g, x > y, x == y),
                                         _tie_split(xp, g, y > x, x == y)))
maximum.defjvp(lambda xp, t, ans, x, y: linear(t, lambda tx: _tie_split(xp, tx, x > y, x == y),
                                                lambda ty: _tie_split(xp, ty, y > x, x == y)))

minimum: Primitive = Primitive("minimum", np.minimum, broadcasts=True)
minimum.defvjp(lambda xp, g, ans, x, y: (_tie_split(xp, g, x < y, x == y),
                                         _tie_split(xp, g, y < x, x == y)))
minimum.defjvp(lambda xp, t, ans, x, y: linear(t, lambda tx: _tie_split(xp, tx, x < y, x == y),
                                                lambda ty: _tie_split(xp, ty, y < x, x == y)))

where: Primitive = Primitive("where", np.where, broadcasts=True)
where.defvjp(lambda xp, g, ans, c, x, y: (None, xp.where(c, g, 0), xp.where(c, 0, g)))
where.defjvp(lambda xp, t, ans, c, x, y: linear(t, None, lambda tx: xp.where(c, tx, 0),
                                              lambda ty: xp.where(c, 0, ty)))

# ---- elementwise, one input ----------------------------------------------------------------
neg: Primitive = Primitive("neg", np.negative)
neg.defvjp(lambda xp, g, ans, x: -g)
neg.defjvp(lambda xp, t, ans, x: -t[0])

exp: Primitive = Primitive("exp", np.exp)
exp.defvjp(lambda xp, g, ans, x: g * ans)
exp.defjvp(lambda xp, t, ans, x: t[0] * ans)

log: Primitive = Primitive("log", np.log)
log.defvjp(lambda xp, g, ans, x: g / x)
log.defjvp(lambda xp, t, ans, x: t[0] / x)

sqrt: Primitive = Primitive("sqrt", np.sqrt)
sqrt.defvjp(lambda xp, g, ans, x: g / (ans * 2))
sqrt.defjvp(lambda xp, t, ans, x: t[0] / (ans * 2))

tanh: Primitive = Primitive("tanh", np.tanh)
tanh.defvjp(lambda xp, g, ans, x: g * (1 - ans * ans))
tanh.defjvp(lambda xp, t, ans, x: t[0] * (1 - ans * ans))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # NOTE: 1 / (1 + exp(-x)) overflows exp for x << 0. With z = exp(-|x|) <= 1 both branches
    # stay finite, so the value and the gradient s(1 - s) are finite at |x| = 1e4.
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


sigmoid: Primitive = Primitive("sigmoid", _sigmoid)
sigmoid.defvjp(lambda xp, g, ans, x: g * ans * (1 - ans))
sigmoid.defjvp(lambda xp, t, ans, x: t[0] * ans * (1 - ans))

relu: Primitive = Primitive("relu", lambda x: np.maximum(x, 0))
relu.defvjp(lambda xp, g, ans, x: xp.where(x > 0, g, 0))
relu.defjvp(lambda xp, t, ans, x: xp.where(x > 0, t[0], 0))

absolute: Primitive = Primitive("abs", np.abs)
absolute.defvjp(lambda xp, g, ans, x: g * xp.sign(x))
absolute.defjvp(lambda xp, t, ans, x: t[0] * xp.sign(x))

pow_scalar: Primitive = Primitive("pow_scalar", lambda x, p: np.power(x, p))
pow_scalar.defvjp(lambda xp, g, ans, x, p: g * p * x ** (p - 1))
pow_scalar.defjvp(lambda xp, t, ans, x, p: t[0] * p * x ** (p - 1))

clip: Primitive = Primitive("clip", lambda x, lo, hi: np.clip(x, lo, hi))


@clip.defvjp
def _clip_vjp(xp: Any, g: Any, ans: Any, x: Any, lo: float | None, hi: float | None) -> Any:
    if lo is not None:
        g = xp.where(x >= lo, g, 0)
    if hi is not None:
        g = xp.where(x <= hi, g, 0)
    return g


@clip.defjvp
def _clip_jvp(xp: Any, t: tuple, ans: Any, x: Any, lo: float | None, hi: float | None) -> Any:
    return _clip_vjp(xp, t[0], ans, x, lo, hi)  # a mask: its own transpose


def _astype(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return x.astype(dtype) if x.dtype != dtype else x.view()


astype: Primitive = Primitive("astype", _astype)
astype.defvjp(lambda xp, g, ans, x, dtype: g.astype(x.dtype))
astype.defjvp(lambda xp, t, ans, x, dtype: t[0].astype(dtype))

# ---- reductions ----------------------------------------------------------------------------


def kept_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """``shape`` with the reduced axes kept as size 1 (what keepdims=True gives)."""
    if axis is None:
        return (1,) * len(shape)
    axes = {a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


sum_: Primitive = Primitive(
    "sum", lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims))
sum_.defvjp(lambda xp, g, ans, x, axis, keepdims:
            xp.broadcast_to(g.reshape(kept_shape(x.shape, axis)), x.shape))
sum_.defjvp(lambda xp, t, ans, x, axis, keepdims: t[0].sum(axis=axis, keepdims=keepdims))

max_: Primitive = Primitive(
    "max", lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims))


@max_.defvjp
def _max_vjp(xp: Any, g: Any, ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    # Ties share the gradient equally (as JAX does), so the rule is symmetric in tied inputs.
    shape = kept_shape(x.shape, axis)
    hit = x == ans.reshape(shape)
    return xp.where(hit, g.reshape(shape) / hit.sum(axis=axis, keepdims=True), 0)


@max_.defjvp
def _max_jvp(xp: Any, t: tuple, ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    # the mean of the tangent over the tied maxima: the transpose of the vjp's equal share
    hit = x == ans.reshape(kept_shape(x.shape, axis))
    mean = xp.where(hit, t[0], 0).sum(axis=axis, keepdims=True) / hit.sum(axis=axis, keepdims=True)
    return mean.reshape(ans.shape)


# ---- linear algebra ------------------------------------------------------------------------


def _matmul(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes "
                         f"{x.shape} and {y.shape}")
    k1, k2 = x.shape[-1], y.shape[-2 if y.ndim > 1 else 0]
    if k1 != k2:
        raise ValueError(f"matmul: inner dimensions {k1} and {k2} differ "
                         f"(shapes {x.shape} and {y.shape})")
    try:
        return np.matmul(x, y)
    except ValueError:
        raise ValueError(f"matmul: batch shapes {x.shape[:-2]} and {y.shape[:-2]} do not "
                         "broadcast") from None


matmul: Primitive = Primitive("matmul", _matmul)


@matmul.defvjp
def _matmul_vjp(xp: Any, g: Any, ans: Any, x: Any, y: Any) -> tuple:
    if x.ndim == 1 and y.ndim == 1:
        return g * y, g * x
    if x.ndim == 1:  # (k,) @ (..., k, n): treat x as (1, k)
        g = g.reshape(g.shape[:-1] + (1, g.shape[-1]))
        gx = (g @ y.swapaxes(-1, -2)).reshape(g.shape[:-2] + (x.shape[0],))
        return gx, x.reshape((x.shape[0], 1)) @ g
    if y.ndim == 1:  # (..., m, k) @ (k,): treat y as (k, 1)
        g = g.reshape(g.shape + (1,))
        gy = (x.swapaxes(-1, -2) @ g).reshape(g.shape[:-2] + (y.shape[0],))
        return g @ y.reshape((1, y.shape[0])), gy
    return g @ y.swapaxes(-1, -2), x.swapaxes(-1, -2) @ g


matmul.defjvp(lambda xp, t, ans, x, y: linear(t, lambda tx: tx @ y, lambda ty: x @ ty))


# ---- shape and indexing --------------------------------------------------------------------
reshape: Primitive = Primitive("reshape", lambda x, shape: x.reshape(shape))
reshape.defvjp(lambda xp, g, ans, x, shape: g.reshape(x.shape))
reshape.defjvp(lambda xp, t, ans, x, shape: t[0].reshape(shape))

transpose: Primitive = Primitive("transpose", lambda x, axes: x.transpose(axes))
transpose.defvjp(lambda xp, g, ans, x, axes:
                 g.transpose(tuple(int(a) for a in np.argsort(axes))) if axes else g.transpose())
transpose.defjvp(lambda xp, t, ans, x, axes: t[0].transpose(axes) if axes else t[0].transpose())

broadcast_to: Primitive = Primitive("broadcast_to", lambda x, shape: np.broadcast_to(x, shape))
broadcast_to.defvjp(lambda xp, g, ans, x, shape: xp.sum_to(g, x.shape))
broadcast_to.defjvp(lambda xp, t, ans, x, shape: xp.broadcast_to(t[0], shape))

getitem: Primitive = Primitive("getitem", lambda x, index: x[index])
getitem.defvjp(lambda xp, g, ans, x, index: xp.index_add(g, index, x.shape))
getitem.defjvp(lambda xp, t, ans, x, index: t[0][index])


def _index_add(g: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, index, g)
    return out


index_add: Primitive = Primitive("index_add", _index_add)
index_add.defvjp(lambda xp, g, ans, src, index, shape: g[index])
index_add.defjvp(lambda xp, t, ans, src, index, shape: xp.index_add(t[0], index, shape))

concatenate: Primitive = Primitive("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis))


@concatenate.defvjp
def _concatenate_vjp(xp: Any, g: Any, ans: Any, *xs: Any, axis: int) -> tuple:
    axis = axis % ans.ndim
    ends = np.cumsum([x.shape[axis] for x in xs])
    lead = (slice(None),) * axis
    return tuple(g[lead + (slice(int(e - x.shape[axis]), int(e)),)] for x, e in zip(xs, ends))


concatenate.defjvp(lambda xp, t, ans, *xs, axis: xp.concatenate(
    [xp.zeros_like(x) if tx is None else tx for x, tx in zip(xs, t)], axis))


pad: Primitive = Primitive("pad", lambda x, widths, value: np.pad(x, widths, constant_values=value))
pad.defvjp(lambda xp, g, ans, x, widths, value:
           g[tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape, strict=True))])
pad.defjvp(lambda xp, t, ans, x, widths, value: xp.pad(t[0], widths, 0.0))


#: ``xp`` for the rules above run on arrays: numpy functions with the names and meanings of
#: minigrad.ops, which is ``xp`` when they run on Tensors.
array_ops = SimpleNamespace(
    exp=np.exp, log=np.log, where=np.where, sign=np.sign, zeros_like=np.zeros_like,
    broadcast_to=np.broadcast_to, sum_to=sum_to, index_add=_index_add,
)
