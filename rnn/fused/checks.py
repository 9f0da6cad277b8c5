"""The one set of argument checks every fused kernel wrapper uses (at the kernels' boundary).

Normalising layout and writeability keeps each compiled kernel at two signatures (float32,
float64): Numba specialises on both, so every array a kernel sees is C-contiguous and writeable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_lengths", "check_float_arrays", "check_out", "check_shapes"]


def check_float_arrays(**arrays: Any) -> tuple[np.ndarray, ...]:
    """C-contiguous, writeable versions of the arrays, all float32 or all float64 (else TypeError
    naming the first offender); copies only what is not already so."""
    out = []
    dtype = None
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.dtype not in (np.float32, np.float64):
            raise TypeError(f"{name} must be float32 or float64, got {a.dtype}")
        if dtype is None:
            dtype = a.dtype
        elif a.dtype != dtype:
            raise TypeError(f"{name} has dtype {a.dtype}, expected {dtype} like the others")
        a = np.ascontiguousarray(a)
        out.append(a if a.flags.writeable else a.copy())
    return tuple(out)


def check_shapes(what: str, **shapes: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    """Raise one ValueError listing every ``name: (got, want)`` pair that differs."""
    bad = [f"{name} {got} (expected {want})" for name, (got, want) in shapes.items()
           if tuple(got) != tuple(want)]
    if bad:
        raise ValueError(f"{what}: inconsistent shapes: " + ", ".join(bad))


def check_out(name: str, out: np.ndarray | None, shape: tuple[int, ...],
              dtype: np.dtype[Any]) -> np.ndarray:
    """An output array for a kernel: ``out`` itself if it fits, a new one if None."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"{name} must be a C-contiguous {shape} {dtype} array, got "
                         f"{out.shape} {out.dtype}")
    return out


def as_lengths(lengths: Any, T: int, B: int) -> np.ndarray:
    """Validated int64 (B,) lengths in [1, T]; every row gets T when ``lengths`` is None."""
    if lengths is None:
        return np.full(B, T, dtype=np.int64)
    lens = np.asarray(lengths)
    if lens.shape != (B,):
        raise ValueError(f"lengths must have shape ({B},), got {lens.shape}")
    if lens.dtype.kind not in "iu":
        raise TypeError(f"lengths must be integers, got {lens.dtype}")
    lens = np.array(lens, dtype=np.int64, order="C", copy=True)
    if B and (lens.min() < 1 or lens.max() > T):
        raise ValueError(f"lengths must lie in [1, {T}], got min {lens.min()}, max {lens.max()}")
    return lens
