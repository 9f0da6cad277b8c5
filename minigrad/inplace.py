"""In-place operations: write into a tensor's own array, with PyTorch's rules.

``add_``, ``sub_``, ``mul_``, ``div_``, ``clamp_``, ``fill_``, ``zero_``, ``copy_``, ``x[i] = v``
and the augmented operators ``+= -= *= /=`` (all Tensor methods) write into ``tensor.data``
itself: the same array object, so a leaf stays a leaf and every view of the memory sees the
change. Each write bumps the memory's version (:mod:`minigrad.versions`), so a graph that saved
the old value raises in backward instead of differentiating at the new one.

The rules (PyTorch's, with one choice of ours):

- Under ``no_grad`` they just write: ``with minigrad.no_grad(): p -= lr * p.grad`` is an SGD step.
- Outside ``no_grad``, a leaf that requires grad refuses (RuntimeError): the write would change a
  value the gradient is defined at without the graph knowing.
- Outside ``no_grad``, a tensor that is part of a graph (an op's output that requires grad), or a
  value that requires grad written into any tensor, is refused too: minigrad does not record
  in-place ops (PyTorch does). Write it out of place (``y = y + x``), which records.
- Dtype: the arithmetic forms compute with the promotion rules and cast the result to the tensor's
  own dtype, refusing a cast to a lower kind (float into an int tensor, int into bool), as PyTorch
  does; ``fill_``, ``copy_`` and ``x[i] = v`` convert like PyTorch (a float written into an int
  tensor is truncated).
- The value must broadcast to the tensor's shape; the tensor's shape never changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import forward as _forward
from . import versions
from .forward import refuse_inplace
from .tape import _state
from .tensor import Tensor, _as_array


def _check_graph(t: Tensor, who: str, values: tuple = ()) -> None:
    """Refuse what PyTorch refuses, and what minigrad does not record (see the module docs)."""
    if _forward.open_levels:  # a tangent would go stale: forward mode sees no in-place op
        refuse_inplace(t, values, who)
    if not _state.grad_enabled:
        return
    if t._rg:
        if t._entry is None:
            raise RuntimeError(
                f"{who}: a leaf tensor that requires grad (shape {t.shape}) is used in an in-place "
                "operation; update it under `with minigrad.no_grad():`")
        raise RuntimeError(
            f"{who}: the tensor (shape {t.shape}) was made by {t._entry.op.name} "
            f"(tape #{t._entry.index}) and is part of a graph; minigrad does not record in-place "
            "ops: write it out of place (y = y + x), or under minigrad.no_grad() if the graph "
            "must not see the change")
    for v in values:
        if isinstance(v, Tensor) and v._rg:
            raise RuntimeError(
                f"{who}: the value written (shape {v.shape}) requires grad, and minigrad does not "
                "record in-place ops: build the result out of place (e.g. with minigrad.stack or "
                "minigrad.where), or detach the value")


def _value(v: Any, who: str) -> Any:
    """The array (or Python number) behind an in-place op's argument."""
    if isinstance(v, Tensor):
        return v.data
    if type(v) is float or type(v) is int or type(v) is bool:
        return v  # weak, as in every op: float32.add_(0.5) stays float32
    if isinstance(v, np.ndarray | np.generic):
        return v
    return _as_array(v, who=who)  # a list: mg.tensor's default dtypes and checks


def _check_value(t: Tensor, who: str, values: tuple, cast_kind: bool,
                 true_div: bool = False) -> tuple:
    """The values as arrays, checked: broadcastable to ``t`` and (when asked) castable."""
    a = t.data
    vals = tuple(_value(v, who) for v in values)
    for v in vals:
        shape = np.shape(v)
        try:
            ok = np.broadcast_shapes(a.shape, shape) == a.shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"{who}: a value of shape {shape} does not broadcast to the tensor's "
                             f"shape {a.shape} (in-place ops never change the shape)")
        if not cast_kind and isinstance(v, np.ndarray | np.generic) and v.dtype.kind not in "biuf":
            raise TypeError(f"{who}: cannot write values of dtype {v.dtype} into a tensor")
    if cast_kind:
        from .primitive import result_dtype  # at call time: primitive imports tensor, which
        # imports this module at its end

        res = result_dtype((a, *vals))  # the one promotion rule (PyTorch's), as every op
        if true_div and res.kind in "biu":  # int / int is a float (float32), as in PyTorch
            res = np.dtype(np.float32)
        if not np.can_cast(res, a.dtype, casting="same_kind"):
            raise TypeError(f"{who}: the result has dtype {res}, which cannot be written in place "
                            f"into a tensor of dtype {a.dtype} (shape {a.shape})")
    return vals


