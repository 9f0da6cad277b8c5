"""Coarse parallelism: two independent kernel calls at once (e.g. the two directions of a
bidirectional recurrent layer), and how much of the machine other processes are using.

On a 2-core machine the profitable split is one whole kernel per core with single-threaded BLAS
each; splitting inside a time step (prange, or a 2-thread BLAS pool fighting another pool) costs
more in synchronisation than it gains. The callables must spend their time in code that releases
the GIL (``nogil=True`` Numba kernels, numpy/BLAS calls) for this to pay.
"""

from __future__ import annotations

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


def _busy_seconds() -> float | None:
    """CPU seconds all cores have spent busy since boot (Linux ``/proc/stat``), or None where
    that is unknown or covers more cores than this machine has (a container on a larger host:
    its /proc/stat counts the host)."""
    try:
        with open("/proc/stat") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    cores = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    if not lines or cores != os.cpu_count():
        return None
    # user nice system idle iowait irq softirq steal: all but idle and iowait are busy (steal:
    # the hypervisor ran another machine on our core)
    user, nice, system, _, _, irq, softirq, steal = map(int, lines[0].split()[1:9])
    return (user + nice + system + irq + softirq + steal) / _TICKS


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class _Others:
    """Cores kept busy by other processes over the last window of at least :data:`WINDOW_S`:
    the machine's busy CPU time less this process's own (all its threads), per wall second."""

    WINDOW_S = 0.5

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wall, self.own, self.busy = time.monotonic(), time.process_time(), _busy_seconds()
        self.cores = 0.0  # until a first window has passed: assume a quiet machine

    def update(self) -> float:
        with self.lock:
            if self.busy is None:
                return 0.0
            now = time.monotonic()
            elapsed = now - self.wall
            if elapsed >= self.WINDOW_S:
                own, busy = time.process_time(), _busy_seconds()
                if busy is None:
                    return 0.0
                self.cores = max(0.0, ((busy - self.busy) - (own - self.own)) / elapsed)
                self.wall, self.own, self.busy = now, own, busy
            return self.cores


_others = _Others()


def others_load() -> float:
    """Cores other processes kept busy in about the last half second (Linux; 0.0 where the
    platform does not tell, as if the machine were quiet).

    NOTE: the load average was used before, less this process's own use: it decays over a
    minute, so a program started right after another (a test run, a benchmark) read as a busy
    machine for that minute and ran its recurrences on one thread, 1.5-2x slower.
    """
    return _others.update()
