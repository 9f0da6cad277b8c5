"""A character-level LSTM language model of dinosaur names: the main demo (and recipe 1).

Each name is read one character at a time, framed by a newline on both sides; the model learns
to predict the next character:

    e_t = Embedding(c_t),   h_t = LSTM(e_t, h_{t-1}),   p(c_{t+1} | c_<=t) = softmax(W h_t + b)

trained with cross-entropy, Adam and gradient-norm clipping (the usual cure for exploding
gradients). New names are then sampled one character at a time from the softmax at a chosen
temperature (below 1: safer, more typical names; above 1: wilder ones). Training state is saved
to a checkpoint after every epoch, and ``--resume`` continues from it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

import minigrad as mg
import rnn
from minigrad import checkpoint, nn, optim
from minigrad.cli import (
    checkpoint_path,
    nonnegative_int,
    positive_float,
    positive_int,
)
from minigrad.data import CharVocab, DataLoader, load_dinos
from minigrad.nn import functional as F
from minigrad.progress import Progress

END = "\n"  # marks both the start and the end of a name


class CharLSTM(nn.Module):
    """Embedding -> LSTM -> Linear over a character vocabulary.

    Shapes: ids (B, T) int -> logits (B, T, V); the state is the LSTM's ``(h, c)``, each
    (1, B, H).
    """

    def __init__(self, vocab_size: int, hidden_size: int = 64, embed_size: int = 32,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size, rng=rng)
        self.lstm = rnn.LSTM(embed_size, hidden_size, batch_first=True, rng=rng)
        self.head = nn.Linear(hidden_size, vocab_size, rng=rng)

    def forward(self, ids: Any, state: Any = None,
                lengths: np.ndarray | None = None) -> tuple[mg.Tensor, Any]:
        out, state = self.lstm(self.embed(ids), state, lengths=lengths)
        return self.head(out), state


def name_batches(names: list[str], vocab: CharVocab, batch_size: int,
                 seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(inputs (B, T), targets (B, T) with -100 on padding, input lengths) for one epoch:
    each name framed by newlines, the targets its characters shifted by one."""
    seqs = [vocab.encode(END + name + END) for name in names]
    return list(DataLoader([s[:-1] for s in seqs], [s[1:] for s in seqs],
                           batch_size=batch_size, generator=seed))


@mg.no_grad()
def sample(model: CharLSTM, vocab: CharVocab, rng: np.random.Generator,
           temperature: float = 1.0, max_len: int = 30) -> str:
    """Draw one name, character by character, from softmax(logits / temperature)."""
    model.eval()
    state = None
    ids = np.array([[vocab.stoi[END]]])
    chars = []
    for _ in range(max_len):
        logits, state = model(ids, state)
        p = mg.softmax(logits[0, -1].astype(np.float64) / temperature).data
        nxt = int(rng.choice(len(p), p=p / p.sum()))
        if vocab.itos[nxt] == END:
            break
        chars.append(vocab.itos[nxt])
        ids = np.array([[nxt]])
    model.train()
    return "".join(chars).capitalize()


