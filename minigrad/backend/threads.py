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
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .blas import blas_threads

__all__ = ["others_load", "run_pair"]

A = TypeVar("A")
B = TypeVar("B")


def run_pair(f: Callable[[], A], g: Callable[[], B]) -> tuple[A, B]:
    """Run ``f()`` and ``g()`` concurrently (``g`` on a helper thread, ``f`` on the caller's).

    OpenBLAS is set to one thread for the duration and restored afterwards (the count is
    process-wide). Both calls always run to completion; if either raised, the exception is
    re-raised here (``f``'s first if both failed) after both have finished.
    Returns ``(f(), g())``.
    """
    result: dict[str, Any] = {}
    failure: dict[str, BaseException] = {}

    def run_g() -> None:
        try:
            result["g"] = g()
        except BaseException as exc:  # re-raised on the calling thread
            failure["g"] = exc

    with blas_threads(1):
        worker = threading.Thread(target=run_g, name="minigrad-run-pair", daemon=True)
        worker.start()
        try:
            result["f"] = f()
        except BaseException as exc:
            failure["f"] = exc
        finally:
            worker.join()
    if "f" in failure:
        if "g" in failure:
            failure["f"].add_note(f"run_pair: the second callable also raised {failure['g']!r}")
        raise failure["f"]
    if "g" in failure:
        raise failure["g"]
    return result["f"], result["g"]


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
