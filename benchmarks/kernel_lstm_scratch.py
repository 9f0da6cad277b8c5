"""Scratch timing: one LSTM training step, fused Numba kernel vs torch.nn.LSTM (same process).

A step is forward + backward with loss = sum of outputs (so d_out = ones), for one layer,
seq-first, zero initial states, and x requiring a gradient in both implementations.
Ours includes the numpy GEMMs around the kernel:
    forward   xw = x @ W_ih.T + (b_ih + b_hh)
    backward  dx = d_xw @ W_ih,  dW_ih = d_xw.T @ x,  db = d_xw.sum((0, 1))
Timing: rounds alternate ours / torch. Each round makes one untimed call (absorbs the cost of
waking the other library's thread pool) and then ``--reps`` timed calls; we quote medians over
all timed calls and the ratio ours / torch. Before each round the script waits (up to
--max-wait s) until other processes use fewer than --quiet cores, and reports the worst
"other load" it started a round with (the machines are shared: a busy neighbour wrecks
multi-threaded BLAS timings). Also: first call in a fresh process with a warm Numba cache.

Run:  python benchmarks/kernel_lstm_scratch.py [--configs small,medium,large] [--dtypes f32,f64]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from rnn.fused import lstm_backward, lstm_forward  # noqa: E402

CONFIGS = {
    "small": dict(B=16, T=32, I=32, H=64),
    "medium": dict(B=32, T=64, I=128, H=256),
    "large": dict(B=64, T=128, I=256, H=512),
}
ROUNDS = {"small": 15, "medium": 9, "large": 5}


def make_ours(x, W_ih, b, w_hh, dt):  # type: ignore[no-untyped-def]
    T, B, I = x.shape
    H = w_hh.shape[1]
    x2 = x.reshape(T * B, I)
    h0 = np.zeros((B, H), dt)
    c0 = np.zeros((B, H), dt)
    d_hn = np.zeros((B, H), dt)
    d_cn = np.zeros((B, H), dt)
    d_out = np.ones((T, B, H), dt)

    def step():  # type: ignore[no-untyped-def]
        xw = x2 @ W_ih.T
        xw += b
        xw = xw.reshape(T, B, 4 * H)
        out, h_n, c_n, cache = lstm_forward(xw, w_hh, None, h0, c0)
        d_xw, d_w_hh, _, d_h0, d_c0 = lstm_backward(d_out, d_hn, d_cn, w_hh, None, cache)
        d2 = d_xw.reshape(T * B, 4 * H)
        dx = d2 @ W_ih
        dW_ih = d2.T @ x2
        db = d2.sum(0)
        return out, dx, dW_ih, db, d_w_hh

    return step


def make_torch(x, W_ih, b_ih, b_hh, w_hh, dt):  # type: ignore[no-untyped-def]
    import torch

    tdt = torch.float32 if dt == np.float32 else torch.float64
    T, B, I = x.shape
    H = w_hh.shape[1]
    lstm = torch.nn.LSTM(I, H).to(tdt)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(W_ih))
        lstm.weight_hh_l0.copy_(torch.from_numpy(w_hh))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b_ih))
        lstm.bias_hh_l0.copy_(torch.from_numpy(b_hh))
    xt = torch.from_numpy(x).requires_grad_(True)

    def step():  # type: ignore[no-untyped-def]
        lstm.zero_grad(set_to_none=True)
        xt.grad = None
        out, _ = lstm(xt)
        out.sum().backward()
        return out, xt.grad

    return step, lstm, xt


def check_match(ours, torch_step, lstm, dt):  # type: ignore[no-untyped-def]
    out, dx, dW_ih, db, d_w_hh = ours()
    tout, tdx = torch_step()
    tol = 1e-3 if dt == np.float32 else 1e-9
    errs = {
        "out": np.abs(out - tout.detach().numpy()).max(),
        "dx": np.abs(dx.reshape(tdx.shape) - tdx.numpy()).max(),
        "dW_ih": np.abs(dW_ih - lstm.weight_ih_l0.grad.numpy()).max(),
        "dW_hh": np.abs(d_w_hh - lstm.weight_hh_l0.grad.numpy()).max(),
        "db": np.abs(db - lstm.bias_ih_l0.grad.numpy()).max(),
    }
    scale = {k: 1.0 + np.abs(v).max() for k, v in
             {"out": out, "dx": dx, "dW_ih": dW_ih, "dW_hh": d_w_hh, "db": db}.items()}
    worst = max(errs[k] / scale[k] for k in errs)
    if worst > tol:
        raise AssertionError(f"ours and torch disagree: {errs}")
    return worst


def _cpu_busy() -> tuple[int, int]:
    with open("/proc/stat") as fh:
        vals = [int(v) for v in fh.readline().split()[1:]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals)


def other_load(interval: float = 0.2) -> float:
    """Cores kept busy by other processes while we sleep (Linux; 0.0 elsewhere)."""
    try:
        b0, t0 = _cpu_busy()
        time.sleep(interval)
        b1, t1 = _cpu_busy()
    except OSError:
        return 0.0
    return (b1 - b0) / max(t1 - t0, 1) * (os.cpu_count() or 1)


def wait_quiet(threshold: float, max_wait: float) -> float:
    """Wait (up to max_wait s) until other processes use < threshold cores; return the load."""
    deadline = time.monotonic() + max_wait
    load = other_load()
    while load >= threshold and time.monotonic() < deadline:
        time.sleep(0.5)
        load = other_load()
    return load


CLOCK = time.perf_counter


def timed(fn, reps):  # type: ignore[no-untyped-def]
    fn()  # untimed: wakes this library's thread pool
    out = []
    for _ in range(reps):
        t0 = CLOCK()
        fn()
        out.append(CLOCK() - t0)
    return out


def bench(name, dt, rounds, reps, quiet, max_wait):  # type: ignore[no-untyped-def]
    cfg = CONFIGS[name]
    B, T, I, H = cfg["B"], cfg["T"], cfg["I"], cfg["H"]
    rng = np.random.default_rng(0)
    k = 1.0 / np.sqrt(H)
    x = rng.standard_normal((T, B, I)).astype(dt)
    W_ih = rng.uniform(-k, k, (4 * H, I)).astype(dt)
    w_hh = rng.uniform(-k, k, (4 * H, H)).astype(dt)
    b_ih = rng.uniform(-k, k, 4 * H).astype(dt)
    b_hh = rng.uniform(-k, k, 4 * H).astype(dt)
    ours = make_ours(x, W_ih, b_ih + b_hh, w_hh, dt)
    torch_step, lstm, _ = make_torch(x, W_ih, b_ih, b_hh, w_hh, dt)
    err = check_match(ours, torch_step, lstm, dt)
    t_ours: list[float] = []
    t_torch: list[float] = []
    loads: list[float] = []
    for _ in range(rounds):
        loads.append(wait_quiet(quiet, max_wait))
        t_ours += timed(ours, reps)
        t_torch += timed(torch_step, reps)
    mo, mt = statistics.median(t_ours), statistics.median(t_torch)
    return mo, mt, err, max(loads)


FIRST_CALL = r"""
import sys, time
t0 = time.perf_counter()
import numpy as np
sys.path.insert(0, {root!r})
from rnn.fused import lstm_forward, lstm_backward
t1 = time.perf_counter()
res = [t1 - t0]
for dt in (np.float32, np.float64):
    T, B, H = 3, 2, 4
    xw = np.zeros((T, B, 4 * H), dt); w = np.zeros((4 * H, H), dt); z = np.zeros((B, H), dt)
    t = time.perf_counter()
    out, hn, cn, cache = lstm_forward(xw, w, None, z, z)
    lstm_backward(np.zeros_like(out), z, z, w, None, cache)
    res.append(time.perf_counter() - t)
