"""MNIST read row by row: an LSTM sees a 28x28 image as 28 steps of 28 pixels.

Task: classify handwritten digits from the bundled 5,000-image MNIST subset, split 4,000 for
training and 1,000 held out (stratified and seeded).

Model: the image's rows are the time steps, ``x_t`` = row t (28 pixels). An LSTM with 100 hidden
units reads them top to bottom; a Linear(100, 10) layer on its last output gives the ten class
scores. Cross-entropy, Adam with learning rate 0.01, batches of 100, 30 epochs: a classic
recipe for this exercise, which reaches about 98 % when trained on the full 55,000 training
images; with the 4,000 bundled here, expect about 95-96 %.

With ``--torch`` (and PyTorch installed) the same recipe is also trained in PyTorch in the same
process (torch.nn.LSTM + Linear, Adam 0.01, the same split, the same batch order and the same
initial weights, one epoch of each in turn), and both test accuracies and median epoch times are
printed side by side. The two runs agree closely for the first epoch and then drift apart as
float32 rounding differences grow; the final accuracy of a single run moves by about a point
from one seed to the next, so ``--seeds N`` repeats the comparison over N seeds.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn, optim
from minigrad.data import DataLoader, load_mnist, train_test_split
from minigrad.nn import functional as F

from ._common import echo, fit, make_parser, median, positive_int, save_checkpoint

ROWS = COLS = 28
CLASSES = 10


class RowLSTM(nn.Module):
    """LSTM over the rows of an image, then Linear on the last output.

    Shapes: images (B, 784) float32 -> logits (B, 10).
    """

    def __init__(self, hidden_size: int = 100, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.lstm = rnn.LSTM(COLS, hidden_size, batch_first=True, rng=rng)
        self.head = nn.Linear(hidden_size, CLASSES, rng=rng)

    def forward(self, images: Any) -> mg.Tensor:
        rows = np.asarray(images, dtype=np.float32).reshape(-1, ROWS, COLS)
        out, _ = self.lstm(rows)               # (B, 28, H)
        return self.head(out[:, -1])           # (B, 10)


@mg.no_grad()
def accuracy(model: RowLSTM, X: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    """Fraction of ``X`` classified as ``y``."""
    correct = 0
    for i in range(0, len(X), batch_size):
        pred = model(X[i:i + batch_size]).data.argmax(-1)
        correct += int((pred == y[i:i + batch_size]).sum())
    return correct / len(X)


def split_data(n_train: int, n_test: int,
               seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, X_test, y_train, y_test)``: a class-balanced subset of ``n_train + n_test``
    images, split with the labels' proportions kept."""
    if n_train < CLASSES or n_test < CLASSES or n_train + n_test > 5000:
        raise ValueError(f"need n_train, n_test >= {CLASSES} and n_train + n_test <= 5000, "
                         f"got {n_train} and {n_test}")
    X, y = load_mnist(n_train + n_test)
    return train_test_split(X, y, test_size=n_test, seed=seed, stratify=True)


