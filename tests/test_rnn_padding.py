"""Padding isolation: nothing at a step at or beyond a sequence's length reaches any output,
state or gradient, even NaN or Inf written there.

The oracle is the contract itself: a padded batch gives exactly what each sequence gives when
run alone, unpadded (outputs, final states, and the gradients of x, the initial states and
every parameter), and its outputs and x's gradient are zero at padded steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rnn
from minigrad import Tensor
from rnn.layers import run_cell

KINDS = {  # name: (layer class, constructor keywords)
    "RNN_tanh": ("RNN", {}), "RNN_relu": ("RNN", {"nonlinearity": "relu"}),
    "LSTM": ("LSTM", {}), "LSTM_proj": ("LSTM", {"proj_size": 2}),
    "GRU": ("GRU", {}), "GRU_classic": ("GRU", {"reset_after": False}),
}

IMPLS = ["reference", pytest.param("fused", marks=pytest.mark.skipif(
    not rnn.fused_available(), reason="fused kernels unavailable"))]


@st.composite
def padded_cases(draw: Any) -> dict[str, Any]:
    B = draw(st.integers(1, 4))
    lengths = draw(st.lists(st.integers(1, 5), min_size=B, max_size=B))
    T = max(lengths) + draw(st.integers(0, 2))  # sometimes steps where every row is padding
    return dict(
        kind=draw(st.sampled_from(sorted(KINDS))), lengths=lengths, T=T,
        num_layers=draw(st.integers(1, 2)), bidirectional=draw(st.booleans()),
        merge_mode=draw(st.sampled_from(["concat", "sum", "mean", "mul"])),
        bad=draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf, 1e30]), min_size=1,
                          max_size=3)),
        seed=draw(st.integers(0, 2**16)),
    )


def _layer(case: dict[str, Any], impl: str) -> Any:
    name, kw = KINDS[case["kind"]]
    merge = case["merge_mode"] if case["bidirectional"] else "concat"
    return getattr(rnn, name)(3, 4, num_layers=case["num_layers"],
                              bidirectional=case["bidirectional"], merge_mode=merge, impl=impl,
                              dtype=np.float64, rng=case["seed"], **kw)


@pytest.mark.parametrize("impl", IMPLS)
@given(case=padded_cases())
def test_nan_and_inf_in_the_padding_reach_nothing(case: dict[str, Any], impl: str) -> None:
    layer = _layer(case, impl)
    lengths, T, B = case["lengths"], case["T"], len(case["lengths"])
    rng = np.random.default_rng(case["seed"])
    is_lstm = KINDS[case["kind"]][0] == "LSTM"
    P = layer.output_size
    LD = case["num_layers"] * layer.num_directions
    x = rng.standard_normal((T, B, 3))
    for b, n in enumerate(lengths):  # poison everything beyond each length
        for t in range(n, T):
            x[t, b] = case["bad"][(t + b) % len(case["bad"])]
    h0, c0 = rng.standard_normal((LD, B, P)), rng.standard_normal((LD, B, layer.hidden_size))
    out_width = layer.layer_output_size
    seeds = [rng.standard_normal((T, B, out_width)), rng.standard_normal((LD, B, P)),
             rng.standard_normal((LD, B, layer.hidden_size))]

    def run(cols: slice, n: int, lens: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Batch entries ``cols``, first ``n`` steps: values, then gradients of x, the initial
        states and every parameter."""
        layer.zero_grad()
        xt, ht, ct = (Tensor(a, requires_grad=True) for a in (x[:n, cols], h0[:, cols],
                                                              c0[:, cols]))
        out, s = layer(xt, (ht, ct) if is_lstm else ht, lengths=lens)
        states = list(s) if is_lstm else [s]
        loss = (out * Tensor(seeds[0][:n, cols])).sum()
        for v, w in zip(states, seeds[1:], strict=False):
            loss = loss + (v * Tensor(w[:, cols])).sum()
        loss.backward()
        inputs = (xt, ht, ct) if is_lstm else (xt, ht)
        assert all(t.grad is not None for t in inputs)
        return ([out.data, *(v.data for v in states)],
                [t.grad.data for t in inputs]  # type: ignore[union-attr]
                + [p.grad.data.copy() for p in layer.parameters()])  # type: ignore[union-attr]

    values, grads = run(slice(None), T, lengths)
    for a in values + grads:
        assert np.isfinite(a).all()
    n_in = 3 if is_lstm else 2
    tol = dict(rtol=1e-10, atol=1e-12)
    param_sum = [np.zeros_like(g) for g in grads[n_in:]]
    for b, n in enumerate(lengths):
        v1, g1 = run(slice(b, b + 1), n, None)
        np.testing.assert_allclose(values[0][:n, b:b + 1], v1[0], **tol)
        assert np.all(values[0][n:, b] == 0)  # outputs beyond the length: zero
        for got, want in zip(values[1:], v1[1:], strict=True):  # h_n (and c_n)
            np.testing.assert_allclose(got[:, b:b + 1], want, **tol)
        np.testing.assert_allclose(grads[0][:n, b:b + 1], g1[0], **tol)
        assert np.all(grads[0][n:, b] == 0)  # padded steps get no gradient
        for got, want in zip(grads[1:n_in], g1[1:n_in], strict=True):  # h0 (and c0)
            np.testing.assert_allclose(got[:, b:b + 1], want, **tol)
        for acc, g in zip(param_sum, g1[n_in:], strict=True):
            acc += g
    for got, want in zip(grads[n_in:], param_sum, strict=True):  # every parameter's gradient
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_the_repro_of_the_issue_on_the_reference_path(bad: float) -> None:
    """NaN or +Inf in one row's padding left every weight gradient NaN."""
    x = np.random.default_rng(0).standard_normal((6, 3, 4)).astype("f4")
    x[3:, 1] = bad
    layer = rnn.LSTM(4, 8, impl="reference", rng=0)
    xt = Tensor(x, requires_grad=True)
    out, (h, c) = layer(xt, lengths=[6, 3, 2])
    (out.sum() + h.sum() + c.sum()).backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and np.isfinite(p.grad.data).all(), name
    assert xt.grad is not None and np.isfinite(xt.grad.data).all()
    assert np.all(xt.grad.data[3:, 1] == 0) and np.isfinite(out.data).all()


def test_run_cell_isolates_padding_for_a_user_cell_with_tuple_state() -> None:
    """The machinery, not the built-in cells, does the isolating: a cell that would turn NaN
    into NaN everywhere still gives finite results."""
    cell = rnn.LSTMCell(2, 3, dtype=np.float64, rng=1)
    x = np.random.default_rng(1).standard_normal((4, 2, 2))
    x[2:, 0] = np.nan
    xt = Tensor(x, requires_grad=True)
    out, (h, c) = run_cell(cell, xt, None, [2, 4], reverse=True)
    (out.sum() + h.sum() + c.sum()).backward()
    assert np.isfinite(out.data).all() and np.all(out.data[2:, 0] == 0)
    assert xt.grad is not None and np.all(xt.grad.data[2:, 0] == 0)
    for p in cell.parameters():
        assert p.grad is not None and np.isfinite(p.grad.data).all()
