"""Fused GRU and vanilla-RNN sequence kernels (rnn.fused.gru, rnn.fused.elman).

Oracles: a plain numpy step-by-step reference of each cell written here, central finite
differences of that reference (float64), torch.nn.GRU / torch.nn.RNN (float64, packed sequences
for variable lengths), and the float64 kernel for the float32 kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from rnn.fused.elman import RNNCache, rnn_backward, rnn_forward
from rnn.fused.gru import GRUCache, gru_backward, gru_forward

GRU_VARIANTS = [True, False]  # reset_after
RNN_VARIANTS = ["tanh", "relu"]


# ----------------------------------------------------------------------------------------------
# numpy references (one time step at a time, masks for variable lengths)
# ----------------------------------------------------------------------------------------------
def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def ref_gru(xw: np.ndarray, w_hh: np.ndarray, b_hh: np.ndarray, h0: np.ndarray,
            lengths: np.ndarray | None, reset_after: bool) -> tuple[np.ndarray, np.ndarray]:
    T, B, _ = xw.shape
    H = h0.shape[1]
    lens = np.full(B, T) if lengths is None else lengths
    w_r, w_z, w_n = w_hh[:H], w_hh[H : 2 * H], w_hh[2 * H :]
    b_r, b_z, b_n = b_hh[:H], b_hh[H : 2 * H], b_hh[2 * H :]
    h = h0.copy()
    out = np.zeros((T, B, H), dtype=xw.dtype)
    for t in range(T):
        x_r, x_z, x_n = xw[t, :, :H], xw[t, :, H : 2 * H], xw[t, :, 2 * H :]
        r = _sigmoid(x_r + h @ w_r.T + b_r)
        z = _sigmoid(x_z + h @ w_z.T + b_z)
        if reset_after:
            n = np.tanh(x_n + r * (h @ w_n.T + b_n))
        else:
            n = np.tanh(x_n + (r * h) @ w_n.T + b_n)
        h_new = (1.0 - z) * n + z * h
        alive = (t < lens)[:, None]
        h = np.where(alive, h_new, h)
        out[t] = np.where(alive, h_new, 0.0)
    return out, h


def rnn_preacts(xw: np.ndarray, w_hh: np.ndarray, h0: np.ndarray, lengths: np.ndarray | None,
                nonlinearity: str) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Reference RNN; also returns the pre-activations of the live rows of every step."""
    T, B, H = xw.shape
    lens = np.full(B, T) if lengths is None else lengths
    h = h0.copy()
    out = np.zeros((T, B, H), dtype=xw.dtype)
    pres = []
    for t in range(T):
        pre = xw[t] + h @ w_hh.T
        h_new = np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0.0)
        alive = t < lens
        pres.append(pre[alive])
        h = np.where(alive[:, None], h_new, h)
        out[t] = np.where(alive[:, None], h_new, 0.0)
    return out, h, pres


def ref_rnn(xw: np.ndarray, w_hh: np.ndarray, h0: np.ndarray, lengths: np.ndarray | None,
            nonlinearity: str) -> tuple[np.ndarray, np.ndarray]:
    out, h, _ = rnn_preacts(xw, w_hh, h0, lengths, nonlinearity)
    return out, h


# ----------------------------------------------------------------------------------------------
# Problem generation
# ----------------------------------------------------------------------------------------------
@st.composite
def problems(draw: st.DrawFn, max_t: int = 5, max_b: int = 3, max_h: int = 4,
             ) -> dict[str, Any]:
    T = draw(st.integers(1, max_t))
    B = draw(st.integers(1, max_b))
    H = draw(st.integers(1, max_h))
    use_lengths = draw(st.booleans())
    lengths = (
        np.array(draw(st.lists(st.integers(1, T), min_size=B, max_size=B)), dtype=np.int64)
        if use_lengths else None
    )
    seed = draw(st.integers(0, 2**32 - 1))
    return {"T": T, "B": B, "H": H, "lengths": lengths, "seed": seed}


def gru_arrays(p: dict[str, Any], dtype: Any = np.float64, scale: float = 1.0
               ) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(p["seed"])
    T, B, H = p["T"], p["B"], p["H"]
    s = scale / np.sqrt(H)
    return {
        "xw": rng.standard_normal((T, B, 3 * H)).astype(dtype),
        "w_hh": rng.uniform(-2 * s, 2 * s, (3 * H, H)).astype(dtype),
        "b_hh": rng.uniform(-s, s, 3 * H).astype(dtype),
        "h0": (0.5 * rng.standard_normal((B, H))).astype(dtype),
        "d_out": rng.standard_normal((T, B, H)).astype(dtype),
        "d_hn": rng.standard_normal((B, H)).astype(dtype),
    }


