"""Loaders for the small data sets bundled inside the ``minigrad.data`` package.

Every loader reads the packaged copy through :mod:`importlib.resources`; nothing is downloaded and
nothing outside the package is read. See ``PROVENANCE.md`` next to this module for the source,
checksum and licence of each file.
"""

from __future__ import annotations

import gzip
import io
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

__all__ = [
    "UnknownDatasetError",
    "available_texts",
    "load_digits",
    "load_dinos",
    "load_mnist",
    "load_text",
    "read_bytes",
    "train_test_split",
]

_PACKAGE = "minigrad.data"

#: Text corpora by public name -> file name inside the package.
_TEXTS: dict[str, str] = {
    "dinos": "dinos.txt",
    "shakespeare": "tinyshakespeare.txt",
}

#: Every data file shipped with the package.
_FILES: tuple[str, ...] = ("digits.csv.gz", "dinos.txt", "mnist_5k.csv.gz", "tinyshakespeare.txt")


class UnknownDatasetError(KeyError):
    """A data set name that is not bundled; the message lists the available names."""

    def __str__(self) -> str:  # KeyError would otherwise show the message in quotes
        return str(self.args[0]) if self.args else ""


def read_bytes(filename: str) -> bytes:
    """Return the raw bytes of a bundled data file, e.g. ``read_bytes("dinos.txt")``.

    Raises:
        FileNotFoundError: ``filename`` is not one of the bundled files (the message lists them).
    """
    if filename not in _FILES:
        raise FileNotFoundError(
            f"no bundled data file {filename!r}; available: {', '.join(map(repr, _FILES))}"
        )
    return resources.files(_PACKAGE).joinpath(filename).read_bytes()


def available_texts() -> tuple[str, ...]:
    """Names accepted by :func:`load_text`, e.g. ``("dinos", "shakespeare")``."""
    return tuple(sorted(_TEXTS))


def load_text(name: str) -> str:
    """Return a bundled text corpus as one string, exactly as stored (no case folding).

    Args:
        name: ``"dinos"`` (1,536 dinosaur names, one per line) or ``"shakespeare"``
            (the ~1.1 MB "tiny shakespeare" corpus).

    Raises:
        UnknownDatasetError: (a ``KeyError``) unknown ``name``; the message lists the
            available names.
    """
    try:
        filename = _TEXTS[name]
    except (KeyError, TypeError):
        raise UnknownDatasetError(
            f"unknown text data set {name!r}; available: {', '.join(map(repr, available_texts()))}"
        ) from None
    return read_bytes(filename).decode("utf-8")


def load_dinos() -> list[str]:
    """Return the dinosaur names, lower-cased, in file order (1,536 names, duplicates kept).

    This is the usual preprocessing of the "Dinosaur Island" exercise: with ``"\\n"`` as the
    end-of-name symbol the alphabet is a-z plus newline (27 symbols).
    """
    return [line.strip().lower() for line in load_text("dinos").splitlines() if line.strip()]


@cache
def _read_csv_gz(filename: str) -> npt.NDArray[np.uint8]:
    """Decompress and parse an all-integer CSV file (values 0..255). Cached; do not mutate."""
    raw = gzip.decompress(read_bytes(filename))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.uint8, ndmin=2)
    table.setflags(write=False)
    return table


def load_digits() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """The UCI optical-digits test set (as in scikit-learn's ``load_digits``).

    Returns:
        ``(X, y)``: ``X`` float64 of shape (1797, 64), each row an 8x8 image flattened row by row
        and scaled from 0..16 to [0, 1]; ``y`` int64 labels 0..9 of shape (1797,). Fresh arrays.
    """
    table = _read_csv_gz("digits.csv.gz")
    X = table[:, :64].astype(np.float64) / 16.0
    y = table[:, 64].astype(np.int64)
    return X, y