def train(epochs: int = 25, hidden: int = 64, seed: int = 0, lr: float = 0.01,
          batch_size: int = 32, checkpoint_path: str | None = None, resume: bool = False,
          log: bool = True) -> dict[str, Any]:
    """Train the model; returns the model, vocabulary and the mean loss of every epoch."""
    names = load_dinos()
    vocab = CharVocab(names, specials=[END])
    rng = np.random.default_rng(seed)
    model = CharLSTM(len(vocab.itos), hidden, rng=rng)
    opt = optim.Adam(model.parameters(), lr=lr)
    first_epoch, losses = 1, []
    if resume:
        if checkpoint_path is None or not Path(checkpoint_path).exists():
            raise FileNotFoundError(f"--resume: no checkpoint at {checkpoint_path}")
        state = checkpoint.load(checkpoint_path)
        if state["hidden"] != hidden:
            raise ValueError(f"--resume: the checkpoint has hidden size {state['hidden']}, "
                             f"not {hidden}")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        first_epoch, losses = state["epoch"] + 1, list(state["losses"])
        if first_epoch > epochs:
            raise ValueError(f"--resume: the checkpoint {checkpoint_path} is already at epoch "
                             f"{state['epoch']}; ask for more with --epochs N (N > "
                             f"{state['epoch']})")
        if log:
            print(f"resumed from {checkpoint_path} after epoch {state['epoch']}")
    start = time.perf_counter()
    for epoch in range(first_epoch, epochs + 1):
        bar = Progress(name_batches(names, vocab, batch_size, seed * 1000 + epoch),
                       desc=f"epoch {epoch}")
        total, count = 0.0, 0
        for inputs, targets, lengths in bar:
            logits, _ = model(inputs, lengths=lengths)
            loss = F.cross_entropy(logits.reshape(-1, len(vocab.itos)), targets.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            n = int((targets != -100).sum())
            total, count = total + loss.item() * n, count + n
            bar.update(loss=total / count)
        losses.append(total / count)
        if log:
            print(f"epoch {epoch:3d}  loss {losses[-1]:.3f} nats/char  "
                  f"({time.perf_counter() - start:.1f} s)")
        if checkpoint_path is not None:
            checkpoint.save({"model": model.state_dict(), "optim": opt.state_dict(),
                             "epoch": epoch, "losses": losses, "hidden": hidden},
                            checkpoint_path)
    return {"model": model, "vocab": vocab, "losses": losses}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="minigrad demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=positive_int, default=25,
                    help="passes over the 1,536 names (default 25, well under a minute); with "
                         "--resume, the epoch to train up to")
    ap.add_argument("--hidden", type=positive_int, default=64,
                    help="LSTM hidden size (default 64)")
    ap.add_argument("--seed", type=nonnegative_int, default=0,
                    help="random seed for weights, batches, samples (default 0)")
    ap.add_argument("--lr", type=positive_float, default=0.01,
                    help="Adam learning rate (default 0.01)")
    ap.add_argument("--temperature", type=positive_float, default=0.8,
                    help="sampling temperature: < 1 safer names, > 1 wilder (default 0.8)")
    ap.add_argument("--samples", type=nonnegative_int, default=10,
                    help="names to sample (default 10; 0 for none)")
    ap.add_argument("--checkpoint", type=_checkpoint_path, default="dinos-checkpoint.npz",
                    metavar="PATH",
                    help="where to save training state after each epoch "
                         "(default dinos-checkpoint.npz; 'none' to skip)")
    ap.add_argument("--resume", action="store_true",
                    help="continue from the checkpoint instead of starting afresh")
    args = ap.parse_args(argv)
    path = args.checkpoint
    if args.resume:
        if path is None:
            ap.error("--resume needs a checkpoint to continue from, not --checkpoint none")
        if not Path(path).is_file():
            ap.error(f"--resume: no checkpoint at {path} (train without --resume first)")
    print(f"training a character-level LSTM (hidden {args.hidden}) on 1,536 dinosaur names")
    result = train(args.epochs, args.hidden, args.seed, args.lr, checkpoint_path=path,
                   resume=args.resume)
    losses = result["losses"]
    if losses:
        print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f} nats/char over {len(losses)} epochs")
    if path:
        print(f"checkpoint: {path} (continue with --resume --epochs N)")
    rng = np.random.default_rng(args.seed)
    if args.samples == 0:
        return 0
    print(f"\n{args.samples} new name{'s' if args.samples > 1 else ''} at temperature "
          f"{args.temperature}:")
    for _ in range(args.samples):
        print("  " + sample(result["model"], result["vocab"], rng, args.temperature))
    return 0


def _checkpoint_path(text: str) -> str | None:
    """``none`` (any case) or a writable file path."""
    return None if text.lower() == "none" else checkpoint_path(text)
