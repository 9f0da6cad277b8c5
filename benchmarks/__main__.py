"""The benchmark suite: ``python -m benchmarks`` (from the repository root).

Prints one report and writes it to ``benchmarks/RESULTS.md`` with the date, the CPU, the library
versions and the load average. Every comparison is measured in this one process in interleaved
rounds after warm-up, as medians: the machines are shared and noisy, so ratios, not absolute times.

    python -m benchmarks            # the whole suite (under 10 minutes on two cores)
    python -m benchmarks --quick    # a smoke run: small configurations, few rounds
    python -m benchmarks --scaling-only --rounds 5   # the thread-scaling table alone

Parts: the recurrent training step (fused, reference, PyTorch, and JAX when installed) with
GFLOP/s and the fraction of the GEMM-only time (the same GEMMs timed alone with numpy: the
practical limit); the recurrent forward without recording (inference); the thread-scaling table
(f32 LSTM and GRU, medium and large, at 1, 2, 4, 8, 16 threads up to what the machine has,
minigrad and PyTorch at the same count, ratios per row); the engine's small-op
chain; the MNIST recipe's epoch; the first fused call with a warm compile cache; and the targets
of the performance issue, each with its measured ratio to the best peer (the faster of PyTorch
and JAX in that case).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from minigrad import get_num_threads, set_num_threads
from rnn.backend import get_blas_threads, set_blas_threads

from . import bench_engine, bench_rnn

HERE = Path(__file__).resolve().parent
GATES = {"rnn": 1, "lstm": 4, "gru": 3}

#: (cell, dtype, size, topology) rows of the recurrent table
FULL = (
    [(c, d, s, "1") for c in ("rnn", "lstm", "gru") for d in ("float32", "float64")
     for s in ("small", "medium")]
    + [("lstm", "float32", "large", "1"), ("lstm", "float64", "large", "1"),
       ("gru", "float32", "large", "1"), ("rnn", "float32", "large", "1")]
    + [(c, "float32", s, "2bi") for c in ("lstm", "gru", "rnn") for s in ("small", "medium")]
    + [("lstm", "float64", "small", "2bi")]
)
QUICK = [("lstm", "float32", "small", "1"), ("gru", "float32", "small", "1"),
         ("rnn", "float32", "small", "1"), ("lstm", "float64", "small", "1"),
         ("lstm", "float32", "small", "2bi")]
#: rows of the inference table
INFER = ([(c, "float32", s, "1") for c in ("rnn", "lstm", "gru") for s in ("small", "medium")]
         + [("lstm", "float64", s, "1") for s in ("small", "medium")])
INFER_QUICK = [(c, "float32", "small", "1") for c in ("rnn", "lstm", "gru")]
ROUNDS = {"small": 11, "medium": 7, "large": 5}
TRAIN_COLUMNS = ("fused ms", "reference ms", "torch ms", "jax ms", "fused/torch", "fused/jax",
                 "fused/best peer", "fused/reference", "fused GFLOP/s", "step / GEMM-only",
                 "jax compile s")
INFER_COLUMNS = ("fused ms", "reference ms", "torch ms", "jax ms", "fused/torch", "fused/jax",
                 "fused/best peer", "fused/reference", "jax compile s")


def gemm_shapes(cell: str, size: str, topo: str) -> list[tuple[int, int, int, int]]:
    """(m, k, n, repeats) of every GEMM in one training step of the layer stack."""
    B, T, I, H = bench_rnn.SIZES[size]
    G = GATES[cell] * H
    layers, dirs = (1, 1) if topo == "1" else (2, 2)
    out = []
    for k in range(layers):
        width = I if k == 0 else dirs * H
        for _ in range(dirs):
            out += [(T * B, width, G, 1),  # input projection, all steps at once
                    (B, H, G, T),          # recurrent projection, per step
                    (T * B, G, width, 1),  # dX
                    (G, T * B, width, 1),  # dW_ih
                    (B, G, H, T),          # dh, per step
                    (G, T * B, H, 1)]      # dW_hh
    return out


def gemm_only(cell: str, dtype: str, size: str, topo: str, rounds: int) -> tuple[float, float]:
    """Median seconds of the step's GEMMs alone in numpy, and their FLOPs."""
    rng = np.random.default_rng(0)
    shapes = gemm_shapes(cell, size, topo)
    mats = [(rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype),
             r) for m, k, n, r in shapes]
    flops = float(sum(2 * m * k * n * r for m, k, n, r in shapes))

    def run() -> None:
        for a, b, r in mats:
            for _ in range(r):
                np.matmul(a, b)

    run()
    return statistics.median(bench_rnn.timed(run) for _ in range(rounds)), flops


