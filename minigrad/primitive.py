"""Primitives: the only ops that touch the tape. Everything else in minigrad is composed of them.

One contract for every primitive, built-in, fused or yours. A primitive is a ``forward`` on numpy
arrays and two rules, each written once with operators, methods and ``xp.<function>`` calls that
numpy arrays and Tensors share:

    forward(*arrays, **params)                 -> the output array(s)
    vjp(xp, g, ans, *inputs, **params)         -> one gradient per input (None where there is none)
    jvp(xp, tangents, ans, *inputs, **params)  -> the output's tangent (one per output)

``g`` is the output's gradient (a tuple for several outputs), ``tangents`` one tangent per input
(None where an input carries none), ``ans`` the output(s) and ``inputs`` the inputs, as the
forward saw them. The engine calls every rule this one way: a plain backward runs the vjp on
arrays (``xp`` is the array namespace), ``create_graph=True`` runs the same rule on Tensors
(``xp`` is :mod:`minigrad.ops`) so the backward is itself recorded, and forward mode runs the jvp
on Tensors (:mod:`minigrad.forward`).

``params`` are the op's static keyword arguments, plus two that a primitive asks for when it is
made, the same for both of its rules:

- ``has_aux=True``: the forward returns ``(outputs, aux)``; ``aux`` (residuals: a kernel's gate
  activations, a softmax's shift) reaches the rules as the keyword ``aux`` and is freed with the
  other saved values;
- ``needs=True`` (the default of a fused primitive): the keyword ``needs``, one bool per input
  (PyTorch's ``ctx.needs_input_grad``; in forward mode, which inputs carry a tangent): where it
  is False nobody reads that gradient, so the rule may skip its work and return None.

A ``fused`` primitive (a hand-written Numba kernel) has a vjp that works on arrays only, so its
backward cannot be recorded. Its ``reference``, the same function composed of ordinary
primitives, is what ``create_graph=True`` and forward mode differentiate instead
(:mod:`minigrad.reference`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from . import forward as _forward
from . import tensor as _tensor
from .forward import _fwd
from .tape import Entry, LockingEntry, _state
from .tensor import DEFAULT_FLOAT, Tensor, _as_array
from .versions import _locks
from .versions import lock as _lock


class Primitive:
    """A differentiable operation: forward on arrays, a vjp rule and a jvp rule (module doc)."""

    __slots__ = ("name", "forward", "vjp", "jvp", "reference", "n_out", "broadcasts", "fused",
                 "has_aux", "needs", "simple", "extra", "promote_from")
    registry: ClassVar[dict[str, Primitive]] = {}

    def __init__(self, name: str, forward: Callable[..., Any], *, n_out: int = 1,
                 broadcasts: bool = False, fused: bool = False, has_aux: bool = False,
                 needs: bool | None = None, promote_from: int | None | str = "auto") -> None:
        if name in Primitive.registry:
            raise ValueError(f"primitive {name!r} is already registered")
        if promote_from == "auto":
            promote_from = _PROMOTE_FROM.get(name, 0 if broadcasts and not fused else None)
        # Inputs from this position on are brought to one dtype by PyTorch's promotion rules
        # (result_dtype) before forward; None: the forward gets the arrays as they are.
        self.promote_from: int | None = promote_from  # type: ignore[assignment]
        self.name = name
        self.forward = forward
        self.vjp: Callable[..., Any] | None = None
        self.jvp: Callable[..., Any] | None = None
        #: a fused primitive's composed twin on Tensors (same arguments, same outputs), which
        #: ``create_graph=True`` differentiates in place of the kernel's backward
        self.reference: Callable[..., Any] | None = None
        self.n_out = n_out
        self.broadcasts = broadcasts  # elementwise over broadcast inputs: errors say so
        self.fused = fused
        self.has_aux = has_aux  # forward returns (outputs, aux); the rules get aux=
        self.needs = fused if needs is None else needs  # the rules get needs=
        self.simple = n_out == 1 and not has_aux  # one plain output: apply's fast path
        self.extra = has_aux or self.needs  # the rules get more keywords than the op's params
        Primitive.registry[name] = self

    def defvjp(self, vjp: Callable[..., Any]) -> Callable[..., Any]:
        """Set the reverse-mode rule ``vjp(xp, g, ans, *inputs, **params)`` (a decorator too)."""
        self.vjp = vjp
        return vjp

    def defjvp(self, jvp: Callable[..., Any]) -> Callable[..., Any]:
        """Set the forward-mode rule ``jvp(xp, tangents, ans, *inputs, **params)``."""
        self.jvp = jvp
        return jvp

    def rule_params(self, params: dict[str, Any], aux: Any, needs: tuple[bool, ...]
                    ) -> dict[str, Any]:
        """The keywords both rules get: ``params``, plus ``aux`` and ``needs`` if asked for."""
        if not self.extra:
            return params
        kw = dict(params)
        if self.has_aux:
            kw["aux"] = aux
        if self.needs:
            kw["needs"] = needs
        return kw

    def __call__(self, *args: Any, **params: Any) -> Any:
        return apply(self, args, params)

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


# Ops whose inputs are promoted although they do not broadcast elementwise, or from a later
# position (``where``'s first input is the boolean condition).
_PROMOTE_FROM = {"where": 1, "matmul": 0, "concatenate": 0}

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}  # bool < integer < floating < complex


def _promote(dtypes: list[np.dtype]) -> np.dtype | None:
    """PyTorch's ``promote_types`` over a group: the highest category wins outright (int64 with
    float32 is float32, not numpy's float64); within it, the wider type."""
    if not dtypes:
        return None
    top = max(_CATEGORY.get(d.kind, -1) for d in dtypes)
    return np.result_type(*[d for d in dtypes if _CATEGORY.get(d.kind, -1) == top])


