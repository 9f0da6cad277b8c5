"""Bundled data sets and small data utilities.

Data sets (read from the files packaged here; see ``PROVENANCE.md`` for sources and licences):

- :func:`load_digits` -- UCI optical digits, 1,797 8x8 images.
- :func:`load_mnist` -- 5,000 MNIST images (500 per digit, rows grouped by label).
- :func:`load_text` -- ``"dinos"`` or ``"shakespeare"`` as one string; :func:`load_dinos` gives
  the lower-cased dinosaur names as a list.

Utilities: :class:`DataLoader` (minibatches of ``(inputs, targets[, lengths])``, shuffled from
the seeded generator, batch-first or time-major), :class:`CharVocab` (character <-> id),
:func:`batches` (padded batches of variable-length sequences alone), :func:`minibatches` (row
batches of arrays) and :func:`train_test_split` (seeded shuffle and split).
"""

from minigrad.data.batching import batches, minibatches, num_batches
from minigrad.data.datasets import (
    UnknownDatasetError,
    available_texts,
    load_digits,
    load_dinos,
    load_mnist,
    load_text,
    read_bytes,
    train_test_split,
)
from minigrad.data.loader import DataLoader
from minigrad.data.vocab import CharVocab

__all__ = [
    "CharVocab",
    "DataLoader",
    "UnknownDatasetError",
    "available_texts",
    "batches",
    "load_digits",
    "load_dinos",
    "load_mnist",
    "load_text",
    "minibatches",
    "num_batches",
    "read_bytes",
    "train_test_split",
]
