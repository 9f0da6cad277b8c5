"""Primitives: the only ops that touch the tape. Everything else in minigrad is composed of them.

A primitive has a ``forward`` on numpy arrays and a ``vjp`` (vector-Jacobian product) rule written
once with operators, methods and ``xp.<function>`` calls that numpy arrays and Tensors share:

    vjp(xp, g, ans, *inputs, **params) -> one gradient per input (None where there is none)

A plain backward runs the rule on arrays (``xp`` is :data:`minigrad.autograd.array_ops`), which is
fast; ``create_graph=True`` runs the same rule on Tensors (``xp`` is :mod:`minigrad.ops`), so the
backward pass is itself recorded and can be differentiated again.

A ``fused`` primitive (a hand-written Numba kernel) gets arrays only: its rule cannot be recorded.
Its forward may return ``(outputs, aux)`` (declare ``has_aux=True``): ``aux`` is any residual the
kernel's backward needs (gate activations, say); it is kept on the entry, handed to the rule as
the keyword ``aux``, and freed with the other saved values. A fused rule also gets the keyword
``needs``, one bool per input (PyTorch's ``ctx.needs_input_grad``): where it is False nobody reads
that gradient, so the rule may skip its work and return None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .tape import Entry, _state
from .tensor import Tensor


class Primitive:
    """A differentiable operation: forward on arrays, backward as a vjp rule."""

    __slots__ = ("name", "forward", "vjp", "jvp", "n_out", "broadcasts", "fused", "has_aux",
                 "simple")
    registry: ClassVar[dict[str, Primitive]] = {}

    def __init__(self, name: str, forward: Callable[..., Any], *, n_out: int = 1,
                 broadcasts: bool = False, fused: bool = False, has_aux: bool = False) -> None:
        if name in Primitive.registry:
            raise ValueError(f"primitive {name!r} is already registered")
        self.name = name
        self.forward = forward
        self.vjp: Callable[..., Any] | None = None
        self.jvp: Callable[..., Any] | None = None
        self.n_out = n_out
        self.broadcasts = broadcasts  # elementwise over broadcast inputs: errors say so
        self.fused = fused
        self.has_aux = has_aux
        self.simple = n_out == 1 and not has_aux  # one plain output: apply's fast path
        Primitive.registry[name] = self

    def defvjp(self, vjp: Callable[..., Any]) -> Callable[..., Any]:
        self.vjp = vjp
        return vjp

    def defjvp(self, jvp: Callable[..., Any]) -> Callable[..., Any]:
        self.jvp = jvp
        return jvp

    def __call__(self, *args: Any, **params: Any) -> Any:
        return apply(self, args, params)

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


def lift(value: Any, like: np.dtype | None = None) -> Tensor:
    """A Tensor for an op argument. Python scalars take the floating dtype of ``like``."""
    if isinstance(value, Tensor):
        return value
    if like is not None and like.kind == "f" and isinstance(value, int | float):
        arr = np.asarray(value, dtype=like)
    else:
        arr = np.array(value)
    arr.flags.writeable = False  # a constant we own: safe to save without a view
    return Tensor._make(arr, None)


def _lift_all(args: tuple) -> tuple:
    like = None
    for a in args:
        if isinstance(a, Tensor) and (like is None or like.kind != "f"):
            like = a.data.dtype
    return tuple(lift(a, like) for a in args)


def apply(op: Primitive, args: tuple, params: dict[str, Any]) -> Any:
    """Run ``op`` on ``args`` and, when any input requires grad, append one entry to the tape."""
    # The hot path of every op: plain loops, no helper calls when every argument is a Tensor.
    record = False
    arrays: list = []
    for a in args:
        if isinstance(a, Tensor):
            arrays.append(a.data)
            if a._rg:
                record = True
        elif type(a) is float or type(a) is int:
            # NOTE: a Python number goes to numpy as is: numpy treats it as "weak", so
            # float32 * 0.5 stays float32 (NEP 50); a 0-d float64 array would promote.
            arrays.append(a)
        else:
            return apply(op, _lift_all(args), params)
    try:
        out = op.forward(*arrays, **params)
    except ValueError as e:
        raise _op_error(op, arrays, e) from None
    aux = None
    if op.simple:
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        outs: tuple = (out,)
    else:
        if op.has_aux:
            out, aux = out
        outs = (out,) if op.n_out == 1 else tuple(out)
        outs = tuple(o if type(o) is np.ndarray else np.asarray(o) for o in outs)
    state = _state
    if state.anomaly:
        from .anomaly import check_forward

        check_forward(op, outs)
    if not (record and state.grad_enabled):
        if op.n_out == 1:
            return Tensor._make(outs[0], None)
        return tuple(Tensor._make(o, None) for o in outs)

    parents: list[Any] = []
    slots: list[int] = []
    for i, a in enumerate(args):
        if type(a) is float or type(a) is int:
            parents.append(None)
            slots.append(0)
            continue
        src = a._entry
        slots.append(a._slot)
        if src is None:
            arr = arrays[i]
            if arr.flags.writeable:  # a leaf's array: save a read-only view of it
                arr = arr.view()
                arr.setflags(write=False)
                arrays[i] = arr
            parents.append(a if a._rg else None)
        else:
            parents.append(src)
    for o in outs:
        o.setflags(write=False)  # saved for backward: mutating it must fail loudly
    entry = Entry(op, tuple(parents), tuple(slots), (*arrays, *outs), params, op.n_out)
    entry.aux = aux
    if state.anomaly:
        from .anomaly import remember_origin

        remember_origin(entry)
    state.tape.record(entry)
    if op.n_out == 1:
        return Tensor._make(outs[0], entry, 0)
    return tuple(Tensor._make(o, entry, k) for k, o in enumerate(outs))


def _op_error(op: Primitive, arrays: list, e: ValueError) -> ValueError:
    """A forward failure, reworded to name the op and the shapes."""
    if op.broadcasts:
        shapes = " and ".join(str(np.shape(a)) for a in arrays)
        return ValueError(f"{op.name}: shapes {shapes} do not broadcast")
    if str(e).startswith(op.name + ":"):
        return e
    return ValueError(f"{op.name}: {e}")


def nondifferentiable(name: str, fn: Callable[..., Any]) -> Callable[..., Tensor]:
    """An op whose result never requires grad (comparisons, sign, argmax): no tape entry."""

    def op(*args: Any, **params: Any) -> Tensor:
        like = next((a.data.dtype for a in args if isinstance(a, Tensor)), None)
        arrays = [lift(a, like).data for a in args]
        try:
            return Tensor._make(np.asarray(fn(*arrays, **params)), None)
        except ValueError:
            shapes = " and ".join(str(a.shape) for a in arrays)
            raise ValueError(f"{name}: shapes {shapes} do not broadcast") from None

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{name}``: computed on the data, never requires grad."
    return op
