"""The registry of primitives: forward on numpy arrays, backward (vjp) and forward-mode (jvp)
rules right below it, in the one contract of :mod:`minigrad.primitive`. (The fused recurrent
layers are primitives too, made in :mod:`rnn.fused_ops` around their kernels.)

Each rule reads ``(xp, g, ans, *inputs, **params)`` and returns one gradient per input. It is
written with operators, methods and ``xp.<name>`` calls that arrays and Tensors share, so the same
rule serves a fast backward on arrays and a recorded backward on Tensors (grad of grad). Gradients
are returned in the broadcast output shape; the engine sums them back to each input's shape
(autograd._fit). Each jvp rule reads ``(xp, tangents, ans, *inputs, **params)``, one tangent per
input (None where there is none; :func:`minigrad.forward.linear` skips those), and returns the
output's tangent, which the engine broadcasts to the output's shape (primitive._fit_tangent).
Everything not here is composed from these in :mod:`minigrad.ops`.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np

from .autograd import sum_to
from .forward import linear
from .primitive import Primitive
from .tensor import DEFAULT_FLOAT

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

def _kind(v: Any) -> str:
    return v.dtype.kind if isinstance(v, np.ndarray | np.generic) else (
        "f" if isinstance(v, float) else "i")


def _true_divide(x: Any, y: Any) -> np.ndarray:
    """``x / y``. NOTE: integers (and bools) divide into the default float, float32, as in
    PyTorch; numpy's ``true_divide`` would give float64."""
    if _kind(x) in "biu" and _kind(y) in "biu":
        return np.true_divide(x, y, dtype=DEFAULT_FLOAT)
    return np.true_divide(x, y)


truediv: Primitive = Primitive("truediv", _true_divide, broadcasts=True)
truediv.defvjp(lambda xp, g, ans, x, y: (g / y, -g * ans / y))
truediv.defjvp(lambda xp, t, ans, x, y: linear(t, lambda tx: tx / y, lambda ty: -ty * ans / y))

power: Primitive = Primitive("pow", np.power, broadcasts=True)


@power.defvjp
def _power_vjp(xp: Any, g: Any, ans: Any, x: Any, y: Any) -> tuple:
    # NOTE: d/dx x**y = y x**(y-1) is 0 * 0**-1 = nan at x = 0, y = 0, where the limit is 0
    # (x**0 is 1 everywhere). There, the exponent y - 1 is replaced by 1 so that no inf appears
    # even in the branch that where() drops (its derivative would be 0 * inf = nan). Only that
    # point is masked: elsewhere y x**(y-1) keeps its derivative in y (1/x at y = 0).
    at0 = (y == 0) & (x == 0)
    gx = g * xp.where(at0, 0, y * x ** xp.where(at0, 1, y - 1))
    # NOTE: d/dy x**y = x**y log x is real only for x > 0; elsewhere we give 0 (PyTorch does at 0).
    pos = x > 0
    return gx, xp.where(pos, g * ans * xp.log(xp.where(pos, x, 1)), 0)


