"""An encoder-decoder with teacher forcing: strings in, strings out of another length.

Tasks (generated, chosen with ``--task``):

    date     "3 march 1987", "mar 3, 1987", "03.03.1987", ... -> "1987-03-03"   (default)
    sort     "50273" -> "02357"                  digits in increasing order
    reverse  "50273" -> "37205"                  the digits backwards

Model: an encoder LSTM reads the source characters; its final state (h, c), taken at each
string's own last character (``lengths=``), is the only thing the decoder learns about the
source. The decoder LSTM starts from that state and writes the answer one character at a time:
a start symbol, then each character predicted from the ones before it, then an end symbol.

Training uses teacher forcing: the decoder is fed the true previous characters (start symbol +
target) and learns to predict the next ones (target + end symbol), all steps at once. At test
time there is no true previous character, so decoding is greedy: feed the start symbol, take the
most likely character, feed it back, until the end symbol. Two scores on the test set: exact
match, the share of strings whose whole answer is right, and per-token accuracy, the share of
answer characters right in their place (a short run can get most characters right while still
missing one in nearly every answer, which exact match alone reads as 0 %).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn, optim
from minigrad.data import CharVocab, DataLoader, batches
from minigrad.nn import functional as F

from ._common import echo, fit, make_parser, median, positive_int, save_checkpoint

BOS, EOS = "<s>", "</s>"
IGNORE = -100
State = tuple[mg.Tensor, mg.Tensor]
Pairs = list[tuple[str, str]]

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


# ---- the tasks ------------------------------------------------------------------------------
def _digit_strings(n: int, min_len: int, max_len: int, rng: np.random.Generator) -> list[str]:
    lengths = rng.integers(min_len, max_len + 1, size=n)
    return ["".join(map(str, rng.integers(0, 10, size=int(k)))) for k in lengths]


def sort_pairs(n: int, min_len: int, max_len: int, rng: np.random.Generator) -> Pairs:
    return [(s, "".join(sorted(s))) for s in _digit_strings(n, min_len, max_len, rng)]


def reverse_pairs(n: int, min_len: int, max_len: int, rng: np.random.Generator) -> Pairs:
    return [(s, s[::-1]) for s in _digit_strings(n, min_len, max_len, rng)]


def date_pairs(n: int, min_len: int, max_len: int, rng: np.random.Generator) -> Pairs:
    """Dates from 1950-2049 written in one of several human formats -> ISO ``YYYY-MM-DD``.
    (``min_len`` / ``max_len`` do not apply.)"""
    first = datetime.date(1950, 1, 1).toordinal()
    last = datetime.date(2049, 12, 31).toordinal()
    out = []
    for day, fmt in zip(rng.integers(first, last + 1, size=n), rng.integers(0, 6, size=n)):
        d = datetime.date.fromordinal(int(day))
        month = MONTHS[d.month - 1]
        text = (f"{d.day} {month} {d.year}",
                f"{month[:3]} {d.day}, {d.year}",
                f"{d.day:02d}.{d.month:02d}.{d.year}",
                f"{d.day}/{d.month}/{d.year % 100:02d}",
                f"{WEEKDAYS[d.weekday()]}, {month} {d.day}, {d.year}",
                f"{d.day} {month[:3]} {d.year}")[int(fmt)]
        out.append((text, d.isoformat()))
    return out


TASKS: dict[str, Callable[[int, int, int, np.random.Generator], Pairs]] = {
    "sort": sort_pairs, "reverse": reverse_pairs, "date": date_pairs,
}


# ---- the model -------------------------------------------------------------------------------
class Seq2Seq(nn.Module):
    """Encoder LSTM -> (h, c) -> decoder LSTM -> Linear over the vocabulary.

    Shapes: source (B, S) int with lengths (B,); decoder input (B, T) int -> logits (B, T, V).
    """

    def __init__(self, vocab_size: int, hidden_size: int, embed_size: int = 32,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size, rng=rng)  # shared by both sides
        self.encoder = rnn.LSTM(embed_size, hidden_size, batch_first=True, rng=rng)
        self.decoder = rnn.LSTM(embed_size, hidden_size, batch_first=True, rng=rng)
        self.head = nn.Linear(hidden_size, vocab_size, rng=rng)

    def encode(self, source: np.ndarray, lengths: np.ndarray) -> State:
        _, state = self.encoder(self.embed(source), lengths=lengths)
        return state

    def decode(self, inputs: np.ndarray, state: State,
               lengths: np.ndarray | None = None) -> tuple[mg.Tensor, State]:
        out, state = self.decoder(self.embed(inputs), state, lengths=lengths)
        return self.head(out), state

    def forward(self, source: np.ndarray, source_lengths: np.ndarray, inputs: np.ndarray,
                input_lengths: np.ndarray) -> mg.Tensor:
        """Teacher forcing: the logits for every step of ``inputs``."""
        logits, _ = self.decode(inputs, self.encode(source, source_lengths), input_lengths)
        return logits


Batch = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def make_batches(pairs: Pairs, vocab: CharVocab, batch_size: int, shuffle: bool,
                 seed: int) -> list[Batch]:
    """(source, source lengths, decoder inputs, targets with -100 on padding, input lengths).

    The decoder reads ``<s> t_1 ... t_n`` and is taught ``t_1 ... t_n </s>``: its inputs are the
    targets shifted one step right behind the start symbol, padded with 0.
    """
    src = [vocab.encode(s) for s, _ in pairs]
    dec_out = [vocab.encode(t, eos=EOS) for _, t in pairs]
    out = []
    for s, o, sl in DataLoader(src, dec_out, batch_size=batch_size, shuffle=shuffle,
                               generator=seed, target_pad_value=IGNORE):
        il = (o != IGNORE).sum(axis=1)
        i = np.zeros_like(o)
        i[:, 0] = vocab.stoi[BOS]
        i[:, 1:] = o[:, :-1]
        i[np.arange(i.shape[1])[None, :] >= il[:, None]] = 0
        out.append((s, sl, i, o, il))
    return out


@mg.no_grad()
def greedy_decode(model: Seq2Seq, vocab: CharVocab, sources: list[str],
                  max_len: int) -> list[str]:
    """Answer each source string, one most-likely character at a time."""
    src_batches = batches([vocab.encode(s) for s in sources], 512, shuffle=False)
    answers: list[str] = []
    for src, lengths in src_batches:
        state = model.encode(src, lengths)
        token = np.full((len(lengths), 1), vocab.stoi[BOS])
        steps = []
        done = np.zeros(len(lengths), dtype=bool)
        for _ in range(max_len + 1):
            logits, state = model.decode(token, state)
            token = logits.data[:, -1].argmax(-1)[:, None]
            steps.append(token[:, 0])
            done |= token[:, 0] == vocab.stoi[EOS]
            if done.all():
                break
        for row in np.stack(steps, axis=1):
            ids = row.tolist()
            ids = ids[:ids.index(vocab.stoi[EOS])] if vocab.stoi[EOS] in ids else ids
            answers.append(vocab.decode(ids, skip_specials=True))
    return answers


def exact_match(model: Seq2Seq, vocab: CharVocab, pairs: Pairs, max_len: int) -> float:
    """The share of ``pairs`` whose greedy answer equals the target."""
    return scores(model, vocab, pairs, max_len)["exact match acc"]


def token_accuracy(answers: list[str], targets: list[str]) -> float:
    """The share of target characters that the answers have right in the same position (an
    answer shorter than its target misses the rest; extra characters are not counted)."""
    right = sum(sum(a == b for a, b in zip(answer, target))
                for answer, target in zip(answers, targets))
    return right / max(1, sum(len(t) for t in targets))


def scores(model: Seq2Seq, vocab: CharVocab, pairs: Pairs, max_len: int) -> dict[str, float]:
    """Exact match and per-token accuracy of greedy decoding on ``pairs``."""
    got = greedy_decode(model, vocab, [s for s, _ in pairs], max_len)
    targets = [t for _, t in pairs]
    return {"exact match acc": float(np.mean([g == t for g, t in zip(got, targets)])),
            "token acc": token_accuracy(got, targets)}


def train(task: str = "date", epochs: int = 8, hidden: int = 128, lr: float = 0.005,
          batch_size: int = 64, seed: int = 0, n_train: int = 8000, n_test: int = 1000,
          min_len: int = 3, max_len: int = 10, checkpoint_path: str | None = None,
          log: bool = True) -> dict[str, Any]:
    """Train on a generated task; returns ``{"exact_match", "token_acc", "examples", "losses",
    "first_loss",
    "epoch_times", "median_epoch_time", "model", "vocab"}``; ``examples`` holds a few test
    (source, answer, greedy output) triples."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    rng = np.random.default_rng(seed)
    train_pairs = TASKS[task](n_train, min_len, max_len, rng)
    test_pairs = TASKS[task](n_test, min_len, max_len, rng)
    vocab = CharVocab([s + t for s, t in train_pairs + test_pairs], specials=[BOS, EOS])
    longest = max(len(t) for _, t in train_pairs + test_pairs)
    echo(log, f"e.g. {train_pairs[0][0]!r} -> {train_pairs[0][1]!r}; vocabulary {len(vocab)}")
    model = Seq2Seq(len(vocab), hidden, rng=rng)
    opt = optim.Adam(model.parameters(), lr=lr)

    def batch_loss(batch: Batch) -> tuple[mg.Tensor, int]:
        src, src_len, dec_in, dec_out, dec_len = batch
        logits = model(src, src_len, dec_in, dec_len)
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), dec_out.reshape(-1),
                               ignore_index=IGNORE)
        return loss, int((dec_out != IGNORE).sum())

    history = fit(model, opt, epochs,
                  lambda e: make_batches(train_pairs, vocab, batch_size, True, seed * 1000 + e),
                  batch_loss, clip=5.0,
                  evaluate=lambda: scores(model, vocab, test_pairs, longest),
                  log=log)
    model.eval()
    shown = test_pairs[:5]
    outputs = greedy_decode(model, vocab, [s for s, _ in shown], longest)
    if checkpoint_path is not None:
        save_checkpoint(checkpoint_path, model, opt, epoch=epochs, hidden=hidden, task=task,
                        vocab=vocab.to_dict())
    return {**history, "exact_match": history["evals"][-1]["exact match acc"],
            "token_acc": history["evals"][-1]["token acc"],
            "examples": [(s, t, o) for (s, t), o in zip(shown, outputs)],
            "median_epoch_time": median(history["epoch_times"]), "model": model, "vocab": vocab}


