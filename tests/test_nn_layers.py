"""minigrad.nn layers and gradient clipping: shapes, initialisation, modes, reprs, torch oracles,
finite differences through whole models, and bad input."""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn
from minigrad.testing import gradcheck
from minigrad.testing import strategies as mgst


def exact(msg: str) -> str:
    return "^" + re.escape(msg) + "$"


def gradient(t: Any) -> np.ndarray:
    """``t.grad`` as an array (failing if there is none)."""
    assert t is not None and t.grad is not None
    return t.grad.data


# ---- Linear --------------------------------------------------------------------------------
def test_linear_shapes_init_and_dtype() -> None:
    nn.manual_seed(0)
    lin = nn.Linear(16, 3)
    assert lin.weight.shape == (3, 16) and lin.bias is not None and lin.bias.shape == (3,)
    assert lin.weight.dtype == np.float32 and lin.weight.requires_grad
    assert np.abs(lin.weight.data).max() <= 0.25 and np.abs(lin.bias.data).max() <= 0.25
    assert np.abs(lin.weight.data).max() > 0.2  # spread over U(-1/4, 1/4), not a narrow range
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    y = lin(mg.tensor(np.ones((2, 5, 16), dtype=np.float32)))
    assert y.shape == (2, 5, 3) and y.dtype == np.float32
    assert lin(mg.tensor(np.ones(16, dtype=np.float32))).shape == (3,)
    lin64 = nn.Linear(4, 2, bias=False, dtype=np.float64)
    assert lin64.bias is None and lin64.weight.dtype == np.float64
    assert [n for n, _ in lin64.named_parameters()] == ["weight"]


def test_seeding_makes_initialisation_reproducible() -> None:
    nn.manual_seed(42)
    a = nn.Linear(3, 4).weight.data.copy()
    nn.manual_seed(42)
    np.testing.assert_array_equal(nn.Linear(3, 4).weight.data, a)
    np.testing.assert_array_equal(nn.Linear(3, 4, rng=7).weight.data,
                                  nn.Linear(3, 4, rng=np.random.default_rng(7)).weight.data)
    assert not np.array_equal(nn.Linear(3, 4, rng=7).weight.data,
                              nn.Linear(3, 4, rng=8).weight.data)