def recurrent_table(rows: list[tuple[str, str, str, str]], torch: Any, jax: ModuleType | None,
                    quick: bool, train: bool = True,
                    rounds_override: int | None = None) -> list[dict[str, Any]]:
    results = []
    for cell, dtype, size, topo in rows:
        rounds = rounds_override or (3 if quick else ROUNDS[size])
        row = bench_rnn.bench_config(cell, dtype, size, topo, rounds, torch,
                                     reference_limit=0.5 if size != "small" else 2.0, jax=jax,
                                     train=train)
        if train:
            row["gemm_s"], row["flops"] = gemm_only(cell, dtype, size, topo, rounds)
        results.append(row)
        print("  " + _row(row), flush=True)
    return results


def _row(row: dict[str, Any]) -> str:
    c = bench_rnn.cells(row)
    if row["train"]:
        fused_s = row["ms"]["fused"] * 1e-3
        c["fused GFLOP/s"] = f"{row['flops'] / fused_s / 1e9:.1f}"
        c["step / GEMM-only"] = f"{fused_s / row['gemm_s']:.2f}"
    columns = TRAIN_COLUMNS if row["train"] else INFER_COLUMNS
    return bench_rnn.case(row) + " | ".join(c[name] for name in columns) + " |"


SCALING_COLUMNS = ("threads", "fused ms", "torch ms", "jax ms", "fused/torch", "fused/best peer",
                   "fused speed-up", "torch speed-up")


