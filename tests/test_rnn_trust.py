"""The recurrent layers never diverge silently: assigned parameters are the ones computed with,
dropout follows manual_seed, arguments and weights are checked with errors that name them,
run_cell and run_stack accept what the layers accept, and a used layer pickles.
"""

from __future__ import annotations

import pickle
import re
import textwrap
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad import Tensor
from minigrad.nn import Module, Parameter
from rnn.layers import run_cell, run_stack

IMPLS = ["reference", pytest.param("fused", marks=pytest.mark.skipif(
    not rnn.fused_available(), reason="fused kernels unavailable"))]


def _x(T: int = 4, B: int = 2, I: int = 2, dtype: Any = np.float32, seed: int = 0) -> Tensor:
    return Tensor(np.random.default_rng(seed).standard_normal((T, B, I)).astype(dtype))


# ---- assigning a parameter changes what the layer computes -------------------------------------
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_assigned_parameter_is_used_and_trained(kind: str, impl: str) -> None:
    layer = getattr(rnn, kind)(2, 3, num_layers=2, bidirectional=True, impl=impl, rng=0)
    x = _x()
    before = layer(x)[0].data.copy()
    names = list(layer.state_dict())
    old = layer.weight_ih_l1_reverse
    new = Parameter(np.zeros(old.shape, np.float32))
    layer.weight_ih_l1_reverse = new
    assert dict(layer.named_parameters())["weight_ih_l1_reverse"] is new
    assert list(layer.state_dict()) == names  # it keeps its place (PyTorch's order)
    out = layer(x)[0]
    assert not np.allclose(out.data, before)
    # a zero W_ih in layer 1's reverse direction: its input no longer matters there
    out.sum().backward()
    assert new.grad is not None and np.any(new.grad.data != 0)
    assert old.grad is None  # the replaced weight is out of the graph

    # and the same result as a layer that had these weights from the start
    fresh = getattr(rnn, kind)(2, 3, num_layers=2, bidirectional=True, impl=impl, rng=1)
    fresh.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(fresh(x)[0].data, out.data)


def test_the_repro_of_the_issue() -> None:
    m = rnn.LSTM(2, 3, rng=0)
    x = _x()
    m.weight_ih_l0 = Parameter(np.zeros((12, 2), np.float32))
    out, _ = m(x)
    out.sum().backward()
    assert m.weight_ih_l0.grad is not None
    # with W_ih = 0 the output does not depend on x
    np.testing.assert_array_equal(out.data, m(_x(seed=1))[0].data)


def test_assigning_a_misfit_raises_and_changes_nothing() -> None:
    m = rnn.GRU(2, 3, rng=0)
    x = _x()
    before, weight = m(x)[0].data.copy(), m.weight_hh_l0
    with pytest.raises(ValueError, match=r"^GRU: weight_hh_l0 must have shape \(9, 3\) and "
                                         r"dtype float32, got \(9, 2\) float32$"):
        m.weight_hh_l0 = Parameter(np.zeros((9, 2), np.float32))
    with pytest.raises(ValueError, match=r"GRU: weight_hh_l0 must have shape \(9, 3\) and "
                                         r"dtype float32, got \(9, 3\) float64$"):
        m.weight_hh_l0 = Parameter(np.zeros((9, 3)))
    with pytest.raises(TypeError, match="^GRU: cannot assign Tensor as parameter "
                                        "'weight_hh_l0'"):
        m.weight_hh_l0 = Tensor(np.zeros((9, 3), np.float32), requires_grad=True)
    with pytest.raises(AttributeError, match="GRU: cannot delete parameter 'weight_hh_l0'"):
        del m.weight_hh_l0
    assert m.weight_hh_l0 is weight
    np.testing.assert_array_equal(m(x)[0].data, before)


