"""The project's Numba settings in one place, and vectorisable activation helpers.

Every fused kernel is declared with :data:`kernel`::

    @kernel
    def my_kernel(...): ...

which is ``numba.njit`` with

* ``cache=True``: compiled machine code is stored in ``__pycache__`` and reused by later processes
  (first call from a warm cache is a fraction of a second instead of seconds). Caching is turned
  off when the OpenBLAS binding is unavailable, so fallback builds and BLAS builds never share
  cache files (Numba's cache does not notice which ``gemm`` a kernel was compiled against).
* ``nogil=True``: kernels release the GIL, so two of them can run concurrently in two Python
  threads (see :mod:`rnn.backend.threads`).
* ``error_model="numpy"``: division follows IEEE rules instead of raising; the Python error
  model's zero-division check blocks SIMD.
* ``fastmath=FASTMATH``: FMA contraction and sign-of-zero freedom only. Reassociation is left
  out on purpose (it would undo the two-constant range reduction in :func:`exp_f32`), and so are
  ``nnan``/``ninf``, so NaN and infinity propagate honestly. Elementwise loops vectorise without
  these flags; only reductions would need reassociation.

A kernel that other kernels call (a per-row helper) is declared with :data:`inline_kernel`
instead: the same settings plus ``forceinline``, so its callers carry its code inlined and the
result never depends on which copy of it the JIT linker binds (see there).

Nothing here compiles at import: decorators without signatures compile lazily on first call.

Activation helpers (callable from ``@njit`` code only; dispatched on the scalar type at compile
time, branch-free so loops over them vectorise; no libm calls, which would not vectorise: Numba
with the PyPI llvmlite has no vector math library):

    tanh_(x)      float32: polynomial below |x| = 0.55, else from exp; max error 1.5 ulp
                  float64: -expm1(-2|x|) / (2 + expm1(-2|x|)) with sign; max error 2 ulp
    sigmoid_(x)   1 / (1 + exp(-x)), branch-free and overflow-free (z = exp(-|x|));
                  max error 2.5 ulp (float32) / 2 ulp (float64) where the result is normal;
                  below x = -87.3 (float32) / -708 (float64) it returns ~1e-38 / ~3e-308
    exp_f32(x), exp_f64(x), expm1_f64(x)   for x <= 0 only; 1 ulp

Errors were measured against mpmath (float64) and float64 libm (float32); the tests re-check
them. In float64 this is as accurate as libm (glibc's tanh is also not correctly rounded), so
the LSTM kernels match float64 references to ~1e-15, far inside the 1e-10 the tests demand,
while the gate math runs ~10x faster than scalar libm calls.

Numba's cache does not track these helpers: after editing this module, delete the ``*.nbi`` /
``*.nbc`` files of the kernels that use it (their cache is keyed on their own source file).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar, cast

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from .blas import HAVE_CBLAS

__all__ = [
    "FASTMATH",
    "KERNEL_OPTIONS",
    "exp_f32",
    "exp_f64",
    "expm1_f64",
    "inline_kernel",
    "kernel",
    "sigmoid_",
    "tanh_",
]

FASTMATH = frozenset({"contract", "nsz"})

KERNEL_OPTIONS: dict[str, Any] = {
    # what :func:`kernel` passes to numba.njit (kept in sync by a test)
    "cache": HAVE_CBLAS,
    "nogil": True,
    "fastmath": set(FASTMATH),
    "error_model": "numpy",
    "boundscheck": False,
}

_F = TypeVar("_F", bound=Callable[..., Any])


def kernel(fn: _F) -> _F:
    """``numba.njit`` with the project's settings (use as ``@kernel``; no signatures: lazy compile).

    Typed as returning ``fn`` itself so that type checkers see the Python signature.
    """
    return cast(
        _F,
        numba.njit(
            fn,
            cache=HAVE_CBLAS,
            nogil=True,
            fastmath=set(FASTMATH),
            error_model="numpy",
            boundscheck=False,
        ),
    )


def inline_kernel(fn: _F) -> _F:
    """:func:`kernel` for a function called from other kernels: always inlined into its callers.

    It stays callable from Python (compiled and cached on its own, like any kernel); inside a
    kernel, LLVM inlines it (``alwaysinline``) after it was optimised (and vectorised) alone.

    NOTE: bitwise reproducibility. Numba links a called kernel into its caller as a
    ``linkonce_odr`` copy, which is optimised once more with the caller, while the callee's own
    library keeps its first build. With FMA contraction the two builds may round differently
    (``f * c + i * g`` contracted around one product or the other). A call that is not inlined
    binds at load time to whichever copy the JIT linker saw first: the callee's own when it was
    compiled in this process (cold cache), the copy inside the caller when the caller was loaded
    from the disk cache (warm). So the same program gave different last bits on its first run.
    Inlined, the caller's machine code (the bytes that are cached) is the only copy it runs.
    """
    return cast(
        _F,
        numba.njit(
            fn,
            cache=HAVE_CBLAS,
            nogil=True,
            fastmath=set(FASTMATH),
            error_model="numpy",
            boundscheck=False,
            forceinline=True,
        ),
    )


_HELPER_OPTIONS: Any = {
    "fastmath": set(FASTMATH),
    "error_model": "numpy",
    "nogil": True,
    "forceinline": True,  # LLVM alwaysinline: kernels must vectorise over these calls
}

# ---------------------------------------------------------------------------------------------
# float32 exp, branch-free
#   exp(x) = 2^n * exp(r),  n = round(x / ln 2),  r = x - n ln2  (|r| <= ln2 / 2)
#   ln 2 is split into a 12-bit head (n * head is exact for |n| < 2^11) and a tail, so r is
#   accurate; exp(r) is its Taylor polynomial to r^7 (truncation error < 0.1 ulp on |r| <= 0.35);
#   2^n is built from its bit pattern.
# ---------------------------------------------------------------------------------------------
_LN2_HEAD = math.ldexp(math.floor(math.ldexp(math.frexp(math.log(2.0))[0], 12)), -12)
_LN2_TAIL = math.log(2.0) - _LN2_HEAD
_F32_LN2_HEAD = np.float32(_LN2_HEAD)
_F32_LN2_TAIL = np.float32(_LN2_TAIL)
_F32_INV_LN2 = np.float32(1.0 / math.log(2.0))
_F32_EXP_MIN = np.float32(-87.3)  # exp(-87.3) ~ 1.2e-38, still a normal float32
_F32_INV_FACT = tuple(np.float32(1.0 / math.factorial(k)) for k in range(8))


@intrinsic
def _bits_to_f32(typingctx, bits):  # type: ignore[no-untyped-def]
    """Reinterpret an int32 bit pattern as a float32."""
    if bits != types.int32:
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


def exp_f32(x):  # type: ignore[no-untyped-def]
    """float32 exp for x <= 0, vectorisable (njit only)."""
    raise NotImplementedError("exp_f32 is callable from @njit code only")


@overload(exp_f32, jit_options=_HELPER_OPTIONS)
def _exp_f32_impl(x):  # type: ignore[no-untyped-def]
    if x != types.float32:
        return None
    c0, c1, c2, c3, c4, c5, c6, c7 = _F32_INV_FACT

    def impl(x):  # type: ignore[no-untyped-def]
        x = max(x, _F32_EXP_MIN)
        nf = np.floor(x * _F32_INV_LN2 + np.float32(0.5))
        r = (x - nf * _F32_LN2_HEAD) - nf * _F32_LN2_TAIL
        p = c7
        p = p * r + c6
        p = p * r + c5
        p = p * r + c4
        p = p * r + c3
        p = p * r + c2
        p = p * r + c1
        p = p * r + c0
        scale = _bits_to_f32(np.int32((np.int32(nf) + np.int32(127)) << np.int32(23)))
        return p * scale

    return impl


# ---------------------------------------------------------------------------------------------
# float64 exp and expm1 for x <= 0, branch-free, same scheme with more terms
#   n = round(x / ln 2) by the 1.5 * 2^52 shifter trick (an integer add, no float->int64
#   conversion, which AVX2 lacks); ln 2 split into a 32-bit head and a tail taken from its
#   decimal expansion; expm1(r) = r + r^2 q(r), q the Taylor series to r^13 (truncation
#   < 1e-17 relative on |r| <= 0.35). Then exp(x) = 2^n + 2^n expm1(r) and
#   expm1(x) = 2^n expm1(r) + (2^n - 1), which keeps full relative accuracy near 0.
# ---------------------------------------------------------------------------------------------
_LN2_DIGITS = "0.69314718055994530941723212145817656807550013436025525412068"
_F64_LN2_HEAD = math.ldexp(math.floor(math.ldexp(math.log(2.0), 32)), -32)
_F64_LN2_TAIL = float(Decimal(_LN2_DIGITS) - Decimal(_F64_LN2_HEAD))
_F64_INV_LN2 = 1.0 / math.log(2.0)
_F64_SHIFTER = 1.5 * 2.0**52
_F64_EXP_MIN = -708.0  # exp(-708) ~ 3.3e-308, still a normal float64
_F64_Q = tuple(1.0 / math.factorial(k) for k in range(2, 14))  # q(r) = 1/2! + r/3! + ...


@intrinsic
def _bits_to_f64(typingctx, bits):  # type: ignore[no-untyped-def]
    """Reinterpret an int64 bit pattern as a float64."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _f64_to_bits(typingctx, value):  # type: ignore[no-untyped-def]
    """Reinterpret a float64 as its int64 bit pattern."""
    if value != types.float64:
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


