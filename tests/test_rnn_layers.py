"""The sequence machinery and the PyTorch-compatible layers, without PyTorch.

Parameter names and shapes, variable lengths, bidirectional alignment, dropout, errors,
state_dict, user-written cells, and (for the reference path) second derivatives.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad import Tensor
from minigrad.nn import Module, Parameter
from minigrad.testing import gradcheck
from rnn.layers import reversal_index, run_cell

IMPLS = ["reference", pytest.param("fused", marks=pytest.mark.skipif(
    not rnn.fused_available(), reason="fused kernels unavailable"))]


def make(kind: str, I: int, H: int, **kw: Any) -> Any:
    kw.setdefault("dtype", np.float64)
    kw.setdefault("rng", 0)
    return getattr(rnn, kind)(I, H, **kw)


def call(layer: Any, x: Any, hx: Any = None, lengths: Any = None) -> tuple[Tensor, list[Tensor]]:
    """The output and the final states as a list ([h_n] or [h_n, c_n])."""
    out, s = layer(x, hx, lengths=lengths)
    return out, list(s) if isinstance(s, tuple) else [s]


# ---- parameters ------------------------------------------------------------------------------
def expected_shapes(kind: str, I: int, H: int, L: int, D: int, bias: bool,
                    P: int = 0) -> dict[str, tuple[int, ...]]:
    """The contract's table of names and shapes, written out."""
    G = {"RNN": 1, "LSTM": 4, "GRU": 3}[kind] * H
    R = P or H
    shapes: dict[str, tuple[int, ...]] = {}
    for k in range(L):
        for sfx in ["", "_reverse"][:D]:
            shapes[f"weight_ih_l{k}{sfx}"] = (G, I if k == 0 else D * R)
            shapes[f"weight_hh_l{k}{sfx}"] = (G, R)
            if bias:
                shapes[f"bias_ih_l{k}{sfx}"] = (G,)
                shapes[f"bias_hh_l{k}{sfx}"] = (G,)
            if P:
                shapes[f"weight_hr_l{k}{sfx}"] = (P, H)
    return shapes


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("L, bidirectional, bias", [(1, False, True), (3, True, False),
                                                     (2, True, True)])
def test_parameter_names_and_shapes(kind: str, L: int, bidirectional: bool, bias: bool) -> None:
    layer = make(kind, 5, 6, num_layers=L, bidirectional=bidirectional, bias=bias)
    got = {n: p.shape for n, p in layer.named_parameters()}
    want = expected_shapes(kind, 5, 6, L, 2 if bidirectional else 1, bias)
    assert list(got) == list(want)  # PyTorch's order too
    assert got == want
    assert list(layer.state_dict()) == list(want)


def test_lstm_projection_parameters() -> None:
    layer = make("LSTM", 5, 6, num_layers=2, bidirectional=True, proj_size=3)
    want = expected_shapes("LSTM", 5, 6, 2, 2, True, P=3)
    assert {n: p.shape for n, p in layer.named_parameters()} == want
    out, (h, c) = layer(Tensor(np.zeros((4, 2, 5))))
    assert out.shape == (4, 2, 6) and h.shape == (4, 2, 3) and c.shape == (4, 2, 6)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_initialisation_is_uniform_in_one_over_sqrt_h(kind: str) -> None:
    H = 25
    layer = make(kind, 7, H, num_layers=2, dtype=np.float32)
    values = np.concatenate([p.data.ravel() for p in layer.parameters()])
    assert values.dtype == np.float32
    assert values.min() >= -0.2 and values.max() <= 0.2
    assert values.min() < -0.19 and values.max() > 0.19
    assert abs(values.mean()) < 0.01  # centred


