"""The one set of argument checks every fused kernel wrapper uses (at the kernels' boundary).

Normalising layout and writeability keeps each compiled kernel at two signatures (float32,
float64): Numba specialises on both, so every array a kernel sees is C-contiguous and writeable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_lengths", "check_array", "check_out", "float_dtype"]


def float_dtype(name: str, a: Any) -> np.dtype[Any]:
    """The dtype of ``a`` if it is float32 or float64 (else TypeError): the one all the other
    float arrays of a kernel call must share."""
    dt = np.asarray(a).dtype
    if dt not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got {dt}")
    return dt


def check_array(name: str, a: Any, dtype: np.dtype[Any], shape: tuple[int, ...]) -> np.ndarray:
    """``a`` as a C-contiguous, writeable array of exactly ``dtype`` and ``shape``: TypeError or
    ValueError naming the argument otherwise (no silent casting); copies only when needed."""
    arr = np.asarray(a)
    if arr.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype} like xw, got {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    if not (arr.flags.c_contiguous and arr.flags.writeable):
        arr = np.array(arr, dtype=dtype, order="C", copy=True)
    return arr


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
