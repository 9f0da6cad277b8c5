"""Tests for rnn.backend: the GEMM binding and its fallback, BLAS threads, run_parts, the
activation helpers, and that importing the package compiles nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnn import backend
from rnn.backend import (
    HAVE_CBLAS,
    KERNEL_OPTIONS,
    SERIAL_GEMM_MNK,
    gemm,
    gemm_cblas,
    gemm_loop,
    gemm_serial,
    get_blas_threads,
    inline_kernel,
    kernel,
    run_parts,
    set_blas_threads,
    sigmoid_,
    tanh_,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = [np.float32, np.float64]
GEMMS = [
    pytest.param(
        gemm_cblas,
        id="cblas",
        marks=pytest.mark.skipif(not HAVE_CBLAS, reason="numpy's bundled OpenBLAS not found"),
    ),
    pytest.param(gemm_loop, id="loop"),
    pytest.param(gemm_serial, id="serial"),
]


def _tol(dt: type) -> float:
    return 2e-5 if dt == np.float32 else 1e-12


def _reference(ta: bool, tb: bool, alpha: float, a, b, beta: float, c):  # type: ignore[no-untyped-def]
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    prod = (a64.T if ta else a64) @ (b64.T if tb else b64)
    return alpha * prod + (beta * c.astype(np.float64) if beta != 0 else 0.0)


# ---------------------------------------------------------------------------------------------
# gemm
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", GEMMS)
@pytest.mark.parametrize("dt", DTYPES)
@given(
    m=st.integers(1, 9),
    n=st.integers(1, 9),
    k=st.integers(1, 9),
    ta=st.booleans(),
    tb=st.booleans(),
    alpha=st.sampled_from([1.0, -0.5, 2.0]),
    beta=st.sampled_from([0.0, 1.0, 0.25]),
    seed=st.integers(0, 2**16),
)
def test_gemm_matches_numpy(fn, dt, m, n, k, ta, tb, alpha, beta, seed):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dt)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dt)
    c = rng.standard_normal((m, n)).astype(dt)
    expected = _reference(ta, tb, alpha, a, b, beta, c)
    fn(ta, tb, alpha, a, b, beta, c)
    assert c.dtype == dt
    np.testing.assert_allclose(c, expected, rtol=_tol(dt), atol=_tol(dt) * 10)


@pytest.mark.parametrize("fn", GEMMS)
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_gemm_on_row_strided_views(fn, dt, ta, tb):  # type: ignore[no-untyped-def]
    """Views whose rows are contiguous but padded (x[:, :k]) use the row stride as ld."""
    rng = np.random.default_rng(1)
    m, n, k = 5, 4, 3
    a_big = rng.standard_normal((8, 8)).astype(dt)
    b_big = rng.standard_normal((8, 8)).astype(dt)
    c_big = rng.standard_normal((8, 8)).astype(dt)
    a = a_big[: (k if ta else m), : (m if ta else k)]
    b = b_big[: (n if tb else k), : (k if tb else n)]
    c = c_big[1 : m + 1, 2 : n + 2]
    untouched = c_big.copy()
    expected = _reference(ta, tb, 1.5, a, b, 0.5, c)
    fn(ta, tb, 1.5, a, b, 0.5, c)
    np.testing.assert_allclose(c, expected, rtol=_tol(dt), atol=_tol(dt) * 10)
    mask = np.ones_like(c_big, dtype=bool)
    mask[1 : m + 1, 2 : n + 2] = False
    np.testing.assert_array_equal(c_big[mask], untouched[mask])


@pytest.mark.parametrize("fn", GEMMS)
@pytest.mark.parametrize("dt", DTYPES)
def test_gemm_beta_zero_ignores_nan_and_k_zero_scales(fn, dt):  # type: ignore[no-untyped-def]
    a = np.ones((2, 3), dt)
    b = np.ones((3, 2), dt)
    c = np.full((2, 2), np.nan, dt)
    fn(False, False, 1.0, a, b, 0.0, c)
    np.testing.assert_array_equal(c, np.full((2, 2), 3.0, dt))
    # K = 0: C = beta * C
    c2 = np.full((2, 2), 4.0, dt)
    fn(False, False, 1.0, np.ones((2, 0), dt), np.ones((0, 2), dt), 0.5, c2)
    np.testing.assert_array_equal(c2, np.full((2, 2), 2.0, dt))
    fn(False, False, 1.0, np.ones((2, 0), dt), np.ones((0, 2), dt), 0.0, c2)
    np.testing.assert_array_equal(c2, np.zeros((2, 2), dt))
    # K = 0 and beta = 0: C's old contents, NaN included, are ignored
    c3 = np.full((2, 2), np.nan, dt)
    fn(False, False, 1.0, np.ones((2, 0), dt), np.ones((0, 2), dt), 0.0, c3)
    np.testing.assert_array_equal(c3, np.zeros((2, 2), dt))


def test_gemm_callable_from_a_kernel_and_selected_by_flag() -> None:
    assert gemm is (gemm_cblas if HAVE_CBLAS else gemm_loop)

    @numba.njit
    def twice(a, b, c):  # type: ignore[no-untyped-def]
        gemm(False, True, 1.0, a, b, 0.0, c)
        gemm(False, True, 1.0, a, b, 1.0, c)

    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    c = np.zeros((2, 2))
    twice(a, a, c)
    np.testing.assert_allclose(c, 2 * a @ a.T)


def test_cblas_found_with_numpy_wheel() -> None:
    """numpy's PyPI wheel bundles the symbols; if this numpy has the library, we must bind it."""
    if backend.LIBRARY_PATH is None:
        pytest.skip("this numpy build has no bundled scipy-openblas")
    assert HAVE_CBLAS
    assert "scipy_openblas64_" in os.path.basename(backend.LIBRARY_PATH)