def test_state_dict_round_trip_and_all_or_nothing_load() -> None:
    a, b = make("GRU", 3, 4, num_layers=2, rng=1), make("GRU", 3, 4, num_layers=2, rng=2)
    b.load_state_dict({k: Tensor(v) for k, v in a.state_dict().items()})
    for (n, p), (m, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert n == m
        np.testing.assert_array_equal(p.data, q.data)

    before = b.state_dict()
    broken = dict(a.state_dict())
    broken["weight_hh_l1"] = np.zeros((12, 5))
    del broken["bias_ih_l0"]
    broken["weight_hr_l0"] = np.zeros((2, 2))
    with pytest.raises(ValueError) as e:
        b.load_state_dict({k: v + 1 for k, v in broken.items()})
    msg = str(e.value)
    assert "missing keys ['bias_ih_l0']" in msg and "unexpected keys ['weight_hr_l0']" in msg
    assert "weight_hh_l1: expected shape (12, 4), got (12, 5)" in msg
    for k, v in b.state_dict().items():  # nothing was half-loaded
        np.testing.assert_array_equal(v, before[k])


def test_loading_changes_what_the_layer_computes() -> None:
    a, b = make("LSTM", 3, 4, rng=1), make("LSTM", 3, 4, rng=2)
    x = Tensor(np.random.default_rng(0).standard_normal((5, 2, 3)))
    assert not np.allclose(a(x)[0].data, b(x)[0].data)
    b.load_state_dict(a.state_dict())
    for impl in ["reference"] + (["fused"] if rnn.fused_available() else []):
        a.impl = b.impl = impl
        np.testing.assert_array_equal(a(x)[0].data, b(x)[0].data)


# ---- layout -----------------------------------------------------------------------------------
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_batch_first_is_the_transposed_layout(kind: str, impl: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 3, 4))
    lengths = [6, 2, 4]
    seq = make(kind, 4, 5, num_layers=2, bidirectional=True, impl=impl)
    bf = make(kind, 4, 5, num_layers=2, bidirectional=True, impl=impl, batch_first=True)
    out_s, st_s = call(seq, x, lengths=lengths)
    out_b, st_b = call(bf, x.transpose(1, 0, 2), lengths=lengths)
    np.testing.assert_array_equal(out_b.data.transpose(1, 0, 2), out_s.data)
    for a, b in zip(st_s, st_b, strict=True):  # h_n keeps (L*D, B, H) whatever batch_first
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_bidirectional_alignment_of_h_n(kind: str, impl: str) -> None:
    T, B, H = 5, 3, 4
    lengths = np.array([5, 2, 3])
    layer = make(kind, 2, H, num_layers=2, bidirectional=True, impl=impl)
    out, (h_n, *_) = call(layer, np.random.default_rng(2).standard_normal((T, B, 2)),
                          lengths=lengths)
    o = out.data
    for b, n in enumerate(lengths):
        np.testing.assert_array_equal(h_n.data[2, b], o[n - 1, b, :H])  # last layer, forward
        np.testing.assert_array_equal(h_n.data[3, b], o[0, b, H:])  # reverse: output[0]
        assert np.all(o[n:, b] == 0)


# ---- variable lengths ------------------------------------------------------------------------
def padded_batch(rng: np.random.Generator, lengths: list[int], I: int) -> np.ndarray:
    x = rng.standard_normal((max(lengths) + 1, len(lengths), I))
    for b, n in enumerate(lengths):
        x[n:, b] = 1e3  # garbage in the padding
    return x


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind, kw", [("RNN", {}), ("LSTM", {}), ("LSTM", {"proj_size": 2}),
                                      ("GRU", {}), ("GRU", {"reset_after": False})])
