"""Parameter initialisation and the random generator that layers draw from.

Every random draw in :mod:`minigrad.nn` (initial weights, dropout masks) comes from one
module-level :class:`numpy.random.Generator` unless a layer or call is given its own ``rng``.
:func:`manual_seed` reseeds that generator *in place* (the same object gets a fresh state), so a
layer that holds it, or looks it up at each call, draws the reseeded sequence:

    >>> from minigrad import nn
    >>> nn.manual_seed(0)
    >>> a = nn.Linear(3, 2).weight.data
    >>> nn.manual_seed(0)
    >>> b = nn.Linear(3, 2).weight.data
    >>> bool((a == b).all())
    True

The ``*_`` functions fill a tensor in place, writing through minigrad (so its version counter moves
and a graph that saved the old values refuses to backpropagate through them), and return it.
The fans of a weight of shape ``(out, in, *k)`` are ``fan_in = in * prod(k)`` and
``fan_out = out * prod(k)``, as in PyTorch.
"""

from __future__ import annotations

import math

import numpy as np

from ..optim._functional import write_
from ..tensor import Tensor

__all__ = [
    "manual_seed", "default_generator", "get_rng", "calculate_fans", "calculate_gain",
    "uniform_", "normal_", "constant_", "zeros_", "ones_", "xavier_uniform_", "xavier_normal_",
    "kaiming_uniform_", "kaiming_normal_",
]

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator that :mod:`minigrad.nn` draws from, in place; returns it.

    The generator object stays the same (its bit generator gets the state of
    ``numpy.random.default_rng(seed)``), so every holder of it sees the new sequence.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _generator.bit_generator.state = np.random.default_rng(int(seed)).bit_generator.state
    return _generator


def default_generator() -> np.random.Generator:
    """The module-level generator (always the same object; :func:`manual_seed` reseeds it)."""
    return _generator


def get_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """``rng`` itself, a new generator seeded with an int, or the module-level one for None."""
    if rng is None:
        return _generator
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got "
                    f"{type(rng).__name__}")


def calculate_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape``; needs at least 2 dimensions."""
    if len(shape) < 2:
        raise ValueError(f"fans need a weight with at least 2 dimensions, got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity: 1 (linear, sigmoid), 5/3 (tanh), sqrt(2) (relu),
    sqrt(2 / (1 + a^2)) (leaky_relu with slope ``a``, default 0.01)."""
    if nonlinearity in ("linear", "identity", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        a = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + a * a))
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def _fill(t: Tensor, values: np.ndarray) -> Tensor:
    write_(t, np.asarray(values, dtype=t.data.dtype).reshape(t.shape))
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0,
             rng: np.random.Generator | int | None = None) -> Tensor:
    """Fill with draws from U(a, b)."""
    return _fill(t, get_rng(rng).uniform(a, b, size=t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0,
            rng: np.random.Generator | int | None = None) -> Tensor:
    """Fill with draws from N(mean, std^2)."""
    return _fill(t, get_rng(rng).normal(mean, std, size=t.shape))


def constant_(t: Tensor, value: float) -> Tensor:
    return _fill(t, np.full(t.shape, value))


def zeros_(t: Tensor) -> Tensor:
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    return constant_(t, 1.0)


def xavier_uniform_(t: Tensor, gain: float = 1.0,
                    rng: np.random.Generator | int | None = None) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    fan_in, fan_out = calculate_fans(t.shape)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a, rng)


def xavier_normal_(t: Tensor, gain: float = 1.0,
                   rng: np.random.Generator | int | None = None) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fans(t.shape)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def _fan(shape: tuple[int, ...], mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return calculate_fans(shape)[0 if mode == "fan_in" else 1]


def kaiming_uniform_(t: Tensor, a: float = 0.0, nonlinearity: str = "leaky_relu",
                     mode: str = "fan_in",
                     rng: np.random.Generator | int | None = None) -> Tensor:
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al., 2015); ``a`` is the leaky slope.

    With ``a = sqrt(5)`` this is PyTorch's default for Linear weights: b = 1 / sqrt(fan_in).
    """
    fan = _fan(t.shape, mode)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(t, -bound, bound, rng)


def kaiming_normal_(t: Tensor, a: float = 0.0, nonlinearity: str = "leaky_relu",
                    mode: str = "fan_in",
                    rng: np.random.Generator | int | None = None) -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan)."""
    fan = _fan(t.shape, mode)
    return normal_(t, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), rng)
