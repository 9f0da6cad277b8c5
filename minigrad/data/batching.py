"""Minibatch iterators: padded batches of variable-length sequences, and (X, y) array batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import cast, overload

import numpy as np
import numpy.typing as npt

__all__ = ["batches", "minibatches", "num_batches"]


def _check_batch_size(batch_size: object) -> int:
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int | np.integer)
        or int(batch_size) < 1
    ):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


def num_batches(n: int, batch_size: int, *, drop_last: bool = False) -> int:
    """Number of batches that :func:`batches` / :func:`minibatches` yield for ``n`` items."""
    batch_size = _check_batch_size(batch_size)
    return n // batch_size if drop_last else -(-n // batch_size)


def _order(n: int, shuffle: bool, seed: int | np.random.Generator | None) -> npt.NDArray[np.intp]:
    if not shuffle:
        return np.arange(n)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return rng.permutation(n)


def _as_int_sequence(seq: object, index: int) -> npt.NDArray[np.int64]:
    arr = np.asarray(seq)
    if arr.ndim != 1:
        raise ValueError(f"sequence {index} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise ValueError(f"sequence {index} must hold integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def batches(
    sequences: Iterable[npt.ArrayLike],
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int | np.random.Generator | None = None,
    pad_value: int = 0,
    drop_last: bool = False,
) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Yield padded batches of variable-length integer sequences.

    Each batch is ``(padded, lengths)``: ``padded`` is an int64 array of shape ``(B, T_max)``
    where row ``b`` holds sequence ``b`` followed by ``pad_value`` up to ``T_max``, the longest
    length in that batch; ``lengths`` is int64 of shape ``(B,)``. ``B == batch_size`` except
    possibly for the last batch, which is dropped if ``drop_last``.

    Args:
        sequences: an iterable of 1-D integer sequences (lists or arrays), e.g. encoded names.
        batch_size: positive number of sequences per batch.
        shuffle: visit the sequences in a random order (otherwise in the given order).
        seed: an int seed (or a ``numpy.random.Generator``) for the shuffle; the same seed gives
            the same batches. ``None`` draws a fresh order.
        pad_value: the fill value after the end of each shorter sequence.
        drop_last: skip a final batch that is smaller than ``batch_size``.

    Raises:
        ValueError: a bad ``batch_size`` or a sequence that is not 1-D integer.
    """
    batch_size = _check_batch_size(batch_size)
    seqs = [_as_int_sequence(s, i) for i, s in enumerate(sequences)]
    return _padded_batches(seqs, batch_size, shuffle, seed, int(pad_value), drop_last)


def _padded_batches(
    seqs: list[npt.NDArray[np.int64]],
    batch_size: int,
    shuffle: bool,
    seed: int | np.random.Generator | None,
    pad_value: int,
    drop_last: bool,
) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    order = _order(len(seqs), shuffle, seed)
    for start in range(0, len(seqs), batch_size):
        idx = order[start : start + batch_size]
        if drop_last and idx.size < batch_size:
            return
        lengths = np.array([seqs[i].size for i in idx], dtype=np.int64)
        padded = np.full((idx.size, int(lengths.max())), pad_value, dtype=np.int64)
        for row, i in enumerate(idx):
            padded[row, : lengths[row]] = seqs[i]
        yield padded, lengths


@overload
def minibatches(
    X: npt.ArrayLike,
    y: None = None,
    batch_size: int = ...,
    *,
    shuffle: bool = ...,
    seed: int | np.random.Generator | None = ...,
    drop_last: bool = ...,
) -> Iterator[np.ndarray]: ...


@overload
def minibatches(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    batch_size: int = ...,
    *,
    shuffle: bool = ...,
    seed: int | np.random.Generator | None = ...,
    drop_last: bool = ...,
) -> Iterator[tuple[np.ndarray, np.ndarray]]: ...


def minibatches(
    X: npt.ArrayLike,
    y: npt.ArrayLike | None = None,
    batch_size: int = 32,
    *,
    shuffle: bool = True,
    seed: int | np.random.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[np.ndarray] | Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield minibatches of rows of ``X`` (and the matching rows of ``y``).

    With ``y`` each item is ``(X_batch, y_batch)``; without it, just ``X_batch``. Batches are
    fresh arrays (fancy-indexed copies) of ``batch_size`` rows; the last may be smaller unless
    ``drop_last``. ``shuffle`` and ``seed`` behave as in :func:`batches`.

    Raises:
        ValueError: a bad ``batch_size``, a 0-d array, or ``X`` and ``y`` of different lengths.
    """
    batch_size = _check_batch_size(batch_size)
    X = np.asarray(X)
    if X.ndim == 0:
        raise ValueError("X must have at least one dimension")
    if y is None:
        return cast(
            Iterator[np.ndarray], _array_batches(X, None, batch_size, shuffle, seed, drop_last)
        )
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[0] != X.shape[0]:
        n_y = y.shape[0] if y.ndim else "a 0-d array"
        raise ValueError(f"X and y have different lengths: {X.shape[0]} and {n_y}")
    return cast(
        Iterator[tuple[np.ndarray, np.ndarray]],
        _array_batches(X, y, batch_size, shuffle, seed, drop_last),
    )


def _array_batches(
    X: np.ndarray,
    y: np.ndarray | None,
    batch_size: int,
    shuffle: bool,
    seed: int | np.random.Generator | None,
    drop_last: bool,
) -> Iterator[np.ndarray | tuple[np.ndarray, np.ndarray]]:
    n = X.shape[0]
    order = _order(n, shuffle, seed)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        if drop_last and idx.size < batch_size:
            return
        yield X[idx] if y is None else (X[idx], y[idx])
