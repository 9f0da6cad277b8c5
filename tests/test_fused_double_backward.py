"""Second derivatives and tangents through the fused recurrent layers equal the reference path's
(1e-10, float64), for every layer kind, both directions, variable lengths and stacks; a
Hessian-vector product on the default path agrees with finite differences."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad import Tensor, func
from minigrad.forward import dual_level
from minigrad.testing import gradcheck

pytestmark = pytest.mark.skipif(not rnn.fused_available(), reason="fused kernels unavailable")

T, B, I, H = 4, 3, 2, 3

#: (id, class, constructor keywords)
KINDS = [
    ("lstm", rnn.LSTM, {}),
    ("lstm-proj", rnn.LSTM, {"proj_size": 2}),
    ("gru", rnn.GRU, {}),
    ("gru-classic", rnn.GRU, {"reset_after": False}),
    ("rnn-tanh", rnn.RNN, {}),
    ("rnn-relu", rnn.RNN, {"nonlinearity": "relu"}),
]
SHAPES = [  # (bidirectional, lengths, num_layers)
    (False, None, 1),
    (True, None, 1),
    (False, np.array([4, 2, 3]), 1),
    (True, np.array([1, 4, 2]), 1),
    (True, None, 2),
]


def _layer(cls: Any, kw: dict, impl: str, bidirectional: bool, num_layers: int) -> Any:
    return cls(I, H, num_layers=num_layers, bidirectional=bidirectional, impl=impl,
               dtype=np.float64, rng=0, **kw)


def _states(layer: Any, rng: np.random.Generator) -> Any:
    n = layer.num_layers * layer.num_directions
    h0 = Tensor(rng.standard_normal((n, B, layer.output_size)) * 0.5, requires_grad=True)
    if isinstance(layer, rnn.LSTM):
        return h0, Tensor(rng.standard_normal((n, B, H)) * 0.5, requires_grad=True)
    return h0


def _flat(hx: Any) -> list[Tensor]:
    return list(hx) if isinstance(hx, tuple) else [hx]


def _loss(layer: Any, x: Tensor, hx: Any, lengths: Any) -> Tensor:
    out, finals = layer(x, hx, lengths=lengths)
    w = np.cos(np.arange(out.size)).reshape(out.shape)  # a fixed weighting of the outputs
    loss = (out * out * Tensor(w)).sum()
    for f in _flat(finals):
        loss = loss + (mg.tanh(f) * f).sum()
    return loss


def _second_order(impl: str, cls: Any, kw: dict, bidirectional: bool, lengths: Any,
                  num_layers: int) -> list[np.ndarray]:
    """d/d(everything) of (dL/d(everything) . v): a Hessian-vector product by double backward."""
    layer = _layer(cls, kw, impl, bidirectional, num_layers)
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((T, B, I)), requires_grad=True)
    hx = _states(layer, rng)
    wrt = [x, *_flat(hx), *layer.parameters()]
    gs = mg.grad(_loss(layer, x, hx, lengths), wrt, create_graph=True)
    vs = [np.random.default_rng(10 + k).standard_normal(g.shape) for k, g in enumerate(gs)]
    gv = sum(((g * Tensor(v)).sum() for g, v in zip(gs, vs, strict=True)), Tensor(0.0))
    return [np.asarray(h.data) for h in mg.grad(gv, wrt)]


def _tangents(impl: str, cls: Any, kw: dict, bidirectional: bool, lengths: Any,
              num_layers: int) -> list[np.ndarray]:
    """The tangents of the output and final states, every input (parameters too) moving."""
    layer = _layer(cls, kw, impl, bidirectional, num_layers)
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((T, B, I)))
    hx = _states(layer, rng)
    with dual_level() as level:
        for k, t in enumerate([x, *_flat(hx), *layer.parameters()]):
            level.set_tangent(t, Tensor(np.random.default_rng(20 + k).standard_normal(t.shape)))
        out, finals = layer(x, hx, lengths=lengths)
        return [np.asarray(level.tangent(o).data) for o in [out, *_flat(finals)]]


@pytest.mark.parametrize("shape", SHAPES, ids=["one", "bidir", "lengths", "bidir-lengths",
                                               "stack"])
@pytest.mark.parametrize("kind", KINDS, ids=[k[0] for k in KINDS])
def test_double_backward_equals_reference(kind: Any, shape: Any) -> None:
    _, cls, kw = kind
    fused = _second_order("fused", cls, kw, *shape)
    ref = _second_order("reference", cls, kw, *shape)
    for a, b in zip(fused, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
        assert np.any(a != 0)  # the check compares something


@pytest.mark.parametrize("shape", SHAPES, ids=["one", "bidir", "lengths", "bidir-lengths",
                                               "stack"])
@pytest.mark.parametrize("kind", KINDS, ids=[k[0] for k in KINDS])
def test_tangents_equal_reference(kind: Any, shape: Any) -> None:
    _, cls, kw = kind
    fused = _tangents("fused", cls, kw, *shape)
    ref = _tangents("reference", cls, kw, *shape)
    for a, b in zip(fused, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
        assert np.any(a != 0)


@pytest.mark.parametrize("cls", [rnn.LSTM, rnn.GRU, rnn.RNN])
def test_second_derivatives_on_the_default_path_against_finite_differences(cls: Any) -> None:
    """gradcheck order 2, both modes: reverse over reverse (the fused entry's backward on the
    graph), forward over reverse and their transposition, through the default fused layer."""
    layer = cls(I, H, bidirectional=True, dtype=np.float64, rng=0)
    assert layer.impl == "fused"
    rng = np.random.default_rng(3)
    lengths = np.array([2, 3, 1])
    assert gradcheck(lambda x: layer(x, lengths=lengths)[0], [rng.standard_normal((3, B, I))],
                     order=2, full_jacobian_max=0, n_directions=2)


def test_hessian_vector_product_of_an_lstm_loss_on_the_fused_path() -> None:
    """The HVP via func (forward over reverse) and via double backward agree on the fused path,
    and with the reference path's Hessian."""
    lstm = rnn.LSTM(I, H, dtype=np.float64, rng=0)
    x = np.random.default_rng(4).standard_normal((T, B, I))
    v = np.random.default_rng(5).standard_normal(x.shape)
    loss = lambda t: (lstm(t)[0] ** 2).sum()  # noqa: E731
    _, hvp_fwd = func.jvp(func.grad(loss), (Tensor(x),), (Tensor(v),))
    xt = Tensor(x, requires_grad=True)
    (g,) = mg.grad(loss(xt), [xt], create_graph=True)
    (hvp_rev,) = mg.grad((g * Tensor(v)).sum(), [xt])
    lstm.impl = "reference"
    hess = func.hessian(loss)(Tensor(x)).data.reshape(x.size, x.size)
    np.testing.assert_allclose(hvp_fwd.data, hvp_rev.data, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hvp_rev.data.ravel(), hess @ v.ravel(), rtol=1e-10, atol=1e-12)


