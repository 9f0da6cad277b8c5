"""The engine chain of bench_engine.py with the hot functions (``apply``, ``run_backward``) of a
git revision against the working tree's, swapped in one process, in interleaved rounds.

    python benchmarks/bench_engine_ab.py --base HEAD~1 [--rounds 31] [--ops 10000]

Two processes on a shared machine see different loads; one process that alternates the two
versions of the same functions (alternating which goes first) sees the same load, so the ratio
of the medians is what changed. Only those two functions are swapped: everything they call is
the working tree's.
"""

from __future__ import annotations

import argparse
import ast
import statistics
import subprocess
import time
from typing import Any

from bench_engine import chain_minigrad

from minigrad import autograd, primitive, tensor


def _function_at(rev: str, path: str, name: str, module: Any) -> Any:
    """Function ``name`` of ``path`` as of ``rev``, compiled in a copy of ``module``'s globals."""
    src = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True,
                         check=True).stdout
    node = next(n for n in ast.parse(src).body
                if isinstance(n, ast.FunctionDef) and n.name == name)
    namespace = dict(vars(module))
    exec(compile(ast.Module([node], []), path, "exec"), namespace)  # noqa: S102
    return namespace[name]


def _use(fns: dict[str, Any]) -> None:
    primitive.apply = tensor._apply = fns["apply"]  # type: ignore[attr-defined]
    autograd.run_backward = fns["run_backward"]  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> float:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="git revision to compare against")
    ap.add_argument("--rounds", type=int, default=31)
    ap.add_argument("--ops", type=int, default=10_000)
    args = ap.parse_args(argv)
    versions = {
        "base": {"apply": _function_at(args.base, "minigrad/primitive.py", "apply", primitive),
                 "run_backward": _function_at(args.base, "minigrad/autograd.py", "run_backward",
                                              autograd)},
        "tree": {"apply": primitive.apply, "run_backward": autograd.run_backward},
    }
    run = chain_minigrad(args.ops, 4)
    times: dict[str, list[float]] = {k: [] for k in versions}
    for fns in versions.values():  # warm-up
        _use(fns)
        run()
    order = list(versions)
    for r in range(args.rounds):
        for name in order if r % 2 == 0 else order[::-1]:
            _use(versions[name])
            t = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t)
    _use(versions["tree"])
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"chain of {args.ops} ops, forward + backward, median of {args.rounds} interleaved "
          "rounds")
    for k, v in times.items():
        print(f"  {k:5s} {med[k] * 1e3:7.1f} ms  (min {min(v) * 1e3:.1f}, max "
              f"{max(v) * 1e3:.1f})")
    ratio = med["tree"] / med["base"]
    print(f"  working tree / {args.base}: {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main()
