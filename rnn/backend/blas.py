"""GEMM callable from ``@njit`` code, through the OpenBLAS that numpy itself uses.

numpy's PyPI wheels bundle an ILP64 OpenBLAS (``numpy.libs/libscipy_openblas64_*.so`` on Linux)
that exports the CBLAS interface under prefixed, suffixed names such as ``scipy_cblas_sgemm64_``
(all integer arguments are 64-bit). This module finds that library at import time, makes its
symbols visible to LLVM and binds them as Numba ``ExternalFunction`` objects. Kernels that call
:func:`gemm` then

* use the same OpenBLAS thread pool as numpy (one pool, never two: see the performance notes),
* do not need SciPy (``np.dot`` inside ``@njit`` does), and
* can be cached with ``cache=True`` (the binding is by symbol name, not by a raw pointer).

Importing this module compiles nothing. If the symbols are absent (another numpy build) or the
environment variable ``MINIGRAD_DISABLE_CBLAS=1`` is set, :data:`HAVE_CBLAS` is False and
:func:`gemm` is a plain Numba loop GEMM: slower but correct.

njit-callable API (all arrays 2-D with unit stride along the last axis, e.g. C-contiguous)::

    gemm(trans_a, trans_b, alpha, a, b, beta, c)
        c[...] = alpha * op(a) @ op(b) + beta * c     op(x) = x.T if trans_x else x
        a, b, c of one dtype (float32 or float64); alpha, beta scalars (cast to that dtype);
        shapes: op(a) (M, K), op(b) (K, N), c (M, N). Shapes are not checked: callers inside
        kernels own that. When beta == 0, c's old contents are ignored (NaN-safe).

Python API::

    HAVE_CBLAS                   True when the OpenBLAS symbols were found and bound
    LIBRARY_PATH                 path of the library, or None
    get_blas_threads() -> int    the OpenBLAS thread count (1 when not controllable)
    set_blas_threads(n) -> None  no-op when not controllable; PROCESS-WIDE: minigrad itself
                                 never calls it (benchmarks and tests may)
"""

from __future__ import annotations

import ctypes
import glob
import os

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.core.typing.templates import Signature
from numba.extending import intrinsic, overload

__all__ = [
    "HAVE_CBLAS",
    "LIBRARY_PATH",
    "gemm",
    "gemm_cblas",
    "gemm_loop",
    "gemm_serial",
    "get_blas_threads",
    "matmul_serial",
    "serial_blocks",
    "set_blas_threads",
]

_SGEMM = "scipy_cblas_sgemm64_"
_DGEMM = "scipy_cblas_dgemm64_"
_SET_THREADS = "scipy_openblas_set_num_threads64_"
_GET_THREADS = "scipy_openblas_get_num_threads64_"

# CBLAS enum values (C ints, also in the ILP64 interface).
_ROW_MAJOR = 101
_NO_TRANS = 111
_TRANS = 112


def _candidate_paths() -> list[str]:
    """Where numpy's wheels put their bundled OpenBLAS (Linux, macOS, Windows layouts)."""
    pkg = os.path.dirname(np.__file__)
    site = os.path.dirname(pkg)
    patterns = [
        os.path.join(site, "numpy.libs", "libscipy_openblas64_*.so*"),
        os.path.join(site, "numpy.libs", "libscipy_openblas64_*.dll"),
        os.path.join(pkg, ".dylibs", "libscipy_openblas64_*.dylib"),
    ]
    found: list[str] = []
    for pattern in patterns:
        found.extend(sorted(glob.glob(pattern)))
    return found


def _find_library() -> tuple[str | None, ctypes.CDLL | None]:
    if os.environ.get("MINIGRAD_DISABLE_CBLAS", "") not in ("", "0"):
        return None, None
    for path in _candidate_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if all(hasattr(lib, name) for name in (_SGEMM, _DGEMM)):
            return path, lib
    return None, None


LIBRARY_PATH, _LIB = _find_library()
HAVE_CBLAS = False
if LIBRARY_PATH is not None:
    try:
        from llvmlite import binding as _llvm

        # Makes the library's symbols resolvable by name from JIT-compiled (and cached) code.
        _llvm.load_library_permanently(LIBRARY_PATH)
        HAVE_CBLAS = True
    except Exception:  # pragma: no cover - depends on the installed llvmlite
        HAVE_CBLAS = False


# ----------------------------------------------------------------------------------------------
# BLAS thread count (Python side, via ctypes)
# ----------------------------------------------------------------------------------------------
_set_threads_fn = getattr(_LIB, _SET_THREADS, None) if _LIB is not None else None
_get_threads_fn = getattr(_LIB, _GET_THREADS, None) if _LIB is not None else None
if _set_threads_fn is not None:
    _set_threads_fn.argtypes = [ctypes.c_int]
    _set_threads_fn.restype = None
if _get_threads_fn is not None:
    _get_threads_fn.argtypes = []
    _get_threads_fn.restype = ctypes.c_int