def train(epochs: int = 30, hidden: int = 100, lr: float = 0.01, batch_size: int = 100,
          seed: int = 0, n_train: int = 4000, n_test: int = 1000, compare_torch: bool = False,
          checkpoint_path: str | None = None, log: bool = True) -> dict[str, Any]:
    """Train the row-by-row LSTM (and, with ``compare_torch``, PyTorch's twin).

    Returns ``{"test_acc", "train_acc", "losses", "first_loss", "epoch_times",
    "median_epoch_time", "model", "torch"}``; ``"torch"`` is None or a dict with the same
    metric keys for the PyTorch run.
    """
    X_tr, X_te, y_tr, y_te = split_data(n_train, n_test, seed)
    # one shuffled order per epoch; both frameworks train on the same batches of an epoch
    loader = DataLoader(X_tr, y_tr, batch_size=batch_size, generator=seed + 1)
    epochs_batches: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}

    def epoch_batches(epoch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        epochs_batches[epoch] = list(loader)
        return epochs_batches[epoch]

    model = RowLSTM(hidden, rng=np.random.default_rng(seed))
    opt = optim.Adam(model.parameters(), lr=lr)

    twin = None
    if compare_torch:
        twin = _TorchTwin(hidden, lr, seed, X_tr, y_tr, X_te, y_te, init=model.state_dict())

    def batch_loss(batch: tuple[np.ndarray, np.ndarray]) -> tuple[mg.Tensor, int]:
        x, y = batch
        return F.cross_entropy(model(x), y), len(y)

    def after_epoch(epoch: int) -> str:
        assert twin is not None
        loss, acc, seconds = twin.epoch(epochs_batches.pop(epoch))
        return (f"  torch    loss {loss:.4f}  test acc {100 * acc:.2f}%  ({seconds:.1f} s)")

    history = fit(model, opt, epochs, epoch_batches, batch_loss,
                  evaluate=lambda: {"test acc": accuracy(model, X_te, y_te)},
                  after_epoch=after_epoch if twin is not None else None, log=log)
    model.eval()
    result: dict[str, Any] = {
        **history,
        "test_acc": history["evals"][-1]["test acc"],
        "train_acc": accuracy(model, X_tr, y_tr),
        "median_epoch_time": median(history["epoch_times"]),
        "model": model,
        "torch": twin.summary() if twin is not None else None,
    }
    if checkpoint_path is not None:
        save_checkpoint(checkpoint_path, model, opt, epoch=epochs, hidden=hidden, seed=seed)
    return result


class _TorchTwin:
    """The same recipe in PyTorch, trained one epoch at a time on the batches it is given."""

    def __init__(self, hidden: int, lr: float, seed: int, X_tr: np.ndarray, y_tr: np.ndarray,
                 X_te: np.ndarray, y_te: np.ndarray,
                 init: dict[str, np.ndarray] | None = None) -> None:
        import torch

        self.torch = torch
        torch.manual_seed(seed)
        self.lstm = torch.nn.LSTM(COLS, hidden, batch_first=True)
        self.head = torch.nn.Linear(hidden, CLASSES)
        if init is not None:  # start from minigrad's weights: the parameter names are the same
            with torch.no_grad():
                for prefix, module in (("lstm.", self.lstm), ("head.", self.head)):
                    for name, p in module.named_parameters():
                        p.copy_(torch.from_numpy(np.array(init[prefix + name])))
        params = [*self.lstm.parameters(), *self.head.parameters()]
        self.opt = torch.optim.Adam(params, lr=lr)
        self.X_tr = torch.from_numpy(X_tr.reshape(-1, ROWS, COLS).copy())
        self.y_tr = torch.from_numpy(y_tr.copy())
        self.X_te = torch.from_numpy(X_te.reshape(-1, ROWS, COLS).copy())
        self.y_te = torch.from_numpy(y_te.copy())
        self.losses: list[float] = []
        self.times: list[float] = []
        self.accs: list[float] = []

    def _logits(self, x: Any) -> Any:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])

    def _accuracy(self, X: Any, y: Any) -> float:
        with self.torch.no_grad():
            return float((self._logits(X).argmax(-1) == y).float().mean())

    def epoch(self, batches: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float, float]:
        """Train one epoch on these (images, labels) batches; returns (mean loss, test
        accuracy, training seconds)."""
        torch = self.torch
        total, count = 0.0, 0
        start = time.perf_counter()
        for x, y in batches:
            xb = torch.from_numpy(x.reshape(-1, ROWS, COLS))
            loss = torch.nn.functional.cross_entropy(self._logits(xb), torch.from_numpy(y))
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            total, count = total + loss.item() * len(y), count + len(y)
        self.times.append(time.perf_counter() - start)
        self.losses.append(total / count)
        self.accs.append(self._accuracy(self.X_te, self.y_te))
        return self.losses[-1], self.accs[-1], self.times[-1]

    def summary(self) -> dict[str, Any]:
        return {"test_acc": self.accs[-1] if self.accs else float("nan"),
                "train_acc": self._accuracy(self.X_tr, self.y_tr),
                "losses": self.losses, "epoch_times": self.times,
                "median_epoch_time": median(self.times),
                "version": self.torch.__version__}


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    ap = make_parser("mnist", __doc__, epochs=30, hidden=100, lr=0.01, batch_size=100)
    ap.add_argument("--train-size", type=positive_int, default=4000,
                    help="training images (default 4000)")
    ap.add_argument("--test-size", type=positive_int, default=1000,
                    help="held-out test images (default 1000; train + test <= 5000)")
    ap.add_argument("--torch", action="store_true",
                    help="also train the identical recipe in PyTorch (if installed) and compare "
                         "accuracy and epoch time")
    ap.add_argument("--seeds", type=positive_int, default=1,
                    help="repeat with seeds SEED, SEED+1, ... and report the mean (default 1)")
    args = ap.parse_args(argv)
    if args.train_size < CLASSES or args.test_size < CLASSES or \
            args.train_size + args.test_size > 5000:
        ap.error("--train-size and --test-size must each be >= 10 and add up to at most 5000")
    if args.checkpoint and args.seeds > 1:
        ap.error("--checkpoint saves one model; use it with --seeds 1")
    compare = args.torch and torch_available()
    if args.torch and not compare:
        print("--torch: PyTorch is not installed; training minigrad only")
    print(f"MNIST row by row: LSTM({args.hidden}) + Linear({args.hidden}, 10), Adam lr {args.lr}, "
          f"batch {args.batch_size}, {args.train_size} train / {args.test_size} test images, "
          f"{args.epochs} epochs")
    runs = []
    for seed in range(args.seed, args.seed + args.seeds):
        if args.seeds > 1:
            print(f"\n--- seed {seed} ---")
        r = train(args.epochs, args.hidden, args.lr, args.batch_size, seed, args.train_size,
                  args.test_size, compare_torch=compare, checkpoint_path=args.checkpoint)
        runs.append((seed, r))
        _report(r)
    if args.seeds > 1:
        print("\nseed   minigrad acc  epoch s" + ("   PyTorch acc  epoch s" if compare else ""))
        for seed, r in runs:
            line = f"{seed:4d}   {100 * r['test_acc']:11.2f}%  {r['median_epoch_time']:7.2f}"
            if r["torch"] is not None:
                t = r["torch"]
                line += f"   {100 * t['test_acc']:10.2f}%  {t['median_epoch_time']:7.2f}"
            print(line)
        mean = float(np.mean([r["test_acc"] for _, r in runs]))
        line = f"mean   {100 * mean:11.2f}%"
        if compare:
            tmean = float(np.mean([r["torch"]["test_acc"] for _, r in runs]))
            line += f"{'':9}   {100 * tmean:10.2f}%   (difference {100 * (mean - tmean):+.2f})"
        print(line)
    if args.checkpoint:
        print(f"checkpoint: {args.checkpoint}")
    return 0


def _report(r: dict[str, Any]) -> None:
    echo(True, f"\nminigrad: test accuracy {100 * r['test_acc']:.2f}%  (train "
               f"{100 * r['train_acc']:.2f}%), median epoch {r['median_epoch_time']:.2f} s")
    if r["torch"] is not None:
        t = r["torch"]
        echo(True, f"PyTorch {t['version']}: test accuracy {100 * t['test_acc']:.2f}%  (train "
                   f"{100 * t['train_acc']:.2f}%), median epoch {t['median_epoch_time']:.2f} s")
        echo(True, f"difference (minigrad - PyTorch): "
                   f"{100 * (r['test_acc'] - t['test_acc']):+.2f} points")
