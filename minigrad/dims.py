"""Dimension arguments, checked and normalised once at the public boundary of every op.

PyTorch's rules: a dim is an int in ``[-rank, rank - 1]`` (a 0-d tensor accepts ``-1`` and ``0``),
negative dims count from the end. The ops in :mod:`minigrad.ops` pass every ``dim`` through
:func:`dim` or :func:`dims` before anything else, so the primitives and their rules only ever see
non-negative dims (a rule that inverts a permutation, say, would otherwise be silently wrong for
``-1``). A float, a string or a dim out of range is an error naming the op, the dim and the rank.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any


def as_int(value: Any, op: str, what: str) -> int:
    """``value`` as an int (numpy ints too); a bool, float or string is a TypeError naming it."""
    if isinstance(value, bool):
        raise TypeError(f"{op}: {what} must be an int, got bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{op}: {what} must be an int, got {type(value).__name__} "
                        f"{value!r}") from None


def dim(value: Any, rank: int, op: str, *, what: str = "dim", extra: int = 0) -> int:
    """``value`` as a dim in ``[0, rank + extra)``; ``extra=1`` for a dim to insert (unsqueeze)."""
    if type(value) is int and 0 <= value < rank + extra:  # the common case, checked cheaply
        return value
    d = as_int(value, op, what)
    n = max(rank + extra, 1)
    if not -n <= d < n:
        raise IndexError(f"{op}: {what} {d} is out of range for a tensor of rank {rank} "
                         f"(expected a dim in [{-n}, {n - 1}])")
    return d % n


def dims(value: Any, rank: int, op: str, *, what: str = "dim") -> tuple[int, ...] | None:
    """None (every dim), an int or a sequence of ints as a tuple of distinct dims in [0, rank).
    An empty sequence means every dim, as in PyTorch's reductions.

    For a 0-d tensor the dims ``0`` and ``-1`` are accepted and mean no dim at all, as in PyTorch.
    """
    if value is None:
        return None
    if type(value) is int and 0 <= value < rank:  # the common case, checked cheaply
        return (value,)
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) == 0:  # PyTorch: an empty dim list reduces over every dim
            return None
        items = [dim(v, rank, op, what=what) for v in value]
    else:
        items = [dim(value, rank, op, what=what)]
    if len(set(items)) != len(items):
        raise ValueError(f"{op}: {what} {tuple(value)} names a dim more than once")
    if rank == 0:
        return ()
    return tuple(items)


def size(value: Any, op: str, what: str = "size") -> int:
    """A non-negative int size (no floats, strings or bools)."""
    n = as_int(value, op, what)
    if n < 0:
        raise ValueError(f"{op}: {what} must be >= 0, got {n}")
    return n


def shape_arg(args: tuple, op: str) -> tuple[int, ...]:
    """``f(2, 3)`` or ``f((2, 3))`` or ``f([2, 3])``: the shape as a tuple of ints (``-1`` kept)."""
    if len(args) == 1 and isinstance(args[0], Sequence) and not isinstance(args[0], str):
        args = tuple(args[0])
    return tuple(as_int(a, op, "size") for a in args)