def get_blas_threads() -> int:
    """The thread count of numpy's bundled OpenBLAS (1 if it cannot be queried)."""
    if _get_threads_fn is None:
        return 1
    return int(_get_threads_fn())


def set_blas_threads(n: int) -> None:
    """Set the thread count of numpy's bundled OpenBLAS (process-wide; no-op if unavailable).

    Every thread of the process sees the change: the library never calls this (its kernels use
    :func:`gemm_serial` instead); it is here for benchmarks and tests.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"BLAS thread count must be >= 1, got {n}")
    if _set_threads_fn is not None:
        _set_threads_fn(n)


# ----------------------------------------------------------------------------------------------
# njit side
# ----------------------------------------------------------------------------------------------
def _gemm_sig(dt: types.Float) -> Signature:
    i32, i64, ptr = types.int32, types.int64, types.CPointer(dt)
    # order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc
    return types.void(i32, i32, i32, i64, i64, i64, dt, ptr, i64, ptr, i64, dt, ptr, i64)


_cblas_sgemm = types.ExternalFunction(_SGEMM, _gemm_sig(types.float32))
_cblas_dgemm = types.ExternalFunction(_DGEMM, _gemm_sig(types.float64))


@intrinsic
def _data_ptr(typingctx, arr):  # type: ignore[no-untyped-def]
    """The data pointer of an array, typed as a pointer to its dtype."""
    if not isinstance(arr, types.Array):
        return None
    sig = types.CPointer(arr.dtype)(arr)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        ary = cgutils.create_struct_proxy(signature.args[0])(context, builder, value=args[0])
        return ary.data

    return sig, codegen


@numba.njit(cache=True, nogil=True)
def _leading_dim(x):  # type: ignore[no-untyped-def]
    """Row stride in elements of a 2-D array whose last axis has unit stride."""
    item = x.itemsize
    if x.shape[1] > 1 and x.strides[1] != item:
        raise ValueError("gemm: the last axis must have unit stride")
    ld = x.strides[0] // item
    return max(ld, x.shape[1], 1)


def _xgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):  # type: ignore[no-untyped-def]
    """Typing stub: row-major cblas_?gemm chosen by the dtype of ``c`` at compile time."""
    raise NotImplementedError("only callable from @njit code")


@overload(_xgemm, jit_options={"nogil": True})
def _xgemm_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):  # type: ignore[no-untyped-def]
    if not (a.dtype == b.dtype == c.dtype):
        return None
    if c.dtype == types.float32:
        fn, scalar = _cblas_sgemm, np.float32
    elif c.dtype == types.float64:
        fn, scalar = _cblas_dgemm, np.float64
    else:
        return None

    def impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):  # type: ignore[no-untyped-def]
        fn(np.int32(_ROW_MAJOR), ta, tb, m, n, k, scalar(alpha), _data_ptr(a), lda,
           _data_ptr(b), ldb, scalar(beta), _data_ptr(c), ldc)

    return impl


@numba.njit(cache=True, nogil=True, inline="always")
def _scale(beta, c):  # type: ignore[no-untyped-def]
    """``c = beta * c``, and ``c = 0`` when beta == 0 (old contents ignored: NaN-safe): a
    product with K = 0.

    NOTE: plain loops, not ``c[:, :] = 0``: Numba's slice assignment brings its broadcasting
    checks and their message formatting into every specialisation of the caller, seconds of
    compile time each, for a branch that never runs in a layer.
    """
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            c[i, j] = c[i, j] * beta if beta != 0 else 0.0


@numba.njit(cache=True, nogil=True)
def gemm_cblas(trans_a, trans_b, alpha, a, b, beta, c):  # type: ignore[no-untyped-def]
    """``c = alpha * op(a) @ op(b) + beta * c`` through OpenBLAS's cblas_?gemm (see module doc)."""
    m = c.shape[0]
    n = c.shape[1]
    k = a.shape[0] if trans_a else a.shape[1]
    if m == 0 or n == 0:
        return
    if k == 0:
        _scale(beta, c)
        return
    ta = np.int32(_TRANS if trans_a else _NO_TRANS)
    tb = np.int32(_TRANS if trans_b else _NO_TRANS)
    _xgemm(ta, tb, np.int64(m), np.int64(n), np.int64(k), alpha, a,
           np.int64(_leading_dim(a)), b, np.int64(_leading_dim(b)), beta, c,
           np.int64(_leading_dim(c)))


@numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def gemm_loop(trans_a, trans_b, alpha, a, b, beta, c):  # type: ignore[no-untyped-def]
    """Plain-loop fallback with the same contract as :func:`gemm_cblas` (no BLAS needed)."""
    m = c.shape[0]
    n = c.shape[1]
    k = a.shape[0] if trans_a else a.shape[1]
    row = np.empty(n, dtype=c.dtype)
    for i in range(m):
        row[:] = 0
        for p in range(k):
            aip = a[p, i] if trans_a else a[i, p]
            if trans_b:
                for j in range(n):
                    row[j] += aip * b[j, p]
            else:
                for j in range(n):
                    row[j] += aip * b[p, j]
        if beta == 0:
            for j in range(n):
                c[i, j] = alpha * row[j]
        else:
            for j in range(n):
                c[i, j] = alpha * row[j] + beta * c[i, j]


