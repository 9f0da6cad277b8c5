"""Gradient flow through time: dLoss/dh_t per step, on both paths, and the demo's measurement."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad.demos.gradient_flow import fb_label, measure, run_gradient_flow, set_forget_bias
from rnn.gradient_flow import gradient_flow, hidden_grads

T, B, I, H = 9, 2, 3, 5
CELLS: dict[str, Callable[..., Any]] = {
    "RNN": lambda: rnn.RNNCell(I, H, dtype=np.float64),
    "LSTM": lambda: rnn.LSTMCell(I, H, dtype=np.float64),
    "GRU": lambda: rnn.GRUCell(I, H, dtype=np.float64),
}


def _input(seed: int = 0, shape: tuple[int, ...] = (T, B, I)) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


def _by_retain_grad(layer: Any, kind: str, x: np.ndarray,
                    weights: np.ndarray | None) -> np.ndarray:
    """The same layer's cell run step by step, with retain_grad on every h_t."""
    cell = CELLS[kind]()
    state = layer.state_dict()
    cell.load_state_dict({k: state[f"{k}_l0"] for k in cell.state_dict()})
    s: Any = None
    hs = []
    for t in range(x.shape[0]):
        s = cell(mg.tensor(x[t]), s)
        h = s[0] if isinstance(s, tuple) else s
        h.retain_grad()
        hs.append(h)
    if weights is None:
        loss = hs[-1].sum()
    else:
        loss = sum((h * mg.tensor(w) for h, w in zip(hs, weights, strict=True)),
                   start=mg.tensor(np.zeros(()))).sum()
    loss.backward()
    return np.stack([h.grad.numpy() for h in hs])  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("loss_kind", ["last", "every step"])
def test_reference_layer_equals_retain_grad_on_each_h_t(kind: str, loss_kind: str) -> None:
    layer = getattr(rnn, kind)(I, H, dtype=np.float64, rng=3, impl="reference")
    x = _input()
    weights = None if loss_kind == "last" else _input(1, (T, B, H))
    loss = None if weights is None else (lambda out: (out * mg.tensor(weights)).sum())
    got = hidden_grads(layer, x, loss=loss)
    want = _by_retain_grad(layer, kind, x, weights)
    assert got.shape == (T, B, H)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
    if loss_kind == "last":
        np.testing.assert_array_equal(got[-1], np.ones((B, H)))
    np.testing.assert_allclose(gradient_flow(layer, x, loss=loss),
                               np.linalg.norm(want.reshape(T, -1), axis=1), rtol=1e-12)


LAYERS: dict[str, Callable[[str], Any]] = {
    "rnn-tanh": lambda impl: rnn.RNN(I, H, dtype=np.float64, rng=5, impl=impl),
    "rnn-relu": lambda impl: rnn.RNN(I, H, nonlinearity="relu", dtype=np.float64, rng=5,
                                     impl=impl),
    "lstm": lambda impl: rnn.LSTM(I, H, dtype=np.float64, rng=5, impl=impl),
    "lstm-proj": lambda impl: rnn.LSTM(I, H, proj_size=2, dtype=np.float64, rng=5, impl=impl),
    "gru": lambda impl: rnn.GRU(I, H, dtype=np.float64, rng=5, impl=impl),
    "gru-classic": lambda impl: rnn.GRU(I, H, reset_after=False, dtype=np.float64, rng=5,
                                        impl=impl),
    "lstm-2-layers": lambda impl: rnn.LSTM(I, H, num_layers=2, dtype=np.float64, rng=5,
                                           impl=impl),
    "gru-batch-first": lambda impl: rnn.GRU(I, H, batch_first=True, dtype=np.float64, rng=5,
                                            impl=impl),
}


@pytest.mark.skipif(not rnn.fused_available(), reason="the fused kernels need Numba")
@pytest.mark.parametrize("name", list(LAYERS))
def test_fused_path_equals_reference_path(name: str) -> None:
    ref, fused = LAYERS[name]("reference"), LAYERS[name]("fused")
    fused.load_state_dict(ref.state_dict())
    x = _input(2)
    if ref.batch_first:
        x = x.swapaxes(0, 1).copy()
    a, b = hidden_grads(ref, x), hidden_grads(fused, x)
    assert a.shape == (T, B, ref.output_size)
    np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-300)
    assert np.all(np.linalg.norm(a.reshape(T, -1), axis=1) > 0)


