"""Sequence tagging with a bidirectional LSTM: one output per input step.

Task (generated): random digit strings of varying length; every digit gets one of four tags
from two yes/no questions, one about each side of it:

    left record:  is the digit larger than every digit before it?
    right record: is it larger than every digit after it?
    tag = 2 * left + right       0 neither, 1 right only, 2 left only, 3 both (the unique maximum)

A left-to-right LSTM can answer the first question (keep a running maximum) but not the second,
which depends on digits it has not read yet; the reverse direction answers the second. So the
task needs both directions: ``--unidirectional`` shows how far one direction gets.

Model: Embedding -> bidirectional LSTM -> Linear(2H, 4) at every step. Batches are padded to the
longest string; the true ``lengths`` go to the LSTM (so the reverse direction starts at each
string's own last digit) and padded positions carry the target -100, which cross_entropy's
``ignore_index`` leaves out of the loss and out of the accuracy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn, optim
from minigrad.data import DataLoader
from minigrad.nn import functional as F

from ._common import echo, fit, make_parser, median, positive_int, save_checkpoint

DIGITS = 10
TAGS = 4
IGNORE = -100
TAG_NAMES = ("neither", "right record", "left record", "both")


def tag(digits: np.ndarray) -> np.ndarray:
    """The tags of one digit string (see the module docstring)."""
    d = np.asarray(digits)
    before = np.concatenate([[-1], np.maximum.accumulate(d)[:-1]])
    after = np.concatenate([np.maximum.accumulate(d[::-1])[::-1][1:], [-1]])
    return (2 * (d > before) + (d > after)).astype(np.int64)


def make_data(n: int, min_len: int, max_len: int,
              rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``n`` random digit strings with lengths in [min_len, max_len], and their tags."""
    lengths = rng.integers(min_len, max_len + 1, size=n)
    xs = [rng.integers(0, DIGITS, size=int(k)) for k in lengths]
    return xs, [tag(x) for x in xs]


class Tagger(nn.Module):
    """Embedding -> (bi)LSTM -> Linear at every step.

    Shapes: digits (B, T) int, lengths (B,) -> logits (B, T, 4).
    """

    def __init__(self, hidden_size: int, embed_size: int = 16, bidirectional: bool = True,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.embed = nn.Embedding(DIGITS, embed_size, rng=rng)
        self.lstm = rnn.LSTM(embed_size, hidden_size, batch_first=True,
                             bidirectional=bidirectional, rng=rng)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), TAGS, rng=rng)

    def forward(self, digits: np.ndarray, lengths: np.ndarray) -> mg.Tensor:
        out, _ = self.lstm(self.embed(digits), lengths=lengths)
        return self.head(out)


