"""Cold and warm compile caches give bitwise-identical fused results.

The project promises that the same seed and the same thread setting give bitwise-identical
results. A fresh process either compiles the fused kernels (cold cache) or loads their machine
code from Numba's on-disk cache (warm); both must compute exactly the same bits. This once
failed for the float32 LSTM: its forward kernel called a separately compiled row kernel, and
which of two differently optimised copies of it ran depended on the load order
(:func:`rnn.backend.inline_kernel` has the details).

Each case runs one small forward and backward pass of a fused layer in a fresh process, twice
with the same empty ``NUMBA_CACHE_DIR``: the first run compiles every kernel, the second loads
them all. Outputs, final states and every gradient must agree bit for bit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import rnn

pytestmark = pytest.mark.skipif(not rnn.fused_available(), reason="fused kernels unavailable")

ROOT = str(Path(__file__).resolve().parents[1])

# One fused layer of each kind in both dtypes: forward, backward, and every array saved.
# H = 40 has a vectorised body and a scalar remainder; lengths give a padded row.
PROGRAM = textwrap.dedent("""
    import sys
    import numpy as np
    import minigrad as mg
    import rnn
    from numba.core.dispatcher import Dispatcher
    from rnn.fused import elman, gru, lstm

    arrays = {}
    for kind in ("lstm", "gru", "rnn"):
        for dt in (np.float32, np.float64):
            cls = {"lstm": rnn.LSTM, "gru": rnn.GRU, "rnn": rnn.RNN}[kind]
            layer = cls(7, 40, rng=3, dtype=dt, impl="fused")
            rng = np.random.default_rng(11)
            x = mg.tensor(rng.standard_normal((9, 4, 7)).astype(dt), requires_grad=True)
            out, state = layer(x, lengths=[9, 5, 9, 8])
            states = state if isinstance(state, tuple) else (state,)
            loss = (out * out).sum()
            for s in states:
                loss = loss + (s * s).sum()
            loss.backward()
            key = f"{kind}_{np.dtype(dt).name}"
            arrays[key + "_out"] = out.data
            for i, s in enumerate(states):
                arrays[f"{key}_state{i}"] = s.data
            arrays[key + "_dx"] = x.grad.data
            for name, p in layer.named_parameters():
                arrays[f"{key}_d{name}"] = p.grad.data
    np.savez(sys.argv[1], **arrays)
    kernels = [k for mod in (lstm, gru, elman) for k in vars(mod).values()
               if isinstance(k, Dispatcher) and k.signatures]
    print(sum(sum(k.stats.cache_hits.values()) for k in kernels),
          sum(sum(k.stats.cache_misses.values()) for k in kernels))
""")


def _run(cache_dir: Path, out: Path) -> tuple[int, int]:
    """Run PROGRAM in a fresh process with this Numba cache; return (cache hits, misses)."""
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(cache_dir)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", PROGRAM, str(out)], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=900)
    assert done.returncode == 0, done.stderr
    hits, misses = done.stdout.split()[-2:]
    return int(hits), int(misses)


def test_cold_and_warm_caches_give_identical_bits(tmp_path: Path) -> None:
    cache_dir = tmp_path / "numba-cache"
    cold_hits, cold_misses = _run(cache_dir, tmp_path / "cold.npz")
    warm_hits, warm_misses = _run(cache_dir, tmp_path / "warm.npz")
    from rnn.backend import HAVE_CBLAS

    if HAVE_CBLAS:  # caching is on: the first run compiled, the second loaded everything
        assert cold_misses > 0 and cold_hits == 0
        assert warm_misses == 0 and warm_hits > 0
    cold, warm = np.load(tmp_path / "cold.npz"), np.load(tmp_path / "warm.npz")
    assert sorted(cold.files) == sorted(warm.files)
    assert len(cold.files) >= 6 * 6  # out, states, dx and 3+ weight gradients per case
    different = [name for name in cold.files if cold[name].tobytes() != warm[name].tobytes()]
    assert not different, f"cold and warm caches differ in {different}"
    for name in cold.files:  # the comparison is not vacuous
        assert np.isfinite(cold[name]).all() and np.abs(cold[name]).max() > 0, name