print(" ".join(f"{{v:.3f}}" for v in res))
"""


def first_call() -> list[float]:
    code = FIRST_CALL.format(root=ROOT)
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # fills cache
    best: list[float] | None = None
    for _ in range(3):
        r = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                           text=True)
        vals = [float(v) for v in r.stdout.split()]
        best = vals if best is None or sum(vals) < sum(best) else best
    assert best is not None
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="small,medium,large")
    ap.add_argument("--dtypes", default="f32,f64")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rounds", type=float, default=1.0, help="scale the number of rounds")
    ap.add_argument("--quiet", type=float, default=0.3,
                    help="before each round wait until other processes use fewer cores than this")
    ap.add_argument("--max-wait", type=float, default=60.0, help="longest wait per round, s")
    ap.add_argument("--threads", type=int, default=0,
                    help="BLAS and torch threads (0: leave the defaults)")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="cpu: CPU time of the calling thread (needs --threads 1); robust on a "
                         "busy machine")
    args = ap.parse_args()
    import torch

    global CLOCK
    if args.threads:
        from minigrad.backend import set_blas_threads

        set_blas_threads(args.threads)
        torch.set_num_threads(args.threads)
    if args.clock == "cpu":
        if args.threads != 1:
            ap.error("--clock cpu needs --threads 1 (other threads' work would not be counted)")
        CLOCK = time.thread_time

    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    from minigrad.backend import get_blas_threads

    print(f"cpu: {cpu}, {os.cpu_count()} cpus; numpy {np.__version__}; torch {torch.__version__}"
          f"; threads: torch {torch.get_num_threads()}, BLAS {get_blas_threads()};"
          f" clock: {args.clock}")
    fc = first_call()
    print(f"fresh process, warm cache: import {fc[0]:.3f} s; first fwd+bwd call f32 {fc[1]:.3f} s,"
          f" f64 {fc[2]:.3f} s")
    print(f"{'config':8} {'dtype':5} {'ours ms':>9} {'torch ms':>9} {'ratio':>6}  max rel err"
          "  other load")
    for dname in args.dtypes.split(","):
        dt = {"f32": np.float32, "f64": np.float64}[dname]
        for name in args.configs.split(","):
            rounds = max(1, int(round(ROUNDS[name] * args.rounds)))
            mo, mt, err, load = bench(name, dt, rounds, args.reps, args.quiet, args.max_wait)
            print(f"{name:8} {dname:5} {mo * 1e3:9.2f} {mt * 1e3:9.2f} {mo / mt:6.2f}  {err:.1e}"
                  f"      {load:.2f}", flush=True)


if __name__ == "__main__":
    main()
