"""The per-step recurrent GEMM three ways, in interleaved rounds (medians, microseconds):

    pool     one ``gemm`` call with OpenBLAS's pool at its current size (what numpy would do)
    1 thread one ``gemm`` call with the pool set to one thread (what the fused layers did before
             they stopped changing the process-wide count)
    serial   ``gemm_serial``: blocks under OpenBLAS's single-thread threshold, on this thread

    python -m benchmarks.bench_serial_gemm [--rounds 30]     (from the repository root)

This script changes OpenBLAS's process-wide thread count while it measures; the library never
does.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from rnn.backend import HAVE_CBLAS, gemm_cblas, gemm_serial, get_blas_threads, set_blas_threads

#: (M, K, N): batch rows x hidden -> gates, the shapes of the recurrent GEMM per step
SHAPES = [(16, 64, 256), (16, 256, 1024), (32, 256, 1024), (8, 512, 2048), (32, 512, 2048),
          (64, 512, 2048)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    if not HAVE_CBLAS:
        raise SystemExit("needs numpy's bundled OpenBLAS")
    pool = get_blas_threads()
    print(f"OpenBLAS pool: {pool} threads; median us of {args.rounds} interleaved rounds\n")
    print("| dtype | M x K x N | pool | 1 thread | serial | serial / 1 thread |")
    print("|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for dt in (np.float32, np.float64):
        for m, k, n in SHAPES:
            a = rng.standard_normal((m, k)).astype(dt)
            b = rng.standard_normal((k, n)).astype(dt)
            c = np.empty((m, n), dt)
            times: dict[str, list[float]] = {"pool": [], "1 thread": [], "serial": []}
            runs = {"pool": (pool, gemm_cblas), "1 thread": (1, gemm_cblas),
                    "serial": (pool, gemm_serial)}
            for r in range(args.rounds + 1):
                for name, (threads, fn) in runs.items():
                    set_blas_threads(threads)
                    fn(False, False, 1.0, a, b, 0.0, c)
                    start = time.perf_counter()
                    fn(False, False, 1.0, a, b, 0.0, c)
                    if r:  # round 0 warms up (compiles gemm_serial)
                        times[name].append(time.perf_counter() - start)
            set_blas_threads(pool)
            med = {name: 1e6 * statistics.median(ts) for name, ts in times.items()}
            print(f"| {np.dtype(dt).name} | {m} x {k} x {n} | {med['pool']:.1f} | "
                  f"{med['1 thread']:.1f} | {med['serial']:.1f} | "
                  f"{med['serial'] / med['1 thread']:.2f} |")


if __name__ == "__main__":
    main()