def test_linear_matches_torch_forward_and_backward() -> None:
    torch = pytest.importorskip("torch")
    lin = nn.Linear(5, 3, dtype=np.float64, rng=0)
    ref = torch.nn.Linear(5, 3, dtype=torch.float64)
    assert lin.bias is not None
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(lin.weight.data))
        ref.bias.copy_(torch.tensor(lin.bias.data))
    x = np.random.default_rng(1).standard_normal((2, 4, 5))
    v = np.random.default_rng(2).standard_normal((2, 4, 3))
    xm = mg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ym, yt = lin(xm), ref(xt)
    np.testing.assert_allclose(ym.data, yt.detach().numpy(), rtol=1e-12)
    (ym * mg.tensor(v)).sum().backward()
    (yt * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(gradient(xm), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gradient(lin.weight), ref.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gradient(lin.bias), ref.bias.grad.numpy(), rtol=1e-12)


def test_linear_init_matches_torch_distribution_bounds() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.Linear(100, 50)
    ours = nn.Linear(100, 50, rng=0)
    assert ours.bias is not None
    for a, b in [(ours.weight.data, ref.weight.detach().numpy()),
                 (ours.bias.data, ref.bias.detach().numpy())]:
        assert a.shape == b.shape
        assert abs(np.abs(a).max() - np.abs(b).max()) < 0.01  # both fill U(-0.1, 0.1)
        assert abs(a.std() - b.std()) < 0.01


# ---- Embedding -----------------------------------------------------------------------------
@pytest.mark.parametrize("idx_shape", [(), (3,), (2, 4), (2, 1, 3)])
def test_embedding_any_index_shape(idx_shape: tuple[int, ...]) -> None:
    emb = nn.Embedding(6, 3, rng=0)
    idx = np.random.default_rng(0).integers(0, 6, idx_shape)
    for ids in (idx, mg.tensor(idx)):
        out = emb(ids)
        assert out.shape == idx_shape + (3,)
        np.testing.assert_array_equal(out.data, emb.weight.data[idx])


def test_embedding_repeated_indices_accumulate_and_padding_gets_no_gradient() -> None:
    emb = nn.Embedding(4, 2, padding_idx=0, rng=0)
    np.testing.assert_array_equal(emb.weight.data[0], 0.0)
    out = emb([[1, 1, 0], [3, 0, 1]])
    out.sum().backward()
    np.testing.assert_array_equal(gradient(emb.weight), [[0, 0], [3, 3], [0, 0], [1, 1]])
    assert nn.Embedding(4, 2, padding_idx=-1).padding_idx == 3


def test_embedding_matches_torch_gradient() -> None:
    torch = pytest.importorskip("torch")
    emb = nn.Embedding(5, 3, padding_idx=2, dtype=np.float64, rng=0)
    emb.weight.data[2] = 1.5  # a padding row that is not zero still gets no gradient
    ref = torch.nn.Embedding(5, 3, padding_idx=2, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(emb.weight.data))
    idx = np.array([[0, 2, 4], [2, 2, 1]])
    v = np.random.default_rng(0).standard_normal((2, 3, 3))
    (emb(idx) * mg.tensor(v)).sum().backward()
    (ref(torch.tensor(idx)) * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(gradient(emb.weight), ref.weight.grad.numpy(), rtol=1e-12)


# ---- Dropout, LayerNorm, Flatten -----------------------------------------------------------
def test_dropout_module_train_and_eval() -> None:
    drop = nn.Dropout(0.25, rng=3)
    x = mg.tensor(np.ones((100, 40), dtype=np.float32))
    y = drop(x)
    assert 0.2 < (y.data == 0).mean() < 0.3
    assert not np.array_equal(drop(x).data, y.data)  # its generator moves on
    np.testing.assert_array_equal(nn.Dropout(0.25, rng=3)(x).data, y.data)
    drop.eval()
    assert drop(x) is x
    drop.train()
    assert drop(x) is not x


def test_layer_norm_module_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    ln = nn.LayerNorm((3, 4), eps=1e-3, dtype=np.float64)
    rng = np.random.default_rng(0)
    assert ln.weight is not None and ln.bias is not None
    ln.weight.data[...] = rng.standard_normal((3, 4))
    ln.bias.data[...] = rng.standard_normal((3, 4))
    ref = torch.nn.LayerNorm((3, 4), eps=1e-3, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(ln.weight.data))
        ref.bias.copy_(torch.tensor(ln.bias.data))
    x = rng.standard_normal((2, 3, 4)) * 4 - 2
    v = rng.standard_normal((2, 3, 4))
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ym, yt = ln(xm), ref(xt)
    np.testing.assert_allclose(ym.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    (ym * mg.tensor(v)).sum().backward()
    (yt * torch.tensor(v)).sum().backward()
    for a, b in [(xm, xt), (ln.weight, ref.weight), (ln.bias, ref.bias)]:
        np.testing.assert_allclose(gradient(a), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_layer_norm_options() -> None:
    ln = nn.LayerNorm(4, elementwise_affine=False)
    assert list(ln.parameters()) == []
    y = ln(mg.tensor(np.arange(8, dtype=np.float32).reshape(2, 4)))
    np.testing.assert_allclose(y.data.mean(axis=-1), 0.0, atol=1e-6)
    np.testing.assert_allclose(y.data.var(axis=-1), 1.0, rtol=1e-4)
    assert [n for n, _ in nn.LayerNorm(4, bias=False).named_parameters()] == ["weight"]


def test_flatten() -> None:
    x = mg.tensor(np.zeros((2, 3, 4, 5), dtype=np.float32))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(-2)(x).shape == (2, 3, 20)
    with pytest.raises(ValueError, match=exact(
            "Flatten: start_dim=2 and end_dim=1 do not select axes of an input with shape "
            "(2, 3, 4, 5)")):
        nn.Flatten(2, 1)(x)


# ---- Sequential and whole models -----------------------------------------------------------
def test_sequential_container() -> None:
    a, b, c = nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and list(seq) == [a, b, c]
    assert seq[0] is a and seq[-1] is c
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and list(tail) == [b, c]
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight",
                                                        "2.bias"]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    x = mg.tensor(np.ones((3, 4), dtype=np.float32))
    np.testing.assert_allclose(seq(x).data, c(b(a(x))).data)
    named = nn.Sequential(OrderedDict([("enc", a), ("act", b)]))
    assert [n for n, _ in named.named_parameters()] == ["enc.weight", "enc.bias"]
    assert named.append(c) is named and named[2] is c and len(named) == 3
    with pytest.raises(IndexError, match=exact("Sequential: index 3 is out of range for 3 "
                                               "modules")):
        seq[3]
    with pytest.raises(TypeError, match=exact("Sequential: element 1 is a function, not a "
                                              "Module")):
        nn.Sequential(a, lambda x: x)  # type: ignore[arg-type]


def test_reprs() -> None:
    model = nn.Sequential(nn.Embedding(10, 4, padding_idx=0), nn.Dropout(0.1),
                          nn.LayerNorm(4), nn.Flatten(), nn.Linear(4, 2, dtype=np.float64),
                          nn.ReLU())
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Embedding(10, 4, padding_idx=0)\n"
        "  (1): Dropout(p=0.1)\n"
        "  (2): LayerNorm((4,), eps=1e-05, elementwise_affine=True)\n"
        "  (3): Flatten(start_dim=1, end_dim=-1)\n"
        "  (4): Linear(in_features=4, out_features=2, bias=True, dtype=float64)\n"
        "  (5): ReLU()\n"
        ")")


def test_eval_and_train_reach_nested_dropout() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.Dropout(0.5)))
    model.eval()
    inner = model[1]
    assert isinstance(inner, nn.Sequential) and not inner[0].training
    x = mg.tensor(np.ones((2, 3), dtype=np.float32))
    np.testing.assert_array_equal(model(x).data, model[0](x).data)