def result_dtype(values: Any) -> np.dtype:
    """The dtype of an op on ``values`` (arrays and Python numbers), by PyTorch's rules.

    Three classes, in order: arrays with dimensions, 0-d arrays, Python numbers (weak: a float
    is the default float32, an int int64). Each class is promoted within itself; a later class
    decides only when its category is higher than the result so far. So float32 with a 0-d
    float64 stays float32, an int64 tensor times 2.5 is float32, bool + int is int.
    """
    groups: tuple[list, list, list] = ([], [], [])
    for v in values:
        if isinstance(v, np.ndarray | np.generic):
            groups[0 if v.ndim else 1].append(v.dtype)
        elif isinstance(v, bool | np.bool_):
            groups[2].append(np.dtype(bool))
        elif isinstance(v, int):
            groups[2].append(np.dtype(np.int64))
        elif isinstance(v, float):
            groups[2].append(DEFAULT_FLOAT)
    result: np.dtype | None = None
    for group in groups:
        d = _promote(group)
        if d is not None and (result is None or _CATEGORY.get(d.kind, -1)
                              > _CATEGORY.get(result.kind, -1)):
            result = d
    assert result is not None, "result_dtype: no values"
    return result


def lift(value: Any, like: np.dtype | None = None) -> Tensor:
    """A Tensor for an op argument.

    A Python number is weak, as in PyTorch: it takes the floating dtype of ``like`` when that
    is a float; otherwise a float becomes float32 and an int int64. Anything else gets
    :func:`minigrad.tensor`'s defaults (lists of floats are float32; arrays keep their dtype).
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if like is not None and like.kind == "f":
            arr = np.asarray(value, dtype=like)
        else:
            arr = np.asarray(value, dtype=DEFAULT_FLOAT if isinstance(value, float) else np.int64)
    else:
        arr = _as_array(value)
    arr.flags.writeable = False  # a constant we own: safe to save without a view
    return Tensor._make(arr, None)


def _promoted(op: Primitive, arrays: list) -> list:
    """The forward's inputs, cast to the op's result dtype (the saved ones stay as they were,
    so each gradient comes back in its own input's dtype)."""
    k = op.promote_from
    target = result_dtype(arrays[k:])
    out = list(arrays)
    for i in range(k, len(arrays)):  # type: ignore[arg-type]
        a = arrays[i]
        if type(a) is np.ndarray and a.dtype != target:
            out[i] = a.astype(target)
    return out


def _lift_all(args: tuple) -> tuple:
    like = None
    for a in args:
        if isinstance(a, Tensor) and (like is None or like.kind != "f"):
            like = a.data.dtype
    return tuple(lift(a, like) for a in args)


def apply(op: Primitive, args: tuple, params: dict[str, Any], _aux: list | None = None) -> Any:
    """Run ``op`` on ``args`` and, when any input requires grad, append one entry to the tape.

    (``_aux``, for :func:`apply_forward`: a list to put the forward's residuals in.)
    """
    # NOTE: while no forward level is open in any thread, forward mode costs this one lookup;
    # the thread's own levels (a thread-local, slower to read) are looked at only otherwise.
    if _forward.open_levels and _fwd.levels:  # forward mode: tangents too
        return apply_forward(op, args, params, _aux)
    # The hot path of every op: plain loops, no helper calls when every argument is a Tensor.
    record = False
    arrays: list = []
    dt = None  # the first input's dtype; mixed: another input has a different one
    mixed = pyfloat = False
    for a in args:
        if isinstance(a, Tensor):
            d = a.data
            arrays.append(d)
            if a._rg:
                record = True
            if d.dtype is not dt:
                if dt is None:
                    dt = d.dtype
                else:
                    mixed = True
        elif type(a) is float or type(a) is int:
            # NOTE: a Python number goes to numpy as is: numpy treats it as "weak", so
            # float32 * 0.5 stays float32 (NEP 50); a 0-d float64 array would promote.
            arrays.append(a)
            if type(a) is float:
                pyfloat = True
        else:
            return apply(op, _lift_all(args), params, _aux)
    fwd = arrays
    if (mixed or (pyfloat and dt is not None and dt.kind != "f")) and \
            op.promote_from is not None:
        fwd = _promoted(op, arrays)  # PyTorch's promotion, where it differs from numpy's
    try:
        out = op.forward(*fwd, **params)
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
            if _aux is not None:
                _aux.append(aux)
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
    locked: list[np.ndarray] | None = None
    for i, a in enumerate(args):
        if type(a) is float or type(a) is int:
            parents.append(None)
            slots.append(0)
            continue
        src = a._entry
        slots.append(a._slot)
        if src is None:
            arr = arrays[i]
            # A leaf's array: read-only while this entry holds it (minigrad.versions), so that
            # a write bypassing minigrad fails instead of changing what backward reads.
            if (arr.flags.writeable or id(arr) in _locks) and _lock(arr):
                if locked is None:
                    locked = []
                locked.append(arr)
            parents.append(a if a._rg else None)
        else:
            parents.append(src)
    for o in outs:
        o.setflags(write=False)  # saved for backward: mutating it must fail loudly
    if op.extra:
        params = op.rule_params(params, aux, tuple(p is not None for p in parents))
    if locked:
        entry: Entry = LockingEntry(op, tuple(parents), tuple(slots), (*arrays, *outs), params,
                                    op.n_out)
        entry.locked = tuple(locked)
    else:
        entry = Entry(op, tuple(parents), tuple(slots), (*arrays, *outs), params, op.n_out)
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


# ---- forward mode ---------------------------------------------------------------------------
def apply_forward(op: Primitive, args: tuple, params: dict[str, Any],
                  _aux: list | None = None) -> Any:
    """``apply`` while forward levels are open: the outputs, and their tangents at the innermost
    level (the outer levels see the primal and the jvp rule's ops as ordinary ops)."""
    levels = _fwd.levels
    level = levels[-1]
    _fwd.levels = levels[:-1]
    try:
        aux: list = []
        out = apply(op, args, params, aux)
        if _aux is not None:
            _aux.extend(aux)
        tangents = tuple(level.tangent(a) for a in args)
        if all(t is None for t in tangents):
            return out
        if op.jvp is None:
            raise NotImplementedError(
                f"{op.name}: this primitive has no jvp rule, so forward mode cannot pass "
                f"through it; give it one with {op.name}.defjvp(rule)")
        if not all(isinstance(a, Tensor) for a in args):
            # NOTE: the rule runs on Tensors, where a bare Python float would be a float32
            # constant (PyTorch's default) inside ``xp`` calls such as xp.log(xp.where(c, 1.7,
            # 1)): lifted here it takes the tensors' float dtype, as numpy gives the vjp.
            args = _lift_all(args)
        kw = op.rule_params(params, aux[0] if aux else None,
                            tuple(t is not None for t in tangents))
        result = op.jvp(xp_tensors, tangents, out, *args, **kw)
        outs = out if op.n_out > 1 else (out,)
        results = result if op.n_out > 1 else (result,)
        if len(results) != op.n_out:
            raise ValueError(f"{op.name}: jvp gave {len(results)} tangents for {op.n_out} outputs")
        for k, (o, t) in enumerate(zip(outs, results, strict=True)):
            t = _fit_tangent(op, k, t, o)
            if t is not None:
                level.set_tangent(o, t)
    finally:
        _fwd.levels = levels
    return out


def _fit_tangent(op: Primitive, k: int, t: Any, out: Tensor) -> Tensor | None:
    """Check a jvp result against output ``k``: broadcast it to the output's shape, cast it to
    its dtype; the one place for both, as autograd._fit is for vjp results."""
    if t is None or out.dtype.kind != "f":
        return None
    if not isinstance(t, Tensor):
        t = lift(t, out.dtype)  # a Python number: a constant tangent
    if t.shape != out.shape:
        try:
            t = xp_tensors.broadcast_to(t, out.shape)
        except ValueError:
            raise ValueError(f"{op.name}: jvp gave a tangent of shape {t.shape} for output {k} "
                             f"of shape {out.shape}") from None
    if t.dtype != out.dtype:
        if t.dtype.kind != "f":
            raise TypeError(f"{op.name}: jvp gave a tangent of dtype {t.dtype} for output {k} "
                            f"of dtype {out.dtype}")
        t = t.astype(out.dtype)
    return t


# ---- the namespaces the rules run on ----------------------------------------------------------
#: ``xp`` of a plain backward (functions on numpy arrays) and of a recorded backward and forward
#: mode (:mod:`minigrad.ops`, functions on Tensors). Both are made of primitives, so this module
#: cannot import them: :mod:`minigrad` hands them over once, by :func:`set_namespaces`.
xp_arrays: Any = None
xp_tensors: Any = None


def set_namespaces(arrays: Any, tensors: Any) -> None:
    """Give the engine the two ``xp`` namespaces (called once, when minigrad is imported)."""
    global xp_arrays, xp_tensors
    xp_arrays, xp_tensors = arrays, tensors


# Tensor's operators call apply directly (the hot path); tensor.py cannot import this module,
# which imports it, so apply is handed over here.
_tensor._apply = apply