@pytest.mark.parametrize("impl", IMPLS)
def test_mis_shaped_or_mistyped_weights_are_named_at_the_call(impl: str) -> None:
    m = rnn.LSTM(2, 3, num_layers=2, impl=impl, rng=0)
    x = _x()
    good = m.weight_hh_l1.data
    m.weight_hh_l1.data = np.zeros((12, 4), np.float32)  # bypasses the assignment check
    with pytest.raises(ValueError, match=r"^LSTM: weight_hh_l1 has shape \(12, 4\), expected "
                                         r"\(12, 3\)$"):
        m(x)
    m.weight_hh_l1.data = good.astype(np.float64)
    with pytest.raises(TypeError, match="^LSTM: weight_hh_l1 has dtype float64, but "
                                        "weight_ih_l1 is float32"):
        m(x)
    m.weight_hh_l1.data = good
    m(x)  # back to normal
    for name in ["weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"]:  # one whole cell
        p = getattr(m, name)
        p.data = p.data.astype(np.float64)
    with pytest.raises(TypeError, match="^LSTM: weight_ih_l1 has dtype float64, but "
                                        "weight_ih_l0 is float32"):
        m(x)
    m.float()
    m(x)
    with pytest.raises(TypeError, match="LSTM.to: parameters must be float32 or float64, "
                                        "got float16"):
        m.astype(np.float16)  # Module.to refuses it before changing anything
    for p in m.parameters():  # bypassing the cast check: the call still refuses
        p.data = p.data.astype(np.float16)
    with pytest.raises(TypeError, match="LSTM: parameters of dtype float16 are not supported"):
        m(Tensor(x.data.astype(np.float16)))


# ---- dropout follows manual_seed ----------------------------------------------------------------
def _stacked() -> Any:
    return rnn.Stacked([rnn.Recurrent(rnn.GRUCell(3, 4)), rnn.Recurrent(rnn.GRUCell(4, 4))],
                       dropout=0.5)


@pytest.mark.parametrize("make", [
    pytest.param(lambda: rnn.LSTM(3, 4, num_layers=2, dropout=0.5, impl="fused"),
                 id="LSTM-fused", marks=pytest.mark.skipif(not rnn.fused_available(),
                                                           reason="fused kernels unavailable")),
    pytest.param(lambda: rnn.GRU(3, 4, num_layers=2, dropout=0.5, impl="reference"),
                 id="GRU-reference"),
    pytest.param(_stacked, id="Stacked"),
])
def test_manual_seed_makes_inter_layer_dropout_reproducible(make: Any) -> None:
    m = make()
    x = _x(5, 3, 3)

    def out() -> np.ndarray:
        return m(x)[0].data.copy()  # type: ignore[no-any-return]

    mg.manual_seed(0)
    a = out()
    mg.manual_seed(0)
    b = out()
    np.testing.assert_array_equal(a, b)
    c = out()  # the generator moved on: a fresh mask
    assert not np.array_equal(a, c)
    mg.manual_seed(1)
    assert not np.array_equal(a, out())


def test_a_layer_built_with_rng_keeps_its_own_generator() -> None:
    m = rnn.GRU(3, 4, num_layers=2, dropout=0.5, rng=7, impl="reference")
    x = _x(5, 3, 3)
    mg.manual_seed(0)
    a = m(x)[0].data.copy()
    mg.manual_seed(0)
    assert not np.array_equal(a, m(x)[0].data)  # its masks come from rng=7's stream


def test_run_stack_dropout_without_rng_uses_the_seeded_generator() -> None:
    layers = [rnn.Recurrent(rnn.RNNCell(3, 4, rng=0)), rnn.Recurrent(rnn.RNNCell(4, 4, rng=1))]
    x = _x(5, 3, 3)
    mg.manual_seed(3)
    a, _ = run_stack(layers, x, None, None, dropout_p=0.5)
    mg.manual_seed(3)
    b, _ = run_stack(layers, x, None, None, dropout_p=0.5)
    np.testing.assert_array_equal(a.data, b.data)
    plain, _ = run_stack(layers, x, None, None)
    assert not np.array_equal(a.data, plain.data)
    with pytest.raises(ValueError, match=r"run_stack: dropout_p must be in \[0, 1\), got 1.5"):
        run_stack(layers, x, None, None, dropout_p=1.5)