def test_initial_state_is_used_and_no_grad_is_written() -> None:
    layer = rnn.LSTM(I, H, dtype=np.float64, rng=7, impl="reference")
    x = _input(3)
    h0 = np.random.default_rng(4).normal(size=(1, B, H))
    c0 = np.random.default_rng(5).normal(size=(1, B, H))
    with_state = hidden_grads(layer, x, (mg.tensor(h0), mg.tensor(c0)))
    assert not np.allclose(with_state[:-1], hidden_grads(layer, x)[:-1])
    assert all(p.grad is None for p in layer.parameters())
    assert layer.training  # the mode is restored


def test_bidirectional_is_refused() -> None:
    layer = rnn.GRU(I, H, bidirectional=True, dtype=np.float64, impl="reference")
    with pytest.raises(ValueError, match="bidirectional"):
        gradient_flow(layer, _input())


def test_non_scalar_loss_is_refused() -> None:
    layer = rnn.RNN(I, H, dtype=np.float64, impl="reference")
    with pytest.raises(ValueError, match="scalar"):
        gradient_flow(layer, _input(), loss=lambda out: out[-1])


def test_forget_bias_is_set_exactly() -> None:
    lstm = rnn.LSTM(I, H, num_layers=2, dtype=np.float64, rng=0)
    set_forget_bias(lstm, 1.0)
    for k in range(2):
        b = getattr(lstm, f"bias_ih_l{k}").data + getattr(lstm, f"bias_hh_l{k}").data
        np.testing.assert_array_equal(b[H:2 * H], np.ones(H))


def test_on_the_demo_input_gates_with_forget_bias_keep_far_more_gradient() -> None:
    norms = measure()  # the demo's defaults: float64, H = 32, T = 100, loss on the last step
    assert list(norms) == ["RNN", "LSTM", "GRU", fb_label(1.0)]
    logs = {k: np.log10(v) for k, v in norms.items()}
    for k, v in logs.items():
        assert np.all(np.isfinite(v)), k  # float64: nothing underflowed
        assert v[-1] == pytest.approx(0.5 * np.log10(32))  # ||ones(1, 32)||
        assert v[0] < v[-1] - 5, k  # every model loses gradient over 100 steps
    lstm_fb = logs[fb_label(1.0)]
    for t in (0, 25, 50):  # deep in the sequence: many orders of magnitude apart
        assert logs["RNN"][t] < lstm_fb[t] - 4, t
        assert max(logs["LSTM"][t], logs["GRU"][t]) < lstm_fb[t] - 3, t
    # measured here (seed 0): at t = 50, RNN ~1e-11, LSTM ~1e-10, GRU ~4e-10, LSTM fb=1 ~1e-4
    assert logs["RNN"][50] < logs["LSTM"][50] < logs["GRU"][50] < lstm_fb[50]


def test_demo_prints_the_table_and_writes_a_png(tmp_path: Any,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "flow.png"
    assert run_gradient_flow(["--steps", "20", "--plot", str(path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("log10 ||dLoss/dh_t||  (gradient flow through time: float64")
    assert lines[1].split() == ["t", "RNN", "LSTM", "GRU", "LSTM", "fb=1"]
    assert [int(line.split()[0]) for line in lines[2:13]] == [*range(0, 20, 2), 19]
    assert lines[12].split()[1:] == [f"{0.5 * np.log10(32):.2f}"] * 4
    assert "at t = 10:" in out
    pytest.importorskip("matplotlib")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_without_matplotlib_prints_the_table_only(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    path = tmp_path / "flow.png"
    assert run_gradient_flow(["--steps", "12", "--forget-bias", "2", "--plot", str(path)]) == 0
    out = capsys.readouterr().out
    assert "LSTM fb=2" in out and "matplotlib is not installed" in out
    assert not path.exists()
