"""Tiny Shakespeare, character by character: truncated BPTT with carried state.

Task: predict the next character of the ~1.1 MB Tiny Shakespeare text. The first 90 % is for
training; the last 10 % is held out and the model is scored on it in bits per character
(the mean of -log2 p(next char); 0 is perfect, log2(65) ~ 6.0 is a uniform guess).

Model: Embedding -> LSTM -> Linear over the 65-character vocabulary.

Training is truncated backpropagation through time. The training text is cut into
``batch-size`` contiguous streams read side by side; each step takes the next ``--bptt``
characters of every stream, continues from the LSTM state the previous chunk ended in, and
backpropagates only through this chunk: the carried state is detached (``h.detach()``) so the
graph, and the memory, stay one chunk long while information still flows forward across chunks.
Adam, gradient-norm clipping at 5. At the end a sample is drawn at the chosen temperature.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn, optim
from minigrad.data import CharVocab, load_text
from minigrad.nn import functional as F

from ._common import (
    echo,
    fit,
    make_parser,
    median,
    nonnegative_int,
    positive_float,
    positive_int,
    save_checkpoint,
)

State = tuple[mg.Tensor, mg.Tensor]


class CharLM(nn.Module):
    """Embedding -> LSTM (``layers`` deep) -> Linear.

    Shapes: ids (B, T) int -> logits (B, T, V); state (h, c), each (layers, B, H).
    """

    def __init__(self, vocab_size: int, hidden_size: int, embed_size: int = 32,
                 layers: int = 1, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size, rng=rng)
        self.lstm = rnn.LSTM(embed_size, hidden_size, layers, batch_first=True, rng=rng)
        self.head = nn.Linear(hidden_size, vocab_size, rng=rng)

    def forward(self, ids: np.ndarray, state: State | None = None) -> tuple[mg.Tensor, State]:
        out, state = self.lstm(self.embed(ids), state)
        return self.head(out), state


def split_text(text: str, held_out: float = 0.1) -> tuple[str, str]:
    """The first ``1 - held_out`` of the text for training, the tail for evaluation."""
    cut = int(round(len(text) * (1 - held_out)))
    return text[:cut], text[cut:]


def streams(ids: np.ndarray, n: int) -> np.ndarray:
    """Cut a long id sequence into ``n`` contiguous rows of equal length (the rest dropped)."""
    length = len(ids) // n
    if length < 2:
        raise ValueError(f"a text of {len(ids)} characters is too short for {n} streams")
    return ids[:n * length].reshape(n, length)


def chunks(rows: np.ndarray, bptt: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Consecutive (inputs, targets) windows of ``bptt`` steps; targets are shifted by one."""
    for t in range(0, rows.shape[1] - 1, bptt):
        end = min(t + bptt, rows.shape[1] - 1)
        yield rows[:, t:end], rows[:, t + 1:end + 1]


def detach(state: State) -> State:
    """Keep the values of the state, forget how they were computed (the truncation in TBPTT)."""
    return state[0].detach(), state[1].detach()


