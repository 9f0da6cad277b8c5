"""Anomaly detection: find the op where a NaN or an infinity was born, forward or backward.

    with minigrad.detect_anomaly():
        loss = model(x)
        loss.backward()

Inside the block every op's outputs are checked as they are computed, and every gradient as the
backward pass computes it. The first NaN or infinity raises :class:`AnomalyError` naming the op
(``log``), its tape index and the line of *your* code that called it (the first stack frame
outside the ``minigrad`` and ``rnn`` packages).

How it hooks in: the engine calls into this module only while ``_state.anomaly`` is set (or, for
:func:`after_grads`, while a user's :class:`~minigrad.Tape` watches an entry), so outside the block
the cost is one attribute test per op. An entry recorded inside the block remembers the user's
line (``entry.origin``); a backward run inside the block calls each entry's rule through
:func:`watched`, which checks the gradients it returns, so a NaN made by ``log``'s backward is
blamed on ``log`` itself, even when it goes straight to a leaf. The entry and its op are never
changed.
"""

from __future__ import annotations

import contextlib
import linecache
import math
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .tape import Entry, _next_index, _state
from .tensor import Tensor

__all__ = ["AnomalyError", "after_grads", "check_forward", "detect_anomaly", "is_anomaly_enabled",
           "remember_origin", "watched"]

Origin = tuple[str, int, str]  # (file, line, function)


class AnomalyError(RuntimeError):
    """A NaN or infinity appeared in a forward output or a gradient under detect_anomaly."""


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Check every forward output and backward gradient for NaN/inf in this thread.

    Works as ``with minigrad.detect_anomaly():`` or as a decorator. It slows every op down (each
    result is scanned); leave it off except to hunt a NaN.
    """
    saved = _state.anomaly
    _state.anomaly = True
    try:
        yield
    finally:
        _state.anomaly = saved


def is_anomaly_enabled() -> bool:
    """Whether this thread is inside ``detect_anomaly``."""
    return bool(_state.anomaly)


# ---- where the user's code is ----------------------------------------------------------------
def _package_dirs() -> tuple[str, ...]:
    here = os.path.dirname(os.path.abspath(__file__))  # .../minigrad
    return (here + os.sep, os.path.join(os.path.dirname(here), "rnn") + os.sep)


_SKIP = _package_dirs()


def user_frame() -> Origin | None:
    """The innermost stack frame outside the minigrad and rnn packages, as (file, line, func)."""
    f = sys._getframe(1)
    while f is not None:
        name = f.f_code.co_filename
        if not os.path.abspath(name).startswith(_SKIP):
            return name, f.f_lineno, f.f_code.co_name
        f = f.f_back  # type: ignore[assignment]
    return None


def _where(origin: Origin | None) -> str:
    if origin is None:
        return "created at an unknown place"
    file, line, func = origin
    text = linecache.getline(file, line).strip()
    return f"created at {file}:{line} in {func}" + (f": {text}" if text else "")


def _bad(a: Any) -> str | None:
    """``'nan'``, ``'inf'`` or ``'nan and inf'`` if the array has such values, else None."""
    if isinstance(a, Tensor):
        a = a.data
    a = np.asarray(a)
    if a.dtype.kind not in "fc" or bool(np.isfinite(a).all()):
        return None
    has_nan = bool(np.isnan(a).any())
    has_inf = bool(np.isinf(a).any())
    return " and ".join(w for w, b in (("nan", has_nan), ("inf", has_inf)) if b)


def _what(n: int, k: int, kind: str) -> str:
    return kind if n == 1 else f"{kind} {k}"


# ---- forward ----------------------------------------------------------------------------------
def check_forward(op: Any, outs: Sequence[np.ndarray]) -> None:
    """Raise if a forward output of ``op`` holds NaN or infinity (called under detect_anomaly).

    The op is not on the tape yet: it takes the next tape index now, which it keeps in the
    message (the entry is never recorded, so the numbering only skips one).
    """
    for k, o in enumerate(outs):
        bad = _bad(o)
        if bad is not None:
            index = _next_index()
            what = (f"{op.name} (tape #{index}) returned {bad} in its "
                    f"{_what(len(outs), k, 'output')}")
            inside = getattr(_local, "backward_of", None)
            if inside is None:
                raise AnomalyError(f"anomaly in the forward pass: {what}; {op.name} was "
                                   f"{_where(user_frame())}")
            name, at, where = inside  # a backward rule run on Tensors (create_graph=True)
            raise AnomalyError(f"anomaly in the backward pass: while computing the backward of "
                               f"{name} (tape #{at}), {what}; {name} was {_where(where)}")


_local = threading.local()  # backward_of: (name, index, origin) of the rule being run


def watched(entry: Entry, rule: Callable[..., Any]) -> Callable[..., Any]:
    """``rule`` (the vjp of ``entry``), checked: the ops it runs on Tensors know whose backward
    they belong to (for :func:`check_forward`), and a NaN or infinity in a gradient it returns
    is blamed on ``entry``'s op (called by backward under detect_anomaly)."""

    def checked(xp: Any, g: Any, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(_local, "backward_of", None)
        _local.backward_of = (entry.op.name, entry.index, origin(entry))
        try:
            result = rule(xp, g, *args, **kwargs)
        finally:
            _local.backward_of = outer
        for i, r in enumerate(result if type(result) is tuple else (result,)):
            bad = None if r is None else _bad(r)
            if bad is not None:
                name = entry.op.name
                raise AnomalyError(
                    f"anomaly in the backward pass: the backward of {name} (tape "
                    f"#{entry.index}) returned {bad} in the gradient for its input {i} (from "
                    f"finite incoming gradients); {name} was {_where(origin(entry))}")
        return result

    return checked


def remember_origin(entry: Entry) -> None:
    """Remember the user's line that created ``entry`` (called by apply under detect_anomaly)."""
    entry.origin = user_frame()


def origin(entry: Entry) -> Origin | None:
    """The user's (file, line, function) that created ``entry``, if recorded under anomaly mode."""
    return getattr(entry, "origin", None)  # NOTE: unset outside anomaly mode (Entry's docs)


# ---- backward ---------------------------------------------------------------------------------
def _norm(g: Any) -> float:
    a = np.asarray(g.data if isinstance(g, Tensor) else g)
    if a.dtype.kind == "c":
        a = np.abs(a)
    a = a.astype(np.float64, copy=False).ravel()
    return float(np.sqrt(np.dot(a, a)))


def after_grads(entry: Entry, grads: Sequence[Any]) -> None:
    """Called by backward with ``entry``'s output gradients, before its backward rule runs.

    Stores the norm of all of them in ``entry.grad_norm`` when a user's tape watches the entry;
    under detect_anomaly, raises if one holds NaN or infinity. Such a gradient was not made by a
    backward rule recorded under detect_anomaly (that is checked as it returns), so it came from
    the seed given to backward, from a hook, or from an op recorded outside the block.
    """
    if entry.grad_norm is not None:
        entry.grad_norm = math.sqrt(sum(_norm(g) ** 2 for g in grads))
    if not _state.anomaly:
        return
    for k, g in enumerate(grads):
        bad = _bad(g)
        if bad is not None:
            name = entry.op.name
            raise AnomalyError(
                f"anomaly in the backward pass: the gradient arriving at the "
                f"{_what(len(grads), k, 'output')} of {name} (tape #{entry.index}) holds {bad}; "
                f"{name} was {_where(origin(entry))}. It came from the seed given to backward, "
                "from a hook, or from the backward of an op recorded outside detect_anomaly")