def test_padded_batch_gives_what_each_sequence_gives_alone(kind: str, kw: dict,
                                                           impl: str) -> None:
    rng = np.random.default_rng(3)
    lengths = [3, 5, 1, 4]
    T, B, I, H = max(lengths) + 1, len(lengths), 3, 4
    layer = make(kind, I, H, num_layers=2, bidirectional=True, impl=impl, **kw)
    P = kw.get("proj_size") or H
    x = padded_batch(rng, lengths, I)
    h0 = rng.standard_normal((4, B, P))
    c0 = rng.standard_normal((4, B, H))
    seeds = [rng.standard_normal((T, B, 2 * P)), rng.standard_normal((4, B, P)),
             rng.standard_normal((4, B, H))]

    def run(cols: slice, n: int, ln: Any) -> tuple[list, list]:
        """Batch entries ``cols``, first ``n`` steps: values and gradients."""
        layer.zero_grad()
        xt, ht, ct = (Tensor(a, requires_grad=True) for a in (x[:n, cols], h0[:, cols],
                                                              c0[:, cols]))
        out, states = call(layer, xt, (ht, ct) if kind == "LSTM" else ht, ln)
        loss = (out * Tensor(seeds[0][:n, cols])).sum()
        for s, w in zip(states, seeds[1:], strict=False):
            loss = loss + (s * Tensor(w[:, cols])).sum()
        loss.backward()
        grads = [t.grad.data for t in (xt, ht, ct)[:3 if kind == "LSTM" else 2]
                 if t.grad is not None]
        return [out.data, *(s.data for s in states)], grads + [
            p.grad.data.copy() for p in layer.parameters()]

    values, grads = run(slice(None), T, lengths)
    n_in = 3 if kind == "LSTM" else 2
    param_grads = np.zeros(sum(p.size for p in layer.parameters()))
    for b, n in enumerate(lengths):
        v1, g1 = run(slice(b, b + 1), n, None)
        np.testing.assert_allclose(values[0][:n, b:b + 1], v1[0], rtol=1e-12, atol=1e-12)
        assert np.all(values[0][n:, b] == 0)
        for got, want in zip(values[1:], v1[1:], strict=True):  # h_n, c_n
            np.testing.assert_allclose(got[:, b:b + 1], want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grads[0][:n, b:b + 1], g1[0], rtol=1e-10, atol=1e-12)
        assert np.all(grads[0][n:, b] == 0)  # padded steps get no gradient
        for got, want in zip(grads[1:n_in], g1[1:n_in], strict=True):  # h0, c0
            np.testing.assert_allclose(got[:, b:b + 1], want, rtol=1e-10, atol=1e-12)
        param_grads += np.concatenate([g.ravel() for g in g1[n_in:]])
    # the batch's parameter gradient is the sum of the single sequences' ones
    np.testing.assert_allclose(np.concatenate([g.ravel() for g in grads[n_in:]]), param_grads,
                               rtol=1e-10, atol=1e-11)


def test_reversal_index_flips_within_each_length() -> None:
    idx = reversal_index(4, np.array([4, 2, 1]))
    assert idx.tolist() == [[3, 1, 0], [2, 0, 1], [1, 2, 2], [0, 3, 3]]
    assert (idx[idx, np.arange(3)] == np.arange(4)[:, None]).all()  # its own inverse
    assert reversal_index(3, None)[:, 0].tolist() == [2, 1, 0]