def _run_python(code: str, **env: str) -> str:
    full_env = dict(os.environ)
    full_env.update(env)
    full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_fallback_selected_when_cblas_disabled() -> None:
    out = _run_python(
        """
        import numpy as np
        from rnn import backend
        assert not backend.HAVE_CBLAS
        assert backend.gemm is backend.gemm_loop
        assert backend.KERNEL_OPTIONS["cache"] is False
        assert backend.get_blas_threads() == 1
        backend.set_blas_threads(1)  # a no-op without the library

        @backend.kernel
        def k(a, b, c, d):
            backend.gemm(True, False, 2.0, a, b, 0.0, c)
            backend.gemm_serial(True, False, 2.0, a, b, 0.0, d)

        a = np.arange(6.0).reshape(3, 2)
        c = np.empty((2, 2))
        d = np.empty((2, 2))
        k(a, a, c, d)
        assert np.allclose(c, 2 * a.T @ a) and np.allclose(d, 2 * a.T @ a)
        print("ok")
        """,
        MINIGRAD_DISABLE_CBLAS="1",
    )
    assert out.strip() == "ok"


# ---------------------------------------------------------------------------------------------
# import compiles nothing
# ---------------------------------------------------------------------------------------------
def test_import_compiles_nothing() -> None:
    out = _run_python(
        """
        import time
        t0 = time.perf_counter()
        import rnn.backend
        import rnn.fused
        elapsed = time.perf_counter() - t0
        import sys
        from numba.core.dispatcher import Dispatcher
        from numba.core.registry import CPUDispatcher
        seen = 0
        for name, mod in list(sys.modules.items()):
            if not (name.startswith("minigrad") or name.startswith("rnn")):
                continue
            for obj in vars(mod).values():
                if isinstance(obj, Dispatcher):
                    seen += 1
                    assert not obj.overloads, (name, obj, list(obj.overloads))
                    assert not obj.stats.cache_hits and not obj.stats.cache_misses, obj
        print(seen, round(elapsed, 3))
        """
    )
    seen, _elapsed = out.split()
    assert int(seen) >= 4  # gemm_cblas, gemm_loop, and the LSTM kernels were inspected


def test_kernel_options_are_what_kernel_uses() -> None:
    @kernel
    def f(x):  # type: ignore[no-untyped-def]
        return x + 1

    dispatcher: Any = f
    opts = dispatcher.targetoptions
    for key in ("nogil", "error_model", "boundscheck"):
        assert opts[key] == KERNEL_OPTIONS[key]
    assert set(opts["fastmath"]) == set(KERNEL_OPTIONS["fastmath"])
    # caching is on exactly when the OpenBLAS binding is (see rnn.backend.jit)
    cached = type(dispatcher._cache).__name__ != "NullCache"
    assert cached == KERNEL_OPTIONS["cache"] == HAVE_CBLAS


