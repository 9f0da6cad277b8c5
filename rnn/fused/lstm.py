"""Whole-sequence LSTM recurrence, forward and hand-written backward (BPTT), on raw arrays.

The input projection is NOT done here: the caller computes, in one large GEMM over all time
steps, ``xw = x @ W_ih.T`` (gates stacked i, f, g, o as in PyTorch); the kernels add the
``bias`` b = b_ih + b_hh and run only what depends on the previous state. Per step t (rows
with ``t < lengths[b]``)::

    z   = xw[t] + b + h_{t-1} @ w_hh.T             (B, 4H)   the recurrent GEMM, via OpenBLAS
    i, f, g, o = sigma(z_i), sigma(z_f), tanh(z_g), sigma(z_o)
    c_t = f * c_{t-1} + i * g
    m_t = o * tanh(c_t)                            (B, H)
    h_t = m_t @ w_hr.T if projecting else m_t      (B, P)

Rows past their length carry (h, c) unchanged and output zeros, so ``h_n``/``c_n`` hold each
row's state after its own last step (PyTorch's packed-sequence semantics, forward direction).

Backward: one reverse sweep with only ``dz_t @ w_hh`` (and ``dh_t @ w_hr``) inside the loop;
the weight gradients are ONE large GEMM each after the loop:
``d_w_hh = dZ(T*B, 4H).T @ H_prev(T*B, P)`` and ``d_w_hr = dH(T*B, P).T @ M(T*B, H)``.
``d_xw`` is ``dZ``; the caller gets ``dW_ih = d_xw.T @ x`` and ``dx = d_xw @ W_ih`` with its
own large GEMMs, while the sweep sums ``db_ih = db_hh = d_xw.sum((0, 1))`` as it goes.

Shape legend: T steps, B batch, H hidden size, P = proj_size if projecting else H.

Arrays: all float arguments must share one dtype, float32 or float64 (no silent casting; a
``TypeError`` names the offender). Inputs that are not C-contiguous or not writeable are copied
(``np.ascontiguousarray``), so the compiled kernels see exactly one signature per dtype.
The kernels release the GIL: two calls (e.g. the two directions of a bidirectional layer) can
run concurrently with :func:`rnn.backend.run_parts`; so can parts of one batch, which
the fused layers do by their thread setting (:func:`rnn.fused_ops.plan`). Every GEMM inside the
kernels runs on the calling thread alone (:func:`rnn.backend.gemm_serial`); the weight
gradients are large GEMMs after the sweep, the same way (:func:`rnn.backend.matmul_serial`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from rnn.backend import gemm_serial, inline_kernel, kernel, matmul_serial, sigmoid_, tanh_

from .checks import as_lengths, check_array, check_out, float_dtype

__all__ = ["LSTMCache", "lstm_backward", "lstm_forward"]

class LSTMCache(NamedTuple):
    """What :func:`lstm_forward` keeps for :func:`lstm_backward` (see there for the shapes)."""

    gates: np.ndarray
    cs: np.ndarray
    tcs: np.ndarray
    hs: np.ndarray
    ms: np.ndarray
    lengths: np.ndarray


# ---------------------------------------------------------------------------------------------
# compiled kernels (one signature per dtype; the wrappers allocate every array with numpy, whose
# large allocations use transparent huge pages: with Numba's allocator, page faults on ~100 MB of
# fresh buffers per call cost more than the gate math)
# ---------------------------------------------------------------------------------------------
@inline_kernel
def _cell_forward_row(zr, xr, br, ar, c_prev, c_new, tc, m):  # type: ignore[no-untyped-def]
    """One batch row of the cell: z = zr + xr + br (4H,) -> activations ar, c_new, tanh(c_new), m.

    A separate function on purpose: with 1-D arguments LLVM vectorises the loop; written
    inline in the time loop, it fell back to the scalar loop (5x slower). It is vectorised
    alone and then inlined into _forward_kernel (:func:`rnn.backend.inline_kernel`: a
    called copy made cold and warm caches give different last bits).
    """
    H = c_prev.shape[0]
    for j in range(H):
        ig = sigmoid_(zr[j] + xr[j] + br[j])
        fg = sigmoid_(zr[H + j] + xr[H + j] + br[H + j])
        gg = tanh_(zr[2 * H + j] + xr[2 * H + j] + br[2 * H + j])
        og = sigmoid_(zr[3 * H + j] + xr[3 * H + j] + br[3 * H + j])
        c = fg * c_prev[j] + ig * gg
        tch = tanh_(c)
        ar[j] = ig
        ar[H + j] = fg
        ar[2 * H + j] = gg
        ar[3 * H + j] = og
        c_new[j] = c
        tc[j] = tch
        m[j] = og * tch


@inline_kernel
def _cell_backward_row(ar, tc, c_prev, sr, dcr, dzr):  # type: ignore[no-untyped-def]
    """One batch row of the cell's backward: sr = dL/dm_t (H,), dcr = dL/dc_t from later steps
    (updated in place to the part of dL/dc_{t-1} that flows through c) -> dzr = dL/dz_t (4H,)."""
    H = tc.shape[0]
    one = ar.dtype.type(1.0)  # a literal 1.0 would promote float32 math to float64
    for j in range(H):
        ig = ar[j]
        fg = ar[H + j]
        gg = ar[2 * H + j]
        og = ar[3 * H + j]
        tch = tc[j]
        dmj = sr[j]
        dcj = dcr[j] + dmj * og * (one - tch * tch)
        dcr[j] = dcj * fg
        dzr[j] = dcj * gg * ig * (one - ig)
        dzr[H + j] = dcj * c_prev[j] * fg * (one - fg)
        dzr[2 * H + j] = dcj * ig * (one - gg * gg)
        dzr[3 * H + j] = dmj * tch * og * (one - og)


@inline_kernel
def _add_row(src, dst):  # type: ignore[no-untyped-def]
    """dst += src, for the bias gradient.

    NOTE: a loop of its own. Adding into dst inside _cell_backward_row (a third array written
    there) made that loop markedly slower (docs/fused-kernels.md), while
    this loop over a row still in L1 costs almost nothing.
    """
    for j in range(src.shape[0]):
        dst[j] += src[j]


@kernel
def _forward_kernel(xw, bias, w_hh_t, w_hr_t, lengths, gates, cs, tcs, hs, ms, z, out):  # type: ignore[no-untyped-def]  # noqa: E501
    """In: xw, the TRANSPOSED weights w_hh_t = w_hh.T (P, 4H) and w_hr_t = w_hr.T (H, P)
    ((0, 0) when not projecting), lengths; cs[0] = c0, hs[0] = h0.
    Fills gates, cs[1:], tcs, hs[1:], ms, and out unless out is empty (then hs[1:] is out).
    Why transposed: OpenBLAS runs h @ W (no-trans, no-trans) faster than h @ W.T at these small
    batch sizes (docs/fused-kernels.md)."""
    T, B, G = xw.shape
    proj = w_hr_t.shape[0] > 0
    write_out = out.shape[0] > 0
    for t in range(T):
        gemm_serial(False, False, 1.0, hs[t], w_hh_t, 0.0, z)
        for b in range(B):
            if t < lengths[b]:
                m = ms[t, b] if proj else hs[t + 1, b]
                _cell_forward_row(z[b], xw[t, b], bias, gates[t, b], cs[t, b], cs[t + 1, b],
                                  tcs[t, b], m)
            else:
                cs[t + 1, b, :] = cs[t, b]
                gates[t, b, :] = 0
                tcs[t, b, :] = 0
                if proj:
                    ms[t, b, :] = 0
                else:
                    hs[t + 1, b, :] = hs[t, b]
        if proj:
            gemm_serial(False, False, 1.0, ms[t], w_hr_t, 0.0, hs[t + 1])
            for b in range(B):
                if t >= lengths[b]:
                    hs[t + 1, b, :] = hs[t, b]
        if write_out:
            for b in range(B):
                if t < lengths[b]:
                    out[t, b, :] = hs[t + 1, b]
                else:
                    out[t, b, :] = 0


@kernel
def _backward_kernel(d_out, w_hh, w_hr, gates, cs, tcs, hs, ms, lengths,  # type: ignore[no-untyped-def]  # noqa: E501
                     dz, dhs, dh, dc, dh_next, dm, d_h0, d_bias):
    """In: d_out, weights, the cache; dh = d_hn and dc = d_cn (both overwritten).
    Fills dz (= d_xw), dhs (dL/dh_t when projecting), d_h0, dc (= d_c0) and d_bias (= dz
    summed over all (t, b), the gradient of a bias inside xw). The weight gradients are the
    caller's large GEMMs over these (:func:`lstm_backward`)."""
    T, B, G = gates.shape
    proj = w_hr.shape[0] > 0
    d_bias[:] = 0
    for t in range(T - 1, -1, -1):
        # dh: gradient w.r.t. h_t, from step t + 1 (and d_hn) plus this step's output
        for b in range(B):
            if t < lengths[b]:
                dh[b, :] += d_out[t, b]
        if proj:
            for b in range(B):
                if t < lengths[b]:
                    dhs[t, b, :] = dh[b]
                else:
                    dhs[t, b, :] = 0
            gemm_serial(False, False, 1.0, dhs[t], w_hr, 0.0, dm)
            src = dm
        else:
            src = dh
        for b in range(B):
            if t < lengths[b]:
                _cell_backward_row(gates[t, b], tcs[t, b], cs[t, b], src[b], dc[b], dz[t, b])
                _add_row(dz[t, b], d_bias)
            else:
                dz[t, b, :] = 0
        gemm_serial(False, False, 1.0, dz[t], w_hh, 0.0, dh_next)
        for b in range(B):
            if t >= lengths[b]:
                dh_next[b, :] = dh[b]
        dh, dh_next = dh_next, dh
    d_h0[:, :] = dh