# ---- dropout ---------------------------------------------------------------------------------
@pytest.mark.parametrize("impl", IMPLS)
def test_dropout_only_between_layers_and_only_in_training(impl: str) -> None:
    x = Tensor(np.random.default_rng(4).standard_normal((5, 3, 4)))
    plain = make("GRU", 4, 6, num_layers=2, impl=impl, rng=9)
    drop = make("GRU", 4, 6, num_layers=2, impl=impl, rng=9, dropout=0.5)
    drop.eval()
    for a, b in zip(call(plain, x)[1], call(drop, x)[1], strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    drop.train()
    out1, out2 = call(drop, x)[0], call(drop, x)[0]
    assert not np.allclose(out1.data, call(plain, x)[0].data)
    assert not np.allclose(out1.data, out2.data)  # a fresh mask every call
    # the first layer's half of h_n is before any dropout
    np.testing.assert_array_equal(call(drop, x)[1][0].data[0], call(plain, x)[1][0].data[0])
    # a single layer has no layer after it: dropout never applies (and, as in PyTorch, a
    # warning says so at construction)
    with pytest.warns(UserWarning, match=r"^GRU: dropout=0.5 is applied between stacked layers "
                                         r"only, so it does nothing with num_layers=1"):
        one = make("GRU", 4, 6, impl=impl, rng=9, dropout=0.5)
    np.testing.assert_array_equal(call(one, x)[0].data,
                                  call(make("GRU", 4, 6, impl=impl, rng=9), x)[0].data)


# ---- errors ---------------------------------------------------------------------------------
def test_errors_name_the_layer_and_the_numbers() -> None:
    lstm = rnn.LSTM(32, 8, rng=0)
    x = Tensor(np.zeros((5, 2, 32), np.float32))
    with pytest.raises(ValueError, match="^LSTM: expected input size 32, got 16$"):
        lstm(Tensor(np.zeros((5, 2, 16), np.float32)))
    gru = rnn.GRU(4, 3, rng=0)
    msg = r"^GRU: expected h0 of shape \(1, 2, 3\), got \(1, 2, 5\)$"
    with pytest.raises(ValueError, match=msg):
        gru(Tensor(np.zeros((5, 2, 4), np.float32)), Tensor(np.zeros((1, 2, 5), np.float32)))
    with pytest.raises(ValueError, match=r"lengths\[1\] = 9 exceeds sequence length 5"):
        lstm(x, lengths=[5, 9])
    with pytest.raises(ValueError, match=r"LSTM: lengths\[0\] = 0 is below 1"):
        lstm(x, lengths=np.array([0, 2]))
    with pytest.raises(ValueError, match=r"expected lengths of shape \(2,\)"):
        lstm(x, lengths=[1, 2, 3])
    with pytest.raises(ValueError, match=r"LSTM: expected a 3-D input \(T, B, I\), got 2-D"):
        lstm(Tensor(np.zeros((2, 32), np.float32)))
    with pytest.raises(TypeError, match=r"^LSTM: input dtype float64 differs from the layer's "
                                        r"float32; convert with x\.float\(\) or build the layer "
                                        r"with dtype=float64$"):
        lstm(Tensor(np.zeros((5, 2, 32))))
    with pytest.raises(TypeError, match="LSTM: h0 has dtype float64, but the weights are"):
        lstm(x, (Tensor(np.zeros((1, 2, 8))), None))
    with pytest.raises(ValueError, match=r"LSTM: expected c0 of shape \(1, 2, 8\), got \(2, 8\)"):
        lstm(x, (None, Tensor(np.zeros((2, 8), np.float32))))
    with pytest.raises(TypeError, match="LSTM: expected the initial state as a pair"):
        lstm(x, Tensor(np.zeros((1, 2, 8), np.float32)))
    with pytest.raises(ValueError, match="impl must be 'fused' or 'reference'"):
        rnn.RNN(3, 4, impl="cuda")
    with pytest.raises(ValueError, match="RNN: dropout must be in"):
        rnn.RNN(3, 4, dropout=1.0)


def test_bad_input_changes_no_state() -> None:
    layer = rnn.GRU(3, 4, num_layers=2, dropout=0.5, rng=0)
    before = layer._rng.bit_generator.state
    weights = layer.state_dict()
    with pytest.raises(ValueError):
        layer(Tensor(np.zeros((5, 2, 3), np.float32)), lengths=[5, 6])
    assert layer._rng.bit_generator.state == before  # no dropout mask was drawn
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(v, weights[k])


def test_numpy_inputs_and_float64_via_astype() -> None:
    layer = rnn.RNN(3, 4, nonlinearity="relu", rng=0).double()
    out, h = layer(np.ones((2, 1, 3)))
    assert out.dtype == np.float64 and h.shape == (1, 1, 4)


# ---- user-written cells ----------------------------------------------------------------------
class MinimalCell(Module):
    """h' = tanh(x U^T + h V^T) * s: a cell the library has never seen."""

    def __init__(self, input_size: int, hidden_size: int, seed: int) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.U = Parameter(rng.uniform(-0.5, 0.5, (hidden_size, input_size)))
        self.V = Parameter(rng.uniform(-0.5, 0.5, (hidden_size, hidden_size)))
        self.s = Parameter(rng.uniform(0.5, 1.5, (hidden_size,)))

    def __call__(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        a = x @ self.U.T
        if h is not None:
            a = a + h @ self.V.T
        return mg.tanh(a) * self.s


class PairCell(Module):
    """A cell whose state is a pair (output, running sum): exercises tuple states."""

    def __init__(self, input_size: int, hidden_size: int, seed: int) -> None:
        super().__init__()
        self.inner = MinimalCell(input_size, hidden_size, seed)

    def __call__(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None
                 ) -> tuple[Tensor, Tensor]:
        h = self.inner(x, None if state is None else state[0])
        return h, h if state is None else state[1] + h


def test_user_cell_runs_in_the_building_blocks() -> None:
    rng = np.random.default_rng(5)
    x = Tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    stack = rnn.Stacked([rnn.Bidirectional(MinimalCell(2, 3, 0), MinimalCell(2, 3, 1)),
                         rnn.Recurrent(PairCell(6, 5, 2), reverse=True)], dropout=0.0)
    out, states = stack(x, lengths=[4, 1, 3])
    assert out.shape == (4, 3, 5) and len(states) == 3
    assert isinstance(states[2], tuple)
    out.sum().backward()
    assert x.grad is not None and np.all(x.grad.data[1:, 1] == 0)
    names = [n for n, _ in stack.named_parameters()]
    assert names[0] == "layer0.forward_cell.U" and names[-1] == "layer1.cell.inner.s"
    for p in stack.parameters():
        assert p.grad is not None


def test_machinery_gradients_match_central_differences() -> None:
    """Reversal within lengths and masking of padded steps, by finite differences."""
    rng = np.random.default_rng(6)
    lengths = np.array([3, 1, 2])
    single, pair = MinimalCell(2, 2, 0), PairCell(2, 2, 1)

    def f(x: Tensor, h0: Tensor, U: Tensor, V: Tensor, s: Tensor) -> tuple[Any, ...]:
        for name, t in (("U", U), ("V", V), ("s", s)):  # the same weights in both cells
            object.__setattr__(single, name, t)
            object.__setattr__(pair.inner, name, t)
        out_f, h_f = run_cell(single, x, h0, lengths)
        out_r, (h_r, acc) = run_cell(pair, x, (h0, h0), lengths,  # type: ignore[misc]
                                     reverse=True)
        return out_f, h_f, out_r, h_r, acc

    x = rng.standard_normal((3, 3, 2))
    assert gradcheck(f, [x, rng.standard_normal((3, 2)), *(p.data for p in single.parameters())])


# ---- higher order -------------------------------------------------------------------------------
def test_reference_layer_supports_second_derivatives() -> None:
    layer = make("LSTM", 2, 2, bidirectional=True, impl="reference")
    x = Tensor(np.random.default_rng(7).standard_normal((3, 2, 2)), requires_grad=True)
    out, _ = layer(x, lengths=[3, 2])
    (gx,) = mg.grad((out * out).sum(), [x], create_graph=True)
    assert gx is not None
    (ggx,) = mg.grad(gx.sum(), [x])
    assert ggx is not None and ggx.shape == x.shape and np.isfinite(ggx.data).all()


@pytest.mark.skipif(not rnn.fused_available(), reason="fused kernels unavailable")
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_double_backward_through_fused_kernel_equals_reference(kind: str) -> None:
    """create_graph=True through the fused kernel differentiates the layer's reference twin
    (rnn/fused_grad.py); tests/test_fused_double_backward.py covers every variant."""
    ggs = []
    for impl in ("fused", "reference"):
        layer = make(kind, 2, 3, impl=impl)
        x = Tensor(np.linspace(-1, 1, 12).reshape(3, 2, 2), requires_grad=True)
        out, _ = layer(x)
        (gx,) = mg.grad((out * out).sum(), [x], create_graph=True)
        (ggx,) = mg.grad((gx * gx).sum(), [x])
        ggs.append(ggx.data)
    np.testing.assert_allclose(ggs[0], ggs[1], rtol=1e-10, atol=1e-12)


def test_impl_is_switchable_and_shown() -> None:
    layer = make("GRU", 2, 3, impl="reference")
    assert "impl='reference'" in repr(layer)
    if rnn.fused_available():
        assert make("GRU", 2, 3).impl == "fused"  # the default
        layer.impl = "fused"
        assert layer.impl == "fused"


def test_stacked_refuses_what_is_not_a_sequence_layer() -> None:
    # a bare cell used to fail inside the first call with "'LSTMCell' object has no attribute
    # 'num_directions'", a PyTorch-style layer with "forward() takes from 2 to 3 positional
    # arguments but 4 were given"
    with pytest.raises(TypeError, match=r"Stacked: layer 1 is a LSTMCell, not a sequence layer.*"
                                        r"rnn\.Recurrent\(cell\)"):
        rnn.Stacked([rnn.Recurrent(rnn.LSTMCell(3, 4)), rnn.LSTMCell(4, 4)])
    with pytest.raises(TypeError, match=r"Stacked: layer 0 is an rnn\.LSTM, which stacks itself: "
                                        r"use LSTM\(\.\.\., num_layers=N"):
        rnn.Stacked([rnn.LSTM(3, 4), rnn.LSTM(4, 4)])
    x = mg.tensor(np.zeros((2, 1, 3), np.float32))
    with pytest.raises(TypeError, match=r"run_stack: layer 0 is a GRUCell"):
        rnn.run_stack([rnn.GRUCell(3, 4)], x, None, None)
    out, states = rnn.run_stack([rnn.Recurrent(rnn.GRUCell(3, 4))], x, None, None)
    assert out.shape == (2, 1, 4) and len(states) == 1


@pytest.mark.parametrize("returned, message", [
    (lambda xt: 5, r"returned int at step 0"),
    (lambda xt: mg.zeros(3, 4), r"returned an output of shape \(3, 4\) at step 0"),
    (lambda xt: (mg.zeros(2, 4), "c"), r"returned a tuple holding Tensor, str at step 0"),
])
@pytest.mark.parametrize("lengths", [None, [4, 1]])
def test_run_cell_refuses_a_cell_that_breaks_the_contract(returned: Any, message: str,
                                                          lengths: Any) -> None:
    # a cell returning 5 used to give a "sequence" tensor([5, 5, 5, 5]) without a word
    x = mg.tensor(np.zeros((4, 2, 3), np.float32))
    with pytest.raises(TypeError, match=r"^run_cell: cell <lambda> " + message +
                                        r"; a cell returns its new state: a Tensor \(2, H\)"):
        rnn.run_cell(lambda xt, state=None: returned(xt), x, lengths=lengths)
    with pytest.raises(TypeError, match=message):
        rnn.Recurrent(lambda xt, state=None: returned(xt))(x)


@pytest.mark.parametrize("kw", [{}, {"num_layers": 2, "bidirectional": True},
                                {"proj_size": 2, "num_layers": 2}])
def test_all_weights_and_flatten_parameters_as_in_pytorch(kw: dict) -> None:
    # a ported script calls lstm.flatten_parameters(); both used to be AttributeErrors
    m = rnn.LSTM(3, 4, **kw)
    m.flatten_parameters()
    names = {id(p): n for n, p in m.named_parameters()}
    groups = [[names[id(p)] for p in group] for group in m.all_weights]
    assert [n for group in groups for n in group] == [n for n, _ in m.named_parameters()]
    assert len(groups) == m.num_layers * m.num_directions
    assert all(len({n[n.rindex("_l"):] for n in group}) == 1 for group in groups)
    torch = pytest.importorskip("torch")
    t = torch.nn.LSTM(3, 4, **kw)
    assert [[tuple(p.shape) for p in g] for g in m.all_weights] == \
        [[tuple(p.shape) for p in g] for g in t.all_weights]
