"""Tests for minigrad.data: bundled files, loaders, vocabulary and batching."""

from __future__ import annotations

import gzip
import hashlib
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigrad import data
from minigrad.data import (
    CharVocab,
    UnknownDatasetError,
    batches,
    load_digits,
    load_dinos,
    load_mnist,
    load_text,
    minibatches,
    num_batches,
    train_test_split,
)

EXPECTED_SHA256 = {
    "tinyshakespeare.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    "dinos.txt": "ad6465621cf56c08f71d4fbb40cf7eab763f9df42c54cc460d6c4d86e9c927fb",
    "digits.csv.gz": "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
    "mnist_5k.csv.gz": "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
}


# ----------------------------------------------------------------------------- bundled files


@pytest.mark.parametrize("filename", sorted(EXPECTED_SHA256))
def test_bundled_file_checksum(filename: str) -> None:
    assert hashlib.sha256(data.read_bytes(filename)).hexdigest() == EXPECTED_SHA256[filename]


def test_provenance_lists_every_checksum() -> None:
    from importlib import resources

    text = resources.files("minigrad.data").joinpath("PROVENANCE.md").read_text("utf-8")
    for filename, digest in EXPECTED_SHA256.items():
        assert filename in text
        assert digest in text
    # No absolute file-system paths: the provenance refers to public sources only.
    assert re.search(r"(?:^|[\s`'\"(])/[A-Za-z]", text) is None


def test_decompressed_digits_checksum() -> None:
    raw = gzip.decompress(data.read_bytes("digits.csv.gz"))
    assert hashlib.sha256(raw).hexdigest() == (
        "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8"
    )


def test_read_bytes_unknown_file_lists_available() -> None:
    with pytest.raises(FileNotFoundError, match=r"dinos\.txt.*mnist_5k\.csv\.gz"):
        data.read_bytes("../../setup.py")


# ----------------------------------------------------------------------------- loaders


def test_load_digits() -> None:
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    # Values are k/16 for integer k.
    assert np.array_equal(X * 16, np.round(X * 16))
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_load_digits_returns_fresh_arrays() -> None:
    X1, y1 = load_digits()
    X1[:] = -1
    y1[:] = -1
    X2, y2 = load_digits()
    assert X2.min() == 0.0 and y2.min() == 0


def test_load_mnist_full() -> None:
    X, y = load_mnist()
    assert X.shape == (5000, 784) and X.dtype == np.float32
    assert y.shape == (5000,) and y.dtype == np.int64
    assert 0.0 <= X.min() and X.max() == 1.0
    # Stored grouped by label, 500 each.
    assert np.array_equal(y, np.repeat(np.arange(10), 500))
    assert np.array_equal(np.round(X * 255), X * np.float32(255))  # exact k/255 in float32
    assert X.flags.writeable


def test_load_mnist_subset_is_balanced_and_a_subset() -> None:
    X_all, _ = load_mnist()
    X, y = load_mnist(25)
    assert X.shape == (25, 784)
    assert y.tolist() == list(range(10)) * 2 + [0, 1, 2, 3, 4]
    # Row 10 of the subset is the second zero of the file.
    assert np.array_equal(X[10], X_all[1])
    assert np.array_equal(X[9], X_all[4500])


@pytest.mark.parametrize("n", [0, -1, 5001, 2.5, True, "10"])
def test_load_mnist_bad_n(n: object) -> None:
    with pytest.raises(ValueError, match="n must be an integer"):
        load_mnist(n)  # type: ignore[arg-type]


def test_load_text() -> None:
    shakespeare = load_text("shakespeare")
    assert len(shakespeare) == 1_115_394
    assert shakespeare.startswith("First Citizen:")
    assert len(set(shakespeare)) == 65
    dinos = load_text("dinos")
    assert dinos.startswith("Aachenosaurus\nAardonyx\n")
    assert not dinos.endswith("\n")
    assert data.available_texts() == ("dinos", "shakespeare")


