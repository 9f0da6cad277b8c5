"""Hypothesis strategies for gradient tests, built on ``hypothesis.extra.numpy``.

Finite differences need inputs that stay away from kinks (0 for relu and abs, ties for max) and
from the edges of an op's domain (0 for log and sqrt). ``arrays(domain=...)`` draws from a
domain chosen for that: every element of a ``"positive"`` array is at least ``margin`` above 0,
every element of a ``"nonzero"`` one at least ``margin`` away from 0, and a ``"distinct"`` array has
elements at least ``margin`` apart, so no step of size eps changes which branch is taken.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

#: name -> (low, high, margin) of the element range; see arrays()
DOMAINS: dict[str, tuple[float, float, float]] = {
    "real": (-2.0, 2.0, 0.0),
    "positive": (0.2, 3.0, 0.0),
    "nonzero": (-2.0, 2.0, 0.1),
    "unit": (-0.9, 0.9, 0.0),
    "distinct": (-3.0, 3.0, 0.05),
}


def shapes(*, min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
           max_side: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes, including 0-d (``()``) and size-1 axes by default."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(n: int = 2, *, min_dims: int = 0, max_dims: int = 3,
                         max_side: int = 4) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """``n`` shapes that broadcast together (size-1 axes and missing leading axes included)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda b: tuple(b.input_shapes))


def _away_from_zero(a: np.ndarray, margin: float) -> np.ndarray:
    return np.where(a >= 0, a + margin, a - margin)


def arrays(shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]], *,
           dtype: Any = np.float64, domain: str = "real") -> st.SearchStrategy[np.ndarray]:
    """Float arrays of ``shape`` with elements from one of :data:`DOMAINS`."""
    if domain not in DOMAINS:
        raise ValueError(f"arrays: unknown domain {domain!r}; choose from {sorted(DOMAINS)}")
    lo, hi, margin = DOMAINS[domain]
    dtype = np.dtype(dtype)
    if domain == "distinct":
        # a grid of step > 2 * margin, sampled without replacement: ties are impossible
        grid = st.integers(int(lo / (3 * margin)), int(hi / (3 * margin)))
        return hnp.arrays(np.int64, shape, elements=grid, unique=True).map(
            lambda a: (a * 3 * margin).astype(dtype))
    elements = st.floats(lo, hi, width=32 if dtype == np.float32 else 64,
                         allow_nan=False, allow_infinity=False, allow_subnormal=False)
    base = hnp.arrays(dtype, shape, elements=elements)
    if margin:
        return base.map(lambda a: _away_from_zero(a, margin).astype(dtype))
    return base


def dims(rank: int, *, allow_none: bool = True, multiple: bool = True
         ) -> st.SearchStrategy[Any]:
    """A ``dim`` argument for a tensor of ``rank``: an int in ``[-rank, rank - 1]`` (negative dims
    included; ``-1`` or ``0`` for a 0-d tensor), None (every dim) when ``allow_none``, and a tuple
    of distinct dims (in any order, some negative) when ``multiple``."""
    n = max(rank, 1)
    options: list[st.SearchStrategy[Any]] = [st.integers(-n, n - 1)]
    if allow_none:
        options.append(st.none())
    if multiple and rank:
        options.append(st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank, unique=True)
                       .flatmap(lambda ds: st.tuples(*(st.sampled_from([d, d - rank])
                                                       for d in ds))))
    return st.one_of(*options)


def index_arrays(shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]], size: int, *,
                 negative: bool = True) -> st.SearchStrategy[np.ndarray]:
    """int64 arrays of ``shape`` holding valid indices into a dim of ``size`` (``size >= 1``),
    negative ones (counting from the end) included when ``negative``."""
    return hnp.arrays(np.int64, shape, elements=st.integers(-size if negative else 0, size - 1))
