"""PyTorch as the oracle: both paths give torch.nn's outputs and every gradient in float64.

Weights move through state_dict in both directions; variable lengths go through torch's
pack_padded_sequence(enforce_sorted=False) and pad_packed_sequence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnn
from minigrad import Tensor

torch = pytest.importorskip("torch")
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

torch.set_num_threads(1)  # one BLAS pool at a time on a small machine

IMPLS = ["reference"] + (["fused"] if rnn.fused_available() else [])
TOL: dict[str, Any] = dict(rtol=1e-8, atol=1e-10)


@st.composite
def configs(draw: Any) -> dict[str, Any]:
    T, B = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["RNN", "RNN_relu", "LSTM", "LSTM_proj", "GRU"]))
    H = draw(st.integers(2, 5))
    return dict(
        kind=kind, T=T, B=B, I=draw(st.integers(1, 4)), H=H,
        num_layers=draw(st.integers(1, 3)), bidirectional=draw(st.booleans()),
        batch_first=draw(st.booleans()), bias=draw(st.booleans()),
        give_state=draw(st.booleans()),
        lengths=draw(st.none() | st.lists(st.integers(1, T), min_size=B, max_size=B)),
        torch_to_ours=draw(st.booleans()), seed=draw(st.integers(0, 2**16)),
    )


def layers(cfg: dict[str, Any], impl: str) -> tuple[Any, Any]:
    """A torch layer and ours with the same weights (moved one way or the other)."""
    name = cfg["kind"].split("_")[0]
    kw: dict[str, Any] = dict(num_layers=cfg["num_layers"], bias=cfg["bias"],
                              batch_first=cfg["batch_first"], bidirectional=cfg["bidirectional"])
    if cfg["kind"] == "RNN_relu":
        kw["nonlinearity"] = "relu"
    if cfg["kind"] == "LSTM_proj":
        kw["proj_size"] = cfg["H"] - 1
    torch.manual_seed(cfg["seed"])
    theirs = getattr(torch.nn, name)(cfg["I"], cfg["H"], dtype=torch.float64, **kw)
    ours = getattr(rnn, name)(cfg["I"], cfg["H"], impl=impl, dtype=np.float64, rng=cfg["seed"],
                              **kw)
    if cfg["torch_to_ours"]:
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    else:
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return theirs, ours


def run_torch(layer: Any, x: np.ndarray, states: list[np.ndarray], cfg: dict[str, Any],
              seeds: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    xt = torch.tensor(x, requires_grad=True)
    st_t = [torch.tensor(s, requires_grad=True) for s in states]
    hx = None
    if st_t:
        hx = tuple(st_t) if len(st_t) == 2 else st_t[0]
    inp = xt
    if cfg["lengths"] is not None:
        inp = pack_padded_sequence(xt, torch.tensor(cfg["lengths"]),
                                   batch_first=cfg["batch_first"], enforce_sorted=False)
    out, final = layer(inp, hx)
    if cfg["lengths"] is not None:
        out, _ = pad_packed_sequence(out, batch_first=cfg["batch_first"], total_length=cfg["T"])
    values = [out, *(final if isinstance(final, tuple) else (final,))]
    loss = sum((v * torch.from_numpy(s)).sum() for v, s in zip(values, seeds, strict=True))
    loss.backward()
    grads = [xt.grad, *(s.grad for s in st_t), *(p.grad for p in layer.parameters())]
    return [v.detach().numpy() for v in values], [g.numpy() for g in grads]


def run_ours(layer: Any, x: np.ndarray, states: list[np.ndarray], cfg: dict[str, Any],
             seeds: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    xt = Tensor(x, requires_grad=True)
    st_t = [Tensor(s, requires_grad=True) for s in states]
    hx = None
    if st_t:
        hx = tuple(st_t) if len(st_t) == 2 else st_t[0]
    out, final = layer(xt, hx, lengths=cfg["lengths"])
    values = [out, *(final if isinstance(final, tuple) else (final,))]
    loss = sum(((v * Tensor(s)).sum() for v, s in zip(values, seeds, strict=True)),
               Tensor(np.float64(0.0)))
    loss.backward()
    tensors = [xt, *st_t, *layer.parameters()]
    assert all(t.grad is not None for t in tensors)
    return [v.data for v in values], [t.grad.data for t in tensors]


@settings(max_examples=30)
@given(cfg=configs())
def test_layers_match_torch(cfg: dict[str, Any]) -> None:
    rng = np.random.default_rng(cfg["seed"])
    T, B = cfg["T"], cfg["B"]
    for impl in IMPLS:
        theirs, ours = layers(cfg, impl)
        x = rng.standard_normal((B, T, cfg["I"]) if cfg["batch_first"] else (T, B, cfg["I"]))
        n = ours.num_layers * ours.num_directions
        states = []
        if cfg["give_state"]:
            states.append(rng.standard_normal((n, B, ours.output_size)))
            if cfg["kind"].startswith("LSTM"):
                states.append(rng.standard_normal((n, B, cfg["H"])))
        P = ours.output_size * ours.num_directions
        shapes = [(B, T, P) if cfg["batch_first"] else (T, B, P), (n, B, ours.output_size)]
        if cfg["kind"].startswith("LSTM"):
            shapes.append((n, B, cfg["H"]))
        seeds = [rng.standard_normal(s) for s in shapes]
        want_v, want_g = run_torch(theirs, x, states, cfg, seeds)
        got_v, got_g = run_ours(ours, x, states, cfg, seeds)
        for i, (w, g) in enumerate(zip(want_v + want_g, got_v + got_g, strict=True)):
            assert w.shape == g.shape, (impl, i)
            np.testing.assert_allclose(g, w, err_msg=f"{impl}: item {i}", **TOL)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch(kind: str) -> None:
    rng = np.random.default_rng(0)
    B, I, H = 3, 4, 5
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(I, H, dtype=torch.float64)
    ours = getattr(rnn, kind)(I, H, dtype=np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x, h, c = (rng.standard_normal(s) for s in ((B, I), (B, H), (B, H)))
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    xo, ho, co = (Tensor(a, requires_grad=True) for a in (x, h, c))
    if kind == "LSTMCell":
        want, got = theirs(xt, (ht, ct)), ours(xo, (ho, co))
    else:
        want, got = (theirs(xt, ht),), (ours(xo, ho),)
    w = [rng.standard_normal((B, H)) for _ in want]
    sum((a * torch.from_numpy(s)).sum() for a, s in zip(want, w, strict=True)).backward()
    sum(((a * Tensor(s)).sum() for a, s in zip(got, w, strict=True)),
        Tensor(np.float64(0.0))).backward()
    for a, b in zip(want, got, strict=True):
        np.testing.assert_allclose(b.data, a.detach().numpy(), **TOL)
    pairs = [(xt, xo), (ht, ho)] + ([(ct, co)] if kind == "LSTMCell" else [])
    pairs += [(p, q) for p, q in zip(theirs.parameters(), ours.parameters(), strict=True)]
    for a, b in pairs:
        assert a.grad is not None and b.grad is not None
        np.testing.assert_allclose(b.grad.data, a.grad.numpy(), **TOL)


def test_float32_state_dict_from_torch_defaults() -> None:
    """Torch's default float32 layer loads into ours and agrees to float32 precision."""
    torch.manual_seed(1)
    theirs = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    ours = rnn.LSTM(3, 4, num_layers=2, bidirectional=True)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((6, 2, 3)).astype(np.float32)
    want, _ = theirs(torch.from_numpy(x))
    got, _ = ours(Tensor(x))
    np.testing.assert_allclose(got.data, want.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_assigning_parameters_matches_torch(kind: str, impl: str) -> None:
    """Replacing every weight by assignment (not load_state_dict) gives torch's outputs and
    gradients, which land on the new Parameters; in torch too the output changes."""
    from minigrad.nn import Parameter

    torch.manual_seed(2)
    theirs = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True,
                                     dtype=torch.float64)
    ours = getattr(rnn, kind)(3, 4, num_layers=2, bidirectional=True, impl=impl,
                              dtype=np.float64, rng=2)
    x = np.random.default_rng(2).standard_normal((5, 2, 3))
    for name, p in theirs.named_parameters():
        setattr(ours, name, Parameter(p.detach().numpy().copy()))
    want, _ = theirs(torch.from_numpy(x))
    got, _ = ours(Tensor(x))
    np.testing.assert_allclose(got.data, want.detach().numpy(), **TOL)
    want.sum().backward()
    got.sum().backward()
    for (n, p), (m, q) in zip(theirs.named_parameters(), ours.named_parameters(), strict=True):
        assert n == m and p.grad is not None and q.grad is not None
        np.testing.assert_allclose(q.grad.data, p.grad.numpy(), err_msg=n, **TOL)
    # torch's output changes when a weight is replaced; so does ours
    theirs.weight_hh_l0 = torch.nn.Parameter(torch.zeros_like(theirs.weight_hh_l0))
    ours.weight_hh_l0 = Parameter(np.zeros(ours.weight_hh_l0.shape))
    np.testing.assert_allclose(ours(Tensor(x))[0].data,
                               theirs(torch.from_numpy(x))[0].detach().numpy(), **TOL)
    assert not np.allclose(ours(Tensor(x))[0].data, got.data)
