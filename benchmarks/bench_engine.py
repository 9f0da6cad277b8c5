"""The engine's per-op cost: a chain of small elementwise ops, forward and backward, against
the same chain in PyTorch (eager, recording autograd) in the same process.

    python benchmarks/bench_engine.py [--ops 10000] [--rounds 15] [--size 4]
    python benchmarks/bench_engine.py --against OTHER_CHECKOUT [--pairs 12]

Rounds are interleaved (minigrad, torch, minigrad, ...) after a warm-up, and the ratio of the
medians is reported: the machines are shared and noisy, so absolute times mean little.

``--against`` compares two versions of minigrad instead (this checkout and another one, say a
``git worktree`` of an older commit): each pair runs the chain once in a fresh process of each,
in alternating order, and times the process's CPU time (less disturbed by other processes than
wall time); the median of the per-pair ratios is reported.
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


_ONE_RUN = """
import statistics, sys, time
sys.path.insert(0, {root!r})
from benchmarks.bench_engine import chain_minigrad
f = chain_minigrad({ops}, {size})
f(); f()
ts = []
for _ in range(7):
    t = time.process_time(); f(); ts.append(time.process_time() - t)
print(statistics.median(ts))
"""


def against(other: str, pairs: int, n_ops: int, size: int) -> float:
    """Median ratio (this checkout / ``other``) of the chain's CPU time, over alternating pairs."""
    import subprocess
    import sys
    from pathlib import Path

    roots = {"this": str(Path(__file__).resolve().parents[1]),
             "other": str(Path(other).resolve())}
    times: dict[str, list[float]] = {k: [] for k in roots}
    for p in range(pairs):
        for k in (("this", "other") if p % 2 == 0 else ("other", "this")):
            code = _ONE_RUN.format(root=roots[k], ops=n_ops, size=size)
            out = subprocess.run([sys.executable, "-c", code], cwd=roots[k], check=True,
                                 capture_output=True, text=True).stdout
            times[k].append(float(out.split()[-1]))
    ratios = [a / b for a, b in zip(times["this"], times["other"], strict=True)]
    for k, v in times.items():
        print(f"  {k:6s} {roots[k]}: median {statistics.median(v) * 1e3:.1f} ms CPU "
              f"({' '.join(f'{x * 1e3:.1f}' for x in v)})")
    ratio = statistics.median(ratios)
    print(f"  this / other, median of {pairs} paired ratios: {ratio:.3f} "
          f"(range {min(ratios):.3f}-{max(ratios):.3f})")
    return ratio


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ops", type=int, default=10_000, help="ops in the chain")
    ap.add_argument("--rounds", type=int, default=15, help="timed rounds per library")
    ap.add_argument("--size", type=int, default=4, help="elements per tensor")
    ap.add_argument("--against", metavar="CHECKOUT",
                    help="compare with the minigrad in another checkout instead of PyTorch")
    ap.add_argument("--pairs", type=int, default=12, help="alternating pairs for --against")
    args = ap.parse_args(argv)
    if args.against:
        print(f"chain of {args.ops} elementwise ops on {args.size} elements, forward + backward, "
              f"this checkout against {args.against}")
        return {"ratio": against(args.against, args.pairs, args.ops, args.size)}
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
