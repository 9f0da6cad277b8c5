"""Is the batch split worth it? One fused training step with the batch run whole and run as two
concurrent halves (:data:`rnn.fused_ops.BATCH_SPLIT`), in interleaved rounds.

    python benchmarks/bench_split.py [--rounds 9] [--dtype float32] [CELL:B:H ...]

Each configuration is ``CELL:B:H`` (T = 32, I = H / 2 unless given as ``CELL:B:H:T:I``); by
default the suite's small and medium shapes, the MNIST recipe's LSTM and a large LSTM. The
split is forced on or off (bypassing the size thresholds and the load check), each round
rests 0.12 s and takes one untimed step first, and the ratio of the medians split / whole is
printed: below 1 the split pays.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import rnn
import rnn.fused_ops as fo
from minigrad import Tensor

DEFAULT = ["RNN:16:64", "GRU:16:64", "LSTM:16:64", "RNN:32:256:64:128", "GRU:32:256:64:128",
           "LSTM:32:256:64:128", "LSTM:100:100:28:28", "LSTM:64:512:128:256"]


def training_step(cell: str, B: int, H: int, T: int, I: int, dtype: str) -> Callable[[], None]:
    layer = getattr(rnn, cell)(I, H, impl="fused", dtype=dtype, rng=0)
    x = Tensor(np.random.default_rng(0).standard_normal((T, B, I)).astype(dtype))

    def step() -> None:
        out, _ = layer(x)
        out.sum().backward()
        layer.zero_grad()

    return step


def timed(step: Callable[[], None], split: bool, repeat: int) -> float:
    """Seconds per step, the split forced on or off."""
    saved = fo.BATCH_SPLIT
    fo.BATCH_SPLIT = split
    try:
        time.sleep(0.12)  # let the other side's BLAS worker stop spinning
        step()
        start = time.perf_counter()
        for _ in range(repeat):
            step()
        return (time.perf_counter() - start) / repeat
    finally:
        fo.BATCH_SPLIT = saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("configs", nargs="*", default=DEFAULT)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()
    print("training step (forward + backward), split / whole, medians of interleaved rounds")
    for spec in args.configs:
        cell, *dims = spec.split(":")
        B, H = int(dims[0]), int(dims[1])
        T = int(dims[2]) if len(dims) > 2 else 32
        I = int(dims[3]) if len(dims) > 3 else max(1, H // 2)
        step = training_step(cell, B, H, T, I, args.dtype)
        step()  # compile or load the kernels
        once = timed(step, False, 1)
        repeat = max(1, int(0.2 / max(once, 1e-4)))
        whole, split = [], []
        for _ in range(args.rounds):
            whole.append(timed(step, False, repeat))
            split.append(timed(step, True, repeat))
        w, s = statistics.median(whole), statistics.median(split)
        print(f"  {cell:4s} B{B:<4d} H{H:<4d} T{T:<4d} I{I:<4d}  whole {1e3 * w:8.3f} ms  "
              f"split {1e3 * s:8.3f} ms  split/whole {s / w:.2f}   (B*G = "
              f"{B * H * {'RNN': 1, 'GRU': 3, 'LSTM': 4}[cell]})", flush=True)


if __name__ == "__main__":
    main()