# ---------------------------------------------------------------------------------------------
# Python wrappers: validation and normalisation at the public boundary
# ---------------------------------------------------------------------------------------------
def lstm_forward(
    xw: np.ndarray,
    w_hh: np.ndarray,
    w_hr: np.ndarray | None,
    h0: np.ndarray,
    c0: np.ndarray,
    lengths: ArrayLike | None = None,
    bias: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, LSTMCache]:
    """Run the LSTM recurrence over a whole sequence.

    Args:
        xw: (T, B, 4H) input projections ``x @ W_ih.T`` (plus any bias not given as ``bias``),
            gates i, f, g, o.
        w_hh: (4H, P) recurrent weights (PyTorch's ``weight_hh_l{k}``).
        w_hr: (P, H) projection weights (PyTorch's ``weight_hr_l{k}``), or None (then P = H).
        h0: (B, P) and c0: (B, H) initial states.
        lengths: None, or (B,) integers in [1, T] (any integer array-like); steps
            t >= lengths[b] leave row b's state unchanged and give out[t, b] = 0.
        bias: None, or (4H,) added to every row of ``xw`` inside the kernel (``b_ih + b_hh``),
            which saves a separate pass over xw.

    Returns:
        ``(out, h_n, c_n, cache)``: out (T, B, P), h_n (B, P), c_n (B, H), and
        ``cache = (gates, cs, tcs, hs, ms, lengths)`` for :func:`lstm_backward`:
        gates (T, B, 4H) activations i, f, g, o; cs (T+1, B, H) cell states with cs[0] = c0;
        tcs (T, B, H) = tanh(c_t); hs (T+1, B, P) hidden states with hs[0] = h0 (carried, not
        zeroed, past a row's length); ms (T, B, H) = o * tanh(c_t) when projecting, else an
        empty (0, B, H) array; lengths (B,) int64 (all T when none were given).
        Padded steps hold zeros in gates/tcs/ms. Treat the cache as read-only.
        When no row is padded, ``out`` is a read-only view of ``hs[1:]`` (no copy); with
        padding it is a fresh array. h_n and c_n are always fresh arrays.
    """
    dt = float_dtype("xw", xw)
    xw = np.asarray(xw)
    if xw.ndim != 3 or xw.shape[2] % 4 != 0 or xw.shape[0] < 1 or xw.shape[1] < 1:
        raise ValueError(f"xw must have shape (T>=1, B>=1, 4H), got {xw.shape}")
    T, B, G = xw.shape
    H = G // 4
    xw = check_array("xw", xw, dt, (T, B, G))
    if w_hr is None:
        P = H
        w_hr_arr = np.zeros((0, 0), dtype=dt)
    else:
        P = np.asarray(w_hr).shape[0]
        w_hr_arr = check_array("w_hr", w_hr, dt, (P, H))
    w_hh = check_array("w_hh", w_hh, dt, (G, P))
    h0 = check_array("h0", h0, dt, (B, P))
    c0 = check_array("c0", c0, dt, (B, H))
    lens = as_lengths(lengths, T, B)
    b = np.zeros(G, dtype=dt) if bias is None else check_array("bias", bias, dt, (G,))
    proj = w_hr is not None
    gates = np.empty((T, B, G), dtype=dt)
    cs = np.empty((T + 1, B, H), dtype=dt)
    tcs = np.empty((T, B, H), dtype=dt)
    hs = np.empty((T + 1, B, P), dtype=dt)
    ms = np.empty((T if proj else 0, B, H), dtype=dt)
    z = np.empty((B, G), dtype=dt)
    padded = bool((lens < T).any())
    out = np.empty((T if padded else 0, B, P), dtype=dt)
    cs[0] = c0
    hs[0] = h0
    # one transposed copy per call, so every step's GEMM is no-trans (see _forward_kernel)
    w_hh_t = np.ascontiguousarray(w_hh.T)
    w_hr_t = np.ascontiguousarray(w_hr_arr.T)
    _forward_kernel(xw, b, w_hh_t, w_hr_t, lens, gates, cs, tcs, hs, ms, z, out)
    if not padded:
        out = hs[1:]
        out.flags.writeable = False  # a view of the cache: in-place edits would corrupt it
    h_n = hs[T].copy()
    c_n = cs[T].copy()
    return out, h_n, c_n, LSTMCache(gates, cs, tcs, hs, ms, lens)


