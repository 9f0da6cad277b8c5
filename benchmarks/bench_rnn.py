"""Recurrent training-step benchmark: minigrad fused, minigrad reference, PyTorch and JAX.

One step = forward + backward of ``loss = sum(output)`` through an RNN / LSTM / GRU layer (x does
not require grad), float32 and float64; with ``--inference``, a forward without recording
(``minigrad.no_grad()``, ``torch.no_grad()``, ``jax.jit`` of the forward). Sizes:

    small  B16 T32 I32 H64      medium  B32 T64 I128 H256      large  B64 T128 I256 H512

with 1 layer, or 2 bidirectional layers. For each configuration the implementations run in
interleaved rounds (one step each per round, after warm-up steps that also compile the kernels),
and the table shows median milliseconds and the ratios measured in this process; the best peer
is the faster of PyTorch and JAX. JAX (``bench_jax``: ``jax.jit(jax.grad(loss))`` over a
``lax.scan``) runs when jax is installed; its compile time is excluded and shown apart. The
machines are shared and noisy: compare ratios, not absolute times across sessions.

    python benchmarks/bench_rnn.py               # everything (takes a while)
    python benchmarks/bench_rnn.py --quick       # float32, small and medium, 1 layer and 2x bidir
    python benchmarks/bench_rnn.py --cells lstm --sizes medium --dtypes float64 --rounds 9
    python benchmarks/bench_rnn.py --threads 1   # one thread, minigrad and PyTorch (busy machines)
    python benchmarks/bench_rnn.py --inference   # the forward alone, without recording
    python benchmarks/bench_rnn.py --check       # JAX's gradients against PyTorch's, no timing

The reference path (one minigrad op at a time) is skipped where a single step would take longer
than ``--reference-limit`` seconds; the table says so.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

import rnn
from minigrad import Tensor, get_num_threads, no_grad, set_num_threads
from rnn.backend import get_blas_threads, set_blas_threads

SIZES = {"small": (16, 32, 32, 64), "medium": (32, 64, 128, 256), "large": (64, 128, 256, 512)}
TOPOLOGIES = {"1": dict(num_layers=1, bidirectional=False),
              "2bi": dict(num_layers=2, bidirectional=True)}
CELLS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
PEERS = ("torch", "jax")


def load_jax() -> ModuleType | None:
    """The bench_jax module, or None when jax is not installed."""
    if importlib.util.find_spec("jax") is None:
        return None
    if __package__:
        return importlib.import_module(".bench_jax", __package__)
    return importlib.import_module("bench_jax")


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def minigrad_step(layer: Any, x: np.ndarray, train: bool = True) -> Callable[[], None]:
    xt = Tensor(x)

    def step() -> None:
        layer.zero_grad()
        out, _ = layer(xt)
        out.sum().backward()

    def forward() -> None:
        with no_grad():
            layer(xt)

    return step if train else forward


def torch_step(torch: Any, layer: Any, x: np.ndarray, train: bool = True) -> Callable[[], None]:
    xt = torch.from_numpy(x)

    def step() -> None:
        layer.zero_grad()
        out, _ = layer(xt)
        out.sum().backward()

    def forward() -> None:
        with torch.no_grad():
            layer(xt)

    return step if train else forward


#: seconds of rest before each timed step, so that the thread pool of the implementation timed
#: before it has gone idle. NOTE: OpenBLAS's worker threads spin for about 2^28 cycles (~0.1 s)
#: after a call before they sleep, and PyTorch's OpenMP threads spin too; on two cores a pool
#: still spinning made the next implementation's step up to 2.6x slower (PyTorch's LSTM step,
#: medium: 24 ms alone, 64 ms right after minigrad's, 30 ms after a 0.15 s rest).
SETTLE_S = 0.12


def set_settle(seconds: float) -> None:
    global SETTLE_S
    SETTLE_S = seconds


def timed(step: Callable[[], None]) -> float:
    """Seconds of one ``step()``, after a rest and one untimed step.

    The untimed step brings back what the rest let go (caches, clocks, this implementation's
    own thread pool), as in a training loop where steps follow each other.
    """
    time.sleep(SETTLE_S)
    step()
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def bench_config(cell: str, dtype: str, size: str, topo: str, rounds: int, torch: Any,
                 reference_limit: float, jax: ModuleType | None = None,
                 train: bool = True, reference: bool = True) -> dict[str, Any]:
    """Median ms of each implementation (``ms``), interleaved; ``jax_compile_s`` when run.
    ``reference=False`` leaves minigrad's reference path out altogether."""
    B, T, I, H = SIZES[size]
    x = np.random.default_rng(0).standard_normal((T, B, I)).astype(dtype)
    kw = TOPOLOGIES[topo]
    steps: dict[str, Callable[[], None]] = {}
    fused = getattr(rnn, CELLS[cell])(I, H, impl="fused", dtype=dtype, rng=0, **kw)
    steps["fused"] = minigrad_step(fused, x, train)
    if reference:
        ref = getattr(rnn, CELLS[cell])(I, H, impl="reference", dtype=dtype, rng=0, **kw)
        steps["reference"] = minigrad_step(ref, x, train)
    if torch is not None:
        tl = getattr(torch.nn, CELLS[cell])(I, H, dtype=getattr(torch, dtype), **kw)
        steps["torch"] = torch_step(torch, tl, x, train)
    jax_compile_s = None
    if jax is not None:
        steps["jax"], jax_compile_s = jax.make_step(cell, x, H, train=train, **kw)

    skipped = []
    for name, step in list(steps.items()):
        first = timed(step)  # its untimed step compiles (or loads from the cache) the kernels
        if name == "reference" and first > reference_limit:
            skipped.append(name)
            del steps[name]
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            times[name].append(timed(step))
    med = {name: 1e3 * statistics.median(ts) for name, ts in times.items()}
    return dict(cell=cell, dtype=dtype, size=size, topo=topo, train=train, ms=med,
                skipped=skipped, jax_compile_s=jax_compile_s)