def test_inline_kernel_is_kernel_plus_forceinline() -> None:
    # a kernel called from kernels is inlined into them (see rnn.backend.inline_kernel)
    @inline_kernel
    def g(x):  # type: ignore[no-untyped-def]
        return x + 1

    @kernel
    def f(x):  # type: ignore[no-untyped-def]
        return g(x) * 2

    dispatcher: Any = g
    opts = dispatcher.targetoptions
    assert opts["forceinline"] is True
    for key in ("nogil", "error_model", "boundscheck"):
        assert opts[key] == KERNEL_OPTIONS[key]
    assert set(opts["fastmath"]) == set(KERNEL_OPTIONS["fastmath"])
    assert (type(dispatcher._cache).__name__ != "NullCache") == KERNEL_OPTIONS["cache"]
    assert f(2.0) == 6.0 and g(2.0) == 3.0


# ---------------------------------------------------------------------------------------------
# gemm_serial: blocks under OpenBLAS's single-thread threshold
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize(("m", "k", "n"), [(16, 256, 1024), (33, 512, 700), (3, 70_000, 5),
                                           (2000, 64, 3)])
def test_gemm_serial_blocks_large_products(dt, m, k, n) -> None:  # type: ignore[no-untyped-def]
    """Products far over the threshold (so cut into many blocks, ragged at the edges) equal
    numpy's, for both beta cases and a transposed operand."""
    assert m * n * k > SERIAL_GEMM_MNK
    rng = np.random.default_rng(m + k + n)
    for ta, beta in ((False, 0.0), (True, 1.0)):
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(dt)
        b = rng.standard_normal((k, n)).astype(dt)
        c = rng.standard_normal((m, n)).astype(dt)
        want = _reference(ta, False, 1.0, a, b, beta, c)
        gemm_serial(ta, False, 1.0, a, b, beta, c)
        np.testing.assert_allclose(c, want, rtol=_tol(dt) * 10, atol=_tol(dt) * np.sqrt(k) * 10)


@given(m=st.integers(1, 10**5), n=st.integers(1, 10**5), k=st.integers(1, 10**6))
def test_serial_blocks_stay_under_openblas_single_thread_threshold(m: int, n: int,
                                                                   k: int) -> None:
    """Every block gemm_serial hands OpenBLAS is one it computes on the calling thread."""
    from rnn.backend.blas import serial_blocks

    mc, nc, kc = serial_blocks(m, n, k)
    assert 1 <= mc <= m and 1 <= nc <= n and 1 <= kc <= k
    assert mc * nc * kc <= SERIAL_GEMM_MNK
    if k <= 512:
        assert kc == k  # each element one dot product over the whole of K
    if m * k * 64 <= SERIAL_GEMM_MNK:
        assert mc == m  # small products are not cut into rows at all


@pytest.mark.skipif(not HAVE_CBLAS, reason="thread control needs numpy's bundled OpenBLAS")
def test_set_blas_threads_validates_and_is_process_wide() -> None:
    before = get_blas_threads()
    assert before >= 1
    seen: list[int] = []
    set_blas_threads(1)
    try:
        thread = threading.Thread(target=lambda: seen.append(get_blas_threads()))
        thread.start()
        thread.join()
        assert seen == [1]  # why the library never calls it
    finally:
        set_blas_threads(before)
    assert get_blas_threads() == before
    with pytest.raises(ValueError, match="got 0"):
        set_blas_threads(0)


# ---------------------------------------------------------------------------------------------
# run_parts: the persistent team
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 3, 8])
def test_run_parts_runs_every_part_at_once_and_keeps_its_threads(n: int) -> None:
    before = get_blas_threads()
    barrier = threading.Barrier(n, timeout=20)
    names: list[str] = []

    def make(value: int):  # type: ignore[no-untyped-def]
        def work() -> int:
            names.append(threading.current_thread().name)
            barrier.wait()  # BrokenBarrierError unless all n run at the same time
            return value

        return work

    assert run_parts([make(i) for i in range(n)]) == list(range(n))
    assert names.count(threading.current_thread().name) == 1  # part 0 ran on the caller
    helpers = {t for t in threading.enumerate() if t.name == "minigrad-team"}
    assert run_parts([make(i) for i in range(n)]) == list(range(n))  # the same helpers again
    assert {t for t in threading.enumerate() if t.name == "minigrad-team"} == helpers
    assert get_blas_threads() == before