def test_load_text_unknown_name_lists_available() -> None:
    with pytest.raises(UnknownDatasetError) as info:
        load_text("mnist")
    assert isinstance(info.value, KeyError)
    assert str(info.value) == "unknown text data set 'mnist'; available: 'dinos', 'shakespeare'"


def test_load_dinos() -> None:
    names = load_dinos()
    assert len(names) == 1536
    assert len(set(names)) == 1524
    assert names[0] == "aachenosaurus" and names[-1] == "zuul"
    assert all(n == n.lower() and n.isalpha() for n in names)
    vocab = CharVocab(names, specials=["\n"])
    assert vocab.size == 27
    assert vocab.stoi["\n"] == 0 and vocab.stoi["a"] == 1 and vocab.stoi["z"] == 26


# ----------------------------------------------------------------------------- split


def test_train_test_split_is_a_seeded_partition() -> None:
    X = np.arange(100).reshape(50, 2)
    y = np.arange(50)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, seed=3)
    assert Xtr.shape == (40, 2) and Xte.shape == (10, 2)
    assert np.array_equal(Xtr[:, 0] // 2, ytr) and np.array_equal(Xte[:, 0] // 2, yte)
    assert sorted(np.concatenate([ytr, yte]).tolist()) == list(range(50))
    again = train_test_split(X, y, test_size=0.2, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((Xtr, Xte, ytr, yte), again, strict=True))
    other = train_test_split(X, y, test_size=0.2, seed=4)
    assert not np.array_equal(yte, other[3])
    assert train_test_split(X, y, test_size=7, seed=0)[1].shape == (7, 2)


def test_train_test_split_shuffles_grouped_mnist() -> None:
    X, y = load_mnist()
    _, _, ytr, yte = train_test_split(X, y, test_size=0.2, seed=0)
    assert yte.size == 1000
    assert set(np.unique(yte).tolist()) == set(range(10))


def test_train_test_split_stratified() -> None:
    X, y = load_digits()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, seed=1, stratify=True)
    assert Xtr.shape[0] + Xte.shape[0] == 1797
    counts = np.bincount(y)
    assert np.all(np.abs(np.bincount(yte) - 0.25 * counts) <= 0.5)