def _expm1_parts_f64(x):  # type: ignore[no-untyped-def]
    """(2^n, expm1(r)) with x = n ln2 + r, for x <= 0 (njit only)."""
    raise NotImplementedError("callable from @njit code only")


@overload(_expm1_parts_f64, jit_options=_HELPER_OPTIONS)
def _expm1_parts_f64_impl(x):  # type: ignore[no-untyped-def]
    if x != types.float64:
        return None
    q0, q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11 = _F64_Q
    shifter_bits = int(np.float64(_F64_SHIFTER).view(np.int64))

    def impl(x):  # type: ignore[no-untyped-def]
        x = max(x, _F64_EXP_MIN)
        t = x * _F64_INV_LN2 + _F64_SHIFTER
        nf = t - _F64_SHIFTER  # round(x / ln2), exactly
        r = (x - nf * _F64_LN2_HEAD) - nf * _F64_LN2_TAIL
        q = q11
        q = q * r + q10
        q = q * r + q9
        q = q * r + q8
        q = q * r + q7
        q = q * r + q6
        q = q * r + q5
        q = q * r + q4
        q = q * r + q3
        q = q * r + q2
        q = q * r + q1
        q = q * r + q0
        em = r + (r * r) * q
        n = _f64_to_bits(t) - np.int64(shifter_bits)
        scale = _bits_to_f64((n + np.int64(1023)) << np.int64(52))
        return scale, em

    return impl


