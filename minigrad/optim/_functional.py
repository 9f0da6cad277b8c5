"""Small in-place helpers shared by the optimizers, the modules and the initialisers.

:func:`write_` and :func:`update_` are the two ways minigrad's own code writes new values into a
parameter or buffer. ``write_`` copies a finished value in, through the tensor's in-place
``copy_`` under ``no_grad``; ``update_`` hands the optimizers the parameter's own array to update
with numpy ufuncs (``out=``), lifting a live graph's read-only flag for the duration, the way the
tensor's in-place ops do. Either way the tensor's version counter moves, so a graph that saved the
old values refuses to backpropagate through them. A parameter-like object that is not a minigrad
tensor (anything with ``.data`` and ``.grad``) is written straight into its ``.data`` array.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad import versions
from minigrad.tensor import Tensor

__all__ = ["check_writable", "lerp_", "update_", "write_"]


def write_(param: Any, value: np.ndarray) -> None:
    """Write ``value`` (same shape; cast to the parameter's dtype) into ``param`` in place."""
    copy_ = getattr(param, "copy_", None)
    if copy_ is not None and hasattr(param, "_version"):
        from ..tape import no_grad

        with no_grad():
            copy_(value)
    else:
        np.copyto(param.data, value, casting="unsafe")


def check_writable(param: Any, who: str) -> None:
    """Raise (changing nothing) if :func:`update_` could not write ``param``'s array.

    RuntimeError for a tensor whose memory minigrad cannot write (a broadcast view, a read-only
    buffer it does not own); ValueError for a read-only ``.data`` of another parameter-like object.
    A tensor's array made read-only by a live graph is fine: the write lifts the flag.
    """
    data = param.data
    if isinstance(param, Tensor):
        if not data.flags.writeable or 0 in data.strides:
            with versions.writable(data, who):
                pass
    elif not data.flags.writeable:
        raise ValueError(f"{who}: the parameter's .data array (shape {data.shape}) is read-only")


def update_(param: Any, who: str, update: Callable[..., None], *args: Any) -> None:
    """Run ``update(data, *args)``, which changes ``data`` (``param``'s own array) in place.

    For a tensor: the array is writable during the update (even while a live graph holds it
    read-only) and the tensor's version moves once, as after any in-place op. Call
    :func:`check_writable` first when a failure must leave nothing changed.
    """
    data = param.data
    if not isinstance(param, Tensor):
        update(data, *args)
        return
    try:
        if data.flags.writeable:
            update(data, *args)
        else:
            with versions.writable(data, who):
                update(data, *args)
    finally:
        versions.bump(data)


def lerp_(
    start: np.ndarray, end: np.ndarray, weight: float, work: np.ndarray | None = None
) -> None:
    """``start <- start + weight * (end - start)``, in place.

    Evaluated the way PyTorch's ``lerp`` is (``end - (end - start) * (1 - weight)`` when
    ``|weight| >= 0.5``), so results agree with ``torch.optim`` to the last bit more often.
    ``work`` (an array of ``start``'s shape, not overlapping ``start`` or ``end``) holds the
    intermediate, so that nothing is allocated.
    """
    if work is None:
        work = np.empty(np.shape(start), np.result_type(start, end))
    diff = np.subtract(end, start, out=work)
    if abs(weight) < 0.5:
        np.multiply(diff, weight, out=diff)
        np.add(start, diff, out=start)
    else:
        np.multiply(diff, 1 - weight, out=diff)
        np.subtract(end, diff, out=start)