def thread_counts() -> list[int]:
    """1, 2, 4, 8, 16 up to the cores this process may use (and that count if it is not one)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    counts = [n for n in (1, 2, 4, 8, 16) if n <= cores]
    return counts + ([cores] if cores not in counts and cores < 16 else [])


def scaling_table(torch: Any, jax: ModuleType | None, sizes: tuple[str, ...],
                  rounds: int | None) -> list[str]:
    """f32 LSTM and GRU, 1 layer, at each thread count: minigrad (mg.set_num_threads and numpy's
    BLAS threads) and PyTorch (torch.set_num_threads) at the same count; JAX as it is (its
    thread count is fixed when it starts). Markdown rows."""
    saved = (get_num_threads(), get_blas_threads(),
             torch.get_num_threads() if torch is not None else None)
    lines = []
    try:
        for cell in ("lstm", "gru"):
            for size in sizes:
                first: dict[str, float] = {}
                for n in thread_counts():
                    set_num_threads(n)
                    set_blas_threads(n)  # numpy's, for the large GEMMs; restored below
                    if torch is not None:
                        torch.set_num_threads(n)
                    row = bench_rnn.bench_config(cell, "float32", size, "1",
                                                 rounds or ROUNDS[size], torch, 0.0, jax,
                                                 reference=False)
                    c = bench_rnn.cells(row)
                    ms = row["ms"]
                    first = first or dict(ms)

                    def speedup(name: str, ms: dict[str, float] = ms,
                                first: dict[str, float] = first) -> str:
                        return f"{first[name] / ms[name]:.2f}" if name in ms else "-"

                    c |= {"threads": str(n), "fused speed-up": speedup("fused"),
                          "torch speed-up": speedup("torch")}
                    line = (f"| {bench_rnn.CELLS[cell]} | float32 | {size} | 1 | "
                            + " | ".join(c[k] for k in SCALING_COLUMNS) + " |")
                    print("  " + line, flush=True)
                    lines.append(line)
    finally:
        set_num_threads(saved[0])
        set_blas_threads(saved[1])
        if torch is not None:
            torch.set_num_threads(saved[2])
    return lines


def first_call_warm_cache() -> float:
    """Seconds for the first fused LSTM step in a fresh process, after the cache is warm."""
    code = ("import time, numpy as np; t = time.perf_counter(); import minigrad, rnn; "
            "l = rnn.LSTM(8, 16, impl='fused'); x = minigrad.tensor(np.ones((5, 2, 8), "
            "np.float32)); o, _ = l(x); o.sum().backward(); print(time.perf_counter() - t)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(3)]
    return float(runs[-1])


def mnist_epoch(torch: Any, epochs: int) -> dict[str, Any] | None:
    from minigrad.recipes import mnist

    r = mnist.train(epochs=epochs, compare_torch=torch is not None, log=False)
    t = r["torch"]
    return {"minigrad_s": r["median_epoch_time"], "minigrad_acc": r["test_acc"],
            "torch_s": t["median_epoch_time"] if t else None,
            "torch_acc": t["test_acc"] if t else None, "epochs": epochs}


def targets(rows: list[dict[str, Any]], engine: dict[str, float], mnist: dict[str, Any] | None,
            first_call: float) -> list[tuple[str, str, str, str]]:
    """(case, target, measured, what it was measured against)."""
    def find(cell: str, dtype: str, size: str, topo: str = "1") -> dict[str, Any] | None:
        for r in rows:
            if (r["cell"], r["dtype"], r["size"], r["topo"]) == (cell, dtype, size, topo):
                return r
        return None

    def vs_best(case: str, target: str, *key: str) -> tuple[str, str, str, str]:
        r = find(*key)
        peer = bench_rnn.best_peer(r) if r is not None else None
        if r is None or peer is None:
            return case, target, "not measured", "-"
        return case, target, f"{r['ms']['fused'] / r['ms'][peer]:.2f}", peer

    out = [
        vs_best("f32 LSTM, 1 layer, medium", "<= 0.8", "lstm", "float32", "medium"),
        vs_best("f32 LSTM, 1 layer, small", "<= 0.7", "lstm", "float32", "small"),
        vs_best("f32 GRU, 1 layer, medium", "<= 0.5", "gru", "float32", "medium"),
        vs_best("f32 GRU, 1 layer, small", "<= 0.8", "gru", "float32", "small"),
        vs_best("f32 RNN, 1 layer, medium", "<= 0.6", "rnn", "float32", "medium"),
    ]
    for size in ("small", "medium", "large"):
        out.append(vs_best(f"f64 LSTM, 1 layer, {size}", "<= 0.4", "lstm", "float64", size))
    out.append(vs_best("f32 LSTM, 2-layer bidirectional, medium", "<= 0.6",
                       "lstm", "float32", "medium", "2bi"))
    big = find("lstm", "float32", "large")
    out.append(("f32 LSTM large: step / GEMM-only", "<= 1.3",
                f"{big['ms']['fused'] * 1e-3 / big['gemm_s']:.2f}" if big else "not measured",
                "numpy GEMMs"))
    out.append(("engine small-op chain vs PyTorch eager", "<= 0.5",
                f"{engine['ratio']:.2f}" if "ratio" in engine else "not measured", "torch"))
    out.append(("MNIST recipe epoch vs PyTorch", "<= 1.0 at equal accuracy",
                f"{mnist['minigrad_s'] / mnist['torch_s']:.2f}" if mnist and mnist["torch_s"]
                else "not measured", "torch"))
    out.append(("first fused call, warm cache", "< 0.5 s", f"{first_call:.2f} s", "-"))
    return out


def versions(torch: Any, jax: ModuleType | None) -> str:
    import numba

    parts = [f"Python {platform.python_version()}", f"numpy {np.__version__}",
             f"numba {numba.__version__}"]
    parts.append(f"torch {torch.__version__}" if torch is not None else "torch not installed")
    parts.append(f"jax {jax.jax.__version__} (CPU)" if jax is not None else "jax not installed")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small configurations, few rounds")
    ap.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    ap.add_argument("--no-jax", action="store_true", help="leave JAX out")
    ap.add_argument("--rounds", type=int, default=None,
                    help="timed rounds per configuration (default: by size, 11 / 7 / 5)")
    ap.add_argument("--scaling-only", action="store_true",
                    help="only the thread-scaling table (written to SCALING.md by default)")
    ap.add_argument("--output", default=None,
                    help="where to write (default benchmarks/RESULTS.md)")
    args = ap.parse_args(argv)
    output = Path(args.output or HERE / ("SCALING.md" if args.scaling_only else "RESULTS.md"))
    torch: Any = None
    if not args.no_torch:
        try:
            import torch as torch_module

            torch = torch_module
        except ImportError:
            pass
    jax = None if args.no_jax else bench_rnn.load_jax()
    start = time.perf_counter()
    load = os.getloadavg()[0]
    header = (f"# Benchmark results\n\n{datetime.date.today().isoformat()}, "
              f"{bench_rnn.cpu_name()}, {os.cpu_count()} cores; {versions(torch, jax)}; "
              f"load average {load:.2f} at the start.\n\nMedians of interleaved rounds in one "
              "process; ratios are minigrad fused / the peer; the best peer is the faster of "
              "PyTorch and JAX (jax.jit(jax.grad(loss)) over a lax.scan, compile time excluded "
              "and shown apart). Compare ratios, not absolute times across machines.\n")
    print(header)
    scaling_sizes = ("small",) if args.quick else ("medium", "large")
    scaling_cols = bench_rnn.header(SCALING_COLUMNS)
    scaling_title = (f"## Threads: f32, 1 layer, training step, at 1-16 threads up to this "
                     f"machine's {thread_counts()[-1]} (minigrad: mg.set_num_threads and numpy's "
                     "BLAS threads; PyTorch: torch.set_num_threads; JAX: its own; speed-up: "
                     "against the same library at 1 thread)\n")
    if args.scaling_only:
        print(scaling_title + "\n" + scaling_cols)
        scaling = scaling_table(torch, jax, scaling_sizes, args.rounds)
        output.write_text("\n".join([header, scaling_title, scaling_cols, *scaling, "",
                                      f"Time {time.perf_counter() - start:.0f} s.", ""]))
        print(f"\nwrote {output}")
        return 0
    cols = bench_rnn.header(TRAIN_COLUMNS)
    print("## Recurrent training step (forward + backward, loss = sum of outputs)\n\n" + cols)
    rows = recurrent_table(QUICK if args.quick else FULL, torch, jax, args.quick,
                           rounds_override=args.rounds)
    infer_cols = bench_rnn.header(INFER_COLUMNS)
    print("\n## Recurrent inference (forward without recording)\n\n" + infer_cols)
    infer = recurrent_table(INFER_QUICK if args.quick else INFER, torch, jax, args.quick,
                            train=False, rounds_override=args.rounds)
    print("\n" + scaling_title + "\n" + scaling_cols)
    scaling = scaling_table(torch, jax, scaling_sizes, args.rounds or (3 if args.quick else None))

    print("\n## Engine: chain of 10,000 small elementwise ops\n")
    engine = bench_engine.main(["--rounds", "5" if args.quick else "15"])
    first = first_call_warm_cache()
    print(f"\nfirst fused LSTM step in a fresh process with a warm cache: {first:.2f} s")
    mnist = mnist_epoch(torch, 1 if args.quick else 2)
    assert mnist is not None
    msg = (f"MNIST recipe, {mnist['epochs']} epochs: minigrad {mnist['minigrad_s']:.2f} s/epoch"
           + (f", PyTorch {mnist['torch_s']:.2f} s/epoch" if mnist["torch_s"] else ""))
    print(msg)
    goals = targets(rows, engine, mnist, first)
    print("\n## Targets\n\n| case | target | measured | against |\n|---|---|---|---|")
    for g in goals:
        print("| " + " | ".join(g) + " |")

    chain = (f"minigrad {engine['minigrad'] * 1e3:.1f} ms" +
             (f", PyTorch {engine['torch'] * 1e3:.1f} ms, ratio {engine['ratio']:.2f}"
              if "ratio" in engine else ""))
    text = "\n".join([
        header, "## Recurrent training step (forward + backward, loss = sum of outputs)\n",
        "small B16 T32 I32 H64, medium B32 T64 I128 H256, large B64 T128 I256 H512; the "
        "reference path is skipped where one step takes too long.\n", cols,
        *(_row(r) for r in rows), "",
        "## Recurrent inference (forward without recording: minigrad.no_grad(), "
        "torch.no_grad(), jax.jit of the forward)\n", infer_cols, *(_row(r) for r in infer), "",
        scaling_title, scaling_cols, *scaling, "",
        "## Engine: chain of 10,000 small elementwise ops, forward and backward\n", chain, "",
        "## MNIST recipe (row by row, LSTM(100), batch 100), epoch time\n", msg, "",
        f"## First fused call with a warm compile cache\n\n{first:.2f} s\n",
        "## Targets\n\nEach recurrent case against its best peer, named.\n",
        "| case | target | measured | against |", "|---|---|---|---|",
        *("| " + " | ".join(g) + " |" for g in goals), "",
        f"Suite time {time.perf_counter() - start:.0f} s.", ""])
    output.write_text(text)
    print(f"\nwrote {output} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
