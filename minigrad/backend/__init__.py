"""Kernel machinery shared by the fused Numba kernels.

- :mod:`.blas`: GEMM callable from ``@njit`` code through numpy's own OpenBLAS, and its threads.
- :mod:`.jit`: the project's Numba settings (:data:`kernel`) and vectorisable activations.
- :mod:`.threads`: :func:`run_pair`, two kernels at once with single-threaded BLAS each, and
  :func:`others_load`, the cores other processes keep busy.

Importing this package compiles nothing; kernels compile lazily on first call (or load from the
on-disk cache).
"""

from .blas import (
    HAVE_CBLAS,
    LIBRARY_PATH,
    blas_threads,
    gemm,
    gemm_cblas,
    gemm_loop,
    get_blas_threads,
    set_blas_threads,
)
from .jit import FASTMATH, KERNEL_OPTIONS, exp_f32, exp_f64, expm1_f64, kernel, sigmoid_, tanh_
from .threads import others_load, run_pair

__all__ = [
    "FASTMATH",
    "HAVE_CBLAS",
    "KERNEL_OPTIONS",
    "LIBRARY_PATH",
    "blas_threads",
    "exp_f32",
    "exp_f64",
    "expm1_f64",
    "gemm",
    "gemm_cblas",
    "gemm_loop",
    "get_blas_threads",
    "kernel",
    "others_load",
    "run_pair",
    "set_blas_threads",
    "sigmoid_",
    "tanh_",
]