gemm = gemm_cblas if HAVE_CBLAS else gemm_loop
"""The GEMM kernels should call: the OpenBLAS binding when available, else the loop fallback."""

#: OpenBLAS runs a GEMM on the calling thread alone when M * N * K is at most this
#: (``SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD`` = 65536 * 4 in its ``interface/gemm.c``).
SERIAL_GEMM_MNK = 262144
_SERIAL_MIN_COLS = 64  # column blocks at least this wide where K allows
_SERIAL_MAX_K = 512  # a longer K (weight gradients over T * B rows) is cut into ...
_SERIAL_K_BLOCK = 256  # ... blocks this long, accumulated into c (beta = 1 after the first)


@numba.njit(cache=True, nogil=True)
def serial_blocks(m, n, k):  # type: ignore[no-untyped-def]
    """The block sizes ``(mc, nc, kc)`` :func:`gemm_serial` cuts an (m, n, k) product into:
    ``mc * nc * kc <= SERIAL_GEMM_MNK`` always, columns at least 64 wide where K allows."""
    kc = k if k <= _SERIAL_MAX_K else _SERIAL_K_BLOCK
    kc = max(kc, 1)
    mc = max(1, min(m, SERIAL_GEMM_MNK // (kc * _SERIAL_MIN_COLS)))
    nc = max(1, min(n, SERIAL_GEMM_MNK // (mc * kc)))
    return mc, nc, kc


# NOTE: cached only with the binding (like :func:`rnn.backend.jit.kernel`): a cache file
# compiled against the cblas symbols would fail to load where they are missing.
@numba.njit(cache=HAVE_CBLAS, nogil=True)
def gemm_serial(trans_a, trans_b, alpha, a, b, beta, c):  # type: ignore[no-untyped-def]
    """:func:`gemm` on the calling thread only: same contract, never OpenBLAS's thread pool.

    The product is cut into blocks of rows, columns and (when K is long) K, each small enough
    (M * N * K <= :data:`SERIAL_GEMM_MNK`) that OpenBLAS computes it on the caller's thread
    without consulting its process-wide thread count. So many threads can each run their own
    GEMMs side by side, nothing process-wide is ever changed, and no pool of spinning OpenBLAS
    threads competes with them for the cores. The blocking is a pure function of the shapes,
    so results are reproducible.

    NOTE: per-step recurrent GEMMs (M = a few dozen rows) run as fast as one call with a
    one-thread pool or faster (OpenBLAS's small-matrix path); long-K products (weight gradients)
    somewhat slower. Measurements: docs/fused-kernels.md.
    """
    m = c.shape[0]
    n = c.shape[1]
    k = a.shape[0] if trans_a else a.shape[1]
    if m == 0 or n == 0:
        return
    if k == 0:
        _scale(beta, c)
        return
    # NOTE: every block below is an 'A'-layout view and the flags plain bools (a caller's
    # constant False arrives as a literal type), so each dtype compiles few gemm
    # specialisations, whatever layouts and flags the callers of this function pass.
    trans_a = bool(trans_a)
    trans_b = bool(trans_b)
    mc, nc, kc = serial_blocks(m, n, k)
    for i0 in range(0, m, mc):
        i1 = min(i0 + mc, m)
        for j0 in range(0, n, nc):
            j1 = min(j0 + nc, n)
            c_blk = c[i0:i1, j0:j1]
            for p0 in range(0, k, kc):
                p1 = min(p0 + kc, k)
                a_blk = a[p0:p1, i0:i1] if trans_a else a[i0:i1, p0:p1]
                b_blk = b[j0:j1, p0:p1] if trans_b else b[p0:p1, j0:j1]
                gemm(trans_a, trans_b, alpha, a_blk, b_blk, beta if p0 == 0 else 1.0, c_blk)


def matmul_serial(a: np.ndarray, b: np.ndarray, trans_a: bool = False,
                  trans_b: bool = False) -> np.ndarray:
    """``op(a) @ op(b)`` as a new C-contiguous array, by :func:`gemm_serial` (Python API).

    ``a`` and ``b``: 2-D, one float dtype; copied to C order only when their last axis is not
    contiguous.
    """
    a = a if a.strides[-1] == a.itemsize else np.ascontiguousarray(a)
    b = b if b.strides[-1] == b.itemsize else np.ascontiguousarray(b)
    m = a.shape[1] if trans_a else a.shape[0]
    n = b.shape[0] if trans_b else b.shape[1]
    out = np.empty((m, n), dtype=a.dtype)
    gemm_serial(trans_a, trans_b, 1.0, a, b, 0.0, out)
    return out
