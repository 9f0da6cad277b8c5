"""What the recipes share: the command-line skeleton, the epoch loop, checkpoints, formatting.

The epoch loop :func:`fit` is deliberately plain: for every batch it asks the recipe for a loss
(``batch_loss(batch) -> (loss, count)``), backpropagates, optionally clips the gradient norm and
takes an optimizer step; after every epoch it reports the mean loss, the recipe's evaluation and
the time the epoch's training took (evaluation excluded).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from minigrad import Tensor, checkpoint, nn
from minigrad.cli import (
    checkpoint_path,
    finite_float,
    nonnegative_int,
    positive_float,
    positive_int,
    writable_path,
)
from minigrad.optim import Optimizer
from minigrad.progress import Progress

__all__ = ["make_parser", "fit", "save_checkpoint", "format_metrics", "median", "echo",
           "checkpoint_path", "finite_float", "nonnegative_int", "positive_float", "positive_int",
           "writable_path"]


def make_parser(name: str, doc: str | None, *, epochs: int, hidden: int, lr: float,
                batch_size: int, epochs_help: str = "",
                checkpoint_help: str = "") -> argparse.ArgumentParser:
    """An argument parser with the options every recipe has; the recipe adds its own."""
    ap = argparse.ArgumentParser(prog=f"minigrad recipe {name}", description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=positive_int, default=epochs,
                    help=f"passes over the training data (default {epochs}){epochs_help}")
    ap.add_argument("--hidden", type=positive_int, default=hidden,
                    help=f"LSTM hidden size (default {hidden})")
    ap.add_argument("--lr", type=positive_float, default=lr,
                    help=f"Adam learning rate (default {lr})")
    ap.add_argument("--batch-size", type=positive_int, default=batch_size,
                    help=f"examples per minibatch (default {batch_size})")
    ap.add_argument("--seed", type=nonnegative_int, default=0,
                    help="random seed for the data, the initial weights and the batch order "
                         "(default 0)")
    ap.add_argument("--checkpoint", metavar="PATH", type=checkpoint_path, default=None,
                    help=checkpoint_help or "save the trained model and optimizer state to "
                         "PATH (.npz; its directory must exist); nothing is written without it")
    return ap


def echo(log: bool, *parts: Any) -> None:
    """``print`` (flushed) when ``log`` is on."""
    if log:
        print(*parts, flush=True)


def format_metrics(metrics: dict[str, float]) -> str:
    """``{"test acc": 0.953, "bpc": 2.1}`` -> ``"test acc 95.30%  bpc 2.100"``."""
    return "  ".join(f"{k} {100 * v:.2f}%" if "acc" in k else f"{k} {v:.3f}"
                     for k, v in metrics.items())


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def fit(model: nn.Module, opt: Optimizer, epochs: int,
        epoch_batches: Callable[[int], Iterable[Any]],
        batch_loss: Callable[[Any], tuple[Tensor, int]], *,
        clip: float | None = None,
        evaluate: Callable[[], dict[str, float]] | None = None,
        after_epoch: Callable[[int], str] | None = None,
        log: bool = True) -> dict[str, Any]:
    """Train ``model`` for ``epochs`` epochs and return its history.

    Args:
        epoch_batches: ``epoch_batches(epoch)`` gives the batches of that epoch (1-based).
        batch_loss: the loss of one batch as a scalar Tensor that is a mean over ``count``
            items (tokens, images, ...), and ``count``; epoch losses are weighted by it.
        clip: clip the gradients' joint norm to this value before each step.
        evaluate: called in eval mode after every epoch; its metrics are printed and kept.
        after_epoch: called after every epoch (and evaluation); its text is printed on a line
            of its own (the MNIST recipe trains PyTorch's model here).
        log: print one line per epoch and a progress bar (or plain progress lines).

    Returns:
        ``{"losses": mean loss per epoch, "first_loss": the first batch's loss, "epoch_times":
        training seconds per epoch, "evals": the metrics of every epoch}``.
    """
    params = list(model.parameters())
    losses: list[float] = []
    times: list[float] = []
    evals: list[dict[str, float]] = []
    first_loss = float("nan")
    for epoch in range(1, epochs + 1):
        model.train()
        items = epoch_batches(epoch)
        bar: Iterable[Any] = Progress(items, desc=f"epoch {epoch}") if log else items
        total, count = 0.0, 0
        start = time.perf_counter()
        for batch in bar:
            loss, n = batch_loss(batch)
            opt.zero_grad()
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            value = loss.item()
            if not losses and count == 0:
                first_loss = value
            total, count = total + value * n, count + n
            if isinstance(bar, Progress):
                bar.update(loss=total / count)
        times.append(time.perf_counter() - start)
        losses.append(total / max(count, 1))
        metrics: dict[str, float] = {}
        if evaluate is not None:
            model.eval()
            metrics = evaluate()
            model.train()
        evals.append(metrics)
        echo(log, f"epoch {epoch:3d}/{epochs}  loss {losses[-1]:.4f}  "
                  f"{format_metrics(metrics)}  ({times[-1]:.1f} s)".replace("    ", "  "))
        if after_epoch is not None:
            echo(log, after_epoch(epoch))
    return {"losses": losses, "first_loss": first_loss, "epoch_times": times, "evals": evals}


def save_checkpoint(path: str, model: nn.Module, opt: Optimizer, **meta: Any) -> None:
    """Save the model, the optimizer state and plain metadata (see :mod:`minigrad.checkpoint`)."""
    checkpoint.save({"model": model.state_dict(), "optim": opt.state_dict(), **meta}, path)
