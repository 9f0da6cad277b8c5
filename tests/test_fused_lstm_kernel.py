"""The fused LSTM sequence kernels (rnn.fused.lstm) against independent references.

- a plain numpy step-by-step LSTM (forward), written here from the equations;
- central finite differences of that reference in float64 (gradients by a different route);
- torch.nn.LSTM with packed sequences and proj_size as an oracle, when torch is installed;
- float32 against float64; the padding contract; input validation; concurrency; the fallback GEMM.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnn.backend import run_parts
from rnn.fused.lstm import lstm_backward, lstm_forward

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F64: dict[str, Any] = {"rtol": 1e-10, "atol": 1e-10}


# ---------------------------------------------------------------------------------------------
# the reference: one step at a time, straight from the equations
# ---------------------------------------------------------------------------------------------
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def ref_forward(xw, w_hh, w_hr, h0, c0, lengths):  # type: ignore[no-untyped-def]
    T, B, G = xw.shape
    H = G // 4
    lens = np.full(B, T) if lengths is None else np.asarray(lengths)
    h, c = h0.copy(), c0.copy()
    out = np.zeros((T, B, h0.shape[1]), xw.dtype)
    for t in range(T):
        z = xw[t] + h @ w_hh.T
        i, f = _sigmoid(z[:, :H]), _sigmoid(z[:, H : 2 * H])
        g, o = np.tanh(z[:, 2 * H : 3 * H]), _sigmoid(z[:, 3 * H :])
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        if w_hr is not None:
            h_new = h_new @ w_hr.T
        active = (t < lens)[:, None]
        c = np.where(active, c_new, c)
        h = np.where(active, h_new, h)
        out[t] = np.where(active, h_new, 0.0)
    return out, h, c


# ---------------------------------------------------------------------------------------------
# problem generation
# ---------------------------------------------------------------------------------------------
class Problem:
    """Random LSTM inputs: xw, weights, states, lengths and cotangents (float64)."""

    def __init__(self, T: int, B: int, H: int, P: int | None, lengths: Any, seed: int,
                 scale: float = 0.6) -> None:
        rng = np.random.default_rng(seed)
        Pd = H if P is None else P
        self.T, self.B, self.H, self.P = T, B, H, Pd
        self.xw = rng.standard_normal((T, B, 4 * H)) * scale
        self.w_hh = rng.standard_normal((4 * H, Pd)) * scale
        self.w_hr = None if P is None else rng.standard_normal((Pd, H)) * scale
        self.h0 = rng.standard_normal((B, Pd)) * scale
        self.c0 = rng.standard_normal((B, H)) * scale
        self.lengths = None if lengths is None else np.asarray(lengths, dtype=np.int64)
        self.d_out = rng.standard_normal((T, B, Pd))
        self.d_hn = rng.standard_normal((B, Pd))
        self.d_cn = rng.standard_normal((B, H))

    def inputs(self, dt: Any = np.float64) -> tuple[Any, ...]:
        cast = lambda a: None if a is None else a.astype(dt)
        return (cast(self.xw), cast(self.w_hh), cast(self.w_hr), cast(self.h0), cast(self.c0),
                self.lengths)

    def run(self, dt: Any = np.float64) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        xw, w_hh, w_hr, h0, c0, lens = self.inputs(dt)
        out, h_n, c_n, cache = lstm_forward(xw, w_hh, w_hr, h0, c0, lens)
        grads = lstm_backward(self.d_out.astype(dt), self.d_hn.astype(dt), self.d_cn.astype(dt),
                              w_hh, w_hr, cache)
        return (out, h_n, c_n), grads

    def ref_loss(self, xw, w_hh, w_hr, h0, c0) -> float:  # type: ignore[no-untyped-def]
        out, h_n, c_n = ref_forward(xw, w_hh, w_hr, h0, c0, self.lengths)
        return float((out * self.d_out).sum() + (h_n * self.d_hn).sum() + (c_n * self.d_cn).sum())


@st.composite
def problems(draw: Any, max_T: int = 6, max_B: int = 4, max_H: int = 5) -> Problem:
    T = draw(st.integers(1, max_T))
    B = draw(st.integers(1, max_B))
    H = draw(st.integers(1, max_H))
    P = draw(st.one_of(st.none(), st.integers(1, H - 1))) if H > 1 else None
    lengths = draw(st.one_of(st.none(), st.lists(st.integers(1, T), min_size=B, max_size=B)))
    seed = draw(st.integers(0, 2**31 - 1))
    return Problem(T, B, H, P, lengths, seed)


# ---------------------------------------------------------------------------------------------
# forward against the reference
# ---------------------------------------------------------------------------------------------
@given(problems())
def test_forward_matches_reference_float64(pb: Problem) -> None:
    (out, h_n, c_n), _ = pb.run()
    r_out, r_h, r_c = ref_forward(*pb.inputs())
    assert out.shape == (pb.T, pb.B, pb.P) and h_n.shape == (pb.B, pb.P)
    assert c_n.shape == (pb.B, pb.H)
    assert out.dtype == h_n.dtype == c_n.dtype == np.float64
    np.testing.assert_allclose(out, r_out, **F64)
    np.testing.assert_allclose(h_n, r_h, **F64)
    np.testing.assert_allclose(c_n, r_c, **F64)


@given(problems())
def test_forward_cache_contents(pb: Problem) -> None:
    xw, w_hh, w_hr, h0, c0, lens = pb.inputs()
    out, h_n, c_n, cache = lstm_forward(xw, w_hh, w_hr, h0, c0, lens)
    gates, cs, tcs, hs, ms, lengths = cache
    T, B, H = pb.T, pb.B, pb.H
    full = np.full(B, T) if lens is None else lens
    np.testing.assert_array_equal(lengths, full)
    np.testing.assert_array_equal(cs[0], c0)
    np.testing.assert_array_equal(hs[0], h0)
    np.testing.assert_array_equal(cs[T], c_n)
    np.testing.assert_array_equal(hs[T], h_n)
    assert ms.shape == ((T, B, H) if w_hr is not None else (0, B, H))
    active = np.arange(T)[:, None] < full[None, :]
    np.testing.assert_allclose(tcs[active], np.tanh(cs[1:][active]), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(gates[~active], 0.0)
    assert ((gates[active] >= -1) & (gates[active] <= 1)).all()


# ---------------------------------------------------------------------------------------------
# gradients: finite differences of the reference (float64)
# ---------------------------------------------------------------------------------------------
@given(problems(max_T=4, max_B=3, max_H=4))
def test_gradients_match_finite_differences(pb: Problem) -> None:
    _, (d_xw, d_w_hh, d_w_hr, d_h0, d_c0) = pb.run()
    xw, w_hh, w_hr, h0, c0, _ = pb.inputs()
    args = {"xw": xw, "w_hh": w_hh, "w_hr": w_hr, "h0": h0, "c0": c0}
    grads = {"xw": d_xw, "w_hh": d_w_hh, "w_hr": d_w_hr, "h0": d_h0, "c0": d_c0}
    assert (d_w_hr is None) == (w_hr is None)
    eps = 1e-6
    rng = np.random.default_rng(0)
    for name, value in args.items():
        if value is None:
            continue
        assert grads[name].shape == value.shape, name
        for _ in range(3):  # directional derivatives along random directions
            v = rng.standard_normal(value.shape)
            plus = dict(args, **{name: value + eps * v})
            minus = dict(args, **{name: value - eps * v})
            numeric = (pb.ref_loss(**plus) - pb.ref_loss(**minus)) / (2 * eps)
            analytic = float((grads[name] * v).sum())
            assert abs(numeric - analytic) <= 1e-7 * (1 + abs(numeric)), (name, numeric, analytic)


def test_gradients_elementwise_finite_differences_tiny() -> None:
    """Every single entry, on a tiny padded, projected problem."""
    pb = Problem(T=3, B=2, H=3, P=2, lengths=[3, 2], seed=7)
    _, (d_xw, d_w_hh, d_w_hr, d_h0, d_c0) = pb.run()
    xw, w_hh, w_hr, h0, c0, _ = pb.inputs()
    args = {"xw": xw, "w_hh": w_hh, "w_hr": w_hr, "h0": h0, "c0": c0}
    grads = {"xw": d_xw, "w_hh": d_w_hh, "w_hr": d_w_hr, "h0": d_h0, "c0": d_c0}
    eps = 1e-6
    for name, value in args.items():
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            bump = np.zeros_like(value)
            bump[idx] = eps
            numeric[idx] = (pb.ref_loss(**dict(args, **{name: value + bump}))
                            - pb.ref_loss(**dict(args, **{name: value - bump}))) / (2 * eps)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-8, err_msg=name)


# ---------------------------------------------------------------------------------------------
# torch.nn.LSTM as oracle (packed sequences, proj_size), float64 to 1e-10
# ---------------------------------------------------------------------------------------------
@given(problems(max_T=5, max_B=4, max_H=5), st.integers(1, 4))
def test_matches_torch_lstm_float64(pb: Problem, input_size: int) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(pb.T * 1000 + pb.B)
    T, B, H, P = pb.T, pb.B, pb.H, pb.P
    proj = pb.w_hr is not None
    x = rng.standard_normal((T, B, input_size))
    w_ih = rng.standard_normal((4 * H, input_size)) * 0.5
    b_ih = rng.standard_normal(4 * H) * 0.5
    b_hh = rng.standard_normal(4 * H) * 0.5

    lstm = torch.nn.LSTM(input_size, H, proj_size=P if proj else 0).double()
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(w_ih))
        lstm.weight_hh_l0.copy_(torch.from_numpy(pb.w_hh))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b_ih))
        lstm.bias_hh_l0.copy_(torch.from_numpy(b_hh))
        if proj:
            lstm.weight_hr_l0.copy_(torch.from_numpy(pb.w_hr))
    xt = torch.from_numpy(x).requires_grad_(True)
    h0t = torch.from_numpy(pb.h0[None]).requires_grad_(True)
    c0t = torch.from_numpy(pb.c0[None]).requires_grad_(True)
    lens = np.full(B, T) if pb.lengths is None else pb.lengths
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.from_numpy(lens),
                                                     enforce_sorted=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "projections not supported with oneDNN"
        out_p, (h_n, c_n) = lstm(packed, (h0t, c0t))
    out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_p, total_length=T)
    loss = ((out_t * torch.from_numpy(pb.d_out)).sum() + (h_n[0] * torch.from_numpy(pb.d_hn)).sum()
            + (c_n[0] * torch.from_numpy(pb.d_cn)).sum())
    loss.backward()

    xw = x @ w_ih.T + b_ih + b_hh
    out, hn, cn, cache = lstm_forward(xw, pb.w_hh, pb.w_hr, pb.h0, pb.c0, pb.lengths)
    d_xw, d_w_hh, d_w_hr, d_h0, d_c0 = lstm_backward(pb.d_out, pb.d_hn, pb.d_cn, pb.w_hh,
                                                     pb.w_hr, cache)
    np.testing.assert_allclose(out, out_t.detach().numpy(), **F64)
    np.testing.assert_allclose(hn, h_n[0].detach().numpy(), **F64)
    np.testing.assert_allclose(cn, c_n[0].detach().numpy(), **F64)
    d2 = d_xw.reshape(T * B, 4 * H)
    np.testing.assert_allclose(d2 @ w_ih, xt.grad.numpy().reshape(T * B, -1), **F64)
    np.testing.assert_allclose(d2.T @ x.reshape(T * B, -1), lstm.weight_ih_l0.grad.numpy(), **F64)
    np.testing.assert_allclose(d2.sum(0), lstm.bias_ih_l0.grad.numpy(), **F64)
    np.testing.assert_allclose(d2.sum(0), lstm.bias_hh_l0.grad.numpy(), **F64)
    np.testing.assert_allclose(d_w_hh, lstm.weight_hh_l0.grad.numpy(), **F64)
    if proj:
        assert d_w_hr is not None
        np.testing.assert_allclose(d_w_hr, lstm.weight_hr_l0.grad.numpy(), **F64)
    np.testing.assert_allclose(d_h0, h0t.grad.numpy()[0], **F64)
    np.testing.assert_allclose(d_c0, c0t.grad.numpy()[0], **F64)


# ---------------------------------------------------------------------------------------------
# float32 against float64
# ---------------------------------------------------------------------------------------------
def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b).max() / (1.0 + np.abs(b).max()))


@given(problems(max_T=12, max_B=5, max_H=9))
def test_float32_matches_float64(pb: Problem) -> None:
    fwd64, grads64 = pb.run(np.float64)
    fwd32, grads32 = pb.run(np.float32)
    for a, b in zip(fwd32, fwd64, strict=True):
        assert a.dtype == np.float32
        assert _rel_err(a, b) < 1e-5
    for a, b in zip(grads32, grads64, strict=True):
        if b is None:
            assert a is None
            continue
        assert a.dtype == np.float32
        assert _rel_err(a, b) < 1e-5


def test_float32_long_sequence_stays_close() -> None:
    pb = Problem(T=200, B=3, H=16, P=None, lengths=None, seed=3, scale=0.4)
    (o64, *_), g64 = pb.run(np.float64)
    (o32, *_), g32 = pb.run(np.float32)
    assert _rel_err(o32, o64) < 1e-5
    for a, b in zip(g32, g64, strict=True):
        if b is not None:
            assert _rel_err(a, b) < 3e-5


# ---------------------------------------------------------------------------------------------
# the padding contract
# ---------------------------------------------------------------------------------------------
@given(problems(max_T=6, max_B=4, max_H=4))
def test_padded_batch_equals_each_sequence_alone(pb: Problem) -> None:
    (out, h_n, c_n), (d_xw, d_w_hh, d_w_hr, d_h0, d_c0) = pb.run()
    lens = np.full(pb.B, pb.T) if pb.lengths is None else pb.lengths
    sum_w_hh = np.zeros_like(d_w_hh)
    sum_w_hr = None if d_w_hr is None else np.zeros_like(d_w_hr)
    for b in range(pb.B):
        L = int(lens[b])
        sl = (slice(0, L), slice(b, b + 1))
        o, hn, cn, cache = lstm_forward(pb.xw[sl], pb.w_hh, pb.w_hr, pb.h0[b : b + 1],
                                        pb.c0[b : b + 1])
        g = lstm_backward(pb.d_out[sl], pb.d_hn[b : b + 1], pb.d_cn[b : b + 1], pb.w_hh,
                          pb.w_hr, cache)
        np.testing.assert_allclose(out[:L, b], o[:, 0], **F64)
        np.testing.assert_array_equal(out[L:, b], 0.0)
        np.testing.assert_allclose(h_n[b], hn[0], **F64)
        np.testing.assert_allclose(c_n[b], cn[0], **F64)
        np.testing.assert_allclose(d_xw[:L, b], g[0][:, 0], **F64)
        np.testing.assert_array_equal(d_xw[L:, b], 0.0)
        np.testing.assert_allclose(d_h0[b], g[3][0], **F64)
        np.testing.assert_allclose(d_c0[b], g[4][0], **F64)
        sum_w_hh += g[1]
        if sum_w_hr is not None:
            sum_w_hr += g[2]
    np.testing.assert_allclose(d_w_hh, sum_w_hh, **F64)
    if sum_w_hr is not None:
        np.testing.assert_allclose(d_w_hr, sum_w_hr, **F64)


def test_padded_steps_are_ignored() -> None:
    """Inputs and output cotangents at padded steps change nothing."""
    pb = Problem(T=5, B=3, H=4, P=None, lengths=[5, 2, 1], seed=11)
    (out, h_n, c_n), grads = pb.run()
    pb.xw[2:, 1] = 1e3
    pb.xw[1:, 2] = -1e3
    pb.d_out[2:, 1] = 1e3
    pb.d_out[1:, 2] = np.nan
    (out2, h_n2, c_n2), grads2 = pb.run()
    for a, b in zip((out, h_n, c_n) + grads, (out2, h_n2, c_n2) + grads2, strict=True):
        if a is not None:
            np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# behaviour of the functions as functions
# ---------------------------------------------------------------------------------------------
def test_zero_cotangents_give_zero_gradients_and_backward_is_repeatable() -> None:
    pb = Problem(T=4, B=2, H=3, P=2, lengths=[4, 3], seed=5)
    xw, w_hh, w_hr, h0, c0, lens = pb.inputs()
    out, h_n, c_n, cache = lstm_forward(xw, w_hh, w_hr, h0, c0, lens)
    saved = [a.copy() for a in cache]
    zeros = lstm_backward(np.zeros_like(out), np.zeros_like(h_n), np.zeros_like(c_n), w_hh,
                          w_hr, cache)
    for g in zeros:
        assert g is not None and not g.any()
    first = lstm_backward(pb.d_out, pb.d_hn, pb.d_cn, w_hh, w_hr, cache)
    second = lstm_backward(pb.d_out, pb.d_hn, pb.d_cn, w_hh, w_hr, cache)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(cache, saved, strict=True):
        np.testing.assert_array_equal(a, b)  # the backward does not modify the cache


def test_inputs_are_not_modified_and_out_is_read_only() -> None:
    pb = Problem(T=3, B=2, H=3, P=None, lengths=None, seed=2)
    xw, w_hh, w_hr, h0, c0, _ = pb.inputs()
    copies = [a.copy() for a in (xw, w_hh, h0, c0)]
    out, h_n, c_n, cache = lstm_forward(xw, w_hh, w_hr, h0, c0)
    d_out, d_hn, d_cn = pb.d_out.copy(), pb.d_hn.copy(), pb.d_cn.copy()
    lstm_backward(d_out, d_hn, d_cn, w_hh, w_hr, cache)
    for a, b in zip((xw, w_hh, h0, c0), copies, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(d_out, pb.d_out)
    np.testing.assert_array_equal(d_hn, pb.d_hn)
    np.testing.assert_array_equal(d_cn, pb.d_cn)
    with pytest.raises(ValueError, match="read-only"):
        out[0, 0, 0] = 1.0
    h_n[0, 0] = 5.0  # h_n and c_n are fresh arrays
    c_n[0, 0] = 5.0
    np.testing.assert_array_equal(cache[1][0], c0)


def test_non_contiguous_inputs_give_the_same_result() -> None:
    pb = Problem(T=4, B=3, H=3, P=2, lengths=[4, 1, 3], seed=9)
    ref = pb.run()
    xw, w_hh, w_hr, h0, c0, lens = pb.inputs()
    xw_f = np.asfortranarray(xw)
    w_hh_t = np.ascontiguousarray(w_hh.T).T
    h0_ro = h0.copy()
    h0_ro.flags.writeable = False
    c0_strided = np.hstack([c0, c0])[:, : c0.shape[1]]
    assert not c0_strided.flags.c_contiguous
    out, h_n, c_n, cache = lstm_forward(xw_f, w_hh_t, w_hr, h0_ro, c0_strided, list(lens))
    grads = lstm_backward(np.asfortranarray(pb.d_out), pb.d_hn, pb.d_cn, w_hh_t, w_hr, cache)
    for a, b in zip((out, h_n, c_n) + grads, ref[0] + ref[1], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda a: a.update(w_hh=a["w_hh"].astype(np.float32)), TypeError, "w_hh must have dtype"),
        (lambda a: a.update(xw=a["xw"].astype(np.float16)), TypeError, "float32 or float64"),
        (lambda a: a.update(xw=a["xw"][..., :-1]), ValueError, "4H"),
        (lambda a: a.update(h0=a["h0"][:1]), ValueError, r"h0 must have shape \(2, 3\)"),
        (lambda a: a.update(w_hr=np.zeros((2, 4))), ValueError, "w_hr must have shape"),
        (lambda a: a.update(lengths=np.array([4, 0])), ValueError, r"lengths must lie in \[1, 3\]"),
        (lambda a: a.update(lengths=np.array([1.0, 2.0])), TypeError, "integers"),
        (lambda a: a.update(lengths=np.array([1, 2, 3])), ValueError, r"shape \(2,\)"),
    ],
)
def test_forward_validation(change: Any, error: type, match: str) -> None:
    pb = Problem(T=3, B=2, H=3, P=None, lengths=None, seed=1)
    xw, w_hh, w_hr, h0, c0, lens = pb.inputs()
    args = {"xw": xw, "w_hh": w_hh, "w_hr": w_hr, "h0": h0, "c0": c0, "lengths": lens}
    change(args)
    with pytest.raises(error, match=match):
        lstm_forward(**args)


def test_backward_validation() -> None:
    pb = Problem(T=3, B=2, H=3, P=2, lengths=None, seed=1)
    xw, w_hh, w_hr, h0, c0, _ = pb.inputs()
    _, _, _, cache = lstm_forward(xw, w_hh, w_hr, h0, c0)
    with pytest.raises(ValueError, match="projection"):
        lstm_backward(pb.d_out, pb.d_hn, pb.d_cn, w_hh, None, cache)
    with pytest.raises(TypeError, match="d_out must have dtype"):
        lstm_backward(pb.d_out.astype(np.float32), pb.d_hn, pb.d_cn, w_hh, w_hr, cache)
    with pytest.raises(ValueError, match="d_cn must have shape"):
        lstm_backward(pb.d_out, pb.d_hn, pb.d_cn[:, :2], w_hh, w_hr, cache)


def test_two_directions_run_concurrently_with_run_parts() -> None:
    """Two kernel calls on two threads (as for a bidirectional layer) give the serial results."""
    a = Problem(T=30, B=4, H=24, P=None, lengths=[30, 7, 19, 1], seed=21)
    b = Problem(T=30, B=4, H=24, P=12, lengths=None, seed=22)
    for dt in (np.float64, np.float32):
        serial = (a.run(dt), b.run(dt))
        parallel = run_parts([lambda: a.run(dt), lambda: b.run(dt)])  # noqa: B023
        for s_res, p_res in zip(serial, parallel, strict=True):
            for x, y in zip(s_res[0] + s_res[1], p_res[0] + p_res[1], strict=True):
                if x is not None:
                    np.testing.assert_array_equal(x, y)


def test_fallback_gemm_gives_the_same_lstm(tmp_path: Any) -> None:
    """With the OpenBLAS binding disabled, the loop GEMM drives the same kernels."""
    pb = Problem(T=4, B=3, H=3, P=2, lengths=[4, 2, 3], seed=13)
    (out, h_n, c_n), grads = pb.run()
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from rnn import backend
        from rnn.fused.lstm import lstm_backward, lstm_forward
        assert not backend.HAVE_CBLAS and backend.gemm is backend.gemm_loop
        d = np.load(sys.argv[1])
        out, h_n, c_n, cache = lstm_forward(d["xw"], d["w_hh"], d["w_hr"], d["h0"], d["c0"],
                                            d["lengths"])
        g = lstm_backward(d["d_out"], d["d_hn"], d["d_cn"], d["w_hh"], d["w_hr"], cache)
        np.savez(sys.argv[2], out=out, h_n=h_n, c_n=c_n, d_xw=g[0], d_w_hh=g[1], d_w_hr=g[2],
                 d_h0=g[3], d_c0=g[4])
        """
    )
    src, dst = str(tmp_path / "in.npz"), str(tmp_path / "out.npz")
    assert pb.w_hr is not None and pb.lengths is not None
    np.savez(src, xw=pb.xw, w_hh=pb.w_hh, w_hr=pb.w_hr, h0=pb.h0, c0=pb.c0, lengths=pb.lengths,
             d_out=pb.d_out, d_hn=pb.d_hn, d_cn=pb.d_cn)
    env = dict(os.environ, MINIGRAD_DISABLE_CBLAS="1",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code, src, dst],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr
    res = np.load(dst)
    for name, ours in zip(("out", "h_n", "c_n", "d_xw", "d_w_hh", "d_w_hr", "d_h0", "d_c0"),
                          (out, h_n, c_n) + grads, strict=True):
        np.testing.assert_allclose(res[name], ours, rtol=1e-12, atol=1e-13, err_msg=name)