@settings(max_examples=10)
@given(st.data())
def test_model_gradcheck_through_every_layer(data: Any) -> None:
    n_in, hidden = data.draw(st.integers(1, 4), label="in"), data.draw(st.integers(2, 4), "h")
    batch = data.draw(mgst.shapes(min_dims=1, max_dims=2, max_side=3), label="batch")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    model = nn.Sequential(nn.Linear(n_in, hidden, dtype=np.float64, rng=seed), nn.Tanh(),
                          nn.LayerNorm(hidden, dtype=np.float64),
                          nn.Linear(hidden, 3, dtype=np.float64, rng=seed + 1), nn.Sigmoid())
    x = data.draw(mgst.arrays(batch + (n_in,)), label="x")
    assert gradcheck(model, [x], order=2)


def test_small_classifier_learns() -> None:
    """A two-layer net with cross-entropy and plain SGD separates three Gaussian blobs."""
    rng = np.random.default_rng(0)
    centers = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    labels = rng.integers(0, 3, 150)
    x = mg.tensor((centers[labels] + 0.5 * rng.standard_normal((150, 2))).astype(np.float32))
    model = nn.Sequential(nn.Linear(2, 16, rng=1), nn.ReLU(), nn.Linear(16, 3, rng=2))
    first = F.cross_entropy(model(x), labels).item()
    for _ in range(60):
        model.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        nn.clip_grad_norm_(model.parameters(), 5.0)
        for p in model.parameters():
            p.data = p.data - 0.5 * gradient(p)
    assert loss.item() < 0.25 * first
    assert (mg.argmax(model(x), axis=1).data == labels).mean() > 0.95


