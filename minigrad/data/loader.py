"""A small ``DataLoader``: minibatches of ``(inputs, targets[, lengths])``, shuffled from a seeded
generator, batch-first or time-major.

    loader = DataLoader(names, next_chars, batch_size=32, generator=0)
    for x, y, lengths in loader:        # x (B, T_max) padded, y (B, T_max) padded with -100
        ...

Each field is either an array (or a list of numbers) whose first axis holds the ``N`` examples
(every batch takes rows of it), or a list of ``N`` variable-length sequences (1-D, or
``(T_i, ...)``), which each batch pads along the time axis to the longest sequence in that
batch. When the inputs are such a list, every batch also carries their true ``lengths`` (what
the recurrent layers take as ``lengths=``); padded target positions hold ``target_pad_value``
(-100 by default, the ``ignore_index`` of :func:`minigrad.nn.functional.cross_entropy`), so they
drop out of the loss.

Shapes (B the batch, T the longest time in the batch, I the features of one step):

    inputs   (B, T, I) or (B, T) batch-first; (T, B, I) or (T, B) with time_major=True
    targets  (B,) per-sequence labels stay (B,); per-step targets (B, T, ...) follow the inputs
    lengths  (B,) int64
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["DataLoader"]

Batch = tuple[Any, ...]  # (inputs, targets) or (inputs, targets, lengths), numpy arrays


class DataLoader:
    """Iterate over minibatches of ``(inputs, targets)``, or ``(inputs, targets, lengths)``.

    Args:
        inputs: an array with the ``N`` examples along axis 0, or a list of ``N`` variable-length
            sequences (padded per batch with ``pad_value``; the batch then carries ``lengths``).
        targets: the same for the targets: ``N`` labels, an ``(N, T, ...)`` array of per-step
            targets, or a list of ``N`` sequences (padded with ``target_pad_value``).
        lengths: the valid length of each of the ``N`` input rows, for array inputs that are
            already padded; batches then carry it as their third item. Computed (and not to be
            given) when the inputs are a list of sequences.
        batch_size: examples per batch; the last batch may be smaller unless ``drop_last``.
        shuffle: visit the examples in a new random order at every iteration (every epoch).
        generator: where the order comes from: ``None`` reads :mod:`minigrad.nn.init`'s
            generator (reseeded by :func:`minigrad.manual_seed`) when each epoch starts; an
            ``int`` seeds a generator of the loader's own (the same seed gives the same sequence
            of epochs); a ``numpy.random.Generator`` is used as it is.
        time_major: yield the inputs and per-step targets as ``(T, B, ...)`` instead of
            ``(B, T, ...)`` (the layers' default layout; ``batch_first=True`` layers want the
            batch-first one).
        drop_last: skip a final batch smaller than ``batch_size``.

    Raises:
        ValueError: fields of different lengths, a bad ``batch_size``, lengths that do not fit
            the inputs; each message names the argument and the numbers.
    """

    def __init__(self, inputs: npt.ArrayLike | Sequence[npt.ArrayLike],
                 targets: npt.ArrayLike | Sequence[npt.ArrayLike], *,
                 lengths: npt.ArrayLike | None = None, batch_size: int = 32,
                 shuffle: bool = True, generator: np.random.Generator | int | None = None,
                 time_major: bool = False, drop_last: bool = False, pad_value: float = 0,
                 target_pad_value: float = -100) -> None:
        if (isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer)
                or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive integer, "
                             f"got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.time_major = bool(time_major)
        self.drop_last = bool(drop_last)
        self._inputs = _Field("inputs", inputs, pad_value)
        self._targets = _Field("targets", targets, target_pad_value)
        n = len(self._inputs)
        if len(self._targets) != n:
            raise ValueError(f"DataLoader: inputs and targets hold different numbers of "
                             f"examples: {n} and {len(self._targets)}")
        if n == 0:
            raise ValueError("DataLoader: no examples (inputs is empty)")
        self._lengths: np.ndarray | None = None
        if self._inputs.ragged:
            if lengths is not None:
                raise ValueError("DataLoader: lengths are computed from a list of input "
                                 "sequences; pass lengths only with padded array inputs")
            self._lengths = self._inputs.sizes
        elif lengths is not None:
            self._lengths = _check_lengths(lengths, n, self._inputs)
        if generator is None:
            self._rng: np.random.Generator | None = None
        else:
            from minigrad.nn.init import get_rng  # here: minigrad.nn imports minigrad.data

            self._rng = get_rng(generator)

    def __len__(self) -> int:
        """The number of batches one iteration yields."""
        n = len(self._inputs)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self._inputs)
        if not self.shuffle:
            return np.arange(n)
        rng = self._rng
        if rng is None:  # read at use time, so that manual_seed between epochs takes effect
            from minigrad.nn.init import get_rng

            rng = get_rng(None)
        return rng.permutation(n)

    def __iter__(self) -> Iterator[Batch]:
        order = self._order()
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.drop_last and idx.size < self.batch_size:
                return
            x = self._inputs.take(idx)
            y = self._targets.take(idx)
            if self.time_major:
                x = _time_major(x)
                if self._targets.ragged or y.ndim >= 2:
                    y = _time_major(y)
            if self._lengths is None:
                yield x, y
            else:
                yield x, y, self._lengths[idx]

    def __repr__(self) -> str:
        layout = "time-major" if self.time_major else "batch-first"
        return (f"DataLoader({len(self._inputs)} examples, batch_size={self.batch_size}, "
                f"{len(self)} batches, shuffle={self.shuffle}, {layout})")


class _Field:
    """One field of the data set: an array (rows taken as they are) or a ragged list (padded)."""

    def __init__(self, name: str, data: Any, pad_value: float) -> None:
        self.name = name
        self.pad_value = pad_value
        seqs = [np.asarray(s) for s in data] if isinstance(data, list | tuple) else None
        # a list of sequences is ragged; a list of plain numbers is one value per example
        self.ragged = seqs is not None and not all(s.ndim == 0 for s in seqs)
        if self.ragged:
            assert seqs is not None
            self.seqs = seqs
            for i, s in enumerate(self.seqs):
                if s.ndim == 0:
                    raise ValueError(f"DataLoader: {name}[{i}] is a scalar; a list of {name} "
                                     f"must hold sequences (use an array for one value each)")
                if s.shape[1:] != self.seqs[0].shape[1:]:
                    raise ValueError(f"DataLoader: {name}[{i}] has steps of shape "
                                     f"{s.shape[1:]}, {name}[0] of shape {self.seqs[0].shape[1:]}")
            self.dtype = np.result_type(*self.seqs) if self.seqs else np.dtype(np.int64)
            self.sizes = np.array([s.shape[0] for s in self.seqs], dtype=np.int64)
        else:
            self.array = np.asarray(data)
            if self.array.ndim == 0:
                raise ValueError(f"DataLoader: {name} must have a first axis of examples, "
                                 f"got a scalar")

    def __len__(self) -> int:
        return len(self.seqs) if self.ragged else int(self.array.shape[0])

    def take(self, idx: np.ndarray) -> np.ndarray:
        if not self.ragged:
            return self.array[idx]
        sizes = self.sizes[idx]
        first = self.seqs[int(idx[0])]
        out = np.full((len(idx), int(sizes.max()), *first.shape[1:]), self.pad_value,
                      dtype=self.dtype)
        for row, i in enumerate(idx):
            out[row, :sizes[row]] = self.seqs[i]
        return out


def _check_lengths(lengths: npt.ArrayLike, n: int, inputs: _Field) -> np.ndarray:
    arr = np.asarray(lengths)
    if arr.shape != (n,) or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise ValueError(f"DataLoader: lengths must be {n} integers (one per example), got "
                         f"shape {arr.shape} of {arr.dtype}")
    steps = inputs.array.shape[1] if inputs.array.ndim >= 2 else None
    bad = (arr < 0) | (arr > steps) if steps is not None else arr < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"DataLoader: lengths[{i}] = {int(arr[i])} is outside [0, {steps}], "
                         f"the time steps of the inputs")
    return arr.astype(np.int64)


def _time_major(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.swapaxes(a, 0, 1)) if a.ndim >= 2 else a