@power.defjvp
def _power_jvp(xp: Any, t: tuple, ans: Any, x: Any, y: Any) -> Any:
    at0 = (y == 0) & (x == 0)  # the vjp's NOTE: the limit 0, no inf even in the dropped branch
    pos = x > 0
    return linear(t, lambda tx: tx * xp.where(at0, 0, y * x ** xp.where(at0, 1, y - 1)),
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
pow_scalar.defvjp(lambda xp, g, ans, x, p: g * 0 if p == 0 else g * p * x ** (p - 1))
pow_scalar.defjvp(lambda xp, t, ans, x, p: t[0] * 0 if p == 0 else t[0] * p * x ** (p - 1))

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
# ``axes`` is a full permutation of non-negative dims (ops.permute normalises it): its inverse is
# its argsort. A negative dim here would invert to the wrong permutation.
transpose.defvjp(lambda xp, g, ans, x, axes:
                 xp.permute(g, tuple(int(a) for a in np.argsort(axes))))
transpose.defjvp(lambda xp, t, ans, x, axes: xp.permute(t[0], axes))

broadcast_to: Primitive = Primitive("broadcast_to", lambda x, shape: np.broadcast_to(x, shape))
broadcast_to.defvjp(lambda xp, g, ans, x, shape: xp.sum_to(g, x.shape))
broadcast_to.defjvp(lambda xp, t, ans, x, shape: xp.broadcast_to(t[0], shape))

getitem: Primitive = Primitive("getitem", lambda x, index: x[index])
getitem.defvjp(lambda xp, g, ans, x, index: xp.index_add_at(g, index, x.shape))
getitem.defjvp(lambda xp, t, ans, x, index: t[0][index])


def _index_add(g: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, index, g)
    return out


index_add: Primitive = Primitive("index_add", _index_add)
index_add.defvjp(lambda xp, g, ans, src, index, shape: g[index])
index_add.defjvp(lambda xp, t, ans, src, index, shape: xp.index_add_at(t[0], index, shape))

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


# ---- added with the PyTorch op set: each jvp (forward mode) right below its vjp ------------
# A jvp rule reads ``(xp, tangents, ans, *inputs, **params)``, one tangent per input (None where
# an input carries none), and returns the output's tangent.
log1p: Primitive = Primitive("log1p", np.log1p)
log1p.defvjp(lambda xp, g, ans, x: g / (1 + x))
log1p.defjvp(lambda xp, t, ans, x: t[0] / (1 + x))

expm1: Primitive = Primitive("expm1", np.expm1)
expm1.defvjp(lambda xp, g, ans, x: g * (ans + 1))
expm1.defjvp(lambda xp, t, ans, x: t[0] * (ans + 1))

sin: Primitive = Primitive("sin", np.sin)
sin.defvjp(lambda xp, g, ans, x: g * xp.cos(x))
sin.defjvp(lambda xp, t, ans, x: t[0] * xp.cos(x))

cos: Primitive = Primitive("cos", np.cos)
cos.defvjp(lambda xp, g, ans, x: -g * xp.sin(x))
cos.defjvp(lambda xp, t, ans, x: -t[0] * xp.sin(x))

tan: Primitive = Primitive("tan", np.tan)
tan.defvjp(lambda xp, g, ans, x: g * (1 + ans * ans))
tan.defjvp(lambda xp, t, ans, x: t[0] * (1 + ans * ans))

_ERF = np.frompyfunc(math.erf, 1, 1)


def _erf(x: np.ndarray) -> np.ndarray:
    # NOTE: a short polynomial (Abramowitz-Stegun 7.1.26) is off by ~1e-7, far above float64
    # rounding; math.erf is accurate to an ulp or so, applied element by element (object
    # arrays: slow per element, but erf is rarely on a hot path).
    return np.asarray(_ERF(x.astype(np.float64)), dtype=np.float64).astype(x.dtype, copy=False)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
erf: Primitive = Primitive("erf", _erf)
erf.defvjp(lambda xp, g, ans, x: g * (_TWO_OVER_SQRT_PI * xp.exp(-(x * x))))
erf.defjvp(lambda xp, t, ans, x: t[0] * (_TWO_OVER_SQRT_PI * xp.exp(-(x * x))))

clone: Primitive = Primitive("clone", lambda x: np.array(x, copy=True))
clone.defvjp(lambda xp, g, ans, x: g)
clone.defjvp(lambda xp, t, ans, x: t[0])

cumsum: Primitive = Primitive("cumsum", lambda x, axis: np.cumsum(x, axis=axis))
# d(cumsum x)_k / dx_i = [i <= k]: the adjoint sums g from the end, a reversed cumsum.
cumsum.defvjp(lambda xp, g, ans, x, axis:
              xp.flip(xp.cumsum(xp.flip(g, (axis,)), axis), (axis,)))
cumsum.defjvp(lambda xp, t, ans, x, axis: xp.cumsum(t[0], axis))


def _prefix_products(xp: Any, x: Any, axis: int) -> Any:
    """``c[i, k] = prod(x[j] for j <= k if j != i)`` along ``axis``, moved last: shape (..., n, n).

    NOTE: the textbook rule ``d ans_k / d x_i = ans_k / x_i`` divides by zero wherever an x_i is
    0, and a zero is a common value. Building every product with x_i replaced by 1 costs n^2
    memory along the axis but has no division, so it is exact at zeros (and to every order).
    """
    n = x.shape[axis]
    row = xp.unsqueeze(xp.movedim(x, axis, -1), -2)  # (..., 1, n)
    return xp.cumprod(xp.where(np.eye(n, dtype=bool), 1, row), -1)


cumprod: Primitive = Primitive("cumprod", lambda x, axis: np.cumprod(x, axis=axis))


@cumprod.defvjp
def _cumprod_vjp(xp: Any, g: Any, ans: Any, x: Any, axis: int) -> Any:
    n = x.shape[axis]
    later = np.triu(np.ones((n, n), dtype=bool))  # [i, k]: k >= i
    c = xp.where(later, _prefix_products(xp, x, axis), 0)
    gi = (c * xp.unsqueeze(xp.movedim(g, axis, -1), -2)).sum(-1)
    return xp.movedim(gi, -1, axis)


@cumprod.defjvp
def _cumprod_jvp(xp: Any, t: Any, ans: Any, x: Any, axis: int) -> Any:
    n = x.shape[axis]
    later = np.triu(np.ones((n, n), dtype=bool))
    c = xp.where(later, _prefix_products(xp, x, axis), 0)
    out = (c * xp.unsqueeze(xp.movedim(t[0], axis, -1), -1)).sum(-2)
    return xp.movedim(out, -1, axis)


def _exclusive_products(xp: Any, x: Any, axis: int) -> Any:
    """The product of the elements before each one along ``axis`` (1 for the first)."""
    lead = (slice(None),) * axis
    ones = xp.ones_like(x[lead + (slice(0, 1),)])
    return xp.cumprod(xp.concatenate([ones, x[lead + (slice(0, x.shape[axis] - 1),)]], axis),
                      axis)


def _others_product(xp: Any, x: Any, axis: int) -> Any:
    """``prod(x[j] for j != i)`` along ``axis`` for every i: products before times after.

    NOTE: not ``prod / x_i``, which is 0 / 0 = nan at a zero; this is exact with zeros.
    """
    before = _exclusive_products(xp, x, axis)
    after = xp.flip(_exclusive_products(xp, xp.flip(x, (axis,)), axis), (axis,))
    return before * after


prod: Primitive = Primitive("prod", lambda x, axis, keepdims: np.prod(x, axis=axis,
                                                                       keepdims=keepdims))


@prod.defvjp
def _prod_vjp(xp: Any, g: Any, ans: Any, x: Any, axis: int | None, keepdims: bool) -> Any:
    if x.size == 0:
        return xp.zeros_like(x)
    g = g.reshape(kept_shape(x.shape, axis))
    if axis is None:
        return g * _others_product(xp, x.reshape((-1,)), 0).reshape(x.shape)
    return g * _others_product(xp, x, axis)


@prod.defjvp
def _prod_jvp(xp: Any, t: Any, ans: Any, x: Any, axis: int | None, keepdims: bool) -> Any:
    if x.size == 0:
        return xp.zeros_like(ans)
    if axis is None:
        return (t[0].reshape((-1,)) * _others_product(xp, x.reshape((-1,)), 0)).sum()
    return (t[0] * _others_product(xp, x, axis)).sum(axis=axis, keepdims=keepdims)


def parse_einsum(equation: str, ndims: list[int]) -> tuple[list[str], str]:
    """The input and output subscripts of ``equation`` (explicit form; ``...`` kept)."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(ndims):
        raise ValueError(f"einsum: the equation {equation!r} has {len(ins)} operands, "
                         f"got {len(ndims)} tensors")
    for sub, nd in zip(ins, ndims, strict=True):
        letters = sub.replace("...", "")
        if not letters.isalpha() and letters:
            raise ValueError(f"einsum: bad subscripts {sub!r} in {equation!r}")
        if len(set(letters)) != len(letters):
            raise ValueError(f"einsum: a repeated index within one operand ({sub!r}: a "
                             "diagonal or trace) is not supported; take the diagonal first")
        if ("..." not in sub and len(letters) != nd) or len(letters) > nd:
            raise ValueError(f"einsum: subscripts {sub!r} do not match an operand of rank {nd}")
    dots = any("..." in sub for sub in ins)
    if not arrow:
        counts = "".join(ins).replace(".", "")
        out = ("..." if dots else "") + "".join(sorted(c for c in set(counts)
                                                        if counts.count(c) == 1))
    elif dots and "..." not in out:
        raise ValueError(f"einsum: {equation!r} sums over '...' dims, which is not supported; "
                         "keep '...' in the output and sum afterwards")
    return ins, out


def _einsum(*xs: np.ndarray, equation: str) -> np.ndarray:
    return np.einsum(equation, *xs)


einsum: Primitive = Primitive("einsum", _einsum)


@einsum.defvjp
def _einsum_vjp(xp: Any, g: Any, ans: Any, *xs: Any, equation: str) -> tuple:
    # The gradient of operand i contracts g with every other operand onto i's subscripts. An
    # index that only operand i carries was summed away: its gradient is broadcast back.
    ins, out = parse_einsum(equation, [x.ndim for x in xs])
    grads = []
    for i, x in enumerate(xs):
        others = [out] + ins[:i] + ins[i + 1:]
        seen = "".join(others)
        target = "".join(c for c in ins[i].replace("...", ".") if c == "." or c in seen)
        target = target.replace(".", "...")
        summed_dots = "..." in seen and "..." not in target
        gi = xp.einsum(",".join(others) + "->" + ("..." if summed_dots else "") + target, g,
                       *xs[:i], *xs[i + 1:])
        if summed_dots:  # '...' dims this operand lacks were broadcast over: sum them away
            gi = gi.sum(tuple(range(gi.ndim - len(target))))
        if target != ins[i]:  # re-insert the summed-away indices as broadcast axes
            shape: list[int] = []
            full: list[int] = []
            k = j = 0  # positions in gi and in x
            n_gdots = gi.ndim - len(target.replace("...", ""))
            n_xdots = x.ndim - len(ins[i].replace("...", ""))
            for tok in ins[i].replace("...", "."):
                if tok == ".":
                    shape.extend(gi.shape[k:k + n_gdots])
                    full.extend(gi.shape[k:k + n_gdots])
                    k, j = k + n_gdots, j + n_xdots
                elif tok in seen:
                    shape.append(gi.shape[k])
                    full.append(gi.shape[k])
                    k, j = k + 1, j + 1
                else:
                    shape.append(1)
                    full.append(x.shape[j])
                    j += 1
            gi = xp.broadcast_to(gi.reshape(tuple(shape)), tuple(full))
        grads.append(gi)
    return tuple(grads)


@einsum.defjvp
def _einsum_jvp(xp: Any, t: Any, ans: Any, *xs: Any, equation: str) -> Any:
    out = None
    for i, ti in enumerate(t):
        if ti is not None:
            term = xp.einsum(equation, *xs[:i], ti, *xs[i + 1:])
            out = term if out is None else out + term
    return out


# ---- losses (raw: nn.functional checks the arguments) ----------------------------------------
# ``cross_entropy`` fuses log-softmax and the negative log-likelihood into one primitive, and
# ``softplus`` gives ``binary_cross_entropy_with_logits`` its stable form.
def _cross_entropy(x: np.ndarray, t: np.ndarray, *, ignore_index: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per-position loss ``lse(x[n, :, d]) - x[n, t[n, d], d]`` (0 where ``t == ignore_index``).

    ``x`` has shape ``(N, C, *d)`` and ``t`` integer shape ``(N, *d)``, labels already checked.
    The auxiliary residual is the max over classes (the shift), kept with shape ``(N, 1, *d)``.
    """
    # NOTE: the trap is log(softmax(x)): exp overflows past |x| ~ 88 (float32), and once a
    # probability underflows to 0 its log is -inf and its gradient 1/p is inf, giving nan. Here
    # the max m is subtracted before exp, so every exponent is <= 0 and the sum is in [1, C], and
    # the loss is log(sum(exp(x - m))) - (x_t - m): no log of a tiny probability is ever taken.
    # (Written so, not as lse - x_t with lse = m + log(...): at |x| = 1e4 in float32, lse is
    # rounded to a unit of ~1e-3 before the large parts cancel.) The loss and its gradient stay
    # finite, and accurate, at |x| = 1e4 in float32.
    m = np.max(x, axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype)  # all -inf: avoid inf - inf = nan
    log_s = np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))
    valid = t != ignore_index
    picked = np.take_along_axis(x, np.expand_dims(np.where(valid, t, 0), 1), axis=1)
    loss = np.where(valid, np.squeeze(log_s - (picked - m), 1), 0).astype(x.dtype, copy=False)
    return loss, m