def _ufunc(t: Tensor, who: str, fn: Any, other: Any) -> Tensor:
    _check_graph(t, who, (other,))
    (b,) = _check_value(t, who, (other,), cast_kind=True, true_div=fn is np.true_divide)
    a = t.data
    with versions.writable(a, who):
        fn(a, b, out=a, casting="unsafe")  # the cast was checked above
    versions.bump(a)
    return t


def add_(t: Tensor, other: Any, alpha: Any = 1) -> Tensor:
    """``t += alpha * other`` in place."""
    if alpha != 1:
        _check_graph(t, "add_", (other,))
        other = _value(other, "add_") * alpha
    return _ufunc(t, "add_", np.add, other)


def sub_(t: Tensor, other: Any, alpha: Any = 1) -> Tensor:
    """``t -= alpha * other`` in place."""
    if alpha != 1:
        _check_graph(t, "sub_", (other,))
        other = _value(other, "sub_") * alpha
    return _ufunc(t, "sub_", np.subtract, other)


def mul_(t: Tensor, other: Any) -> Tensor:
    return _ufunc(t, "mul_", np.multiply, other)


def div_(t: Tensor, other: Any) -> Tensor:
    return _ufunc(t, "div_", np.true_divide, other)


def clamp_(t: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Limit ``t`` to ``[min, max]`` in place (NaN stays NaN; ``min > max`` gives ``max``)."""
    who = "clamp_"
    if min is None and max is None:
        raise ValueError(f"{who}: at least one of min and max must be given")
    _check_graph(t, who, (min, max))
    bounds = tuple(b for b in (min, max) if b is not None)
    vals = iter(_check_value(t, who, bounds, cast_kind=True))
    lo = next(vals) if min is not None else None
    hi = next(vals) if max is not None else None
    a = t.data
    with versions.writable(a, who):
        if lo is not None:
            np.maximum(a, lo, out=a, casting="unsafe")
        if hi is not None:
            np.minimum(a, hi, out=a, casting="unsafe")
    versions.bump(a)
    return t


def _assign(t: Tensor, who: str, index: Any, value: Any) -> Tensor:
    _check_graph(t, who, (value,))
    a = t.data
    v = _value(value, who)
    if isinstance(v, np.ndarray | np.generic) and v.dtype.kind not in "biuf":
        raise TypeError(f"{who}: cannot write values of dtype {v.dtype} into a tensor")
    if index is Ellipsis:
        _check_value(t, who, (v,), cast_kind=False)
    with versions.writable(a, who):
        try:
            a[index] = v
        except IndexError as e:
            raise IndexError(f"{who}: {e} (tensor shape {a.shape})") from None
        except ValueError as e:
            raise ValueError(f"{who}: {e} (tensor shape {a.shape}, value shape "
                             f"{np.shape(v)})") from None
    versions.bump(a)
    return t


def fill_(t: Tensor, value: Any) -> Tensor:
    """Set every element to ``value`` (a number or a one-element tensor)."""
    if isinstance(value, Tensor | np.ndarray) and np.size(value) != 1:
        raise ValueError(f"fill_: the value must be a number or a one-element tensor, "
                         f"got shape {np.shape(value)}")
    _check_graph(t, "fill_", (value,))
    if isinstance(value, Tensor | np.ndarray):
        value = (value.data if isinstance(value, Tensor) else value).reshape(())
    return _assign(t, "fill_", Ellipsis, value)


def zero_(t: Tensor) -> Tensor:
    return _assign(t, "zero_", Ellipsis, 0)


def copy_(t: Tensor, src: Any) -> Tensor:
    """Copy ``src`` (broadcast to ``t``'s shape, converted to its dtype) into ``t``."""
    return _assign(t, "copy_", Ellipsis, src)


def setitem(t: Tensor, index: Any, value: Any) -> Tensor:
    """``t[index] = value``: numpy's indexing, PyTorch's conversion."""
    from .ops import _plain_index

    return _assign(t, "setitem", _plain_index(index), value)