# ---- arguments --------------------------------------------------------------------------------
@pytest.mark.parametrize("build, error, message", [
    (lambda: rnn.LSTM(4, 8.5), TypeError, "LSTM: hidden_size must be an int, got 8.5 (float)"),
    (lambda: rnn.RNN("4", 8), TypeError, "RNN: input_size must be an int, got '4' (str)"),
    (lambda: rnn.GRU(4, 8, num_layers=2.0), TypeError,
     "GRU: num_layers must be an int, got 2.0 (float)"),
    (lambda: rnn.LSTM(4, True), TypeError, "LSTM: hidden_size must be an int, got True (bool)"),
    (lambda: rnn.LSTM(4, 8, proj_size=2.5), TypeError,
     "LSTM: proj_size must be an int, got 2.5 (float)"),
    (lambda: rnn.RNN(0, 8), ValueError, "RNN: input_size must be >= 1, got 0"),
    (lambda: rnn.GRU(4, 8, dropout="0.5"), TypeError,
     "GRU: dropout must be a number, got '0.5'"),
    (lambda: rnn.LSTMCell(4, 8.0), TypeError,
     "LSTMCell: hidden_size must be an int, got 8.0 (float)"),
    (lambda: rnn.GRUCell("3", 8), TypeError, "GRUCell: input_size must be an int, got '3' (str)"),
    (lambda: rnn.LSTM(4, 8, dtype=np.float16), TypeError,
     "LSTM: dtype must be float32 or float64, got float16"),
    (lambda: rnn.RNN(4, 8, dtype="float16"), TypeError,
     "RNN: dtype must be float32 or float64, got float16"),
    (lambda: rnn.GRU(4, 8, dtype=np.int32), TypeError,
     "GRU: dtype must be float32 or float64, got int32"),
    (lambda: rnn.RNNCell(4, 8, dtype=np.float16), TypeError,
     "RNNCell: dtype must be float32 or float64, got float16"),
])
def test_bad_arguments_are_named_with_their_values(build: Any, error: type,
                                                   message: str) -> None:
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        build()


def test_numpy_integer_sizes_are_accepted() -> None:
    m = rnn.LSTM(np.int64(2), np.int32(3), num_layers=np.int64(2), rng=0)
    assert m.hidden_size == 3 and type(m.hidden_size) is int
    assert m(_x())[0].shape == (4, 2, 3)


@pytest.mark.parametrize("layer", [rnn.GRU(2, 3, rng=0), rnn.GRUCell(2, 3, rng=0)],
                         ids=["GRU", "GRUCell"])
def test_input_dtype_error_reads_like_linear(layer: Any) -> None:
    name = type(layer).__name__
    x = np.zeros((4, 2, 2) if name == "GRU" else (2, 2))
    with pytest.raises(TypeError, match=f"^{name}: input dtype float64 differs from the "
                                        r"layer's float32; convert with x\.float\(\) or build "
                                        "the layer with dtype=float64$"):
        layer(Tensor(x))
    with pytest.raises(TypeError, match=f"^{name}: input dtype int64 differs from the "
                                        r"layer's float32; convert with x\.float\(\)$"):
        layer(Tensor(x.astype(np.int64)))


# ---- run_cell ---------------------------------------------------------------------------------
def test_run_cell_accepts_lengths_as_the_layers_do() -> None:
    cell = rnn.GRUCell(2, 3, rng=0)
    x = _x(4, 2, 2)
    want, h_want = run_cell(cell, x, None, np.array([4, 2]))
    for lengths in ([4, 2], (4, 2), Tensor(np.array([4, 2]))):
        out, h = run_cell(cell, x, None, lengths)  # type: ignore[arg-type]
        np.testing.assert_array_equal(out.data, want.data)
        np.testing.assert_array_equal(h.data, h_want.data)  # type: ignore[union-attr]