def exp_f64(x):  # type: ignore[no-untyped-def]
    """float64 exp for x <= 0, vectorisable, within ~1 ulp above -708 (njit only)."""
    raise NotImplementedError("exp_f64 is callable from @njit code only")


@overload(exp_f64, jit_options=_HELPER_OPTIONS)
def _exp_f64_impl(x):  # type: ignore[no-untyped-def]
    if x != types.float64:
        return None

    def impl(x):  # type: ignore[no-untyped-def]
        scale, em = _expm1_parts_f64(x)
        return scale + scale * em

    return impl


def expm1_f64(x):  # type: ignore[no-untyped-def]
    """float64 expm1 for x <= 0, vectorisable, accurate relative to the result (njit only)."""
    raise NotImplementedError("expm1_f64 is callable from @njit code only")


@overload(expm1_f64, jit_options=_HELPER_OPTIONS)
def _expm1_f64_impl(x):  # type: ignore[no-untyped-def]
    if x != types.float64:
        return None
    one = np.float64(1.0)

    def impl(x):  # type: ignore[no-untyped-def]
        scale, em = _expm1_parts_f64(x)
        return scale * em + (scale - one)

    return impl


# ---------------------------------------------------------------------------------------------
# tanh
#   |x| < 0.55:  x + x^3 R(x^2), R a degree-4 polynomial fitted (relative minimax) for this project
#   |x| >= 0.55: (1 - e) / (1 + e) with e = exp(-2|x|)
#   |x| is clamped at 9.1, beyond which tanh rounds to 1 in float32.
# ---------------------------------------------------------------------------------------------
_F32_TANH_R = tuple(
    np.float32(c)
    for c in (-0.33333318, 0.13332609, -0.05385473, 0.02108172, -0.00628845)
)
_F32_TANH_SPLIT = np.float32(0.55)
_F32_TANH_CLAMP = np.float32(9.1)
_F64_TANH_CLAMP = np.float64(19.1)


def tanh_(x):  # type: ignore[no-untyped-def]
    """Hyperbolic tangent for kernels: fast float32, libm float64 (njit only)."""
    raise NotImplementedError("tanh_ is callable from @njit code only")


@overload(tanh_, jit_options=_HELPER_OPTIONS)
def _tanh_impl(x):  # type: ignore[no-untyped-def]
    if x == types.float64:
        two64 = np.float64(2.0)

        def impl64(x):  # type: ignore[no-untyped-def]
            # tanh(a) = -expm1(-2a) / (2 + expm1(-2a)); tanh rounds to 1 beyond a = 19.1
            a = min(abs(x), _F64_TANH_CLAMP)
            em = expm1_f64(-two64 * a)
            y = abs(em) / (two64 + em)  # em <= 0; abs keeps tanh(+0) = +0
            return y if x >= 0 else -y

        return impl64
    if x != types.float32:
        return None
    r0, r1, r2, r3, r4 = _F32_TANH_R
    one = np.float32(1.0)
    two = np.float32(2.0)

    def impl32(x):  # type: ignore[no-untyped-def]
        a = min(abs(x), _F32_TANH_CLAMP)
        s = a * a
        p = r4
        p = p * s + r3
        p = p * s + r2
        p = p * s + r1
        p = p * s + r0
        small = a + a * s * p
        e = exp_f32(-two * a)
        big = (one - e) / (one + e)
        y = small if a < _F32_TANH_SPLIT else big
        return y if x >= 0 else -y

    return impl32


def sigmoid_(x):  # type: ignore[no-untyped-def]
    """Logistic sigmoid for kernels, accurate in relative terms for all x (njit only)."""
    raise NotImplementedError("sigmoid_ is callable from @njit code only")


@overload(sigmoid_, jit_options=_HELPER_OPTIONS)
def _sigmoid_impl(x):  # type: ignore[no-untyped-def]
    if x == types.float64:
        one64 = np.float64(1.0)

        def impl64(x):  # type: ignore[no-untyped-def]
            z = exp_f64(-abs(x))
            d = one64 + z
            return one64 / d if x >= 0 else z / d

        return impl64
    if x != types.float32:
        return None
    one = np.float32(1.0)

    def impl32(x):  # type: ignore[no-untyped-def]
        z = exp_f32(-abs(x))
        d = one + z
        return one / d if x >= 0 else z / d

    return impl32