# ---- gradient clipping ---------------------------------------------------------------------
def _params_with_grads(dtype: Any, seed: int = 0) -> list[nn.Parameter]:
    rng = np.random.default_rng(seed)
    params = [nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in [(3, 4), (4,), ()]]
    for p in params:
        p.grad = mg.tensor(rng.standard_normal(p.shape).astype(dtype) * 3)
    return params + [nn.Parameter(np.zeros(2, dtype=dtype))]  # one without a gradient


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_norm_matches_torch(norm_type: float, max_norm: float, dtype: Any) -> None:
    torch = pytest.importorskip("torch")
    ours = _params_with_grads(dtype)
    theirs = [torch.nn.Parameter(torch.tensor(p.data)) for p in ours]
    for p, t in zip(ours, theirs, strict=True):
        t.grad = None if p.grad is None else torch.tensor(gradient(p))
    total = nn.clip_grad_norm_(iter(ours), max_norm, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    assert isinstance(total, mg.Tensor) and total.shape == () and total.dtype == dtype
    np.testing.assert_allclose(total.data, ref.numpy(), rtol=rtol)
    for p, t in zip(ours, theirs, strict=True):
        if t.grad is None:
            assert p.grad is None
        else:
            assert gradient(p).dtype == dtype
            np.testing.assert_allclose(gradient(p), t.grad.numpy(), rtol=rtol)


def test_clip_grad_value_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    ours = _params_with_grads(np.float64, seed=1)
    theirs = [torch.nn.Parameter(torch.tensor(p.data)) for p in ours]
    for p, t in zip(ours, theirs, strict=True):
        t.grad = None if p.grad is None else torch.tensor(gradient(p))
    nn.clip_grad_value_(ours, 1.5)
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, t in zip(ours[:3], theirs[:3], strict=True):
        np.testing.assert_array_equal(gradient(p), t.grad.numpy())
    assert np.abs(gradient(ours[0])).max() == 1.5


def test_clipping_replaces_read_only_gradients() -> None:
    p = nn.Parameter(np.zeros(3))
    g = np.array([3.0, -4.0, 0.0])
    g.flags.writeable = False
    p.grad = mg.Tensor(g)
    total = nn.clip_grad_norm_(p, 1.0)
    assert total.item() == 5.0
    np.testing.assert_allclose(gradient(p), [0.6, -0.8, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(g, [3.0, -4.0, 0.0])  # the old array is untouched
    p.grad = mg.Tensor(g)
    nn.clip_grad_value_([p], 1.0)
    np.testing.assert_array_equal(gradient(p), [1.0, -1.0, 0.0])
    assert nn.clip_grad_norm_([nn.Parameter(np.zeros(2))], 1.0).item() == 0.0


def test_clipping_bad_input() -> None:
    p = nn.Parameter(np.zeros(2))
    p.grad = mg.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match=exact(
            "clip_grad_norm_: the total norm of order 2.0 of the gradients is inf; pass "
            "error_if_nonfinite=False to clip anyway")):
        nn.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match=exact("clip_grad_norm_: max_norm must be >= 0, "
                                               "got -1.0")):
        nn.clip_grad_norm_([p], -1)
    with pytest.raises(ValueError, match=exact("clip_grad_value_: clip_value must be >= 0, "
                                               "got -0.5")):
        nn.clip_grad_value_([p], -0.5)
    with pytest.raises(TypeError, match=exact("clip_grad_norm_: parameter 0 is a ndarray, "
                                              "not a Tensor")):
        nn.clip_grad_norm_([np.zeros(2)], 1.0)  # type: ignore[list-item]


# ---- bad constructor arguments -------------------------------------------------------------
def test_layer_constructor_errors() -> None:
    with pytest.raises(ValueError, match=exact("Linear: in_features must be a positive "
                                               "integer, got 0")):
        nn.Linear(0, 3)
    with pytest.raises(TypeError, match=exact("Linear: dtype must be floating point, "
                                              "got int32")):
        nn.Linear(2, 3, dtype=np.int32)
    with pytest.raises(ValueError, match=exact("Embedding: padding_idx 5 is out of range "
                                               "for 5 embeddings")):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match=exact("Dropout: probability p must be in [0, 1], "
                                               "got -0.1")):
        nn.Dropout(-0.1)
    with pytest.raises(TypeError, match=exact("rng must be a numpy Generator, an int seed or "
                                              "None, got str")):
        nn.Linear(2, 2, rng="seed")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=exact("LayerNorm: eps must be positive, got 0")):
        nn.LayerNorm(3, eps=0)
    with pytest.raises(IndexError, match=exact(
            "embedding: index 7 is out of range for 5 embeddings (valid indices are 0..4)")):
        nn.Embedding(5, 2)([1, 7])
    with pytest.raises(ValueError, match=exact(
            "linear: input of shape (2, 3) does not end in in_features = 4 "
            "(weight shape (2, 4))")):
        nn.Linear(4, 2)(mg.tensor(np.zeros((2, 3), dtype=np.float32)))