def padded_batches(xs: list[np.ndarray], ys: list[np.ndarray], batch_size: int, shuffle: bool,
                   seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(digits (B, T) padded with 0, tags (B, T) padded with -100, lengths (B,)) batches."""
    return list(DataLoader(xs, ys, batch_size=batch_size, shuffle=shuffle, generator=seed,
                           target_pad_value=IGNORE))


@mg.no_grad()
def evaluate(model: Tagger, data: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
             ) -> dict[str, float]:
    """Per-token accuracy (padding excluded) and the fraction of strings tagged perfectly."""
    right = tokens = whole = strings = 0
    for x, y, lengths in data:
        pred = model(x, lengths).data.argmax(-1)
        valid = y != IGNORE
        ok = (pred == y) | ~valid
        right += int(((pred == y) & valid).sum())
        tokens += int(valid.sum())
        whole += int(ok.all(axis=1).sum())
        strings += len(lengths)
    return {"token acc": right / tokens, "string acc": whole / strings}


def train(epochs: int = 5, hidden: int = 32, lr: float = 0.01, batch_size: int = 32,
          seed: int = 0, n_train: int = 4000, n_test: int = 1000, min_len: int = 3,
          max_len: int = 20, bidirectional: bool = True, checkpoint_path: str | None = None,
          log: bool = True) -> dict[str, Any]:
    """Train the tagger; returns ``{"token_acc", "string_acc", "majority_acc", "losses",
    "first_loss", "epoch_times", "median_epoch_time", "model"}`` (accuracies on the test set;
    ``majority_acc`` is what always answering the most common tag would score)."""
    rng = np.random.default_rng(seed)
    train_x, train_y = make_data(n_train, min_len, max_len, rng)
    test_x, test_y = make_data(n_test, min_len, max_len, rng)
    test = padded_batches(test_x, test_y, 256, shuffle=False, seed=0)
    counts = np.bincount(np.concatenate(train_y), minlength=TAGS)
    test_counts = np.bincount(np.concatenate(test_y), minlength=TAGS)
    majority = float(test_counts[counts.argmax()] / test_counts.sum())
    echo(log, "tag shares in training: " + ", ".join(
        f"{name} {100 * c / counts.sum():.0f}%" for name, c in zip(TAG_NAMES, counts)))
    model = Tagger(hidden, bidirectional=bidirectional, rng=rng)
    opt = optim.Adam(model.parameters(), lr=lr)

    def batch_loss(batch: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[mg.Tensor, int]:
        x, y, lengths = batch
        logits = model(x, lengths)
        loss = F.cross_entropy(logits.reshape(-1, TAGS), y.reshape(-1), ignore_index=IGNORE)
        return loss, int((y != IGNORE).sum())

    history = fit(model, opt, epochs,
                  lambda e: padded_batches(train_x, train_y, batch_size, True, seed * 1000 + e),
                  batch_loss, clip=5.0, evaluate=lambda: evaluate(model, test), log=log)
    if checkpoint_path is not None:
        save_checkpoint(checkpoint_path, model, opt, epoch=epochs, hidden=hidden,
                        bidirectional=bidirectional)
    final = history["evals"][-1]
    return {**history, "token_acc": final["token acc"], "string_acc": final["string acc"],
            "majority_acc": majority, "median_epoch_time": median(history["epoch_times"]),
            "model": model}


def main(argv: list[str] | None = None) -> int:
    ap = make_parser("tagging", __doc__, epochs=5, hidden=32, lr=0.01, batch_size=32)
    ap.add_argument("--train-size", type=positive_int, default=4000,
                    help="generated training strings (default 4000)")
    ap.add_argument("--test-size", type=positive_int, default=1000,
                    help="generated test strings (default 1000)")
    ap.add_argument("--min-len", type=positive_int, default=3, help="shortest string (default 3)")
    ap.add_argument("--max-len", type=positive_int, default=20, help="longest string (default 20)")
    ap.add_argument("--unidirectional", action="store_true",
                    help="a left-to-right LSTM only, to see what the reverse direction adds")
    args = ap.parse_args(argv)
    if args.min_len > args.max_len:
        ap.error(f"--min-len {args.min_len} is longer than --max-len {args.max_len}")
    kind = "left-to-right" if args.unidirectional else "bidirectional"
    print(f"tagging digit strings of length {args.min_len}-{args.max_len} with a {kind} "
          f"LSTM({args.hidden}), Adam lr {args.lr}, {args.epochs} epochs")
    r = train(args.epochs, args.hidden, args.lr, args.batch_size, args.seed, args.train_size,
              args.test_size, args.min_len, args.max_len, not args.unidirectional,
              args.checkpoint)
    print(f"\ntest per-token accuracy {100 * r['token_acc']:.2f}% (always the most common tag: "
          f"{100 * r['majority_acc']:.2f}%); strings tagged perfectly "
          f"{100 * r['string_acc']:.2f}%; loss {r['first_loss']:.3f} -> {r['losses'][-1]:.3f}; "
          f"median epoch {r['median_epoch_time']:.1f} s")
    if args.checkpoint:
        print(f"checkpoint: {args.checkpoint}")
    return 0