def rnn_arrays(p: dict[str, Any], dtype: Any = np.float64, scale: float = 1.0
               ) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(p["seed"])
    T, B, H = p["T"], p["B"], p["H"]
    s = scale / np.sqrt(H)
    return {
        "xw": rng.standard_normal((T, B, H)).astype(dtype),
        "w_hh": rng.uniform(-2 * s, 2 * s, (H, H)).astype(dtype),
        "h0": (0.5 * rng.standard_normal((B, H))).astype(dtype),
        "d_out": rng.standard_normal((T, B, H)).astype(dtype),
        "d_hn": rng.standard_normal((B, H)).astype(dtype),
    }


def close_to_torch(actual: np.ndarray, desired: np.ndarray) -> None:
    np.testing.assert_allclose(actual, desired, rtol=1e-10, atol=1e-11)


def central_fd(f: Callable[[], float], arr: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d arr by central differences, perturbing ``arr`` in place (restored)."""
    g = np.zeros_like(arr)
    flat = arr.reshape(-1)
    gflat = g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def mask_padded(a: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """Boolean (T, B) array: True at padded steps."""
    T, B = a.shape[:2]
    if lengths is None:
        return np.zeros((T, B), dtype=bool)
    return np.arange(T)[:, None] >= lengths[None, :]


# ----------------------------------------------------------------------------------------------
# (b) forward vs the numpy reference, float64 to 1e-10 (also larger shapes: vector remainders)
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reset_after", GRU_VARIANTS)
@given(p=problems(max_t=12, max_b=6, max_h=37))
@example(p={"T": 1, "B": 1, "H": 1, "lengths": None, "seed": 0})
@example(p={"T": 1, "B": 1, "H": 17, "lengths": np.array([1]), "seed": 1})
def test_gru_forward_matches_reference(reset_after: bool, p: dict[str, Any]) -> None:
    a = gru_arrays(p)
    out, h_n, cache = gru_forward(a["xw"], a["w_hh"], a["b_hh"], a["h0"], p["lengths"],
                                  reset_after)
    r_out, r_h = ref_gru(a["xw"], a["w_hh"], a["b_hh"], a["h0"], p["lengths"], reset_after)
    assert out.shape == r_out.shape and out.dtype == np.float64
    np.testing.assert_allclose(out, r_out, rtol=0, atol=1e-10)
    np.testing.assert_allclose(h_n, r_h, rtol=0, atol=1e-10)
    assert np.all(out[mask_padded(out, p["lengths"])] == 0.0)
    assert isinstance(cache, GRUCache) and cache.reset_after == reset_after


@pytest.mark.parametrize("nonlinearity", RNN_VARIANTS)
@given(p=problems(max_t=12, max_b=6, max_h=37))
@example(p={"T": 1, "B": 1, "H": 1, "lengths": None, "seed": 0})
@example(p={"T": 1, "B": 1, "H": 17, "lengths": np.array([1]), "seed": 1})
def test_rnn_forward_matches_reference(nonlinearity: str, p: dict[str, Any]) -> None:
    a = rnn_arrays(p)
    out, h_n, cache = rnn_forward(a["xw"], a["w_hh"], a["h0"], p["lengths"], nonlinearity)
    r_out, r_h = ref_rnn(a["xw"], a["w_hh"], a["h0"], p["lengths"], nonlinearity)
    np.testing.assert_allclose(out, r_out, rtol=0, atol=1e-10)
    np.testing.assert_allclose(h_n, r_h, rtol=0, atol=1e-10)
    assert np.all(out[mask_padded(out, p["lengths"])] == 0.0)
    assert isinstance(cache, RNNCache) and cache.nonlinearity == nonlinearity


# ----------------------------------------------------------------------------------------------
# (a) every gradient vs central finite differences of the reference (float64)
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reset_after", GRU_VARIANTS)
@given(p=problems(max_t=4, max_b=3, max_h=3))
@example(p={"T": 1, "B": 1, "H": 2, "lengths": None, "seed": 3})
@example(p={"T": 3, "B": 2, "H": 2, "lengths": np.array([1, 3]), "seed": 4})
def test_gru_gradients_match_finite_differences(reset_after: bool, p: dict[str, Any]) -> None:
    a = gru_arrays(p)
    out, h_n, cache = gru_forward(a["xw"], a["w_hh"], a["b_hh"], a["h0"], p["lengths"],
                                  reset_after)
    grads = gru_backward(a["d_out"], a["d_hn"], a["w_hh"], a["b_hh"], cache, reset_after)

    def loss() -> float:
        o, h = ref_gru(a["xw"], a["w_hh"], a["b_hh"], a["h0"], p["lengths"], reset_after)
        return float(np.sum(o * a["d_out"]) + np.sum(h * a["d_hn"]))

    for name, g in zip(("xw", "w_hh", "b_hh", "h0"), grads, strict=True):
        assert g.shape == a[name].shape, name
        np.testing.assert_allclose(g, central_fd(loss, a[name]), rtol=1e-6, atol=1e-8,
                                   err_msg=name)
    d_xw = grads[0]
    assert np.all(d_xw[mask_padded(d_xw, p["lengths"])] == 0.0)


@pytest.mark.parametrize("nonlinearity", RNN_VARIANTS)
@given(p=problems(max_t=4, max_b=3, max_h=3))
@example(p={"T": 1, "B": 1, "H": 2, "lengths": None, "seed": 3})
@example(p={"T": 3, "B": 2, "H": 2, "lengths": np.array([1, 3]), "seed": 4})
def test_rnn_gradients_match_finite_differences(nonlinearity: str, p: dict[str, Any]) -> None:
    a = rnn_arrays(p)
    if nonlinearity == "relu":
        # keep every live pre-activation away from the kink at 0 (FD steps are 1e-6)
        _, _, pres = rnn_preacts(a["xw"], a["w_hh"], a["h0"], p["lengths"], nonlinearity)
        assume(all(np.all(np.abs(q) > 1e-3) for q in pres))
    out, h_n, cache = rnn_forward(a["xw"], a["w_hh"], a["h0"], p["lengths"], nonlinearity)
    grads = rnn_backward(a["d_out"], a["d_hn"], a["w_hh"], cache, nonlinearity)

    def loss() -> float:
        o, h = ref_rnn(a["xw"], a["w_hh"], a["h0"], p["lengths"], nonlinearity)
        return float(np.sum(o * a["d_out"]) + np.sum(h * a["d_hn"]))

    for name, g in zip(("xw", "w_hh", "h0"), grads, strict=True):
        assert g.shape == a[name].shape, name
        np.testing.assert_allclose(g, central_fd(loss, a[name]), rtol=1e-6, atol=1e-8,
                                   err_msg=name)
    d_xw = grads[0]
    assert np.all(d_xw[mask_padded(d_xw, p["lengths"])] == 0.0)


# ----------------------------------------------------------------------------------------------
# (c) PyTorch (float64): forward and all gradients, through the input projection
# ----------------------------------------------------------------------------------------------
def _torch_run(torch: Any, mod: Any, x: np.ndarray, h0: np.ndarray, lengths: np.ndarray | None,
               d_out: np.ndarray, d_hn: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any, Any, Any]:
    T = x.shape[0]
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    if lengths is None:
        out, h_n = mod(xt, h0t)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.tensor(lengths), enforce_sorted=False)
        out_p, h_n = mod(packed, h0t)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out_p, total_length=T)
    loss = (out * torch.tensor(d_out)).sum() + (h_n[0] * torch.tensor(d_hn)).sum()
    loss.backward()
    return out.detach().numpy(), h_n[0].detach().numpy(), xt.grad, h0t.grad, mod


@pytest.mark.parametrize("bias", [True, False])
@given(p=problems(max_t=6, max_b=4, max_h=9), n_in=st.integers(1, 5))
@example(p={"T": 1, "B": 1, "H": 3, "lengths": None, "seed": 5}, n_in=2)
def test_gru_matches_torch(bias: bool, p: dict[str, Any], n_in: int) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(p["seed"] % 2**31)
    T, B, H = p["T"], p["B"], p["H"]
    mod = torch.nn.GRU(n_in, H, bias=bias).double()
    rng = np.random.default_rng(p["seed"])
    x = rng.standard_normal((T, B, n_in))
    h0 = rng.standard_normal((B, H))
    d_out = rng.standard_normal((T, B, H))
    d_hn = rng.standard_normal((B, H))
    t_out, t_hn, t_dx, t_dh0, mod = _torch_run(torch, mod, x, h0, p["lengths"], d_out, d_hn)

    w_ih = mod.weight_ih_l0.detach().numpy()
    w_hh = mod.weight_hh_l0.detach().numpy()
    b_ih = mod.bias_ih_l0.detach().numpy() if bias else np.zeros(3 * H)
    b_hh = mod.bias_hh_l0.detach().numpy() if bias else np.zeros(3 * H)
    xw = x @ w_ih.T + b_ih
    out, h_n, cache = gru_forward(xw, w_hh, b_hh, h0, p["lengths"], True)
    np.testing.assert_allclose(out, t_out, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_n, t_hn, rtol=0, atol=1e-12)

    d_xw, d_w_hh, d_b_hh, d_h0 = gru_backward(d_out, d_hn, w_hh, b_hh, cache, True)
    d2 = d_xw.reshape(T * B, 3 * H)
    close_to_torch(d_xw @ w_ih, t_dx.numpy())
    close_to_torch(d2.T @ x.reshape(T * B, n_in), mod.weight_ih_l0.grad.numpy())
    close_to_torch(d_w_hh, mod.weight_hh_l0.grad.numpy())
    close_to_torch(d_h0, t_dh0.numpy()[0])
    if bias:
        close_to_torch(d2.sum(0), mod.bias_ih_l0.grad.numpy())
        close_to_torch(d_b_hh, mod.bias_hh_l0.grad.numpy())


@pytest.mark.parametrize("nonlinearity", RNN_VARIANTS)
@given(p=problems(max_t=6, max_b=4, max_h=9), n_in=st.integers(1, 5))
@example(p={"T": 1, "B": 1, "H": 3, "lengths": None, "seed": 5}, n_in=2)
def test_rnn_matches_torch(nonlinearity: str, p: dict[str, Any], n_in: int) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(p["seed"] % 2**31)
    T, B, H = p["T"], p["B"], p["H"]
    mod = torch.nn.RNN(n_in, H, nonlinearity=nonlinearity).double()
    rng = np.random.default_rng(p["seed"])
    x = rng.standard_normal((T, B, n_in))
    h0 = rng.standard_normal((B, H))
    d_out = rng.standard_normal((T, B, H))
    d_hn = rng.standard_normal((B, H))
    t_out, t_hn, t_dx, t_dh0, mod = _torch_run(torch, mod, x, h0, p["lengths"], d_out, d_hn)

    w_ih = mod.weight_ih_l0.detach().numpy()
    w_hh = mod.weight_hh_l0.detach().numpy()
    b = mod.bias_ih_l0.detach().numpy() + mod.bias_hh_l0.detach().numpy()
    xw = x @ w_ih.T + b
    out, h_n, cache = rnn_forward(xw, w_hh, h0, p["lengths"], nonlinearity)
    np.testing.assert_allclose(out, t_out, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_n, t_hn, rtol=0, atol=1e-12)

    d_xw, d_w_hh, d_h0 = rnn_backward(d_out, d_hn, w_hh, cache, nonlinearity)
    d2 = d_xw.reshape(T * B, H)
    close_to_torch(d_xw @ w_ih, t_dx.numpy())
    close_to_torch(d2.T @ x.reshape(T * B, n_in), mod.weight_ih_l0.grad.numpy())
    close_to_torch(d_w_hh, mod.weight_hh_l0.grad.numpy())
    close_to_torch(d_h0, t_dh0.numpy()[0])
    close_to_torch(d2.sum(0), mod.bias_ih_l0.grad.numpy())
    close_to_torch(d2.sum(0), mod.bias_hh_l0.grad.numpy())


# ----------------------------------------------------------------------------------------------
# float32 kernels vs float64 kernels
# ----------------------------------------------------------------------------------------------
def _assert_close32(a32: np.ndarray, a64: np.ndarray, name: str) -> None:
    assert a32.dtype == np.float32, name
    scale = max(1.0, float(np.max(np.abs(a64))))
    np.testing.assert_allclose(a32, a64, rtol=2e-4, atol=2e-5 * scale, err_msg=name)


@pytest.mark.parametrize("reset_after", GRU_VARIANTS)
@given(p=problems(max_t=16, max_b=6, max_h=40))
def test_gru_float32_matches_float64(reset_after: bool, p: dict[str, Any]) -> None:
    a32 = gru_arrays(p, np.float32)
    a64 = {k: v.astype(np.float64) for k, v in a32.items()}
    res = {}
    for tag, a in (("32", a32), ("64", a64)):
        out, h_n, cache = gru_forward(a["xw"], a["w_hh"], a["b_hh"], a["h0"], p["lengths"],
                                      reset_after)
        res[tag] = (out, h_n, *gru_backward(a["d_out"], a["d_hn"], a["w_hh"], a["b_hh"], cache,
                                            reset_after))
    names = ("out", "h_n", "d_xw", "d_w_hh", "d_b_hh", "d_h0")
    for name, r32, r64 in zip(names, res["32"], res["64"], strict=True):
        _assert_close32(r32, r64, name)


@pytest.mark.parametrize("nonlinearity", RNN_VARIANTS)
@given(p=problems(max_t=16, max_b=6, max_h=40))
def test_rnn_float32_matches_float64(nonlinearity: str, p: dict[str, Any]) -> None:
    a32 = rnn_arrays(p, np.float32)
    a64 = {k: v.astype(np.float64) for k, v in a32.items()}
    if nonlinearity == "relu":
        # a float32 rounding must not flip the sign of a pre-activation (the relu kink)
        _, _, pres = rnn_preacts(a64["xw"], a64["w_hh"], a64["h0"], p["lengths"], nonlinearity)
        assume(all(np.all(np.abs(q) > 1e-3) for q in pres))
    res = {}
    for tag, a in (("32", a32), ("64", a64)):
        out, h_n, cache = rnn_forward(a["xw"], a["w_hh"], a["h0"], p["lengths"], nonlinearity)
        res[tag] = (out, h_n, *rnn_backward(a["d_out"], a["d_hn"], a["w_hh"], cache,
                                            nonlinearity))
    for name, r32, r64 in zip(("out", "h_n", "d_xw", "d_w_hh", "d_h0"), res["32"], res["64"],
                              strict=True):
        _assert_close32(r32, r64, name)


# ----------------------------------------------------------------------------------------------
# Variable lengths: a padded batch equals each sequence run alone
# ----------------------------------------------------------------------------------------------
@given(p=problems(max_t=7, max_b=4, max_h=6), reset_after=st.booleans())
def test_gru_padded_batch_equals_sequences_alone(p: dict[str, Any], reset_after: bool) -> None:
    lengths = p["lengths"]
    assume(lengths is not None)
    a = gru_arrays(p)
    out, h_n, cache = gru_forward(a["xw"], a["w_hh"], a["b_hh"], a["h0"], lengths, reset_after)
    d_xw, d_w, d_b, d_h0 = gru_backward(a["d_out"], a["d_hn"], a["w_hh"], a["b_hh"], cache,
                                        reset_after)
    sum_w = np.zeros_like(d_w)
    sum_b = np.zeros_like(d_b)
    for b, L in enumerate(lengths):
        o1, h1, c1 = gru_forward(a["xw"][:L, b : b + 1], a["w_hh"], a["b_hh"], a["h0"][b : b + 1],
                                 None, reset_after)
        g1 = gru_backward(a["d_out"][:L, b : b + 1], a["d_hn"][b : b + 1], a["w_hh"], a["b_hh"],
                          c1, reset_after)
        np.testing.assert_allclose(out[:L, b], o1[:, 0], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(h_n[b], h1[0], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(d_xw[:L, b], g1[0][:, 0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(d_h0[b], g1[3][0], rtol=1e-10, atol=1e-12)
        assert np.all(d_xw[L:, b] == 0.0)
        sum_w += g1[1]
        sum_b += g1[2]
    np.testing.assert_allclose(d_w, sum_w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(d_b, sum_b, rtol=1e-10, atol=1e-12)


@given(p=problems(max_t=7, max_b=4, max_h=6), relu=st.booleans())
def test_rnn_padded_batch_equals_sequences_alone(p: dict[str, Any], relu: bool) -> None:
    lengths = p["lengths"]
    assume(lengths is not None)
    nl = "relu" if relu else "tanh"
    a = rnn_arrays(p)
    out, h_n, cache = rnn_forward(a["xw"], a["w_hh"], a["h0"], lengths, nl)
    d_xw, d_w, d_h0 = rnn_backward(a["d_out"], a["d_hn"], a["w_hh"], cache, nl)
    sum_w = np.zeros_like(d_w)
    for b, L in enumerate(lengths):
        o1, h1, c1 = rnn_forward(a["xw"][:L, b : b + 1], a["w_hh"], a["h0"][b : b + 1], None, nl)
        g1 = rnn_backward(a["d_out"][:L, b : b + 1], a["d_hn"][b : b + 1], a["w_hh"], c1, nl)
        np.testing.assert_allclose(out[:L, b], o1[:, 0], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(h_n[b], h1[0], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(d_xw[:L, b], g1[0][:, 0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(d_h0[b], g1[2][0], rtol=1e-10, atol=1e-12)
        assert np.all(d_xw[L:, b] == 0.0)
        sum_w += g1[1]
    np.testing.assert_allclose(d_w, sum_w, rtol=1e-10, atol=1e-12)


def test_padded_inputs_and_output_gradients_are_ignored() -> None:
    """Values at padded steps (xw, even NaN, and d_out) change nothing."""
    p: dict[str, Any] = {"T": 5, "B": 3, "H": 4, "lengths": np.array([2, 5, 3]), "seed": 11}
    pad = mask_padded(np.empty((5, 3)), p["lengths"])
    for reset_after in GRU_VARIANTS:
        a = gru_arrays(p)
        base = gru_forward(a["xw"], a["w_hh"], a["b_hh"], a["h0"], p["lengths"], reset_after)
        g_base = gru_backward(a["d_out"], a["d_hn"], a["w_hh"], a["b_hh"], base[2], reset_after)
        a["xw"][pad] = np.nan
        a["d_out"][pad] = 1e6
        alt = gru_forward(a["xw"], a["w_hh"], a["b_hh"], a["h0"], p["lengths"], reset_after)
        g_alt = gru_backward(a["d_out"], a["d_hn"], a["w_hh"], a["b_hh"], alt[2], reset_after)
        for u, v in zip((*base[:2], *g_base), (*alt[:2], *g_alt), strict=True):
            np.testing.assert_array_equal(u, v)
    for nl in RNN_VARIANTS:
        a = rnn_arrays(p)
        rb = rnn_forward(a["xw"], a["w_hh"], a["h0"], p["lengths"], nl)
        grb = rnn_backward(a["d_out"], a["d_hn"], a["w_hh"], rb[2], nl)
        a["xw"][pad] = np.nan
        a["d_out"][pad] = 1e6
        ra = rnn_forward(a["xw"], a["w_hh"], a["h0"], p["lengths"], nl)
        gra = rnn_backward(a["d_out"], a["d_hn"], a["w_hh"], ra[2], nl)
        for u, v in zip((*rb[:2], *grb), (*ra[:2], *gra), strict=True):
            np.testing.assert_array_equal(u, v)


# ----------------------------------------------------------------------------------------------
# API behaviour
# ----------------------------------------------------------------------------------------------
def test_inputs_untouched_backward_repeatable_and_layout_free() -> None:
    p: dict[str, Any] = {"T": 4, "B": 3, "H": 5, "lengths": np.array([4, 1, 3]), "seed": 2}
    a = gru_arrays(p)
    keep = {k: v.copy() for k, v in a.items()}
    out, h_n, cache = gru_forward(a["xw"], a["w_hh"], a["b_hh"], a["h0"], p["lengths"])
    g1 = gru_backward(a["d_out"], a["d_hn"], a["w_hh"], a["b_hh"], cache)
    g2 = gru_backward(a["d_out"], a["d_hn"], a["w_hh"], a["b_hh"], cache)
    for k in a:
        np.testing.assert_array_equal(a[k], keep[k], err_msg=k)
    for u, v in zip(g1, g2, strict=True):
        np.testing.assert_array_equal(u, v)
    # non-contiguous views give the same results as contiguous arrays
    xw_f = np.asfortranarray(a["xw"])
    w_t = np.ascontiguousarray(a["w_hh"].T).T
    out2, h_n2, cache2 = gru_forward(xw_f, w_t, a["b_hh"], a["h0"], p["lengths"])
    np.testing.assert_array_equal(out, out2)
    np.testing.assert_array_equal(h_n, h_n2)
    g3 = gru_backward(np.asfortranarray(a["d_out"]), a["d_hn"], w_t, a["b_hh"], cache2)
    for u, v in zip(g1, g3, strict=True):
        np.testing.assert_array_equal(u, v)
    # read-only inputs work too
    ro = {k: v.copy() for k, v in a.items()}
    for v in ro.values():
        v.flags.writeable = False
    out3, h_n3, _ = gru_forward(ro["xw"], ro["w_hh"], ro["b_hh"], ro["h0"], p["lengths"])
    np.testing.assert_array_equal(out, out3)
    np.testing.assert_array_equal(h_n, h_n3)
    # outputs do not alias the cache
    out[...] = 7.0
    h_n[...] = 7.0
    g4 = gru_backward(a["d_out"], a["d_hn"], a["w_hh"], a["b_hh"], cache)
    for u, v in zip(g1, g4, strict=True):
        np.testing.assert_array_equal(u, v)


def test_argument_errors() -> None:
    p: dict[str, Any] = {"T": 3, "B": 2, "H": 2, "lengths": None, "seed": 0}
    a = gru_arrays(p)
    args = (a["xw"], a["w_hh"], a["b_hh"], a["h0"])
    with pytest.raises(TypeError, match="w_hh must have dtype float32 like xw, got float64"):
        gru_forward(a["xw"].astype(np.float32), *args[1:], None)
    with pytest.raises(TypeError, match="float32 or float64"):
        gru_forward(a["xw"].astype(np.int64), *args[1:], None)
    with pytest.raises(ValueError, match="lengths"):
        gru_forward(*args, np.array([0, 3]))
    with pytest.raises(ValueError, match="lengths"):
        gru_forward(*args, np.array([4, 3]))
    with pytest.raises(ValueError, match="lengths"):
        gru_forward(*args, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"w_hh must have shape \(6, 2\), got \(6, 1\)"):
        gru_forward(a["xw"], a["w_hh"][:, :1], a["b_hh"], a["h0"], None)
    with pytest.raises(ValueError, match="T, B, H >= 1"):
        gru_forward(a["xw"][:0], *args[1:], None)
    with pytest.raises(ValueError, match="T, B, H >= 1"):
        gru_forward(a["xw"][:, :0], a["w_hh"], a["b_hh"], a["h0"][:0], None)
    _, _, cache = gru_forward(*args, None, reset_after=True)
    with pytest.raises(ValueError, match="reset_after"):
        gru_backward(a["d_out"], a["d_hn"], a["w_hh"], a["b_hh"], cache, reset_after=False)
    with pytest.raises(ValueError, match=r"d_out must have shape \(3, 2, 2\)"):
        gru_backward(a["d_out"][:2], a["d_hn"], a["w_hh"], a["b_hh"], cache)

    r = rnn_arrays(p)
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn_forward(r["xw"], r["w_hh"], r["h0"], None, "sigmoid")
    with pytest.raises(ValueError, match="T, B, H >= 1"):
        rnn_forward(r["xw"][:0], r["w_hh"], r["h0"], None, "tanh")
    with pytest.raises(ValueError, match=r"w_hh must have shape \(2, 2\), got \(1, 2\)"):
        rnn_forward(r["xw"], r["w_hh"][:1], r["h0"], None, "tanh")
    _, _, rc = rnn_forward(r["xw"], r["w_hh"], r["h0"], None, "tanh")
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn_backward(r["d_out"], r["d_hn"], r["w_hh"], rc, "relu")
    with pytest.raises(TypeError, match="d_out must have dtype float64 like xw, got float32"):
        rnn_backward(r["d_out"].astype(np.float32), r["d_hn"].astype(np.float32),
                     r["w_hh"].astype(np.float32), rc, "tanh")


def test_concurrent_calls_match_sequential() -> None:
    """Two kernels run at once on two threads (as for a bidirectional layer) give the results
    they give alone."""
    from rnn.backend.threads import run_parts

    p: dict[str, Any] = {"T": 9, "B": 5, "H": 33, "lengths": np.array([9, 4, 7, 1, 9]),
                         "seed": 8}
    a = gru_arrays(p, np.float32)
    r = rnn_arrays(p, np.float32)

    def gru_step() -> tuple[np.ndarray, ...]:
        out, h_n, cache = gru_forward(a["xw"], a["w_hh"], a["b_hh"], a["h0"], p["lengths"])
        return (out, h_n, *gru_backward(a["d_out"], a["d_hn"], a["w_hh"], a["b_hh"], cache))

    def rnn_step() -> tuple[np.ndarray, ...]:
        out, h_n, cache = rnn_forward(r["xw"], r["w_hh"], r["h0"], p["lengths"], "tanh")
        return (out, h_n, *rnn_backward(r["d_out"], r["d_hn"], r["w_hh"], cache, "tanh"))

    alone = (gru_step(), rnn_step())
    for _ in range(3):
        together = run_parts([gru_step, rnn_step])
        for seq, par in zip(alone, together, strict=True):
            for u, v in zip(seq, par, strict=True):
                np.testing.assert_allclose(v, u, rtol=1e-6, atol=1e-7)


def test_import_compiles_nothing() -> None:
    import subprocess
    import sys

    code = (
        "import rnn.fused.gru as g, rnn.fused.elman as r\n"
        "ks = [g._fwd_reset_after, g._fwd_reset_before, g._bwd_reset_after,\n"
        "      g._bwd_reset_before, r._fwd, r._bwd]\n"
        "print(sum(len(k.signatures) for k in ks))\n"
    )
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root)
    assert res.stdout.strip() == "0"


# ----------------------------------------------------------------------------------------------
# biases given to the kernels: the same as biases folded into xw, and their summed gradient
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["gru", "gru_classic", "rnn", "lstm"])
def test_a_bias_given_to_the_kernel_equals_one_folded_into_xw(cell: str) -> None:
    from rnn.fused.lstm import lstm_backward, lstm_forward

    rng = np.random.default_rng(5)
    T, B, H = 4, 3, 5
    G = {"gru": 3, "gru_classic": 3, "rnn": 1, "lstm": 4}[cell] * H
    xw = rng.standard_normal((T, B, G))
    bias = rng.standard_normal(G)
    w_hh = rng.standard_normal((G, H)) * 0.4
    h0, c0 = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    lengths = np.array([4, 2, 3])
    d_out, d_hn = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))
    d_cn = rng.standard_normal((B, H))
    d_b = np.full(G, np.nan)  # every entry must be written
    if cell.startswith("gru"):
        reset_after = cell == "gru"
        b_hh = rng.standard_normal(G)
        inside = gru_forward(xw, w_hh, b_hh, h0, lengths, reset_after, b_ih=bias)
        folded = gru_forward(xw + bias, w_hh, b_hh, h0, lengths, reset_after)
        g_in = gru_backward(d_out, d_hn, w_hh, b_hh, inside[2], reset_after, d_b_ih=d_b)
        g_fold = gru_backward(d_out, d_hn, w_hh, b_hh, folded[2], reset_after)
    elif cell == "rnn":
        inside = rnn_forward(xw, w_hh, h0, lengths, bias=bias)
        folded = rnn_forward(xw + bias, w_hh, h0, lengths)
        g_in = rnn_backward(d_out, d_hn, w_hh, inside[2], d_bias=d_b)
        g_fold = rnn_backward(d_out, d_hn, w_hh, folded[2])
    else:
        inside = lstm_forward(xw, w_hh, None, h0, c0, lengths, bias=bias)
        folded = lstm_forward(xw + bias, w_hh, None, h0, c0, lengths)
        g_in = lstm_backward(d_out, d_hn, d_cn, w_hh, None, inside[3], d_bias=d_b)
        g_fold = lstm_backward(d_out, d_hn, d_cn, w_hh, None, folded[3])
    n_values = 3 if cell == "lstm" else 2
    for a, b in zip(inside[:n_values], folded[:n_values], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
    for a, b in zip(g_in, g_fold, strict=True):
        assert (a is None) == (b is None)  # lstm: d_w_hr without a projection
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(d_b, g_fold[0].sum(axis=(0, 1)), rtol=1e-12, atol=1e-13)
    wrong = np.zeros(G + 1)
    with pytest.raises(ValueError, match=rf"d_b\w* must be a C-contiguous \({G},\)"):
        if cell.startswith("gru"):
            gru_backward(d_out, d_hn, w_hh, b_hh, inside[2], reset_after, d_b_ih=wrong)
        elif cell == "rnn":
            rnn_backward(d_out, d_hn, w_hh, inside[2], d_bias=wrong)
        else:
            lstm_backward(d_out, d_hn, d_cn, w_hh, None, inside[3], d_bias=wrong)
