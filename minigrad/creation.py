"""Making tensors, as in PyTorch: ``zeros``, ``ones``, ``full``, ``arange``, ``linspace``, ``eye``,
the ``*_like`` forms and the random ones.

Every function takes ``dtype=`` and ``requires_grad=`` (floating dtypes only). The default float
dtype is float32; ``arange`` and ``full`` infer an integer dtype from integer arguments, as
PyTorch does. The random ones (``rand``, ``randn``, ``randint``, ``rand_like``, ``randn_like``)
draw, at call time, from the generator of :mod:`minigrad.nn.init` that :func:`minigrad.manual_seed`
reseeds, so a seeded program is reproducible.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .dims import shape_arg
from .dtypes import as_dtype
from .tensor import DEFAULT_FLOAT, Tensor, _check_float, tensor

__all__ = [
    "tensor", "zeros", "ones", "full", "arange", "linspace", "eye", "zeros_like", "ones_like",
    "full_like", "empty", "empty_like", "rand", "randn", "randint", "rand_like", "randn_like",
    "from_numpy", "as_tensor",
]


def check_device(device: Any, op: str) -> None:
    """minigrad runs on the CPU: ``device`` may be None, ``"cpu"`` (or ``"cpu:0"``)."""
    if device is not None and str(device).split(":")[0] != "cpu":
        raise ValueError(f"{op}: minigrad runs on the CPU only, got device {device!r}")


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing ``ndarray``'s memory and dtype (no copy), as ``torch.from_numpy``."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy array, got {type(ndarray).__name__}")
    if ndarray.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: dtype {ndarray.dtype} is not supported (bool, integer or "
                        "float only)")
    return Tensor(ndarray)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` itself if it is already a tensor of ``dtype``, else a new tensor (a numpy array
    of the right dtype is shared, not copied), as ``torch.as_tensor``."""
    check_device(device, "as_tensor")
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or as_dtype(dtype) == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=None if dtype is None else as_dtype(dtype, "as_tensor"))


def _generator() -> np.random.Generator:
    from .nn.init import get_rng  # at call time: manual_seed replaces the generator

    return get_rng(None)


def _leaf(arr: np.ndarray, requires_grad: bool, op: str, device: Any = None) -> Tensor:
    check_device(device, op)
    if requires_grad:
        _check_float(arr.dtype, op)
    return Tensor(arr, requires_grad)


def _shape(size: tuple, op: str) -> tuple[int, ...]:
    shape = shape_arg(size, op)
    bad = [n for n in shape if n < 0]
    if bad:
        raise ValueError(f"{op}: sizes must be >= 0, got {shape}")
    return shape


def _float_dtype(dtype: Any, op: str) -> np.dtype:
    return DEFAULT_FLOAT if dtype is None else as_dtype(dtype, op)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    arr = np.zeros(_shape(size, "zeros"), _float_dtype(dtype, "zeros"))
    return _leaf(arr, requires_grad, "zeros", device)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    arr = np.ones(_shape(size, "ones"), _float_dtype(dtype, "ones"))
    return _leaf(arr, requires_grad, "ones", device)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    """Zeros (minigrad never hands out uninitialised memory)."""
    return zeros(*size, dtype=dtype, requires_grad=requires_grad, device=device)


def _fill_dtype(value: Any, dtype: Any, op: str) -> np.dtype:
    if dtype is not None:
        return as_dtype(dtype, op)
    if isinstance(value, builtins.bool | np.bool_):
        return np.dtype(np.bool_)
    if isinstance(value, int | np.integer):
        return np.dtype(np.int64)
    if isinstance(value, float | np.floating):
        return DEFAULT_FLOAT
    raise TypeError(f"{op}: fill_value must be a number, got {type(value).__name__}")


