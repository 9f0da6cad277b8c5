"""A persistent team of worker threads that runs independent kernel calls at once.

:func:`run_parts` runs ``n`` callables concurrently: the first on the calling thread, the others
on helper threads that wait between calls (starting a thread costs more than a small layer's
whole kernel; handing a callable to a waiting one, a fraction of that). The fused
recurrent layers hand it the independent recurrences of one layer call (directions, parts of the
batch). The callables must spend their time in code that releases the GIL (``nogil=True`` Numba
kernels) for this to pay, and must never touch process-wide settings: the kernels' GEMMs run on
the calling thread alone (:func:`rnn.backend.blas.gemm_serial`), so nothing here changes
OpenBLAS's thread count or anything else another thread could observe.

Failure: every callable always runs to completion (no half-finished team, no thread left
waiting); if any raised, the first failure in part order is re-raised on the caller after all
have finished, with the others attached as notes. A helper that a failing callable ran on goes
back to the pool unharmed (the exception is caught in the helper, never kills it).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["run_parts"]


class _Helper:
    """A daemon thread that runs one callable at a time and reports ``(result, exception)``."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[Callable[[], Any]] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[tuple[Any, BaseException | None]] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name="minigrad-team", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                self.done.put((job(), None))
            except BaseException as exc:  # re-raised on the calling thread
                self.done.put((None, exc))


_idle: list[_Helper] = []  # helpers waiting for work, shared by every calling thread
_idle_lock = threading.Lock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_idle.clear)  # a forked child has none of our threads


def _take(n: int) -> list[_Helper]:
    with _idle_lock:
        taken = [_idle.pop() for _ in range(min(n, len(_idle)))]
    return taken + [_Helper() for _ in range(n - len(taken))]


def helper_count() -> int:
    """How many helper threads wait idle now (for tests: calls return every helper they take)."""
    with _idle_lock:
        return len(_idle)


def run_parts(parts: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run every callable concurrently; their results in order.

    ``parts[0]`` runs on the calling thread, the rest on helpers of the persistent team. Returns
    after all have finished; re-raises the first failure (in part order), see the module doc.
    """
    if len(parts) == 1:
        return [parts[0]()]
    helpers = _take(len(parts) - 1)
    for helper, job in zip(helpers, parts[1:], strict=True):
        helper.jobs.put(job)
    results: list[Any] = [None] * len(parts)
    failures: list[BaseException] = []
    try:
        results[0] = parts[0]()
    except BaseException as exc:
        failures.append(exc)
    finally:
        for i, helper in enumerate(helpers, start=1):
            results[i], failure = helper.done.get()
            if failure is not None:
                failures.append(failure)
        with _idle_lock:
            _idle.extend(helpers)
    if failures:
        first = failures[0]
        for other in failures[1:]:
            first.add_note(f"run_parts: another part also raised {other!r}")
        raise first
    return results
