"""Cold compile time of the fused kernels: every specialisation a full workload needs, from an
empty Numba cache, and which functions it goes to.

    python -m benchmarks.bench_compile [--signatures]     (from the repository root)

The workload runs a forward and backward pass of a one-layer fused RNN (tanh, relu), LSTM (with
and without projection) and GRU (both reset placements), with and without biases and lengths,
one and two directions, in float32 and float64: every kernel specialisation the layers compile.
``NUMBA_CACHE_DIR`` points at a new temporary directory, so nothing comes from the cache (the
setting must precede importing Numba: run this as its own process).

Per function: its specialisations (``n``) and compile seconds, inclusive of the functions it
calls that were compiled for it (``incl``), and compiled at the top level, called from Python
(``top``). The first line, the whole workload's wall time, is what a first run waits.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any


def workload(np: Any, rnn: Any, tensor: Any) -> None:
    for dtype in (np.float32, np.float64):
        for kind in ("rnn_tanh", "rnn_relu", "lstm", "lstm_proj", "gru", "gru_classic"):
            for bias in (True, False):
                for lengths in (None, [3, 2]):
                    for bidirectional in (False, True):
                        kw = dict(num_layers=1, bias=bias, bidirectional=bidirectional,
                                  dtype=dtype, rng=0)
                        if kind.startswith("rnn"):
                            m = rnn.RNN(3, 4, nonlinearity=kind[4:], **kw)
                        elif kind.startswith("lstm"):
                            m = rnn.LSTM(3, 4, proj_size=3 if kind == "lstm_proj" else 0, **kw)
                        else:
                            m = rnn.GRU(3, 4, reset_after=kind == "gru", **kw)
                        m.impl = "fused"
                        x = tensor(np.ones((3, 2, 3), dtype), requires_grad=True)
                        out, _ = m(x, lengths=lengths)
                        out.sum().backward()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--signatures", action="store_true",
                    help="also list every specialisation of the project's functions")
    args = ap.parse_args()
    if "numba" in sys.modules:
        raise SystemExit("bench_compile: run it as its own process (Numba already imported)")
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="minigrad-cold-cache-")
    import numpy as np
    from numba.core import event
    from numba.core.dispatcher import Dispatcher

    import rnn
    from minigrad import Tensor

    t0 = time.perf_counter()
    with event.install_recorder("numba:compile") as rec:
        workload(np, rnn, Tensor)
    total = time.perf_counter() - t0
    depth = 0
    starts: dict[tuple[int, str], tuple[float, int]] = {}
    per: dict[str, tuple[int, float, float]] = {}
    for ts, ev in rec.buffer:
        fn = ev.data["dispatcher"].py_func
        key = (id(ev.data["dispatcher"]), str(ev.data["args"]))
        if ev.is_start:
            starts[key] = (ts, depth)
            depth += 1
            continue
        depth -= 1
        began, level = starts.pop(key)
        name = f"{fn.__module__}.{fn.__name__}"
        n, incl, top = per.get(name, (0, 0.0, 0.0))
        per[name] = (n + 1, incl + ts - began, top + (ts - began if level == 0 else 0.0))
    print(f"whole workload from an empty cache: {total:.1f} s\n")
    print("| function | n | incl s | top s |\n|---|---|---|---|")
    for name, (n, incl, top) in sorted(per.items(), key=lambda kv: -kv[1][1]):
        if incl >= 0.05:
            print(f"| {name} | {n} | {incl:.1f} | {top:.1f} |")
    if args.signatures:
        for name, mod in sorted(sys.modules.items()):
            if not name.startswith("rnn"):
                continue
            for obj in vars(mod).values():
                if isinstance(obj, Dispatcher) and obj.overloads and obj.py_func.__module__ == name:
                    for sig in obj.signatures:
                        print(f"{name}.{obj.py_func.__name__}{sig}")


if __name__ == "__main__":
    main()
