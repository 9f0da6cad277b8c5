"""Kernel machinery shared by the fused Numba kernels.

- :mod:`.blas`: GEMM callable from ``@njit`` code through numpy's own OpenBLAS, including
  :func:`gemm_serial`, which never uses OpenBLAS's thread pool.
- :mod:`.jit`: the project's Numba settings (:data:`kernel`, :data:`inline_kernel`) and
  vectorisable activations.
- :mod:`.threads`: :func:`run_parts`, independent kernel calls at once on a persistent team.

Importing this package compiles nothing; kernels compile lazily on first call (or load from the
on-disk cache).
"""

from .blas import (
    HAVE_CBLAS,
    LIBRARY_PATH,
    SERIAL_GEMM_MNK,
    gemm,
    gemm_cblas,
    gemm_loop,
    gemm_serial,
    get_blas_threads,
    matmul_serial,
    set_blas_threads,
)
from .jit import (
    FASTMATH,
    KERNEL_OPTIONS,
    exp_f32,
    exp_f64,
    expm1_f64,
    inline_kernel,
    kernel,
    sigmoid_,
    tanh_,
)
from .threads import run_parts

__all__ = [
    "FASTMATH",
    "HAVE_CBLAS",
    "KERNEL_OPTIONS",
    "LIBRARY_PATH",
    "SERIAL_GEMM_MNK",
    "exp_f32",
    "exp_f64",
    "expm1_f64",
    "gemm",
    "gemm_cblas",
    "gemm_loop",
    "gemm_serial",
    "get_blas_threads",
    "inline_kernel",
    "kernel",
    "matmul_serial",
    "run_parts",
    "set_blas_threads",
    "sigmoid_",
    "tanh_",
]
