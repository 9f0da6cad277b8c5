"""The reference cells: gradients against central differences, formulas, parameters, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import rnn
from minigrad import Tensor
from minigrad.testing import gradcheck
from rnn.layers import run_cell

# (T, B, I, H): sequences of a few steps, including T = 1 and B = 1
sizes = st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4))


def make_cell(kind: str, I: int, H: int, bias: bool, seed: int) -> Any:
    if kind.startswith("rnn"):
        return rnn.RNNCell(I, H, bias, nonlinearity=kind[4:], dtype=np.float64, rng=seed)
    if kind == "lstm":
        return rnn.LSTMCell(I, H, bias, dtype=np.float64, rng=seed)
    if kind == "lstm_proj":
        return rnn.LSTMCell(I, H + 1, bias, proj_size=H, dtype=np.float64, rng=seed)
    return rnn.GRUCell(I, H, bias, reset_after=kind == "gru", dtype=np.float64, rng=seed)


KINDS = ["rnn_tanh", "rnn_relu", "lstm", "lstm_proj", "gru", "gru_classic"]


def sequence_fn(cell, names, n_states):  # type: ignore[no-untyped-def]
    """f(x, *states0, *params): the outputs and final state of ``cell`` over x, as a tuple.

    The given tensors replace the cell's parameters, so gradcheck differentiates through them.
    """

    def f(x, *rest):  # type: ignore[no-untyped-def]
        states, params = rest[:n_states], rest[n_states:]
        for name, p in zip(names, params, strict=True):
            object.__setattr__(cell, name, p)
        state = states[0] if n_states == 1 else tuple(states)
        out, final = run_cell(cell, x, state)
        return (out, *final) if isinstance(final, tuple) else (out, final)

    return f


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=12)
@given(size=sizes, bias=st.booleans(), seed=st.integers(0, 2**16))
def test_cell_gradients_match_central_differences(kind: str, size: tuple, bias: bool,
                                                  seed: int) -> None:
    T, B, I, H = size
    cell = make_cell(kind, I, H, bias, seed)
    rng = np.random.default_rng(seed)
    names = [n for n, _ in cell.named_parameters()]
    params = [p.data.copy() for _, p in cell.named_parameters()]
    if kind.startswith("lstm"):
        P = cell.output_size
        states = [rng.standard_normal((B, P)), rng.standard_normal((B, cell.hidden_size))]
    else:
        states = [rng.standard_normal((B, H))]
    x = rng.standard_normal((T, B, I))
    if kind == "rnn_relu":  # keep pre-activations away from relu's kink
        x = x + np.sign(x) * 0.05
    f = sequence_fn(cell, names, len(states))
    assert gradcheck(f, [x, *states, *params], full_jacobian_max=16, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_cell_second_derivatives(kind: str) -> None:
    """The reference path is made of minigrad ops, so it can be differentiated twice."""
    cell = make_cell(kind, 2, 2, True, 3)
    rng = np.random.default_rng(0)
    names = [n for n, _ in cell.named_parameters()]
    params = [p.data.copy() for _, p in cell.named_parameters()]
    n = 2 if kind == "lstm" else 1
    states = [rng.standard_normal((1, 2)) for _ in range(n)]
    f = sequence_fn(cell, names, n)
    assert gradcheck(f, [rng.standard_normal((2, 1, 2)), *states, *params], order=2,
                     full_jacobian_max=8, check_extras=False)


# ---- formulas written out --------------------------------------------------------------------
def sig(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_matches_its_formula(reset_after: bool) -> None:
    rng = np.random.default_rng(5)
    I, H, B = 3, 4, 2
    cell = rnn.GRUCell(I, H, reset_after=reset_after, dtype=np.float64, rng=1)
    x, h = rng.standard_normal((B, I)), rng.standard_normal((B, H))
    W_ir, W_iz, W_in = np.split(cell.weight_ih.data, 3)
    W_hr, W_hz, W_hn = np.split(cell.weight_hh.data, 3)
    b_ir, b_iz, b_in = np.split(cell.bias_ih.data, 3)
    b_hr, b_hz, b_hn = np.split(cell.bias_hh.data, 3)
    r = sig(x @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
    z = sig(x @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
    if reset_after:  # PyTorch, cuDNN
        n = np.tanh(x @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
    else:  # Cho et al. 2014: reset applied to h before the matmul
        n = np.tanh(x @ W_in.T + b_in + (r * h) @ W_hn.T + b_hn)
    expected = (1 - z) * n + z * h
    np.testing.assert_allclose(cell(Tensor(x), Tensor(h)).data, expected, rtol=1e-13, atol=1e-14)


def test_classic_and_reset_after_gru_differ() -> None:
    a = rnn.GRUCell(3, 4, dtype=np.float64, rng=1)
    b = rnn.GRUCell(3, 4, reset_after=False, dtype=np.float64, rng=1)
    x, h = Tensor(np.ones((2, 3))), Tensor(np.full((2, 4), 0.5))
    assert not np.allclose(a(x, h).data, b(x, h).data)


def test_lstm_and_rnn_match_their_formulas() -> None:
    rng = np.random.default_rng(6)
    B, I, H, P = 2, 3, 4, 2
    x = rng.standard_normal((B, I))
    cell = rnn.LSTMCell(I, H, proj_size=P, dtype=np.float64, rng=2)
    h, c = rng.standard_normal((B, P)), rng.standard_normal((B, H))
    z = x @ cell.weight_ih.data.T + cell.bias_ih.data + h @ cell.weight_hh.data.T \
        + cell.bias_hh.data
    i, f, g, o = sig(z[:, :H]), sig(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sig(z[:, 3 * H:])
    c2 = f * c + i * g
    h2 = (o * np.tanh(c2)) @ cell.weight_hr.data.T  # type: ignore[attr-defined]
    got_h, got_c = cell(Tensor(x), (Tensor(h), Tensor(c)))
    np.testing.assert_allclose(got_h.data, h2, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(got_c.data, c2, rtol=1e-13, atol=1e-14)

    rc = rnn.RNNCell(I, H, nonlinearity="relu", bias=False, dtype=np.float64, rng=3)
    hh = rng.standard_normal((B, H))
    want = np.maximum(x @ rc.weight_ih.data.T + hh @ rc.weight_hh.data.T, 0)
    np.testing.assert_allclose(rc(Tensor(x), Tensor(hh)).data, want, rtol=1e-13, atol=1e-14)


def test_missing_state_is_zeros() -> None:
    x = Tensor(np.ones((2, 3), dtype=np.float32))
    cell = rnn.LSTMCell(3, 4, rng=0)
    zeros = (Tensor(np.zeros((2, 4), np.float32)), Tensor(np.zeros((2, 4), np.float32)))
    for a, b in zip(cell(x), cell(x, zeros), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    gru = rnn.GRUCell(3, 4, rng=0)
    np.testing.assert_array_equal(gru(x).data, gru(x, zeros[0]).data)


# ---- parameters --------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, gates", [(rnn.RNNCell, 1), (rnn.LSTMCell, 4), (rnn.GRUCell, 3)])
def test_cell_parameters_follow_pytorch(cls: type, gates: int) -> None:
    I, H = 5, 16
    cell = cls(I, H, rng=0)
    shapes = {n: p.shape for n, p in cell.named_parameters()}
    assert shapes == {"weight_ih": (gates * H, I), "weight_hh": (gates * H, H),
                      "bias_ih": (gates * H,), "bias_hh": (gates * H,)}
    bound = 1 / np.sqrt(H)
    for _, p in cell.named_parameters():
        assert p.dtype == np.float32 and p.requires_grad
        assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.8 * bound
    no_bias = cls(I, H, bias=False, rng=0)
    assert [n for n, _ in no_bias.named_parameters()] == ["weight_ih", "weight_hh"]


def test_lstm_cell_projection_parameters() -> None:
    cell = rnn.LSTMCell(3, 8, proj_size=2, rng=0)
    assert {n: p.shape for n, p in cell.named_parameters()} == {
        "weight_ih": (32, 3), "weight_hh": (32, 2), "bias_ih": (32,), "bias_hh": (32,),
        "weight_hr": (2, 8)}
    h, c = cell(Tensor(np.ones((4, 3), np.float32)))
    assert h.shape == (4, 2) and c.shape == (4, 8)


def test_seeded_cells_are_reproducible() -> None:
    a, b = rnn.GRUCell(3, 4, rng=7), rnn.GRUCell(3, 4, rng=7)
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)


# ---- errors --------------------------------------------------------------------------------
def test_cell_errors_name_the_numbers() -> None:
    cell = rnn.LSTMCell(32, 8, rng=0)
    with pytest.raises(ValueError, match="LSTMCell: expected input size 32, got 16"):
        cell(Tensor(np.zeros((2, 16), np.float32)))
    with pytest.raises(ValueError, match=r"expected a 2-D input \(B, I\), got 3-D"):
        cell(Tensor(np.zeros((1, 2, 32), np.float32)))
    with pytest.raises(TypeError, match="^LSTMCell: input dtype float64 differs from the "
                                        "layer's float32; convert with x.float"):
        cell(Tensor(np.zeros((2, 32))))
    x = Tensor(np.zeros((2, 32), np.float32))
    with pytest.raises(ValueError, match=r"expected c of shape \(2, 8\) and dtype float32"):
        cell(x, (None, Tensor(np.zeros((2, 5), np.float32))))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        rnn.RNNCell(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="proj_size must be in"):
        rnn.LSTMCell(3, 4, proj_size=4)


def test_cells_are_composed_of_minigrad_ops() -> None:
    cell = rnn.LSTMCell(3, 4, rng=0)
    x = Tensor(np.ones((2, 3), np.float32))
    with mg.Tape() as tape:
        h, c = cell(x)
        (h.sum() + c.sum()).backward()
    names = {e.op.name for e in tape}
    assert {"matmul", "sigmoid", "tanh", "mul", "add"} <= names
    assert cell.weight_hh.grad is not None and cell.bias_ih.grad is not None