def load_mnist(
    n: int | None = None,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """A 5,000-image MNIST subset: the first 500 training images of each digit.

    The stored rows are grouped by label (all zeros, then all ones, ...). Shuffle before
    splitting, for instance with :func:`train_test_split`.

    Args:
        n: if given, return only ``n`` rows (1 <= n <= 5000), taken class-balanced: the rows are
            first interleaved by label (0, 1, ..., 9, 0, 1, ...) and the first ``n`` of that order
            are kept, so the label counts differ by at most one. ``None`` returns all 5,000 rows
            in file order.

    Returns:
        ``(X, y)``: ``X`` float32 of shape (n, 784), pixels scaled from 0..255 to [0, 1], each row
        a 28x28 image flattened row by row; ``y`` int64 labels 0..9 of shape (n,). Fresh arrays.

    Raises:
        ValueError: ``n`` out of range.
    """
    table = _read_csv_gz("mnist_5k.csv.gz")
    total = table.shape[0]
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= total:
            raise ValueError(f"n must be an integer in [1, {total}] or None, got {n!r}")
        labels = table[:, -1]
        rank = np.empty(total, dtype=np.int64)
        for digit in np.unique(labels):
            rows = np.flatnonzero(labels == digit)
            rank[rows] = np.arange(rows.size)
        # Sort by (position within its class, label): 0, 1, ..., 9, 0, 1, ...
        order = np.lexsort((labels, rank))[: int(n)]
        table = table[order]
    X = table[:, :-1].astype(np.float32) / np.float32(255.0)
    y = table[:, -1].astype(np.int64)
    return X, y


def train_test_split(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    test_size: float | int = 0.2,
    seed: int | None = None,
    *,
    stratify: bool | npt.ArrayLike = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and split ``(X, y)`` into ``(X_train, X_test, y_train, y_test)``.

    Args:
        X, y: arrays with the same first dimension (at least 2 rows).
        test_size: a fraction in (0, 1) of the rows (rounded, at least 1 and leaving at least 1
            for training), or an absolute number of test rows.
        seed: seed for :func:`numpy.random.default_rng`; the same seed gives the same split.
        stratify: keep the label proportions of ``y`` (1-D) in both parts. The test size is
            exactly the one asked for; it is shared among the labels in proportion to their
            counts by the largest-remainder method (each label gets the floor of its share,
            and the rows still missing go to the labels with the largest fractional parts), so
            any size from 1 to ``n - 1`` works. An array of one label per row (scikit-learn's
            ``stratify=y``) keeps the proportions of those labels instead.

    Raises:
        ValueError: mismatched lengths or an impossible ``test_size``.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError("X and y must have at least one dimension")
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"X and y have different lengths: {n} and {y.shape[0]}")
    n_test = _resolve_test_size(test_size, n)
    rng = np.random.default_rng(seed)
    if isinstance(stratify, (bool, np.bool_)):
        strata = y if stratify else None
        what = "y"
    else:
        strata, what = np.asarray(stratify), "the stratify labels"
        if strata.ndim == 1 and strata.shape[0] != n:
            raise ValueError(f"stratify has {strata.shape[0]} labels for {n} rows")
    if strata is None:
        perm = rng.permutation(n)
        test_idx, train_idx = perm[:n_test], perm[n_test:]
    else:
        if strata.ndim != 1:
            raise ValueError(
                f"stratify needs one label per row: {what} must be 1-D, got shape {strata.shape}"
            )
        labels, codes = np.unique(strata, return_inverse=True)
        counts = np.bincount(codes, minlength=labels.size)
        per_label = _largest_remainder(n_test, counts)
        test_parts, train_parts = [], []
        for code, k in enumerate(per_label):
            rows = rng.permutation(np.flatnonzero(codes == code))
            test_parts.append(rows[:k])
            train_parts.append(rows[k:])
        test_idx = rng.permutation(np.concatenate(test_parts))
        train_idx = rng.permutation(np.concatenate(train_parts))
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def _largest_remainder(total: int, counts: np.ndarray) -> list[int]:
    """Split ``total`` over groups in proportion to ``counts``, exactly (Hamilton's method).

    Each group gets the floor of its share ``total * count / n``; the rows still missing go one
    each to the groups with the largest fractional parts (ties to the earlier group). The parts
    add up to ``total`` and no group gets more than its count.
    """
    n = int(counts.sum())
    exact = [total * int(c) for c in counts]  # shares times n, in integers: no rounding
    parts = [e // n for e in exact]
    short = total - sum(parts)
    by_remainder = sorted(range(len(parts)), key=lambda i: (-(exact[i] % n), i))
    for i in by_remainder[:short]:
        parts[i] += 1
    return parts


def _resolve_test_size(test_size: float | int, n: int) -> int:
    if isinstance(test_size, bool):
        raise ValueError(f"test_size must be a fraction or a row count, got {test_size!r}")
    if isinstance(test_size, int | np.integer):
        n_test = int(test_size)
    elif isinstance(test_size, float | np.floating):
        if not 0.0 < float(test_size) < 1.0:
            raise ValueError(f"a fractional test_size must be in (0, 1), got {test_size!r}")
        n_test = max(1, int(round(float(test_size) * n)))
    else:
        raise ValueError(f"test_size must be a fraction or a row count, got {test_size!r}")
    if not 1 <= n_test <= n - 1:
        raise ValueError(
            f"test_size={test_size!r} gives {n_test} test rows; need 1..{n - 1} for {n} rows"
        )
    return n_test
