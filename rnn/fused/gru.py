"""Fused whole-sequence GRU kernels: plain arrays in and out, no autograd.

The input projection ``xw = x @ W_ih.T + b_ih`` (one big GEMM over all time steps) is the
caller's job, except that ``b_ih`` may be handed to the kernels, which add it in their gate
loops (saving a pass over xw); they run only what depends on the previous hidden state. Gates
are stacked ``r, z, n`` as in PyTorch. Two candidate formulas are supported:

* ``reset_after=True`` (PyTorch / cuDNN)::

      r = sigmoid(xw_r + h W_hr^T + b_hr)
      z = sigmoid(xw_z + h W_hz^T + b_hz)
      n = tanh(xw_n + r * (h W_hn^T + b_hn))
      h' = (1 - z) * n + z * h

* ``reset_after=False`` (Cho et al. 2014): ``n = tanh(xw_n + (r * h) W_hn^T + b_hn)``.

Variable lengths: for ``t >= lengths[b]`` row ``b`` keeps its state and ``out[t, b] = 0``;
such steps contribute nothing to any gradient. Only forward time order exists here: a reverse
direction is run by the caller on flipped sequences.

Inside the time loop only the recurrent GEMMs (:func:`rnn.backend.gemm_serial`: on the
calling thread alone, never OpenBLAS's pool) and vectorised gate arithmetic run. The weight
gradient is two large GEMMs over all ``T * B`` rows after the sweep, also on the calling thread
alone (:func:`rnn.backend.matmul_serial`). Kernels compile lazily on first use, are cached
on disk, and release the GIL.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnn.backend.blas import gemm_serial, matmul_serial
from rnn.backend.jit import kernel, sigmoid_, tanh_

from .checks import as_lengths, check_array, check_out, float_dtype

__all__ = ["GRUCache", "gru_backward", "gru_forward"]


class GRUCache(NamedTuple):
    """What :func:`gru_forward` keeps for :func:`gru_backward` (arrays are rows ``t * B + b``).

    hs       ((T + 1) * B, H)  state before step t at rows t*B..; the last block is h_n
    gates    (T * B, 3H)       r, z, n after their nonlinearities
    aux      (T * B, H)        reset_after: h W_hn^T + b_hn;  otherwise: r * h
    lengths  (B,) int64        per-row sequence lengths (T for every row when none were given)
    reset_after                which candidate formula produced the cache
    """

    hs: np.ndarray
    gates: np.ndarray
    aux: np.ndarray
    lengths: np.ndarray
    reset_after: bool


# ----------------------------------------------------------------------------------------------
# Kernels (2-D arrays, row index t * B + b)
#
# Vectorisation notes: every gate block is addressed through its own slice (g_r, g_z, x_n, ...)
# and the gate arithmetic is split into short loops that each write one array. LLVM then
# vectorises each loop behind a handful of runtime overlap checks; one long loop writing
# several arrays, or indexing one array at several offsets (g[j], g[H + j]), stays scalar.
# ----------------------------------------------------------------------------------------------
@kernel
def _fwd_reset_after(xw, w_t, b_ih, b_hh, lengths, hs, gates, aux, gh):  # type: ignore[no-untyped-def]  # noqa: E501
    # w_t = W_hh^T as a C-contiguous (H, 3H) array: OpenBLAS runs h @ w_t markedly faster than
    # h @ W_hh^T through the transpose flag at these small-M shapes.
    B = lengths.shape[0]
    T = xw.shape[0] // B
    H = w_t.shape[0]
    H2 = 2 * H
    zero = w_t.dtype.type(0.0)
    b_rz = b_hh[:H2] + b_ih[:H2]
    b_n = b_hh[H2:]
    b_in = b_ih[H2:]
    for t in range(T):
        base = t * B
        # gh = h_{t-1} @ W_hh^T   (B, 3H)
        gemm_serial(False, False, 1.0, hs[base : base + B], w_t, 0.0, gh)
        for b in range(B):
            row = base + b
            hp = hs[row]
            hq = hs[row + B]
            g = gates[row]
            a = aux[row]
            if t < lengths[b]:
                x = xw[row]
                q = gh[b]
                g_rz = g[:H2]
                x_rz = x[:H2]
                q_rz = q[:H2]
                for j in range(H2):
                    g_rz[j] = sigmoid_(x_rz[j] + q_rz[j] + b_rz[j])
                q_n = q[H2:]
                for j in range(H):
                    a[j] = q_n[j] + b_n[j]
                g_r = g[:H]
                g_n = g[H2:]
                x_n = x[H2:]
                for j in range(H):
                    g_n[j] = tanh_(x_n[j] + b_in[j] + g_r[j] * a[j])
                g_z = g[H:H2]
                for j in range(H):
                    hq[j] = g_n[j] + g_z[j] * (hp[j] - g_n[j])
            else:
                for j in range(H):
                    hq[j] = hp[j]
                for j in range(H):
                    a[j] = zero
                for j in range(3 * H):
                    g[j] = zero


@kernel
def _fwd_reset_before(xw, w_t, b_ih, b_hh, lengths, hs, gates, aux, gh):  # type: ignore[no-untyped-def]  # noqa: E501
    B = lengths.shape[0]
    T = xw.shape[0] // B
    H = w_t.shape[0]
    H2 = 2 * H
    zero = w_t.dtype.type(0.0)
    w_rz_t = w_t[:, :H2]
    w_n_t = w_t[:, H2:]
    g_rz_all = gh[:, :H2]
    g_n_all = gh[:, H2:]
    b_rz = b_hh[:H2] + b_ih[:H2]
    b_n = b_hh[H2:] + b_ih[H2:]
    for t in range(T):
        base = t * B
        # [r | z] pre-activations from h_{t-1}   (B, 2H)
        gemm_serial(False, False, 1.0, hs[base : base + B], w_rz_t, 0.0, g_rz_all)
        for b in range(B):
            row = base + b
            g = gates[row]
            a = aux[row]
            if t < lengths[b]:
                x = xw[row]
                q = gh[b]
                g_rz = g[:H2]
                x_rz = x[:H2]
                q_rz = q[:H2]
                for j in range(H2):
                    g_rz[j] = sigmoid_(x_rz[j] + q_rz[j] + b_rz[j])
                hp = hs[row]
                g_r = g[:H]
                for j in range(H):
                    a[j] = g_r[j] * hp[j]
            else:
                for j in range(H):
                    a[j] = zero
                for j in range(3 * H):
                    g[j] = zero
        # (r * h_{t-1}) @ W_hn^T   (B, H)
        gemm_serial(False, False, 1.0, aux[base : base + B], w_n_t, 0.0, g_n_all)
        for b in range(B):
            row = base + b
            hp = hs[row]
            hq = hs[row + B]
            if t < lengths[b]:
                x_n = xw[row][H2:]
                q_n = gh[b][H2:]
                g = gates[row]
                g_n = g[H2:]
                for j in range(H):
                    g_n[j] = tanh_(x_n[j] + q_n[j] + b_n[j])
                g_z = g[H:H2]
                for j in range(H):
                    hq[j] = g_n[j] + g_z[j] * (hp[j] - g_n[j])
            else:
                for j in range(H):
                    hq[j] = hp[j]


@kernel
def _bwd_reset_after(d_out, d_hn, w_hh, lengths, hs, gates, aux,  # type: ignore[no-untyped-def]
                     d_xw, dan_all, d_b_ih, d_b_hh, dh, dprev):
    B = lengths.shape[0]
    T = d_xw.shape[0] // B
    H = w_hh.shape[1]
    H2 = 2 * H
    H3 = 3 * H
    one = w_hh.dtype.type(1.0)
    zero = w_hh.dtype.type(0.0)
    for b in range(B):
        for j in range(H):
            dh[b, j] = d_hn[b, j]
    # While the loop runs, d_xw's n block holds the gradient of (h W_hn^T + b_hn), i.e.
    # dan * r, so that d_xw[t] is exactly the left operand of dh_{t-1} += d(gh) @ W_hh and
    # d_W_hh = d_xw^T @ h_prev is one GEMM. dan itself waits in dan_all and is copied back last.
    for t in range(T - 1, -1, -1):
        base = t * B
        for b in range(B):
            row = base + b
            dx = d_xw[row]
            dp = dprev[b]
            dhb = dh[b]
            if t < lengths[b]:
                do = d_out[row]
                for j in range(H):
                    dhb[j] += do[j]
                g = gates[row]
                g_r = g[:H]
                g_z = g[H:H2]
                g_n = g[H2:]
                dan = dan_all[row]
                for j in range(H):
                    dan[j] = dhb[j] * (one - g_z[j]) * (one - g_n[j] * g_n[j])
                dx_n = dx[H2:]
                for j in range(H):
                    dx_n[j] = dan[j] * g_r[j]
                a = aux[row]
                dx_r = dx[:H]
                for j in range(H):
                    dx_r[j] = dan[j] * a[j] * g_r[j] * (one - g_r[j])
                hp = hs[row]
                dx_z = dx[H:H2]
                for j in range(H):
                    dx_z[j] = dhb[j] * (hp[j] - g_n[j]) * g_z[j] * (one - g_z[j])
                for j in range(H):
                    dp[j] = dhb[j] * g_z[j]
            else:
                for j in range(H3):
                    dx[j] = zero
                dan = dan_all[row]
                for j in range(H):
                    dan[j] = zero
                for j in range(H):
                    dp[j] = dhb[j]
        # dh_{t-1} = dh * z + d(gh) @ W_hh
        gemm_serial(False, False, 1.0, d_xw[base : base + B], w_hh, 1.0, dprev)
        dh, dprev = dprev, dh
    # After the loop: dan goes into d_xw's n block (the gradient of xw) and dan * r into
    # dan_all, whose transpose times h_prev is the n block of d_W_hh (the caller's GEMM).
    rows = T * B
    for j in range(H3):
        d_b_hh[j] = zero
        d_b_ih[j] = zero
    for row in range(rows):
        dx = d_xw[row]
        for j in range(H3):
            d_b_hh[j] += dx[j]
        dan = dan_all[row]
        dx_n = dx[H2:]
        for j in range(H):
            swap = dx_n[j]
            dx_n[j] = dan[j]
            dan[j] = swap
        for j in range(H3):
            d_b_ih[j] += dx[j]
    return dh


@kernel
def _bwd_reset_before(d_out, d_hn, w_hh, lengths, hs, gates, aux,  # type: ignore[no-untyped-def]
                      d_xw, d_b_ih, d_b_hh, dh, drh, dprev):
    B = lengths.shape[0]
    T = d_xw.shape[0] // B
    H = w_hh.shape[1]
    H2 = 2 * H
    H3 = 3 * H
    one = w_hh.dtype.type(1.0)
    zero = w_hh.dtype.type(0.0)
    w_rz = w_hh[:H2]
    w_n = w_hh[H2:]
    for b in range(B):
        for j in range(H):
            dh[b, j] = d_hn[b, j]
    for t in range(T - 1, -1, -1):
        base = t * B
        for b in range(B):
            row = base + b
            dx = d_xw[row]
            dhb = dh[b]
            if t < lengths[b]:
                do = d_out[row]
                for j in range(H):
                    dhb[j] += do[j]
                g = gates[row]
                g_z = g[H:H2]
                g_n = g[H2:]
                dx_n = dx[H2:]
                for j in range(H):
                    dx_n[j] = dhb[j] * (one - g_z[j]) * (one - g_n[j] * g_n[j])
            else:
                for j in range(H3):
                    dx[j] = zero
        # d(r * h_{t-1}) = dan @ W_hn   (B, H)
        gemm_serial(False, False, 1.0, d_xw[base : base + B, H2:], w_n, 0.0, drh)
        for b in range(B):
            row = base + b
            dp = dprev[b]
            dhb = dh[b]
            if t < lengths[b]:
                dx = d_xw[row]
                hp = hs[row]
                g = gates[row]
                g_r = g[:H]
                g_z = g[H:H2]
                g_n = g[H2:]
                q = drh[b]
                dx_r = dx[:H]
                for j in range(H):
                    dx_r[j] = q[j] * hp[j] * g_r[j] * (one - g_r[j])
                dx_z = dx[H:H2]
                for j in range(H):
                    dx_z[j] = dhb[j] * (hp[j] - g_n[j]) * g_z[j] * (one - g_z[j])
                for j in range(H):
                    dp[j] = dhb[j] * g_z[j] + q[j] * g_r[j]
            else:
                for j in range(H):
                    dp[j] = dhb[j]
        # dh_{t-1} += [dar | daz] @ [W_hr; W_hz]
        gemm_serial(False, False, 1.0, d_xw[base : base + B, :H2], w_rz, 1.0, dprev)
        dh, dprev = dprev, dh
    rows = T * B
    for j in range(H3):
        d_b_hh[j] = zero
    for row in range(rows):
        dx = d_xw[row]
        for j in range(H3):
            d_b_hh[j] += dx[j]
    for j in range(H3):
        d_b_ih[j] = d_b_hh[j]  # both biases sit outside every product here
    return dh


# ----------------------------------------------------------------------------------------------
# Python API
# ----------------------------------------------------------------------------------------------
def gru_forward(
    xw: np.ndarray,
    w_hh: np.ndarray,
    b_hh: np.ndarray,
    h0: np.ndarray,
    lengths: np.ndarray | None,
    reset_after: bool = True,
    b_ih: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, GRUCache]:
    """Run a GRU layer over a whole sequence (forward time order).

    xw (T, B, 3H) = x @ W_ih.T (gates r, z, n; plus b_ih unless given as ``b_ih``, which the
    kernel adds itself); w_hh (3H, H);
    b_hh (3H,) (zeros for a layer without bias); h0 (B, H); lengths None or int (B,) with
    1 <= lengths[b] <= T. All float arrays share one dtype, float32 or float64.

    Returns ``out`` (T, B, H) (zero at padded steps), ``h_n`` (B, H) (each row's state after
    its own last step) and the cache for :func:`gru_backward`.
    """
    dt = float_dtype("xw", xw)
    xw = np.asarray(xw)
    if xw.ndim != 3 or min(xw.shape) < 1 or xw.shape[2] % 3:
        raise ValueError(f"xw must be (T, B, 3H) with T, B, H >= 1, got shape {xw.shape}")
    T, B, H3 = xw.shape
    H = H3 // 3
    xw = check_array("xw", xw, dt, (T, B, H3))
    w_hh = check_array("w_hh", w_hh, dt, (H3, H))
    b_hh = check_array("b_hh", b_hh, dt, (H3,))
    b_ih = np.zeros_like(b_hh) if b_ih is None else check_array("b_ih", b_ih, dt, (H3,))
    h0 = check_array("h0", h0, dt, (B, H))
    lens = as_lengths(lengths, T, B)
    dt = xw.dtype
    hs = np.empty(((T + 1) * B, H), dtype=dt)
    hs[:B] = h0
    gates = np.empty((T * B, H3), dtype=dt)
    aux = np.empty((T * B, H), dtype=dt)
    gh = np.empty((B, H3), dtype=dt)
    fwd = _fwd_reset_after if reset_after else _fwd_reset_before
    fwd(xw.reshape(T * B, H3), np.ascontiguousarray(w_hh.T), b_ih, b_hh, lens, hs, gates, aux, gh)
    out = hs[B:].reshape(T, B, H).copy()
    if lengths is not None:
        out[np.arange(T)[:, None] >= lens[None, :]] = 0.0
    h_n = hs[T * B :].copy()
    return out, h_n, GRUCache(hs, gates, aux, lens, bool(reset_after))


def gru_backward(
    d_out: np.ndarray,
    d_hn: np.ndarray,
    w_hh: np.ndarray,
    b_hh: np.ndarray,
    cache: GRUCache,
    reset_after: bool = True,
    d_b_ih: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`gru_forward` given ``d_out`` (T, B, H) and ``d_hn`` (B, H).

    Returns ``(d_xw, d_w_hh, d_b_hh, d_h0)`` with the shapes of ``xw``, ``w_hh``, ``b_hh`` and
    ``h0``. ``d_xw`` is also the gradient of ``b_ih`` once summed over (T, B); given ``d_b_ih``,
    a C-contiguous (3H,) array of the same dtype, the kernel writes that sum into it.
    """
    if bool(reset_after) != cache.reset_after:
        raise ValueError("reset_after differs from the one the forward pass used")
    dt = cache.hs.dtype
    B = cache.lengths.shape[0]
    H = cache.hs.shape[1]
    T = cache.gates.shape[0] // B
    d_out = check_array("d_out", d_out, dt, (T, B, H))
    d_hn = check_array("d_hn", d_hn, dt, (B, H))
    w_hh = check_array("w_hh", w_hh, dt, (3 * H, H))
    b_hh = check_array("b_hh", b_hh, dt, (3 * H,))
    d_xw = np.empty((T * B, 3 * H), dtype=dt)
    d_b_hh = np.empty(3 * H, dtype=dt)
    d_b_ih = check_out("d_b_ih", d_b_ih, (3 * H,), dt)
    dh = np.empty((B, H), dtype=dt)
    dprev = np.empty((B, H), dtype=dt)
    d2 = d_out.reshape(T * B, H)
    h_prev = cache.hs[: T * B]
    if reset_after:
        dan_r = np.empty((T * B, H), dtype=dt)  # dan * r once the kernel returns
        d_h0 = _bwd_reset_after(d2, d_hn, w_hh, cache.lengths, cache.hs, cache.gates, cache.aux,
                                d_xw, dan_r, d_b_ih, d_b_hh, dh, dprev)
        operands = ((d_xw[:, : 2 * H], h_prev), (dan_r, h_prev))
    else:
        drh = np.empty((B, H), dtype=dt)
        d_h0 = _bwd_reset_before(d2, d_hn, w_hh, cache.lengths, cache.hs, cache.gates,
                                 cache.aux, d_xw, d_b_ih, d_b_hh, dh, drh, dprev)
        operands = ((d_xw[:, : 2 * H], h_prev), (d_xw[:, 2 * H :], cache.aux))

    # d_W_hh = [d(r, z) pre-activations; d(n) recurrent term]^T @ [h_prev; h_prev or r * h]
    d_w_hh = np.concatenate([matmul_serial(g, h, trans_a=True) for g, h in operands])
    return d_xw.reshape(T, B, 3 * H), d_w_hh, d_b_hh, d_h0