def test_plain_backward_still_runs_the_kernel() -> None:
    """Only create_graph=True takes the reference: a plain backward records no new entries."""
    lstm = rnn.LSTM(I, H, dtype=np.float64, rng=0)
    x = Tensor(np.ones((T, B, I)), requires_grad=True)
    with mg.Tape() as tape:
        loss = (lstm(x)[0] ** 2).sum()
        mg.grad(loss, [x])
    assert [e.op.name for e in tape.entries].count("lstm_layer") == 1
    assert len(tape.entries) < 10


def test_a_fused_primitive_without_reference_says_so() -> None:
    twice = mg.Primitive("test_fused_twice", lambda x: (x * 2, None), fused=True, has_aux=True)
    twice.defvjp(lambda xp, g, ans, x, aux, needs: g * 2)
    try:
        x = Tensor(np.ones(3), requires_grad=True)
        with pytest.raises(RuntimeError, match="test_fused_twice: this fused kernel's backward "
                                               "cannot be differentiated again and it has no "
                                               "reference twin.*impl='reference'"):
            mg.grad((twice(x) ** 2).sum(), [x], create_graph=True)
        with pytest.raises(NotImplementedError, match="test_fused_twice: this primitive has no "
                                                      "jvp rule"):
            func.jvp(lambda t: twice(t), (Tensor(np.ones(3)),), (Tensor(np.ones(3)),))
        twice.reference = lambda x: x * 2
        (g,) = mg.grad((twice(x) ** 2).sum(), [x], create_graph=True)
        (gg,) = mg.grad(g.sum(), [x])
        np.testing.assert_array_equal(gg.data, np.full(3, 8.0))
    finally:
        del mg.Primitive.registry["test_fused_twice"]