def best_peer(row: dict[str, Any]) -> str | None:
    """The faster of PyTorch and JAX in this row, if either ran."""
    peers = [p for p in PEERS if p in row["ms"]]
    return min(peers, key=lambda p: row["ms"][p]) if peers else None


def cells(row: dict[str, Any]) -> dict[str, str]:
    """The table's entries for a row: times, ratios and the JAX compile time, as text."""
    ms = row["ms"]

    def time_ms(name: str) -> str:
        if name in row["skipped"]:
            return "skipped"
        return f"{ms[name]:.2f}" if name in ms else "-"

    def ratio(a: str, b: str | None) -> str:
        return f"{ms[a] / ms[b]:.2f}" if a in ms and b in ms else "-"

    best = best_peer(row)
    compile_s = row["jax_compile_s"]
    out = {f"{name} ms": time_ms(name) for name in ("fused", "reference", *PEERS)}
    out |= {f"fused/{p}": ratio("fused", p) for p in PEERS}
    out["fused/best peer"] = f"{ratio('fused', best)} ({best})" if best else "-"
    out["fused/reference"] = ratio("fused", "reference")
    out["reference/torch"] = ratio("reference", "torch")
    out["jax compile s"] = f"{compile_s:.2f}" if compile_s is not None else "-"
    return out


def case(row: dict[str, Any]) -> str:
    layers = "1" if row["topo"] == "1" else "2 bidir"
    return f"| {CELLS[row['cell']]} | {row['dtype']} | {row['size']} | {layers} | "


COLUMNS = ("fused ms", "reference ms", "torch ms", "jax ms", "fused/torch", "fused/jax",
           "fused/best peer", "reference/torch", "jax compile s")


def header(columns: tuple[str, ...]) -> str:
    names = ("cell", "dtype", "size", "layers", *columns)
    return "| " + " | ".join(names) + " |\n" + "|---" * len(names) + "|"


def fmt(row: dict[str, Any]) -> str:
    c = cells(row)
    return case(row) + " | ".join(c[name] for name in COLUMNS) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="float32, small and medium only")
    ap.add_argument("--cells", default="rnn,lstm,gru")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--sizes", default="small,medium,large")
    ap.add_argument("--topologies", default="1,2bi")
    ap.add_argument("--rounds", type=int, default=0,
                    help="timed rounds per configuration (default: by size, 11 / 7 / 5)")
    ap.add_argument("--reference-limit", type=float, default=2.0,
                    help="skip the reference path where one step takes longer (seconds)")
    ap.add_argument("--threads", type=int, default=0,
                    help="minigrad's threads (mg.set_num_threads) and numpy's BLAS threads, "
                         "and PyTorch's intra-op threads (default: each library's own; JAX "
                         "keeps its own); 1 is steadier on a busy shared machine")
    ap.add_argument("--inference", action="store_true",
                    help="time the forward without recording instead of the training step")
    ap.add_argument("--check", action="store_true",
                    help="only compare JAX's weight_hh gradients with PyTorch's (no timing)")
    ap.add_argument("--settle", type=float, default=SETTLE_S,
                    help="seconds of rest before each timed step (default %(default)s)")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-jax", action="store_true")
    args = ap.parse_args()
    set_settle(args.settle)
    if args.quick:
        args.dtypes, args.sizes = "float32", "small,medium"

    torch: Any = None
    if not args.no_torch:
        try:
            import torch as torch_module
        except ImportError:
            print("PyTorch not installed: no torch column")
        else:
            torch = torch_module
    jax = None if args.no_jax else load_jax()
    if jax is None and not args.no_jax:
        print("jax not installed: no JAX column")
    if args.check:
        if jax is None or torch is None:
            raise SystemExit("--check needs both jax and PyTorch")
        raise SystemExit(0 if jax.run_checks(torch, SIZES["small"]) else 1)

    if args.threads:
        set_num_threads(args.threads)
        set_blas_threads(args.threads)  # numpy's, for the large GEMMs (a benchmark may do this)
        if torch is not None:
            torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_name()}; load average {os.getloadavg()[0]:.1f} at start; "
          f"minigrad {get_num_threads()} threads; numpy {np.__version__} (BLAS threads "
          f"{get_blas_threads()})"
          + (f"; torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else "")
          + (f"; jax {jax.jax.__version__} (CPU)" if jax else ""))
    what = ("forward without recording" if args.inference
            else "training step (forward + backward, loss = sum of outputs)")
    print(f"median ms per {what}; ratios of medians, same process, interleaved rounds; best "
          "peer = the faster of PyTorch and JAX\n")
    print(header(COLUMNS))
    default_rounds = {"small": 11, "medium": 7, "large": 5}
    for dtype in args.dtypes.split(","):
        for cell in args.cells.split(","):
            for topo in args.topologies.split(","):
                for size in args.sizes.split(","):
                    rounds = args.rounds or default_rounds[size]
                    row = bench_config(cell, dtype, size, topo, rounds, torch,
                                       args.reference_limit, jax, train=not args.inference)
                    print(fmt(row), flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end (the machine is shared: a load "
          "above ~0.5 means other processes competed for the cores)")


if __name__ == "__main__":
    main()
