"""Coarse parallelism: two independent kernel calls at once (e.g. the two directions of a
bidirectional recurrent layer), and how much of the machine other processes are using.

On a 2-core machine the profitable split is one whole kernel per core with single-threaded BLAS
each; splitting inside a time step (prange, or a 2-thread BLAS pool fighting another pool) costs
more in synchronisation than it gains. The callables must spend their time in code that releases
the GIL (``nogil=True`` Numba kernels, numpy/BLAS calls) for this to pay.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .blas import blas_threads

__all__ = ["others_load", "run_pair"]

A = TypeVar("A")
B = TypeVar("B")


class _Helper:
    """A daemon thread that runs one callable at a time for :func:`run_pair`.

    NOTE: starting a thread per call costs about 100 us, more than a small layer's whole
    kernel; handing a callable to a waiting thread costs about 15 us.
    """

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[Callable[[], Any]] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[tuple[Any, BaseException | None]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="minigrad-run-pair", daemon=True).start()

    def _serve(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                self.done.put((job(), None))
            except BaseException as exc:  # re-raised on the calling thread
                self.done.put((None, exc))


_idle: list[_Helper] = []  # helpers waiting for work; one per concurrent run_pair caller
_idle_lock = threading.Lock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_idle.clear)  # a forked child has none of our threads


def run_pair(f: Callable[[], A], g: Callable[[], B]) -> tuple[A, B]:
    """Run ``f()`` and ``g()`` concurrently (``g`` on a helper thread, ``f`` on the caller's).

    OpenBLAS is set to one thread for the duration and restored afterwards (the count is
    process-wide). Both calls always run to completion; if either raised, the exception is
    re-raised here (``f``'s first if both failed) after both have finished.
    Returns ``(f(), g())``.
    """
    with _idle_lock:
        helper = _idle.pop() if _idle else None
    helper = helper or _Helper()
    failure: BaseException | None = None
    with blas_threads(1):
        helper.jobs.put(g)
        try:
            result_f = f()
        except BaseException as exc:
            failure = exc
        finally:
            result_g, failure_g = helper.done.get()
    with _idle_lock:
        _idle.append(helper)
    if failure is not None:
        if failure_g is not None:
            failure.add_note(f"run_pair: the second callable also raised {failure_g!r}")
        raise failure
    if failure_g is not None:
        raise failure_g
    return result_f, result_g


class _OwnUse:
    """This process's CPU use in cores, averaged like the load average (a one-minute decay)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wall = time.monotonic()
        self.cpu = time.process_time()
        self.cores = 0.0

    def update(self) -> float:
        with self.lock:
            now, cpu = time.monotonic(), time.process_time()
            elapsed = now - self.wall
            if elapsed >= 1.0:
                used = (cpu - self.cpu) / elapsed
                self.cores += (1.0 - math.exp(-elapsed / 60.0)) * (used - self.cores)
                self.wall, self.cpu = now, cpu
            return self.cores


_own_use = _OwnUse()


def others_load() -> float:
    """Cores kept busy by other processes: the one-minute load average less this process's own
    average use over about the same minute (0.0 where the platform has no load average).

    NOTE: the load average alone counts this process too, so a program that keeps both cores
    busy itself would read as a busy machine and switch to one thread, and back, and so on.
    """
    try:
        load = os.getloadavg()[0]
    except OSError:
        return 0.0
    return max(0.0, load - _own_use.update())
