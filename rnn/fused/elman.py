"""Fused whole-sequence kernels for the vanilla (Elman) RNN: plain arrays, no autograd.

    h' = act(xw_t + b + h W_hh^T)    act = tanh or relu

where ``xw = x @ W_ih.T`` (one big GEMM over all time steps, done by the caller) and
``b = b_ih + b_hh``, added inside the kernel. Variable lengths, time order and performance
rules are those of :mod:`rnn.fused.gru`: only the recurrent GEMM runs inside the time loop
(on the calling thread alone), the weight gradient is one GEMM over all ``T * B`` rows after
the sweep, kernels compile lazily, are cached and release the GIL. (The file's name is the
cell's, Elman's: it runs both nonlinearities.)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnn.backend.blas import gemm_serial, matmul_serial
from rnn.backend.jit import kernel, tanh_

from .checks import as_lengths, check_array, check_out, float_dtype

__all__ = ["RNNCache", "rnn_backward", "rnn_forward"]

_NONLINEARITIES = ("tanh", "relu")


class RNNCache(NamedTuple):
    """What :func:`rnn_forward` keeps for :func:`rnn_backward`.

    hs       ((T + 1) * B, H)  state before step t at rows t*B..; the last block is h_n
    lengths  (B,) int64        per-row sequence lengths (T for every row when none were given)
    nonlinearity               "tanh" or "relu"
    """

    hs: np.ndarray
    lengths: np.ndarray
    nonlinearity: str


@kernel
def _fwd(xw, bias, w_t, lengths, hs, relu):  # type: ignore[no-untyped-def]
    # w_t = W_hh^T, C-contiguous: h @ w_t beats h @ W_hh^T via the transpose flag in OpenBLAS.
    B = lengths.shape[0]
    T = xw.shape[0] // B
    H = w_t.shape[0]
    zero = w_t.dtype.type(0.0)
    for t in range(T):
        base = t * B
        nxt = hs[base + B : base + 2 * B]
        # h_t pre-activation (recurrent part) written straight into the next state's rows
        gemm_serial(False, False, 1.0, hs[base : base + B], w_t, 0.0, nxt)
        for b in range(B):
            row = base + b
            hq = nxt[b]
            if t < lengths[b]:
                x = xw[row]
                if relu:
                    for j in range(H):
                        hq[j] = max(x[j] + bias[j] + hq[j], zero)
                else:
                    for j in range(H):
                        hq[j] = tanh_(x[j] + bias[j] + hq[j])
            else:
                hp = hs[row]
                for j in range(H):
                    hq[j] = hp[j]


@kernel
def _bwd(d_out, d_hn, w_hh, lengths, hs, d_xw, d_bias, dh, dprev, relu):  # type: ignore[no-untyped-def]  # noqa: E501
    B = lengths.shape[0]
    T = d_xw.shape[0] // B
    H = w_hh.shape[1]
    one = w_hh.dtype.type(1.0)
    zero = w_hh.dtype.type(0.0)
    for b in range(B):
        for j in range(H):
            dh[b, j] = d_hn[b, j]
    for j in range(H):
        d_bias[j] = zero
    for t in range(T - 1, -1, -1):
        base = t * B
        for b in range(B):
            row = base + b
            dx = d_xw[row]
            dp = dprev[b]
            dhb = dh[b]
            if t < lengths[b]:
                hq = hs[row + B]
                do = d_out[row]
                if relu:
                    for j in range(H):
                        dx[j] = (dhb[j] + do[j]) if hq[j] > zero else zero
                else:
                    for j in range(H):
                        dx[j] = (dhb[j] + do[j]) * (one - hq[j] * hq[j])
                for j in range(H):
                    d_bias[j] += dx[j]
                for j in range(H):
                    dp[j] = 0.0
            else:
                for j in range(H):
                    dx[j] = 0.0
                    dp[j] = dhb[j]
        # dh_{t-1} = da_t @ W_hh  (padded rows: carried through unchanged)
        gemm_serial(False, False, 1.0, d_xw[base : base + B], w_hh, 1.0, dprev)
        dh, dprev = dprev, dh
    return dh


def _check_nonlinearity(nonlinearity: str) -> bool:
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return nonlinearity == "relu"


def rnn_forward(
    xw: np.ndarray,
    w_hh: np.ndarray,
    h0: np.ndarray,
    lengths: np.ndarray | None,
    nonlinearity: str = "tanh",
    bias: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, RNNCache]:
    """Run a vanilla RNN layer over a whole sequence (forward time order).

    xw (T, B, H) = x @ W_ih.T (plus any bias not given as ``bias``); w_hh (H, H); h0 (B, H);
    lengths None or int (B,) with 1 <= lengths[b] <= T; bias None or (H,) (b_ih + b_hh), added
    inside the kernel. All float arrays share one dtype, float32 or float64.

    Returns ``out`` (T, B, H) (zero at padded steps), ``h_n`` (B, H) (each row's state after
    its own last step) and the cache for :func:`rnn_backward`.
    """
    relu = _check_nonlinearity(nonlinearity)
    dt = float_dtype("xw", xw)
    xw = np.asarray(xw)
    if xw.ndim != 3 or min(xw.shape) < 1:
        raise ValueError(f"xw must be (T, B, H) with T, B, H >= 1, got shape {xw.shape}")
    T, B, H = xw.shape
    xw = check_array("xw", xw, dt, (T, B, H))
    w_hh = check_array("w_hh", w_hh, dt, (H, H))
    h0 = check_array("h0", h0, dt, (B, H))
    bias = np.zeros(H, dtype=dt) if bias is None else check_array("bias", bias, dt, (H,))
    lens = as_lengths(lengths, T, B)
    hs = np.empty(((T + 1) * B, H), dtype=xw.dtype)
    hs[:B] = h0
    _fwd(xw.reshape(T * B, H), bias, np.ascontiguousarray(w_hh.T), lens, hs, relu)
    out = hs[B:].reshape(T, B, H).copy()
    if lengths is not None:
        out[np.arange(T)[:, None] >= lens[None, :]] = 0.0
    h_n = hs[T * B :].copy()
    return out, h_n, RNNCache(hs, lens, nonlinearity)


def rnn_backward(
    d_out: np.ndarray,
    d_hn: np.ndarray,
    w_hh: np.ndarray,
    cache: RNNCache,
    nonlinearity: str = "tanh",
    d_bias: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`rnn_forward` given ``d_out`` (T, B, H) and ``d_hn`` (B, H).

    Returns ``(d_xw, d_w_hh, d_h0)``. ``d_xw`` summed over (T, B) is the gradient of both
    ``b_ih`` and ``b_hh``; given ``d_bias``, a C-contiguous (H,) array of the same dtype, the
    sweep writes that sum into it.
    """
    relu = _check_nonlinearity(nonlinearity)
    if nonlinearity != cache.nonlinearity:
        raise ValueError("nonlinearity differs from the one the forward pass used")
    dt = cache.hs.dtype
    B = cache.lengths.shape[0]
    H = cache.hs.shape[1]
    T = cache.hs.shape[0] // B - 1
    d_out = check_array("d_out", d_out, dt, (T, B, H))
    d_hn = check_array("d_hn", d_hn, dt, (B, H))
    w_hh = check_array("w_hh", w_hh, dt, (H, H))
    d_xw = np.empty((T * B, H), dtype=dt)
    dh = np.empty((B, H), dtype=dt)
    dprev = np.empty((B, H), dtype=dt)
    d_bias = check_out("d_bias", d_bias, (H,), dt)
    d_h0 = _bwd(d_out.reshape(T * B, H), d_hn, w_hh, cache.lengths, cache.hs, d_xw,
                d_bias, dh, dprev, relu)
    d_w_hh = matmul_serial(d_xw, cache.hs[: T * B], trans_a=True)  # one GEMM over all T * B rows
    return d_xw.reshape(T, B, H), d_w_hh, d_h0