def main(argv: list[str] | None = None) -> int:
    ap = make_parser("seq2seq", __doc__, epochs=8, hidden=128, lr=0.005, batch_size=64)
    ap.add_argument("--task", choices=sorted(TASKS), default="date",
                    help="what to learn (default date)")
    ap.add_argument("--train-size", type=positive_int, default=8000,
                    help="generated training pairs (default 8000)")
    ap.add_argument("--test-size", type=positive_int, default=1000,
                    help="generated test pairs (default 1000)")
    ap.add_argument("--min-len", type=positive_int, default=3,
                    help="shortest digit string for sort/reverse (default 3)")
    ap.add_argument("--max-len", type=positive_int, default=10,
                    help="longest digit string for sort/reverse (default 10)")
    args = ap.parse_args(argv)
    if args.min_len > args.max_len:
        ap.error(f"--min-len {args.min_len} is longer than --max-len {args.max_len}")
    print(f"encoder-decoder LSTM({args.hidden}) on the {args.task!r} task, teacher forcing, "
          f"Adam lr {args.lr}, {args.epochs} epochs")
    r = train(args.task, args.epochs, args.hidden, args.lr, args.batch_size, args.seed,
              args.train_size, args.test_size, args.min_len, args.max_len, args.checkpoint)
    print(f"\ngreedy decoding on the test set: exact match {100 * r['exact_match']:.2f}%, "
          f"per-token accuracy {100 * r['token_acc']:.2f}%; "
          f"loss {r['first_loss']:.3f} -> {r['losses'][-1]:.3f}; median epoch "
          f"{r['median_epoch_time']:.1f} s")
    for source, target, output in r["examples"]:
        mark = "ok" if output == target else f"expected {target!r}"
        print(f"  {source!r:>34} -> {output!r}  {mark}")
    if args.checkpoint:
        print(f"checkpoint: {args.checkpoint}")
    return 0
