"""Forward mode: tangents carried alongside values, one primitive at a time, in one forward pass.

Reverse mode records the forward pass and walks it backwards afterwards. Forward mode needs no
tape: while a *forward level* is open, every primitive that runs computes, next to its output,
the output's tangent (its directional derivative) from its inputs' tangents, by the primitive's
jvp (Jacobian-vector product) rule:

    jvp(xp, tangents, ans, *inputs, **params) -> the output's tangent (a tuple for several outputs)

``tangents`` has one entry per input, None where an input carries no tangent (a constant, an
integer, a tensor the level never saw), and the rule is written with operators and
``xp.<function>`` calls, as a vjp rule is. Here ``xp`` is always :mod:`minigrad.ops` and every
value is a Tensor, so the tangent computation is itself made of primitives: it is recorded on
the tape when its inputs require grad (reverse over forward), and it carries tangents of its
own when an outer level is open (forward over forward).

A level maps the tensors it has seen to their tangents. It finds a tensor by identity, or, for
an op's output, by its tape entry and slot: the backward pass rebuilds saved values as new Tensor
objects for ``create_graph=True``, and this is how their tangents are found again, which is what
makes forward over reverse (Hessian-vector products, :func:`minigrad.func.hessian`) work.

Levels nest. :func:`minigrad.primitive.apply_forward` runs a primitive with its own level set
aside, so the primal output and the rule's ops are seen by the outer levels only, as in JAX's
and PyTorch's forward-mode interpreters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .tensor import Tensor

__all__ = ["Level", "dual_level", "linear", "copy_tangents", "refuse_inplace"]


class Level:
    """One forward level: the tangent of every tensor computed while it was open."""

    __slots__ = ("_by_id", "_by_entry")

    def __init__(self) -> None:
        # NOTE: a tensor is found by id(); the entry keeps the tensor alive, so its id cannot be
        # reused by another tensor while the level is open.
        self._by_id: dict[int, tuple[Tensor, Tensor]] = {}
        self._by_entry: dict[tuple[int, int], Tensor] = {}

    def set_tangent(self, t: Tensor, tangent: Tensor) -> None:
        """Give ``t`` the tangent ``tangent`` at this level (same shape, floating point)."""
        self._by_id[id(t)] = (t, tangent)
        if t._entry is not None:
            self._by_entry[(t._entry.index, t._slot)] = tangent

    def tangent(self, t: Any) -> Tensor | None:
        """The tangent of ``t`` at this level, or None (a zero tangent)."""
        if not isinstance(t, Tensor):
            return None
        hit = self._by_id.get(id(t))
        if hit is not None and hit[0] is t:
            return hit[1]
        e = t._entry
        return None if e is None else self._by_entry.get((e.index, t._slot))


class _ForwardState(threading.local):
    def __init__(self) -> None:
        self.levels: list[Level] = []  # innermost last; empty: forward mode is off


_fwd = _ForwardState()


#: how many forward levels are open, in all threads: while it is 0, ``apply`` skips forward mode
#: after one lookup.
open_levels = 0
_count_lock = threading.Lock()


def _count(step: int) -> None:
    global open_levels
    with _count_lock:
        open_levels += step


@contextmanager
def dual_level() -> Iterator[Level]:
    """Open a forward level: ``with dual_level() as level: level.set_tangent(x, v); ...``."""
    level = Level()
    _count(1)
    _fwd.levels = [*_fwd.levels, level]
    try:
        yield level
    finally:
        _fwd.levels = [lv for lv in _fwd.levels if lv is not level]
        _count(-1)


def copy_tangents(src: Tensor, dst: Tensor) -> None:
    """Give ``dst`` the tangents ``src`` has, at every open level (``dst`` stands in for
    ``src``: a fresh leaf with the same value, say)."""
    for level in _fwd.levels:
        t = level.tangent(src)
        if t is not None:
            level.set_tangent(dst, t)


def refuse_inplace(t: Tensor, values: tuple, who: str) -> None:
    """Raise if an in-place write would leave a tangent stale.

    In-place ops write into an array without running a primitive, so forward mode never sees
    them: the tangent of the tensor written (or of the value written into it) would silently
    stop matching its value. An in-place op calls this before writing.
    """
    for level in _fwd.levels:
        if level.tangent(t) is not None or any(level.tangent(v) is not None for v in values):
            raise RuntimeError(
                f"{who}: the tensor (shape {t.shape}) or the value written carries a "
                "forward-mode tangent, and in-place ops do not update tangents: write it out "
                "of place (y = y + x)")


def linear(tangents: tuple, *maps: Callable[[Any], Any] | None) -> Any:
    """``sum_i maps[i](tangents[i])`` over the inputs that carry a tangent (None if none does).

    A jvp is linear in the tangents: ``maps[i]`` applies the partial derivative with respect to
    input i. A map of None marks an input that is not differentiable (a condition, an index).
    """
    total = None
    for t, m in zip(tangents, maps, strict=True):
        if t is not None and m is not None:
            term = m(t)
            total = term if total is None else total + term
    return total
