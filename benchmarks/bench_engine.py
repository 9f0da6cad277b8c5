"""The engine's per-op cost: a chain of small elementwise ops, forward and backward, against
the same chain in PyTorch (eager, recording autograd) in the same process.

    python benchmarks/bench_engine.py [--ops 10000] [--rounds 15] [--size 4]

Rounds are interleaved (minigrad, torch, minigrad, ...) after a warm-up, and the ratio of the
medians is reported: the machines are shared and noisy, so absolute times mean little.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import minigrad as mg


def chain_minigrad(n_ops: int, size: int) -> Callable[[], None]:
    x = mg.tensor(np.linspace(-1, 1, size, dtype=np.float32), requires_grad=True)

    def run() -> None:
        y = x
        for _ in range(n_ops // 4):
            y = mg.tanh(y * 1.001 + 0.1) - 0.05
        y.sum().backward()
        x.grad = None

    return run


def chain_torch(n_ops: int, size: int) -> Callable[[], None] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    x = torch.linspace(-1, 1, size, requires_grad=True)

    def run() -> None:
        y = x
        for _ in range(n_ops // 4):
            y = torch.tanh(y * 1.001 + 0.1) - 0.05
        y.sum().backward()
        x.grad = None

    return run


def interleaved(fns: dict[str, Callable[[], None]], rounds: int) -> dict[str, list[float]]:
    """Time each function once per round, in turn, after one warm-up call each."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for f in fns.values():
        f()
    for _ in range(rounds):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return times


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ops", type=int, default=10_000, help="ops in the chain")
    ap.add_argument("--rounds", type=int, default=15, help="timed rounds per library")
    ap.add_argument("--size", type=int, default=4, help="elements per tensor")
    args = ap.parse_args(argv)
    fns = {"minigrad": chain_minigrad(args.ops, args.size)}
    t = chain_torch(args.ops, args.size)
    if t is not None:
        fns["torch"] = t
    times = interleaved(fns, args.rounds)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"chain of {args.ops} elementwise ops on {args.size} elements, forward + backward, "
          f"median of {args.rounds} interleaved rounds")
    for k, v in times.items():
        spread = (min(v) * 1e3, max(v) * 1e3)
        print(f"  {k:9s} {med[k] * 1e3:8.1f} ms  ({med[k] / args.ops * 1e6:.2f} us/op; "
              f"min {spread[0]:.1f}, max {spread[1]:.1f} ms)")
    if "torch" in med:
        print(f"  ratio minigrad / torch: {med['minigrad'] / med['torch']:.2f}  (target <= 0.5)")
        med["ratio"] = med["minigrad"] / med["torch"]
    else:
        print("  (PyTorch not installed: no ratio)")
    return med


if __name__ == "__main__":
    main()
