"""Throwaway timing: fused GRU / RNN kernels vs torch.nn.GRU / torch.nn.RNN, one training step.

One step = forward + backward with d_out = ones (loss = sum of outputs), including the numpy
input-projection GEMMs around the kernels (x @ W_ih.T forward; d_xw @ W_ih and d_xw.T @ x
backward). Rounds are interleaved (ours, torch with x requiring grad, torch with x without
grad) and medians are reported, with ratios ours / torch measured in this process.

    python benchmarks/kernel_gru_rnn_scratch.py [--rounds N] [--cells gru,rnn,gru_rb,rnn_relu]
        [--sizes small,medium,large] [--dtypes float32,float64] [--threads N] [--clock wall|cpu]

On a shared, busy machine wall-clock times of multi-threaded BLAS swing wildly (a thread that
waits for a descheduled partner). ``--threads 1 --clock cpu`` runs both sides single-threaded
and measures process CPU time, which is much steadier and compares the work each side does.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from rnn.fused.gru import gru_backward, gru_forward
from rnn.fused.rnn_tanh import rnn_backward, rnn_forward

SIZES = {
    "small": (16, 32, 32, 64),  # B, T, I, H
    "medium": (32, 64, 128, 256),
    "large": (64, 128, 256, 512),
}


def _ours(cell: str, x: np.ndarray, w_ih: np.ndarray, b_ih: np.ndarray, w_hh: np.ndarray,
          b_hh: np.ndarray, h0: np.ndarray) -> Callable[[], object]:
    T, B, I = x.shape
    x2 = x.reshape(T * B, I)

    def step_gru(reset_after: bool) -> object:
        xw = x2 @ w_ih.T
        xw += b_ih  # in place: a fresh T*B x 3H array for "+ b" costs page faults
        xw = xw.reshape(T, B, -1)
        out, h_n, cache = gru_forward(xw, w_hh, b_hh, h0, None, reset_after)
        d_out = np.ones_like(out)
        d_xw, d_w_hh, d_b_hh, d_h0 = gru_backward(d_out, np.zeros_like(h_n), w_hh, b_hh, cache,
                                                  reset_after)
        d2 = d_xw.reshape(T * B, -1)
        dx = d2 @ w_ih
        d_w_ih = d2.T @ x2
        d_b_ih = d2.sum(0)
        return dx, d_w_ih, d_b_ih, d_w_hh, d_b_hh, d_h0

    def step_rnn(nonlinearity: str) -> object:
        xw = x2 @ w_ih.T
        xw += b_ih + b_hh
        xw = xw.reshape(T, B, -1)
        out, h_n, cache = rnn_forward(xw, w_hh, h0, None, nonlinearity)
        d_out = np.ones_like(out)
        d_xw, d_w_hh, d_h0 = rnn_backward(d_out, np.zeros_like(h_n), w_hh, cache, nonlinearity)
        d2 = d_xw.reshape(T * B, -1)
        dx = d2 @ w_ih
        d_w_ih = d2.T @ x2
        d_b = d2.sum(0)
        return dx, d_w_ih, d_b, d_w_hh, d_h0

    return {
        "gru": lambda: step_gru(True),
        "gru_rb": lambda: step_gru(False),
        "rnn": lambda: step_rnn("tanh"),
        "rnn_relu": lambda: step_rnn("relu"),
    }[cell]


def _torch(cell: str, x: np.ndarray, H: int, x_grad: bool) -> Callable[[], object]:
    import torch

    T, B, I = x.shape
    dt = torch.float32 if x.dtype == np.float32 else torch.float64
    if cell.startswith("gru"):
        mod: torch.nn.Module = torch.nn.GRU(I, H)
    else:
        mod = torch.nn.RNN(I, H, nonlinearity="relu" if cell == "rnn_relu" else "tanh")
    mod = mod.to(dt)
    xt = torch.from_numpy(x).requires_grad_(x_grad)
    h0 = torch.zeros(1, B, H, dtype=dt)

    def step() -> object:
        mod.zero_grad(set_to_none=True)
        if xt.grad is not None:
            xt.grad = None
        out, _ = mod(xt, h0)
        out.sum().backward()
        return out

    return step


def _time(fn: Callable[[], object], clock: Callable[[], float]) -> float:
    time.sleep(0.02)  # let the other implementation's spinning worker threads go idle
    t0 = clock()
    fn()
    return clock() - t0


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=0, help="0 = by size (30/15/6)")
    ap.add_argument("--cells", default="gru,rnn")
    ap.add_argument("--sizes", default="small,medium,large")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--threads", type=int, default=0, help="BLAS and torch threads (0: defaults)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = ap.parse_args()

    import torch

    from minigrad.backend.blas import get_blas_threads, set_blas_threads

    if args.threads:
        torch.set_num_threads(args.threads)
        set_blas_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    print(f"cpu: {_cpu_name()}, torch {torch.__version__}, torch threads "
          f"{torch.get_num_threads()}, BLAS threads {get_blas_threads()}, numpy {np.__version__}, "
          f"clock {args.clock}")
    header = (f"{'cell':9s} {'size':7s} {'dtype':8s} {'ours ms':>9s} {'torch ms':>9s} "
              f"{'ratio':>6s} {'torch-nx':>9s} {'ratio-nx':>8s}")
    print(header)
    rng = np.random.default_rng(0)
    for cell in args.cells.split(","):
        for dname in args.dtypes.split(","):
            dt = np.dtype(dname)
            for size in args.sizes.split(","):
                B, T, I, H = SIZES[size]
                G = 3 * H if cell.startswith("gru") else H
                s = 1.0 / np.sqrt(H)
                x = rng.standard_normal((T, B, I)).astype(dt)
                w_ih = rng.uniform(-s, s, (G, I)).astype(dt)
                b_ih = rng.uniform(-s, s, G).astype(dt)
                w_hh = rng.uniform(-s, s, (G, H)).astype(dt)
                b_hh = rng.uniform(-s, s, G).astype(dt)
                h0 = np.zeros((B, H), dt)
                impls = {
                    "ours": _ours(cell, x, w_ih, b_ih, w_hh, b_hh, h0),
                    "torch": _torch(cell, x, H, True),
                    "torch_nx": _torch(cell, x, H, False),
                }
                for fn in impls.values():  # warm-up (compilation, allocator)
                    fn()
                    fn()
                rounds = args.rounds or {"small": 30, "medium": 15, "large": 6}[size]
                times: dict[str, list[float]] = {k: [] for k in impls}
                for _ in range(rounds):
                    for k, fn in impls.items():
                        times[k].append(_time(fn, clock))
                med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
                print(f"{cell:9s} {size:7s} {dname:8s} {med['ours']:9.3f} {med['torch']:9.3f} "
                      f"{med['ours'] / med['torch']:6.2f} {med['torch_nx']:9.3f} "
                      f"{med['ours'] / med['torch_nx']:8.2f}", flush=True)


if __name__ == "__main__":
    main()
