"""How many threads minigrad's own parallel code may use: :func:`set_num_threads` and
:func:`get_num_threads` (PyTorch's names and meaning).

The setting is process-wide (like ``torch.set_num_threads``, not per thread): every thread of
the process reads the same value. It governs the threads minigrad itself starts, today the team
that runs the fused recurrent layers' time loops (:mod:`rnn.fused_ops`). It never changes any
other library's setting: numpy's BLAS keeps the thread count the user gave it (environment
variables such as ``OPENBLAS_NUM_THREADS``, or threadpoolctl), and the large GEMMs that minigrad
hands to numpy run with it.

Results are a pure function of the inputs and this setting: the same seed and the same setting
give bitwise-identical results on a quiet or a busy machine. Different settings may differ in
the last bits (a batch cut into a different number of parts sums its weight gradients in a
different order); see ``docs/fused-kernels.md``.
"""

from __future__ import annotations

import operator
import os
import threading

__all__ = ["get_num_threads", "set_num_threads"]


def _available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


_lock = threading.Lock()
_num_threads = _available_cores()


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (an int >= 1) in minigrad's parallel code, for the whole process.

    Default: the cores this process may use (``len(os.sched_getaffinity(0))``).
    """
    global _num_threads
    try:
        if isinstance(n, bool):
            raise TypeError
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"set_num_threads: n must be an int >= 1, got {type(n).__name__} "
                        f"{n!r}") from None
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    with _lock:
        _num_threads = n


def get_num_threads() -> int:
    """The number of threads minigrad's parallel code uses (see :func:`set_num_threads`)."""
    return _num_threads
