"""The dtypes under PyTorch's names: ``mg.float32``, ``mg.float64``, ``mg.int64``, ``mg.bool`` ...

They are numpy dtypes, so ``x.dtype == mg.float32`` and ``np.zeros(3, mg.int64)`` both work.
:func:`as_dtype` also accepts numpy types, strings (``"float32"``) and Python's ``float``/``int``/
``bool`` (float means minigrad's default float, float32, as in PyTorch).
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
float16 = np.dtype(np.float16)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
int16 = np.dtype(np.int16)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool = np.dtype(np.bool_)  # noqa: A001 (PyTorch's name, as mg.bool)
double = float64
long = int64

__all__ = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool",
           "double", "long", "as_dtype"]


def as_dtype(value: Any, op: str = "dtype") -> np.dtype:
    """``value`` as a numpy dtype; Python's ``float`` is float32 (PyTorch's default float)."""
    if value is builtins.float:
        return float32
    if value is builtins.int:
        return int64
    if value is builtins.bool:
        return bool
    try:
        dt = np.dtype(value)
    except TypeError:
        raise TypeError(f"{op}: {value!r} is not a dtype (use mg.float32, mg.float64, mg.int64, "
                        "mg.bool ...)") from None
    if dt.kind not in "biuf":
        raise TypeError(f"{op}: dtype {dt} is not supported (bool, integer or float only)")
    return dt