def full(size: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (int64 for an int, float32 for a float)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dt = _fill_dtype(fill_value, dtype, "full")
    arr = np.full(_shape((size,) if isinstance(size, int) else (tuple(size),), "full"),
                  fill_value, dt)
    return _leaf(arr, requires_grad, "full", device)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None,
           requires_grad: bool = False,
        device: Any = None) -> Tensor:
    """``[start, end)`` in steps of ``step`` (``arange(n)`` is ``0 .. n - 1``); int64 when every
    argument is an int, float32 otherwise."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange: the range from {start} to {end} is empty in the direction "
                         f"of step {step}")
    if dtype is None:
        ints = all(isinstance(v, int | np.integer) and not isinstance(v, builtins.bool)
                   for v in (start, end, step))
        dt = np.dtype(np.int64) if ints else DEFAULT_FLOAT
    else:
        dt = as_dtype(dtype, "arange")
    # NOTE: computed in float64 (or int64) and cast once, so float32 values are correctly rounded
    arr = np.arange(start, end, step, dtype=np.int64 if dt.kind in "iu" else np.float64)
    return _leaf(arr.astype(dt), requires_grad, "arange", device)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None,
             requires_grad: bool = False,
        device: Any = None) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if isinstance(steps, builtins.bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"linspace: steps must be an int >= 0, got {steps!r}")
    arr = np.linspace(start, end, int(steps), dtype=np.float64)
    return _leaf(arr.astype(_float_dtype(dtype, "linspace")), requires_grad, "linspace", device)


def eye(n: int, m: int | None = None, *, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    """The ``n x m`` identity (``m`` defaults to ``n``)."""
    shape = _shape((n, n if m is None else m), "eye")
    return _leaf(np.eye(*shape, dtype=_float_dtype(dtype, "eye")), requires_grad, "eye", device)


def _like_dtype(input: Any, dtype: Any, op: str) -> tuple[tuple[int, ...], np.dtype]:
    arr = input.data if isinstance(input, Tensor) else np.asarray(input)
    return arr.shape, (arr.dtype if dtype is None else as_dtype(dtype, op))


def zeros_like(input: Any, *, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    shape, dt = _like_dtype(input, dtype, "zeros_like")
    return _leaf(np.zeros(shape, dt), requires_grad, "zeros_like", device)


def ones_like(input: Any, *, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    shape, dt = _like_dtype(input, dtype, "ones_like")
    return _leaf(np.ones(shape, dt), requires_grad, "ones_like", device)


def empty_like(input: Any, *, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    return zeros_like(input, dtype=dtype, requires_grad=requires_grad, device=device)


def full_like(input: Any, fill_value: Any, *, dtype: Any = None,
              requires_grad: bool = False,
        device: Any = None) -> Tensor:
    shape, dt = _like_dtype(input, dtype, "full_like")
    return _leaf(np.full(shape, fill_value, dt), requires_grad, "full_like", device)


def _random_float(dtype: Any, op: str) -> np.dtype:
    dt = _float_dtype(dtype, op)
    if dt.kind != "f":
        raise TypeError(f"{op}: dtype must be floating point, got {dt}")
    return dt


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    """Uniform on [0, 1), from the generator that :func:`minigrad.manual_seed` seeds."""
    dt = _random_float(dtype, "rand")
    arr = _generator().random(_shape(size, "rand")).astype(dt)
    return _leaf(arr, requires_grad, "rand", device)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    """Standard normal, from the generator that :func:`minigrad.manual_seed` seeds."""
    dt = _random_float(dtype, "randn")
    arr = _generator().standard_normal(_shape(size, "randn")).astype(dt)
    return _leaf(arr, requires_grad, "randn", device)


def randint(*args: Any, low: Any = None, high: Any = None, size: Any = None, dtype: Any = None,
            requires_grad: bool = False, device: Any = None) -> Tensor:
    """``randint(high, size)`` or ``randint(low, high, size)``: integers in [low, high), int64.
    Each may be given by its keyword (``low=`` defaults to 0), as in PyTorch."""
    given = {"low": low, "high": high, "size": size}
    if len(args) == 3:
        names: tuple[str, ...] = ("low", "high", "size")
    elif len(args) == 2:
        names = ("low", "high") if size is not None else ("high", "size")
    elif len(args) == 1:
        names = ("low",) if high is not None else ("high",)
    elif not args:
        names = ()
    else:
        raise TypeError(f"randint: expected (high, size) or (low, high, size), got {len(args)} "
                        "arguments")
    for name, value in zip(names, args, strict=True):
        if given[name] is not None:
            raise TypeError(f"randint: got {name} both positionally and as {name}=")
        given[name] = value
    low, high, size = given["low"], given["high"], given["size"]
    if high is None or size is None:
        raise TypeError("randint: expected (high, size) or (low, high, size); "
                        f"missing {'high' if high is None else 'size'}")
    low = 0 if low is None else low
    for name, bound in (("low", low), ("high", high)):
        if isinstance(bound, bool) or not isinstance(bound, int | np.integer):
            raise TypeError(f"randint: {name} must be an int, got {bound!r}")
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    dt = np.dtype(np.int64) if dtype is None else as_dtype(dtype, "randint")
    shape = _shape((size,) if isinstance(size, int) else (tuple(size),), "randint")
    arr = _generator().integers(low, high, shape).astype(dt)
    return _leaf(arr, requires_grad, "randint", device)


def rand_like(input: Any, *, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    shape, dt = _like_dtype(input, dtype, "rand_like")
    return rand(shape, dtype=dt, requires_grad=requires_grad, device=device)


def randn_like(input: Any, *, dtype: Any = None, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    shape, dt = _like_dtype(input, dtype, "randn_like")
    return randn(shape, dtype=dt, requires_grad=requires_grad, device=device)

