"""Version counters and read-only saved arrays: how a graph notices that a value it saved changed.

Backward reads the arrays its entries saved in forward. If one of them is written between forward
and backward, the gradient is computed at the wrong point, silently. Two guards stop that:

- **Versions.** Every write through minigrad (the in-place Tensor methods, ``copy_``, ``x[i] = v``)
  bumps the version of the array it writes, keyed on the array's *root* (the array that owns the
  memory), so tensors and views sharing memory share one counter: ``t._version`` (PyTorch's name).
  Writes also advance a process-wide write clock; every tape entry notes the clock when it was
  recorded, and backward compares: an entry recorded after the last write anywhere costs one integer
  comparison, and only otherwise are its saved arrays looked up. A saved array whose root was
  written after the entry was recorded is an error naming the op, its tape index, the shape and the
  versions.
- **Read-only saved arrays.** A leaf's array saved by a live graph is made read-only to numpy (the
  approach of MyGrad), counted per array: ``w.data[:] = 0`` fails at once with numpy's read-only
  error instead of corrupting the graph. Writability comes back when the last live graph holding the
  array is freed by backward or garbage-collected. Op outputs are read-only from birth.
  minigrad's own in-place methods lift the flag for the duration of the write (and bump the version,
  so a later backward through the older graph raises).

NOTE: a numpy view taken *before* the array was locked keeps its own writeable flag; numpy cannot
revoke it. Such a write is not caught (neither guard sees it); minigrad never hands out such views.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

__all__ = ["root", "version", "bump", "changed_since", "lock", "unlock", "writable", "frozen",
           "FrozenError"]

clock = 0  # how many writes through minigrad this process has made (read as ``versions.clock``)

_guard = threading.Lock()  # writes, locks and unlocks may come from several threads
_KEEP = 64  # write epochs remembered per array (enough to name the exact expected version)


class _Writes:
    """The write history of one root array: its version and the clock at its latest writes."""

    __slots__ = ("version", "epochs")

    def __init__(self) -> None:
        self.version = 0
        self.epochs: list[int] = []


_written: dict[int, _Writes] = {}  # id(root array) -> history; dropped when the root dies
_locks: dict[int, list] = {}  # id(array) -> [array, number of live entries holding it read-only]


def root(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s memory (``a`` itself unless it is a view)."""
    while True:
        b = a.base
        if not isinstance(b, np.ndarray):
            return a
        a = b


def version(a: np.ndarray) -> int:
    """How many times ``a``'s memory was written through minigrad."""
    rec = _written.get(id(root(a)))
    return 0 if rec is None else rec.version


def bump(a: np.ndarray) -> None:
    """Note one write into ``a``'s memory: its version and the write clock advance."""
    global clock
    r = root(a)
    key = id(r)
    with _guard:
        clock += 1
        rec = _written.get(key)
        if rec is None:
            rec = _written[key] = _Writes()
            try:  # forget the history with the array (ids are reused)
                weakref.finalize(r, _written.pop, key, None).atexit = False
            except TypeError:  # pragma: no cover - ndarrays always take weak references
                pass
        rec.version += 1
        rec.epochs.append(clock)
        if len(rec.epochs) > 2 * _KEEP:
            del rec.epochs[:_KEEP]


def changed_since(a: np.ndarray, epoch: int) -> tuple[int, int] | None:
    """``(version now, version at epoch)`` when ``a``'s memory was written after clock ``epoch``."""
    rec = _written.get(id(root(a)))
    if rec is None or rec.epochs[-1] <= epoch:
        return None
    later = sum(1 for e in rec.epochs if e > epoch)
    return rec.version, rec.version - later


def lock(a: np.ndarray) -> bool:
    """Make ``a`` read-only for one more live entry; False when it is read-only for other reasons
    (an op output, a constant), and then there is nothing to undo."""
    key = id(a)
    with _guard:
        rec = _locks.get(key)
        if rec is not None:
            rec[1] += 1
            return True
        if not a.flags.writeable:
            return False
        a.flags.writeable = False
        _locks[key] = [a, 1]
        return True


def unlock(arrays: tuple) -> None:
    """Undo one :func:`lock` of each array; the last one makes it writeable again."""
    with _guard:
        for a in arrays:
            key = id(a)
            rec = _locks.get(key)
            if rec is None or rec[0] is not a:  # pragma: no cover - every lock is undone once
                continue
            rec[1] -= 1
            if rec[1] == 0:
                del _locks[key]
                try:
                    a.flags.writeable = True
                except ValueError:  # its base was made read-only meanwhile: it stays read-only
                    pass


class FrozenError(RuntimeError):
    """An in-place write into memory that must not change now (a gradient handed to a hook)."""


_frozen: dict[int, int] = {}  # id(root array) -> how many callers froze it


@contextmanager
def frozen(a: np.ndarray) -> Iterator[None]:
    """Refuse in-place writes through minigrad into ``a``'s memory for the duration."""
    key = id(root(a))
    with _guard:
        _frozen[key] = _frozen.get(key, 0) + 1
    try:
        yield
    finally:
        with _guard:
            n = _frozen.pop(key) - 1
            if n:
                _frozen[key] = n


def is_locked(a: np.ndarray) -> bool:
    """Whether a live graph holds ``a`` read-only."""
    return id(a) in _locks


@contextmanager
def writable(a: np.ndarray, who: str) -> Iterator[np.ndarray]:
    """Lift the read-only flag of ``a`` (and of the arrays it views) for one write through minigrad.

    Raises RuntimeError, changing nothing, when ``a`` cannot be written: memory minigrad does not
    own (a read-only buffer) or several elements sharing one memory location (a broadcast view).
    """
    chain = [a]
    while isinstance(chain[-1].base, np.ndarray):
        chain.append(chain[-1].base)
    if _frozen and id(chain[-1]) in _frozen:
        raise FrozenError(f"{who}: this memory (shape {a.shape}) is a gradient being handed to "
                          "a hook, which may share it with other gradients: it cannot be "
                          "written in place")
    if any(s == 0 and n > 1 for s, n in zip(a.strides, a.shape, strict=True)):
        raise RuntimeError(f"{who}: more than one element of the tensor (shape {a.shape}) refers "
                           "to the same memory location (an expanded/broadcast tensor); "
                           "clone it before writing in place")
    lifted = []
    with _guard:
        try:
            for arr in reversed(chain):  # the owner first: numpy requires it
                if not arr.flags.writeable:
                    arr.flags.writeable = True
                    lifted.append(arr)
        except ValueError:
            for arr in reversed(lifted):
                arr.flags.writeable = False
            raise RuntimeError(f"{who}: the tensor's memory (shape {a.shape}) is read-only and "
                               "not owned by minigrad (e.g. a buffer or a memory map opened "
                               "read-only); clone it before writing in place") from None
        locked = [id(arr) in _locks for arr in lifted]
    try:
        yield a
    finally:
        with _guard:
            for arr, was_locked in zip(reversed(lifted), reversed(locked), strict=True):
                # the view first, its owner last; an array whose last graph was freed during
                # the write (another thread) stays writeable
                if not was_locked or id(arr) in _locks:
                    arr.flags.writeable = False