cross_entropy: Primitive = Primitive("cross_entropy", _cross_entropy, has_aux=True)


@cross_entropy.defvjp
def _cross_entropy_vjp(xp: Any, g: Any, ans: Any, x: Any, t: Any, *, ignore_index: int,
                       aux: np.ndarray) -> tuple:
    """d loss[n, d] / d x[n, c, d] = softmax(x)[n, c, d] - [c == t[n, d]] (0 where ignored).

    NOTE: the softmax is ``exp(x - m) / sum(exp(x - m))`` with the forward's max ``m`` as a
    constant shift: every exponent is <= 0 (no overflow) and the sum is in [1, C]. As a function
    of ``x`` the expression is exactly the softmax for any constant shift, so when the rule runs
    on Tensors its own derivative (the softmax Jacobian) is right too. Subtracting the one-hot
    from p (never computing log p) keeps the gradient finite when p underflows.
    """
    e = xp.exp(x - aux)
    p = e / e.sum(axis=1, keepdims=True)
    shape = (t.shape[0], 1) + tuple(t.shape[1:])
    tt = t.reshape(shape)
    classes = np.arange(x.shape[1]).reshape((1, x.shape[1]) + (1,) * (len(shape) - 2))
    gx = xp.where(tt != ignore_index, g.reshape(shape) * xp.where(tt == classes, p - 1, p), 0)
    return gx, None