@pytest.mark.parametrize("reverse", [False, True])
def test_run_cell_zero_length_keeps_the_initial_state(reverse: bool) -> None:
    cell = rnn.LSTMCell(2, 3, rng=0)
    x = _x(4, 3, 2)
    out, (h, c) = run_cell(cell, x, None, [4, 0, 2], reverse=reverse)  # type: ignore[misc]
    assert np.all(out.data[:, 1] == 0)
    assert np.all(h.data[1] == 0) and np.all(c.data[1] == 0)  # zeros: no state was given
    alone, (h2, c2) = run_cell(cell, x[:, 0:1], reverse=reverse)  # type: ignore[misc]
    np.testing.assert_allclose(out.data[:, 0:1], alone.data, rtol=1e-6)
    np.testing.assert_allclose(h.data[0:1], h2.data, rtol=1e-6)
    # every row empty: the initial state comes back, the output is all zeros
    out, (h, c) = run_cell(cell, x, None, [0, 0, 0], reverse=reverse)  # type: ignore[misc]
    assert out.shape == (4, 3, 3) and not out.data.any() and not h.data.any()
    h0 = Tensor(np.ones((3, 3), np.float32))
    _, (h, _) = run_cell(cell, x, (h0, None), [0, 0, 0])  # type: ignore[misc]
    np.testing.assert_array_equal(h.data, h0.data)


def test_run_cell_errors() -> None:
    cell = rnn.RNNCell(2, 3, rng=0)
    x = _x(4, 2, 2)
    with pytest.raises(ValueError, match=r"^run_cell: lengths\[1\] = 5 exceeds sequence length "
                                         "4$"):
        run_cell(cell, x, None, [4, 5])
    with pytest.raises(ValueError, match=r"^run_cell: lengths\[0\] = -1 is below 0$"):
        run_cell(cell, x, None, [-1, 2])
    with pytest.raises(TypeError, match="run_cell: lengths must be integers, got dtype float64"):
        run_cell(cell, x, None, [1.5, 2])
    with pytest.raises(ValueError, match=r"run_cell: expected lengths of shape \(2,\)"):
        run_cell(cell, x, None, [1])
    with pytest.raises(ValueError, match=r"run_cell: expected a 3-D input \(T, B, I\)"):
        run_cell(cell, x[0])


def test_run_cell_docstring_example_runs() -> None:
    """The cell contract's example in run_cell's docstring, executed as written."""
    doc = run_cell.__doc__
    assert doc is not None and "cell(x_t, state=None) -> state" in doc
    block = textwrap.dedent(doc.split("::\n", 1)[1].split("\n\n    ``state``", 1)[0])
    ns: dict[str, Any] = {"np": np, "minigrad": mg, "Module": Module, "Parameter": Parameter,
                          "run_cell": run_cell, "Recurrent": rnn.Recurrent}
    exec(block, ns)
    assert ns["out"].shape == (5, 2, 4) and ns["h"].shape == (2, 4)


# ---- pickling ---------------------------------------------------------------------------------
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_a_used_layer_pickles(kind: str, impl: str) -> None:
    m = getattr(rnn, kind)(2, 3, num_layers=2, bidirectional=True, merge_mode="sum", impl=impl,
                           rng=0)
    x = _x()
    out = m(x)[0]
    out.sum().backward()
    copy = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(copy(x)[0].data, out.data)
    # the copy's cells and registered names still share one set of parameters
    copy.weight_ih_l0 = Parameter(np.zeros(copy.weight_ih_l0.shape, np.float32))
    assert not np.array_equal(copy(x)[0].data, out.data)
    np.testing.assert_array_equal(m(x)[0].data, out.data)  # the original is untouched