def lstm_backward(
    d_out: np.ndarray,
    d_hn: np.ndarray,
    d_cn: np.ndarray,
    w_hh: np.ndarray,
    w_hr: np.ndarray | None,
    cache: LSTMCache,
    d_bias: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Gradients of the recurrence (BPTT) given the cotangents of ``lstm_forward``'s outputs.

    Args:
        d_out: (T, B, P), d_hn: (B, P), d_cn: (B, H) cotangents (pass zeros for unused ones);
            d_out at padded steps is ignored.
        w_hh, w_hr: the weights given to :func:`lstm_forward`.
        cache: the cache returned by :func:`lstm_forward`.
        d_bias: None, or a C-contiguous (4H,) array of xw's dtype that receives ``d_xw``
            summed over all (t, b) (the gradient of ``bias``), added up during the sweep.

    Returns:
        ``(d_xw, d_w_hh, d_w_hr, d_h0, d_c0)`` with the shapes of ``xw, w_hh, w_hr, h0, c0``;
        ``d_w_hr`` is None when ``w_hr`` is None. Padded steps contribute nothing, and
        ``d_xw`` is zero there. Every GEMM runs on the calling thread alone (the weight
        gradients too: one product each over all T * B rows, after the sweep).
    """
    gates, cs, tcs, hs, ms, lens = cache
    dt = gates.dtype
    T, B, G = gates.shape
    H = G // 4
    P = hs.shape[2]
    d_out = check_array("d_out", d_out, dt, (T, B, P))
    d_hn = check_array("d_hn", d_hn, dt, (B, P))
    d_cn = check_array("d_cn", d_cn, dt, (B, H))
    w_hh = check_array("w_hh", w_hh, dt, (G, P))
    if w_hr is None:
        if ms.shape[0] != 0:
            raise ValueError("w_hr is None but the forward pass used a projection")
        w_hr_arr = np.zeros((0, 0), dtype=dt)
    else:
        w_hr_arr = check_array("w_hr", w_hr, dt, (P, H))
        if ms.shape[0] != T:
            raise ValueError("w_hr given but the forward pass used no projection")
    proj = w_hr is not None
    d_xw = np.empty((T, B, G), dtype=dt)
    dhs = np.empty((T if proj else 0, B, P), dtype=dt)
    dh = d_hn.copy()
    d_c0 = d_cn.copy()
    d_h0 = np.empty((B, P), dtype=dt)
    scratch_h = np.empty((B, P), dtype=dt)
    scratch_m = np.empty((B, H), dtype=dt)
    d_bias = check_out("d_bias", d_bias, (G,), dt)
    _backward_kernel(d_out, w_hh, w_hr_arr, gates, cs, tcs, hs, ms, lens,
                     d_xw, dhs, dh, d_c0, scratch_h, scratch_m, d_h0, d_bias)

    # the weight gradients: one large GEMM each over all T * B rows
    d_w_hh = matmul_serial(d_xw.reshape(T * B, G), hs[:T].reshape(T * B, P), trans_a=True)
    d_w_hr = (matmul_serial(dhs.reshape(T * B, P), ms.reshape(T * B, H), trans_a=True)
              if proj else None)
    return d_xw, d_w_hh, d_w_hr, d_h0, d_c0