@cross_entropy.defjvp
def _cross_entropy_jvp(xp: Any, tangents: tuple, ans: Any, x: Any, t: Any, *,
                       ignore_index: int, aux: np.ndarray) -> Any:
    """d loss[n, d] = sum_c (softmax(x) - onehot(t))[n, c, d] * dx[n, c, d] (0 where ignored),
    the softmax shifted by the forward's max ``aux``, as in the vjp."""
    e = xp.exp(x - aux)
    p = e / e.sum(axis=1, keepdims=True)
    shape = (t.shape[0], 1) + tuple(t.shape[1:])
    tt = t.reshape(shape)
    classes = np.arange(x.shape[1]).reshape((1, x.shape[1]) + (1,) * (len(shape) - 2))
    d = (xp.where(tt == classes, p - 1, p) * tangents[0]).sum(axis=1)
    return xp.where(t != ignore_index, d, 0)


def _softplus(x: np.ndarray) -> np.ndarray:
    # NOTE: log(1 + exp(x)) overflows exp for x >~ 88 (float32); logaddexp(0, x) computes
    # max(x, 0) + log1p(exp(-|x|)), finite everywhere and accurate for x << 0 as well.
    return np.logaddexp(np.zeros((), dtype=x.dtype), x)


def stable_sigmoid(xp: Any, x: Any) -> Any:
    """sigmoid(x) for arrays or Tensors without overflow, smooth at 0 to every order.

    NOTE: with u = -|x| written as ``where(x >= 0, -x, x)`` (not ``-abs(x)``, whose derivative
    sign(0) = 0 would be wrong at x = 0), z = exp(u) is in (0, 1] and both branches
    1 / (1 + z) (x >= 0) and z / (1 + z) (x < 0) are finite.
    """
    pos = x >= 0
    z = xp.exp(xp.where(pos, -x, x))
    return xp.where(pos, 1 / (1 + z), z / (1 + z))


softplus: Primitive = Primitive("softplus", _softplus)
softplus.defvjp(lambda xp, g, ans, x: g * stable_sigmoid(xp, x))
softplus.defjvp(lambda xp, t, ans, x: t[0] * stable_sigmoid(xp, x))



#: ``xp`` for the rules above run on arrays: numpy functions with the names and meanings of
#: minigrad.ops, which is ``xp`` when they run on Tensors.
array_ops = SimpleNamespace(
    exp=np.exp, log=np.log, where=np.where, sign=np.sign, zeros_like=np.zeros_like,
    ones_like=np.ones_like, broadcast_to=np.broadcast_to, sum_to=sum_to, index_add_at=_index_add,
    cos=np.cos, sin=np.sin, permute=np.transpose, flip=np.flip, movedim=np.moveaxis,
    unsqueeze=np.expand_dims, concatenate=np.concatenate, einsum=np.einsum,
    cumsum=lambda x, dim: np.cumsum(x, axis=dim), cumprod=lambda x, dim: np.cumprod(x, axis=dim),
)