@mg.no_grad()
def bits_per_char(model: CharLM, ids: np.ndarray, n_streams: int = 32,
                  bptt: int = 500) -> float:
    """Mean -log2 p(next char) over ``ids``, read as ``n_streams`` streams with carried state."""
    rows = streams(ids, min(n_streams, max(1, len(ids) // 2)))
    total, count = 0.0, 0
    state: State | None = None
    for x, y in chunks(rows, bptt):
        logits, state = model(x, state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                 reduction="sum").item()
        count += y.size
    return total / count / math.log(2)


@mg.no_grad()
def sample(model: CharLM, vocab: CharVocab, prime: str, n: int, temperature: float,
           rng: np.random.Generator) -> str:
    """Feed ``prime``, then draw ``n`` characters from softmax(logits / temperature)."""
    model.eval()
    logits, state = model(vocab.encode(prime)[None, :])
    out = []
    for _ in range(n):
        z = logits.data[0, -1].astype(np.float64) / temperature
        p = np.exp(z - z.max())
        nxt = int(rng.choice(len(p), p=p / p.sum()))
        out.append(vocab.itos[nxt])
        logits, state = model(np.array([[nxt]]), state)
    model.train()
    return prime + "".join(out)


def train(epochs: int = 3, hidden: int = 256, lr: float = 0.005, batch_size: int = 32,
          bptt: int = 64, layers: int = 1, seed: int = 0, max_chars: int | None = None,
          checkpoint_path: str | None = None, log: bool = True) -> dict[str, Any]:
    """Train the character model; returns ``{"bpc", "bpc_per_epoch", "losses", "first_loss",
    "epoch_times", "median_epoch_time", "model", "vocab"}`` (``bpc`` on the held-out tail)."""
    text = load_text("shakespeare")
    if max_chars is not None:
        text = text[:max_chars]
    vocab = CharVocab(text)
    train_text, test_text = split_text(text)
    train_rows = streams(vocab.encode(train_text), batch_size)
    test_ids = vocab.encode(test_text)
    echo(log, f"{len(train_text):,} training characters in {batch_size} streams of "
              f"{train_rows.shape[1]:,}; {len(test_text):,} held out; vocabulary "
              f"{len(vocab)}")
    model = CharLM(len(vocab), hidden, layers=layers, rng=np.random.default_rng(seed))
    opt = optim.Adam(model.parameters(), lr=lr)
    carried: list[State | None] = [None]

    def epoch_batches(epoch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        carried[0] = None  # every epoch starts the streams afresh
        return list(chunks(train_rows, bptt))

    def batch_loss(batch: tuple[np.ndarray, np.ndarray]) -> tuple[mg.Tensor, int]:
        x, y = batch
        logits, state = model(x, carried[0])
        carried[0] = detach(state)
        return F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1)), y.size

    history = fit(model, opt, epochs, epoch_batches, batch_loss, clip=5.0,
                  evaluate=lambda: {"held-out bpc": bits_per_char(model, test_ids)}, log=log)
    bpcs = [e["held-out bpc"] for e in history["evals"]]
    if checkpoint_path is not None:
        save_checkpoint(checkpoint_path, model, opt, epoch=epochs, hidden=hidden, layers=layers,
                        vocab=vocab.to_dict())
    return {**history, "bpc": bpcs[-1], "bpc_per_epoch": bpcs,
            "median_epoch_time": median(history["epoch_times"]), "model": model, "vocab": vocab}


def main(argv: list[str] | None = None) -> int:
    ap = make_parser("shakespeare", __doc__, epochs=3, hidden=256, lr=0.005, batch_size=32,
                     epochs_help="; one epoch is ~490 chunks with the defaults")
    ap.add_argument("--bptt", type=positive_int, default=64,
                    help="characters per chunk: how far back gradients flow (default 64)")
    ap.add_argument("--layers", type=positive_int, default=1,
                    help="stacked LSTM layers (default 1)")
    ap.add_argument("--max-chars", type=positive_int, default=None,
                    help="use only the first N characters of the text (quick runs)")
    ap.add_argument("--temperature", type=positive_float, default=0.8,
                    help="sampling temperature: < 1 safer, > 1 wilder (default 0.8)")
    ap.add_argument("--sample-chars", type=nonnegative_int, default=400,
                    help="characters to sample at the end (default 400; 0 to skip)")
    ap.add_argument("--prime", default="ROMEO:\n", help="text the sample starts from")
    args = ap.parse_args(argv)
    if args.max_chars is not None and args.max_chars < 20 * args.batch_size:
        ap.error(f"--max-chars must be at least 20 x --batch-size = {20 * args.batch_size}")
    print(f"Tiny Shakespeare: character-level LSTM({args.hidden}) x {args.layers}, truncated "
          f"BPTT over {args.bptt}-character chunks, Adam lr {args.lr}, {args.epochs} epoch(s)")
    r = train(args.epochs, args.hidden, args.lr, args.batch_size, args.bptt, args.layers,
              args.seed, args.max_chars, args.checkpoint)
    print(f"\nheld-out bits per character: {r['bpc']:.3f} (uniform guess: "
          f"{math.log2(len(r['vocab'])):.2f}); training loss {r['first_loss']:.3f} -> "
          f"{r['losses'][-1]:.3f} nats/char; median epoch {r['median_epoch_time']:.1f} s")
    if args.checkpoint:
        print(f"checkpoint: {args.checkpoint}")
    if args.sample_chars > 0:
        unknown = sorted(set(args.prime) - set(r["vocab"].stoi))
        prime = "".join(c for c in args.prime if c in r["vocab"].stoi) or r["vocab"].itos[0]
        if unknown:
            print(f"(dropped characters not in the vocabulary from --prime: {unknown})")
        text = sample(r["model"], r["vocab"], prime, args.sample_chars, args.temperature,
                      np.random.default_rng(args.seed))
        print(f"\nsample at temperature {args.temperature}:\n{text}")
    return 0