def test_run_parts_overlaps_nogil_kernels() -> None:
    """While a GIL-releasing kernel runs on a helper thread, the caller's thread keeps running
    Python code (a kernel holding the GIL would block it completely)."""

    @numba.njit(nogil=True)
    def spin(n):  # type: ignore[no-untyped-def]
        acc = 0.0
        for i in range(n):
            acc += np.sqrt(i + acc * 1e-9)
        return acc

    spin(10)
    window: list[float] = []
    ticks: list[float] = []

    def long_kernel() -> float:
        window.append(time.perf_counter())
        acc = spin(15_000_000)
        window.append(time.perf_counter())
        return float(acc)

    def python_loop() -> int:
        while len(window) < 2:
            ticks.append(time.perf_counter())
            time.sleep(0.001)
        return len(ticks)

    _, acc = run_parts([python_loop, long_kernel])
    assert acc > 0
    start, end = window
    inside = [t for t in ticks if start < t < end]
    assert end - start > 0.02
    assert len(inside) >= 5, (end - start, len(inside))


def test_run_parts_survives_failing_parts() -> None:
    """A failing part: every other part still runs to completion, the first failure (in part
    order) is raised with the others as notes, no thread hangs or leaks, and the team works
    afterwards."""
    from rnn.backend.threads import helper_count

    done: list[str] = []

    def ok() -> int:
        time.sleep(0.05)
        done.append("ok")
        return 1

    def bad() -> int:
        raise KeyError("from a helper")

    run_parts([ok, ok, ok])  # the team exists
    idle, threads_before = helper_count(), threading.active_count()
    with pytest.raises(KeyError, match="from a helper"):
        run_parts([ok, bad, ok])
    assert done.count("ok") == 3 + 2  # the others still ran to completion
    with pytest.raises(ZeroDivisionError) as info:
        run_parts([lambda: 1 // 0, ok, bad])
    assert any("from a helper" in note for note in getattr(info.value, "__notes__", []))
    assert helper_count() == idle  # every helper went back to the team ...
    assert threading.active_count() == threads_before  # ... and no thread was added or lost
    assert run_parts([ok, ok, ok]) == [1, 1, 1]


# ---------------------------------------------------------------------------------------------
# activations
# ---------------------------------------------------------------------------------------------
@numba.njit(fastmath={"contract", "nsz"}, error_model="numpy")
def _apply_tanh(x, out):  # type: ignore[no-untyped-def]
    for i in range(x.shape[0]):
        out[i] = tanh_(x[i])


@numba.njit(fastmath={"contract", "nsz"}, error_model="numpy")
def _apply_sigmoid(x, out):  # type: ignore[no-untyped-def]
    for i in range(x.shape[0]):
        out[i] = sigmoid_(x[i])


def _ulp_error(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    spacing = np.spacing(np.abs(exact).astype(got.dtype)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def _float32_grid(lo: float, hi: float, step: int) -> np.ndarray:
    """Every ``step``-th float32 in [lo, hi] (lo, hi >= 0), both signs."""
    bits = np.arange(np.float32(lo).view(np.int32), np.float32(hi).view(np.int32), step)
    pos = bits.astype(np.int32).view(np.float32)
    return np.concatenate([pos, -pos])


def test_tanh_float32_within_two_ulp() -> None:
    x = _float32_grid(1e-30, 12.0, 97)
    out = np.empty_like(x)
    _apply_tanh(x, out)
    err = _ulp_error(out, np.tanh(x.astype(np.float64)))
    assert err.max() <= 2.0, (err.max(), x[err.argmax()])
    assert out.dtype == np.float32


def test_sigmoid_float32_within_three_ulp() -> None:
    x = np.linspace(-87.0, 87.0, 2_000_001).astype(np.float32)
    out = np.empty_like(x)
    _apply_sigmoid(x, out)
    exact = 0.5 + 0.5 * np.tanh(0.5 * x.astype(np.float64))
    exact = np.where(x < -5, np.exp(x.astype(np.float64)) / (1 + np.exp(x.astype(np.float64))),
                     exact)
    err = _ulp_error(out, exact)
    assert err.max() <= 3.0, (err.max(), x[err.argmax()])


@pytest.mark.parametrize("dt", DTYPES)
def test_activations_special_values(dt) -> None:  # type: ignore[no-untyped-def]
    x = np.array([0.0, 1e4, -1e4, np.inf, -np.inf, np.nan], dt)
    t = np.empty_like(x)
    s = np.empty_like(x)
    _apply_tanh(x, t)
    _apply_sigmoid(x, s)
    np.testing.assert_array_equal(t[:5], np.array([0, 1, -1, 1, -1], dt))
    assert np.isnan(t[5]) and np.isnan(s[5])
    np.testing.assert_array_equal(s[[0, 1, 3]], np.array([0.5, 1, 1], dt))
    assert 0 <= s[2] < 1e-37 and 0 <= s[4] < 1e-37


def test_activations_float64_within_two_ulp_of_exact() -> None:
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    rng = np.random.default_rng(0)
    x = np.concatenate([
        rng.uniform(-25, 25, 3000),
        rng.uniform(-1, 1, 2000) * 10.0 ** rng.uniform(-12, 0, 2000),
        [0.0, 1e-300, -1e-300, 0.55, -0.55, 19.0, -19.0],
    ])
    t = np.empty_like(x)
    s = np.empty_like(x)
    _apply_tanh(x, t)
    _apply_sigmoid(x, s)
    exact_t = np.array([float(mpmath.tanh(mpmath.mpf(v))) for v in x])
    exact_s = np.array([float(1 / (1 + mpmath.exp(-mpmath.mpf(v)))) for v in x])
    assert _ulp_error(t, exact_t).max() <= 2.0
    assert _ulp_error(s, exact_s).max() <= 2.0


def test_activations_float64_match_numpy() -> None:
    x = np.linspace(-40, 40, 200_001)
    t = np.empty_like(x)
    s = np.empty_like(x)
    _apply_tanh(x, t)
    _apply_sigmoid(x, s)
    np.testing.assert_allclose(t, np.tanh(x), rtol=1e-15, atol=0)
    np.testing.assert_allclose(s, 0.5 + 0.5 * np.tanh(0.5 * x), rtol=1e-15, atol=1e-16)
    assert np.signbit(t[x == 0]).sum() == 0  # tanh(+0) = +0


@pytest.mark.skipif(not HAVE_CBLAS, reason="needs numpy's bundled OpenBLAS")
def test_gemm_serial_compiles_one_gemm_per_dtype_and_operand_mutability(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Cold compile time: whatever layouts and flags gemm_serial's callers pass (a kernel's
    literal False, C and 'A' slices, a read-only weight from Python), the GEMM under it is
    compiled for 'A'-layout blocks and plain bool flags only."""
    out = _run_python(
        """
        import numba, numpy as np
        from numba import types
        from rnn.backend.blas import gemm_cblas, gemm_serial, matmul_serial

        @numba.njit
        def in_kernel(h, w, out):
            gemm_serial(False, False, 1.0, h[0:2], w, 0.0, out)           # C slices
            gemm_serial(False, False, 1.0, h[:, 1:], w[1:], 0.0, out)     # 'A' slices

        h = np.ones((3, 4)); w = np.ones((4, 5)); out = np.zeros((2, 5))
        in_kernel(h, w, out)
        ro = np.ones((5, 4)); ro.flags.writeable = False
        matmul_serial(h, ro, trans_b=True)
        matmul_serial(h[:, 1:], np.ones((3, 2)))
        assert len(gemm_serial.signatures) >= 4, gemm_serial.signatures
        for sig in gemm_cblas.signatures:
            assert sig[0] == sig[1] == types.boolean, sig
            assert all(t.layout == "A" for t in sig if isinstance(t, types.Array)), sig
        assert len(gemm_cblas.signatures) == 2, gemm_cblas.signatures  # b writable, read-only
        print("ok")
        """,
        NUMBA_CACHE_DIR=str(tmp_path),
    )
    assert out.strip().endswith("ok")
