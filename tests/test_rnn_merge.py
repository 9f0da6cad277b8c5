"""Bidirectional merge modes: concat (PyTorch's), sum, mean and mul.

The oracle for a merged stack is built from concat layers, which the PyTorch tests pin down:
run each layer alone with merge_mode "concat", merge its two halves in numpy, and feed the
result to the next layer. Values and every gradient must agree, on both paths; finite
differences check the gradients (and, on the reference path, second derivatives) directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
import rnn
from minigrad import Tensor
from minigrad.nn import Module, Parameter
from minigrad.testing import gradcheck

IMPLS = ["reference"] + (["fused"] if rnn.fused_available() else [])
MODES = ["concat", "sum", "mean", "mul"]
NUMPY_MERGE = {
    "concat": lambda f, r: np.concatenate([f, r], axis=-1),
    "sum": lambda f, r: f + r,
    "mean": lambda f, r: (f + r) / 2,
    "mul": lambda f, r: f * r,
}


def _layer(kind: str, I: int, H: int, **kw: Any) -> Any:
    extra = {"proj_size": 2} if kind == "LSTM_proj" else {}
    return getattr(rnn, kind.split("_")[0])(I, H, bidirectional=True, dtype=np.float64,
                                            **extra, **kw)


def _states(s: Any) -> list[Tensor]:
    return list(s) if isinstance(s, tuple) else [s]


@st.composite
def merge_cases(draw: Any) -> dict[str, Any]:
    T, B = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    return dict(
        kind=draw(st.sampled_from(["RNN", "LSTM", "LSTM_proj", "GRU"])),
        mode=draw(st.sampled_from(MODES)), T=T, B=B, I=draw(st.integers(1, 3)),
        H=draw(st.integers(3, 4)), num_layers=draw(st.integers(1, 3)),
        lengths=draw(st.none() | st.lists(st.integers(1, T), min_size=B, max_size=B)),
        seed=draw(st.integers(0, 2**16)),
    )


@pytest.mark.parametrize("impl", IMPLS)
@given(case=merge_cases())
def test_merged_stack_equals_concat_layers_merged_by_hand(case: dict[str, Any],
                                                           impl: str) -> None:
    kind, mode, L = case["kind"], case["mode"], case["num_layers"]
    layer = _layer(kind, case["I"], case["H"], num_layers=L, merge_mode=mode, impl=impl,
                   rng=case["seed"])
    P = layer.output_size
    M = 2 * P if mode == "concat" else P
    assert layer.layer_output_size == M
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["T"], case["B"], case["I"]))
    v_out = rng.standard_normal((case["T"], case["B"], M))

    # the layer under test: output, final states, and gradients of a fixed scalar
    xt = Tensor(x, requires_grad=True)
    out, s = layer(xt, lengths=case["lengths"])
    states = _states(s)
    assert out.shape == (case["T"], case["B"], M)
    assert states[0].shape == (2 * L, case["B"], P)
    v_states = [rng.standard_normal(t.shape) for t in states]
    loss = (out * Tensor(v_out)).sum()
    for t, v in zip(states, v_states, strict=True):
        loss = loss + (t * Tensor(v)).sum()
    loss.backward()

    # the oracle: one concat layer per depth, merged in numpy between them
    inp: Any = Tensor(x, requires_grad=True)
    x0 = inp
    finals: list[list[Tensor]] = []
    singles = []
    for k in range(L):
        one = _layer(kind, inp.shape[2], case["H"], impl=impl)
        one.load_state_dict({n.replace(f"_l{k}", "_l0"): p.data for n, p in
                             layer.named_parameters() if f"_l{k}" in n})
        o, sk = one(inp, lengths=case["lengths"])
        merged = {"concat": lambda o: o, "sum": lambda o: o[:, :, :P] + o[:, :, P:],
                  "mean": lambda o: (o[:, :, :P] + o[:, :, P:]) * 0.5,
                  "mul": lambda o: o[:, :, :P] * o[:, :, P:]}[mode](o)
        np.testing.assert_allclose(merged.data,
                                   NUMPY_MERGE[mode](o.data[:, :, :P], o.data[:, :, P:]),
                                   rtol=1e-15, atol=0)
        finals.append(_states(sk))
        singles.append((k, one))
        inp = merged
    np.testing.assert_allclose(out.data, inp.data, rtol=1e-12, atol=1e-13)
    if case["lengths"] is not None:
        for b, n in enumerate(case["lengths"]):
            assert np.all(out.data[n:, b] == 0)  # padded steps stay zero in every mode
    for j, t in enumerate(states):
        want = np.concatenate([f[j].data for f in finals])
        np.testing.assert_allclose(t.data, want, rtol=1e-12, atol=1e-13)

    oracle = (inp * Tensor(v_out)).sum()
    for j, v in enumerate(v_states):
        oracle = oracle + (mg.concatenate([f[j] for f in finals]) * Tensor(v)).sum()
    oracle.backward()
    assert xt.grad is not None and x0.grad is not None
    np.testing.assert_allclose(xt.grad.data, x0.grad.data, rtol=1e-10, atol=1e-12)
    for k, one in singles:
        for n, p in one.named_parameters():
            got = dict(layer.named_parameters())[n.replace("_l0", f"_l{k}")].grad
            assert got is not None and p.grad is not None
            np.testing.assert_allclose(got.data, p.grad.data, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ["sum", "mean", "mul"])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_merged_layer_gradients_match_central_differences(kind: str, mode: str,
                                                          impl: str) -> None:
    layer = _layer(kind, 2, 3, num_layers=2, merge_mode=mode, impl=impl, rng=4)
    rng = np.random.default_rng(5)
    x, h0 = rng.standard_normal((3, 2, 2)), rng.standard_normal((4, 2, 3))

    def f(x: Tensor, h0: Tensor) -> tuple[Tensor, ...]:
        hx = (h0, None) if kind == "LSTM" else h0
        out, s = layer(x, hx, lengths=[3, 2])
        return (out, *_states(s))

    assert gradcheck(f, [x, h0], order=2 if impl == "reference" else 1)


@pytest.mark.parametrize("mode", ["sum", "mean", "mul"])
def test_weight_gradients_of_merged_layers_match_central_differences(mode: str) -> None:
    """The reference path's parameter gradients, weights fed in as gradcheck's inputs."""
    layer = _layer("GRU", 2, 3, num_layers=2, merge_mode=mode, impl="reference", rng=6)
    names = ["weight_ih_l1", "weight_hh_l0_reverse", "bias_hh_l1_reverse"]
    x = np.random.default_rng(7).standard_normal((3, 2, 2))

    def f(*weights: Tensor) -> Tensor:
        for n, w in zip(names, weights, strict=True):  # the cells compute with gradcheck's
            cell, pname = layer._slots[n]
            object.__setattr__(cell, pname, w)
        return layer(Tensor(x), lengths=[3, 1])[0]

    try:
        assert gradcheck(f, [dict(layer.named_parameters())[n].data for n in names], order=2)
    finally:
        for n in names:
            cell, pname = layer._slots[n]
            object.__setattr__(cell, pname, cell._parameters[pname])


def test_bidirectional_block_merges_user_cells() -> None:
    class Cell(Module):
        def __init__(self, seed: int, input_size: int = 2) -> None:
            super().__init__()
            self.w = Parameter(np.random.default_rng(seed).uniform(-1, 1, (3, input_size)))

        def __call__(self, x: Tensor, h: Tensor | None = None) -> Tensor:
            a = x @ self.w.T
            return mg.tanh(a if h is None else a + h)

    x = np.random.default_rng(8).standard_normal((4, 2, 2))
    f, r = Cell(0), Cell(1)
    cat, _ = rnn.Bidirectional(f, r)(x, lengths=[4, 2])
    for mode in ["sum", "mean", "mul"]:
        block = rnn.Bidirectional(f, r, merge_mode=mode)
        out, states = block(x, lengths=[4, 2])
        assert out.shape == (4, 2, 3) and len(states) == 2
        np.testing.assert_allclose(out.data, NUMPY_MERGE[mode](cat.data[..., :3],
                                                               cat.data[..., 3:]), rtol=1e-15)
        assert f"merge_mode={mode!r}" in repr(block)
    stacked = rnn.Stacked([rnn.Bidirectional(f, r, merge_mode="sum"),
                           rnn.Recurrent(Cell(2, 3))])  # reads width 3, not 6
    assert stacked(x)[0].shape == (4, 2, 3)


def test_default_is_concat_and_parameter_shapes_follow_the_mode() -> None:
    cat = rnn.LSTM(5, 4, num_layers=2, bidirectional=True, rng=0)
    assert cat.merge_mode == "concat" and "merge_mode" not in repr(cat)
    assert cat.weight_ih_l1.shape == (16, 8)
    summed = rnn.LSTM(5, 4, num_layers=2, bidirectional=True, merge_mode="sum", rng=0)
    assert summed.weight_ih_l1.shape == (16, 4) and "merge_mode='sum'" in repr(summed)
    out, (h, c) = summed(Tensor(np.zeros((3, 2, 5), np.float32)))
    assert out.shape == (3, 2, 4) and h.shape == (4, 2, 4) and c.shape == (4, 2, 4)
    with pytest.raises(AttributeError):  # layer 1's input size depends on it
        summed.merge_mode = "concat"  # type: ignore[misc]
    assert summed.merge_mode == "sum"


def test_merge_mode_errors() -> None:
    with pytest.raises(ValueError, match="^GRU: merge_mode must be one of 'concat', 'sum', "
                                         "'mean', 'mul', got 'max'$"):
        rnn.GRU(3, 4, bidirectional=True, merge_mode="max")
    with pytest.raises(ValueError, match="^LSTM: merge_mode='sum' merges two directions; it "
                                         "needs bidirectional=True$"):
        rnn.LSTM(3, 4, merge_mode="sum")
    with pytest.raises(ValueError, match="^Bidirectional: merge_mode must be one of"):
        rnn.Bidirectional(rnn.RNNCell(2, 3), rnn.RNNCell(2, 3), merge_mode="ave")
    rnn.RNN(3, 4, merge_mode="concat")  # the default, named explicitly: fine
