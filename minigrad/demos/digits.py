"""A two-layer network on the 8x8 digits, trained with plain gradient descent on the engine alone.

    h = tanh(x W1 + b1),  logits = h W2 + b2,  loss = mean_n -log softmax(logits_n)[y_n]

No nn, no optimizer: the parameters are leaf tensors and each step is
``with minigrad.no_grad(): p -= lr * p.grad`` (in place: p stays the same leaf).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import minigrad as mg
from minigrad.cli import nonnegative_int, positive_float, positive_int
from minigrad.data import DataLoader, load_digits, train_test_split


def train(epochs: int = 60, hidden: int = 64, lr: float = 0.5, batch: int = 64,
          seed: int = 0, log: bool = True) -> float:
    """Train and return the test accuracy (on a held-out fifth of the 1,797 images)."""
    X, y = load_digits()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, seed=seed)
    rng = np.random.default_rng(seed)
    params = [
        mg.tensor(rng.uniform(-1, 1, (64, hidden)) / np.sqrt(64), requires_grad=True),
        mg.tensor(np.zeros(hidden), requires_grad=True),
        mg.tensor(rng.uniform(-1, 1, (hidden, 10)) / np.sqrt(hidden), requires_grad=True),
        mg.tensor(np.zeros(10), requires_grad=True),
    ]
    w1, b1, w2, b2 = params

    def logits(x: np.ndarray) -> mg.Tensor:
        return mg.tanh(mg.tensor(x) @ w1 + b1) @ w2 + b2

    loader = DataLoader(Xtr, ytr, batch_size=batch, generator=rng)  # a new order every epoch
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        total = 0.0
        for xb, yb in loader:
            logp = mg.log_softmax(logits(xb), dim=1)
            loss = -logp[np.arange(len(yb)), yb].mean()
            for p in params:
                p.grad = None
            loss.backward()
            with mg.no_grad():  # an in-place update of a leaf: p stays the same leaf
                for p in params:
                    assert p.grad is not None
                    p -= lr * p.grad
            total += loss.item() * len(yb)
        if log and (epoch == 1 or epoch % 10 == 0 or epoch == epochs):
            with mg.no_grad():
                acc = float(np.mean(logits(Xte).data.argmax(axis=1) == yte))
            print(f"epoch {epoch:3d}  train loss {total / len(Xtr):.4f}  "
                  f"test accuracy {acc:.1%}  ({time.perf_counter() - start:.1f} s)")
    with mg.no_grad():
        return float(np.mean(logits(Xte).data.argmax(axis=1) == yte))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="minigrad demo digits", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=positive_int, default=60,
                    help="passes over the training set (default 60)")
    ap.add_argument("--hidden", type=positive_int, default=64, help="hidden units (default 64)")
    ap.add_argument("--lr", type=positive_float, default=0.5,
                    help="gradient-descent step size (default 0.5)")
    ap.add_argument("--seed", type=nonnegative_int, default=0,
                    help="random seed for the split and the weights (default 0)")
    args = ap.parse_args(argv)
    acc = train(args.epochs, args.hidden, args.lr, seed=args.seed)
    print(f"final test accuracy {acc:.1%} on 360 held-out digits")
    return 0