@pytest.mark.parametrize("test_size", [6, 0.3, 2, 1, 19, 0.05])
def test_stratified_split_has_the_exact_size_from_the_issue(test_size: float) -> None:
    # 20 rows in 4 labels of 5: per-label rounding gave 8 test rows for 6 or 0.3, and refused 2.
    X = np.arange(40).reshape(20, 2)
    y = np.repeat(np.arange(4), 5)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=test_size, seed=0, stratify=True)
    n_test = test_size if isinstance(test_size, int) else round(test_size * 20)
    assert yte.size == n_test and ytr.size == 20 - n_test
    per_label = np.bincount(yte, minlength=4)
    assert per_label.max() - per_label.min() <= 1  # equal shares, the remainder spread one each
    assert sorted(np.concatenate([Xtr[:, 0], Xte[:, 0]]).tolist()) == list(range(0, 40, 2))
    assert np.array_equal(Xte[:, 0] // 10, yte) and np.array_equal(Xtr[:, 0] // 10, ytr)


@given(counts=st.lists(st.integers(1, 30), min_size=1, max_size=8), data=st.data())
def test_stratified_split_is_largest_remainder(counts: list[int], data: Any) -> None:
    n = sum(counts)
    if n < 2:
        return
    n_test = data.draw(st.integers(1, n - 1))
    y = np.repeat(np.arange(len(counts)), counts)
    rng = np.random.default_rng(0)
    y = y[rng.permutation(n)]
    _, _, ytr, yte = train_test_split(np.zeros((n, 1)), y, test_size=n_test, seed=1,
                                      stratify=True)
    got = np.bincount(yte, minlength=len(counts))
    assert got.sum() == n_test and np.array_equal(got + np.bincount(ytr, minlength=len(counts)),
                                                  counts)
    share = n_test * np.array(counts) / n
    assert np.all(got >= np.floor(share)) and np.all(got <= np.floor(share) + 1)
    assert np.all(got - share < 1) and np.all(share - got < 1)
    # the extra rows go to the largest fractional parts: nobody with a smaller remainder got one
    # while somebody with a larger one did not
    frac = share - np.floor(share)
    extra = got > np.floor(share)
    if extra.any() and (~extra).any():
        assert frac[extra].min() >= frac[~extra].max() - 1e-9


def test_stratified_split_needs_one_label_per_row() -> None:
    with pytest.raises(ValueError, match="y must be 1-D, got shape \\(10, 2\\)"):
        train_test_split(np.zeros((10, 2)), np.zeros((10, 2)), stratify=True)


@pytest.mark.parametrize("test_size", [0.0, 1.0, 0, 10, -1, True, "0.2"])
def test_train_test_split_bad_test_size(test_size: object) -> None:
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(np.zeros((10, 2)), np.zeros(10), test_size=test_size)  # type: ignore[arg-type]


def test_train_test_split_length_mismatch() -> None:
    with pytest.raises(ValueError, match="different lengths: 10 and 9"):
        train_test_split(np.zeros((10, 2)), np.zeros(9))


# ----------------------------------------------------------------------------- vocabulary


def test_char_vocab_round_trip_shakespeare() -> None:
    text = load_text("shakespeare")
    vocab = CharVocab(text)
    assert vocab.size == len(vocab) == 65
    assert vocab.itos == sorted(set(text))
    ids = vocab.encode(text[:1000])
    assert ids.dtype == np.int64 and ids.shape == (1000,)
    assert vocab.decode(ids) == text[:1000]
    assert all(vocab.stoi[tok] == i for i, tok in enumerate(vocab.itos))


def test_char_vocab_specials() -> None:
    vocab = CharVocab(["cab", "b"], specials=["<pad>", "<eos>"])
    assert vocab.itos == ["<pad>", "<eos>", "a", "b", "c"]
    ids = vocab.encode("cab", bos="<pad>", eos="<eos>")
    assert ids.tolist() == [0, 4, 2, 3, 1]
    assert vocab.decode(ids) == "<pad>cab<eos>"
    assert vocab.decode(ids, skip_specials=True) == "cab"
    assert "<eos>" in vocab and "z" not in vocab
    # A single-character special that also occurs in the text is listed once.
    assert CharVocab("a.b", specials=["."]).itos == [".", "a", "b"]


def test_char_vocab_errors() -> None:
    vocab = CharVocab("abc")
    with pytest.raises(ValueError, match="character 'z' is not in the vocabulary"):
        vocab.encode("abz")
    with pytest.raises(ValueError, match="id 3 is out of range"):
        vocab.decode([0, 3])
    with pytest.raises(ValueError, match="id -1 is out of range"):
        vocab.decode([-1])
    with pytest.raises(KeyError, match="eos token"):
        vocab.encode("a", eos="<eos>")
    with pytest.raises(ValueError, match="duplicate special"):
        CharVocab("a", specials=["x", "x"])
    with pytest.raises(TypeError, match="not a single string"):
        CharVocab("a", specials="xy")


def test_char_vocab_dict_round_trip() -> None:
    vocab = CharVocab(load_dinos(), specials=["<eos>"])
    rebuilt = CharVocab.from_dict(vocab.to_dict())
    assert rebuilt == vocab and rebuilt.stoi == vocab.stoi
    assert rebuilt != CharVocab(load_dinos())


@given(st.lists(st.text(min_size=0, max_size=20), min_size=1, max_size=5))
def test_char_vocab_encode_decode_property(texts: list[str]) -> None:
    vocab = CharVocab(texts)
    for t in texts:
        ids = vocab.encode(t)
        assert vocab.decode(ids) == t
        assert ids.min(initial=0) >= 0 and ids.max(initial=0) < max(vocab.size, 1)
    assert vocab.itos == sorted(set("".join(texts)))


# ----------------------------------------------------------------------------- batching


def test_batches_padding_and_lengths() -> None:
    seqs: list[Any] = [[1, 2, 3], [4], [], np.array([5, 6], dtype=np.int32)]
    out = list(batches(seqs, 2, shuffle=False, pad_value=-1))
    assert len(out) == 2
    (p0, l0), (p1, l1) = out
    assert p0.dtype == np.int64 and l0.dtype == np.int64
    assert p0.tolist() == [[1, 2, 3], [4, -1, -1]] and l0.tolist() == [3, 1]
    assert p1.tolist() == [[-1, -1], [5, 6]] and l1.tolist() == [0, 2]


def test_batches_drop_last_and_count() -> None:
    seqs = [[i] * (i + 1) for i in range(7)]
    assert len(list(batches(seqs, 3, shuffle=False))) == 3 == num_batches(7, 3)
    kept = list(batches(seqs, 3, shuffle=False, drop_last=True))
    assert len(kept) == 2 == num_batches(7, 3, drop_last=True)
    assert all(p.shape[0] == 3 for p, _ in kept)


def test_batches_seeded_shuffle_is_deterministic() -> None:
    seqs = [[i + 1] * (i % 5 + 1) for i in range(40)]
    first = list(batches(seqs, 8, seed=123))
    second = list(batches(seqs, 8, seed=123))
    assert all(
        np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        for a, b in zip(first, second, strict=True)
    )
    other = list(batches(seqs, 8, seed=124))
    assert any(
        not np.array_equal(a[0][:, 0], b[0][:, 0]) for a, b in zip(first, other, strict=True)
    )
    seen = sorted(int(p[r, 0]) for p, _ in first for r in range(p.shape[0]))
    assert seen == list(range(1, 41))


@given(
    lengths=st.lists(st.integers(0, 6), min_size=0, max_size=30),
    batch_size=st.integers(1, 8),
    seed=st.integers(0, 2**32 - 1),
    drop_last=st.booleans(),
)
def test_batches_property(lengths: list[int], batch_size: int, seed: int, drop_last: bool) -> None:
    seqs = [np.arange(1, n + 1) * (i + 1) for i, n in enumerate(lengths)]
    total = 0
    for padded, lens in batches(seqs, batch_size, seed=seed, drop_last=drop_last):
        assert padded.shape == (lens.size, int(lens.max()))
        assert lens.size == batch_size or (not drop_last and lens.size < batch_size)
        for row, n in zip(padded, lens, strict=True):
            assert np.all(row[n:] == 0)
            assert row[:n].tolist() in [s.tolist() for s in seqs if s.size == n]
        total += lens.size
    assert total == num_batches(len(seqs), batch_size, drop_last=drop_last) * batch_size - (
        0 if drop_last or len(seqs) % batch_size == 0 else batch_size - len(seqs) % batch_size
    )


@pytest.mark.parametrize("bad", [0, -2, 1.5, None, True])
def test_batch_size_errors_name_the_value(bad: object) -> None:
    with pytest.raises(ValueError, match=f"batch_size must be a positive integer, got {bad!r}"):
        batches([[1]], bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"got {bad!r}"):
        minibatches(np.zeros(3), np.zeros(3), bad)  # type: ignore[call-overload]


def test_batches_rejects_non_integer_sequences() -> None:
    with pytest.raises(ValueError, match="sequence 1 must hold integers"):
        batches([[1], [0.5]], 2)
    with pytest.raises(ValueError, match="sequence 0 must be one-dimensional"):
        batches([[[1]]], 2)


def test_minibatches() -> None:
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    out = list(minibatches(X, y, 4, seed=0))
    assert [xb.shape[0] for xb, _ in out] == [4, 4, 2]
    for xb, yb in out:
        assert np.array_equal(xb[:, 0] // 2, yb)
    assert sorted(np.concatenate([yb for _, yb in out]).tolist()) == list(range(10))
    again = list(minibatches(X, y, 4, seed=0))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(out, again, strict=True))
    ordered = list(minibatches(X, y, 4, shuffle=False, drop_last=True))
    assert [yb.tolist() for _, yb in ordered] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    only_x = list(minibatches(X, batch_size=5, shuffle=False))
    assert np.array_equal(only_x[1], X[5:])
    with pytest.raises(ValueError, match="different lengths: 10 and 9"):
        minibatches(X, y[:9], 4)


# ----------------------------------------------------------------------------- DataLoader


def _loader_rows(loader: data.DataLoader) -> list[list[int]]:
    """Every input row of one epoch, with its padding cut off by the batch's lengths."""
    rows = []
    for x, _, lengths in loader:
        rows += [x[b, :n].tolist() for b, n in enumerate(lengths)]
    return rows


@given(
    lengths=st.lists(st.integers(1, 6), min_size=1, max_size=25),
    batch_size=st.integers(1, 7),
    seed=st.integers(0, 2**32 - 1),
    time_major=st.booleans(),
)
def test_loader_ragged_batches_property(lengths: list[int], batch_size: int, seed: int,
                                        time_major: bool) -> None:
    seqs = [list(range(10 * i + 1, 10 * i + 1 + n)) for i, n in enumerate(lengths)]
    nexts = [[v + 1 for v in s] for s in seqs]          # a per-step target for every input
    loader = data.DataLoader(seqs, nexts, batch_size=batch_size, generator=seed,
                             time_major=time_major)
    seen = []
    for x, y, lens in loader:
        if time_major:
            x, y = x.T, y.T
        assert x.shape == y.shape == (lens.size, int(lens.max()))
        assert lens.size <= batch_size
        for b, n in enumerate(lens):
            assert np.all(x[b, n:] == 0) and np.all(y[b, n:] == -100)
            np.testing.assert_array_equal(y[b, :n], x[b, :n] + 1)
            seen.append(x[b, :n].tolist())
    assert sorted(seen) == sorted(seqs)                   # every example once per epoch
    assert sum(1 for _ in loader) == len(loader) == -(-len(seqs) // batch_size)


def test_loader_arrays_labels_and_drop_last() -> None:
    X = np.arange(30, dtype=np.float32).reshape(10, 3)
    y = np.arange(10)
    out = list(data.DataLoader(X, y, batch_size=4, generator=1))
    assert [len(yb) for _, yb in out] == [4, 4, 2]
    for xb, yb in out:
        np.testing.assert_array_equal(xb[:, 0], 3 * yb)   # rows stay paired with their labels
    assert sorted(np.concatenate([yb for _, yb in out]).tolist()) == list(range(10))
    kept = list(data.DataLoader(X, y, batch_size=4, shuffle=False, drop_last=True))
    assert [yb.tolist() for _, yb in kept] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(data.DataLoader(X, y, batch_size=4, drop_last=True)) == 2


def test_loader_time_major_is_the_transpose_and_labels_stay() -> None:
    X = np.random.default_rng(0).normal(size=(5, 7, 3))   # (N, T, I)
    y = np.arange(5)
    steps = np.arange(35).reshape(5, 7)
    bf = list(data.DataLoader(X, y, batch_size=2, generator=3))
    tm = list(data.DataLoader(X, y, batch_size=2, generator=3, time_major=True))
    for (xa, ya), (xb, yb) in zip(bf, tm, strict=True):
        assert xb.shape == (7, len(ya), 3) and xb.flags.c_contiguous
        np.testing.assert_array_equal(xb, xa.transpose(1, 0, 2))
        np.testing.assert_array_equal(yb, ya)            # (B,) labels are not transposed
    (xs, ys), = data.DataLoader(X, steps, batch_size=5, shuffle=False, time_major=True)
    np.testing.assert_array_equal(ys, steps.T)          # per-step targets follow the inputs


def test_loader_explicit_lengths_with_padded_arrays() -> None:
    X = np.zeros((4, 6), dtype=np.int64)
    lengths = [6, 1, 3, 2]
    got = {int(n) for _, _, ns in data.DataLoader(X, np.zeros(4), lengths=lengths, batch_size=3)
           for n in ns}
    assert got == set(lengths)
    with pytest.raises(ValueError, match=r"lengths\[2\] = 7 is outside \[0, 6\]"):
        data.DataLoader(X, np.zeros(4), lengths=[6, 1, 7, 2])
    with pytest.raises(ValueError, match="lengths must be 4 integers"):
        data.DataLoader(X, np.zeros(4), lengths=[6, 1])
    with pytest.raises(ValueError, match="pass lengths only with padded array inputs"):
        data.DataLoader([[1], [2, 3]], [0, 1], lengths=[1, 2])


def test_loader_seeded_epochs_differ_and_repeat() -> None:
    seqs = [[i] * (1 + i % 3) for i in range(20)]
    labels = list(range(20))

    def epochs(generator: Any) -> list[list[list[int]]]:
        loader = data.DataLoader(seqs, np.array(labels), batch_size=6, generator=generator)
        return [_loader_rows(loader) for _ in range(3)]

    a, b = epochs(7), epochs(np.random.default_rng(7))
    assert a == b                                      # an int seeds the same generator
    assert a[0] != a[1] != a[2]                         # each epoch draws a new order
    assert epochs(8) != a
    # the same order as ``batches`` with the same seed: recipes kept their batch orders
    old = [p[r, :n].tolist() for p, ns in batches(seqs, 6, seed=7) for r, n in enumerate(ns)]
    assert a[0] == old


def test_loader_default_generator_follows_manual_seed() -> None:
    import minigrad as mg

    loader = data.DataLoader(np.arange(50), np.arange(50), batch_size=50)
    mg.manual_seed(4)
    first = next(iter(loader))[0]
    mg.manual_seed(4)
    again = next(iter(loader))[0]
    np.testing.assert_array_equal(first, again)         # read at iteration time, not cached
    assert sorted(first.tolist()) == list(range(50)) and first.tolist() != list(range(50))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
    ({"batch_size": 2.5}, "batch_size must be a positive integer, got 2.5"),
    ({"targets": np.zeros(3)}, "different numbers of examples: 4 and 3"),
    ({"inputs": [], "targets": []}, "no examples"),
    ({"inputs": [[1], 2, [3], [4]]}, r"inputs\[1\] is a scalar"),
    ({"inputs": [np.zeros((2, 3)), np.zeros((1, 4)), np.zeros((1, 3)), np.zeros((1, 3))]},
     r"inputs\[1\] has steps of shape \(4,\)"),
])
def test_loader_errors_name_the_argument(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"inputs": [[1], [2, 3], [4], [5]], "targets": np.zeros(4)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"^DataLoader: .*{message}"):
        data.DataLoader(**args)


def test_stratify_accepts_an_array_of_labels_as_scikit_learn_does() -> None:
    # stratify=y (scikit-learn's spelling) used to fail with numpy's "truth value of an array
    # with more than one element is ambiguous"
    X = np.arange(40).reshape(20, 2)
    y = np.repeat(np.arange(4), 5)
    by_flag = train_test_split(X, y, test_size=6, seed=3, stratify=True)
    by_array = train_test_split(X, y, test_size=6, seed=3, stratify=y)
    for a, b in zip(by_flag, by_array, strict=True):
        assert np.array_equal(a, b)
    groups = np.arange(20) % 2        # other labels than y: their proportions are kept
    _, Xte, _, _ = train_test_split(X, y, test_size=6, seed=3, stratify=groups)
    assert np.bincount((Xte[:, 0] // 2) % 2, minlength=2).tolist() == [3, 3]
    with pytest.raises(ValueError, match="stratify has 19 labels for 20 rows"):
        train_test_split(X, y, stratify=groups[:19])
    with pytest.raises(ValueError, match="the stratify labels must be 1-D, got shape \\(20, 1\\)"):
        train_test_split(X, y, stratify=groups[:, None])
