"""PyTorch's argument names and keyword forms, call by call: what a ported script writes must
mean the same in minigrad (values, gradients and dtypes equal to torch's where it is installed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F

try:
    import torch
except ImportError:  # pragma: no cover - the torch comparisons skip
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

X = np.arange(6.0).reshape(2, 3) - 2.5

# Each call is written once against a namespace L (minigrad or torch) and an input x.
KEYWORD_CALLS: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("reshape(x, shape=)", lambda L, x: L.reshape(x, shape=(3, 2))),
    ("x.reshape(shape=)", lambda L, x: x.reshape(shape=(3, 2))),
    ("permute(x, dims=)", lambda L, x: L.permute(x, dims=(1, 0))),
    ("x.permute(dims=)", lambda L, x: x.permute(dims=(1, 0))),
    ("x.view(size=)", lambda L, x: x.view(size=(6,))),
    ("x.flip(dims=)", lambda L, x: x.flip(dims=(0,))),
    ("x.flip(0, 1)", lambda L, x: x.flip(0, 1)),
    ("x.tile(dims=)", lambda L, x: x.tile(dims=(2, 1))),
    ("x.tile(2)", lambda L, x: x.tile(2)),
    ("take_along_dim: a negative index counts from the end along dim",
     lambda L, x: L.take_along_dim(x, L.tensor([[-1], [-3]]), dim=1)),
    ("softmax(dtype=)", lambda L, x: L.softmax(x.float(), dim=1, dtype=L.float64)),
    ("log_softmax(dtype=)", lambda L, x: L.log_softmax(x.float(), 0, dtype=L.float64)),
    ("F.softmax(dtype=)", lambda L, x: L.nn.functional.softmax(x.float(), dim=-1,
                                                               dtype=L.float64)),
    ("x.log_softmax(dtype=)", lambda L, x: x.float().log_softmax(1, dtype=L.float64)),
    ("F.embedding(input=, weight=)", lambda L, x: L.nn.functional.embedding(
        input=L.tensor([[1, 0], [1, 1]]), weight=x)),
    ("F.embedding scale_grad_by_freq", lambda L, x: L.nn.functional.embedding(
        L.tensor([[1, 0], [1, 1]]), x, scale_grad_by_freq=True)),
    ("F.embedding scale_grad_by_freq, padding_idx", lambda L, x: L.nn.functional.embedding(
        L.tensor([1, 0, 1, 1]), x, padding_idx=0, scale_grad_by_freq=True)),
]


@needs_torch
@pytest.mark.parametrize("name, call", KEYWORD_CALLS, ids=[c[0] for c in KEYWORD_CALLS])
def test_keyword_forms_mean_what_torch_means(name: str, call: Callable) -> None:
    x = mg.tensor(X.copy(), requires_grad=True)
    tx = torch.tensor(X.copy(), requires_grad=True)
    out, tout = call(mg, x), call(torch, tx)
    assert str(out.dtype) == str(tout.dtype).removeprefix("torch.")
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    v = np.random.default_rng(1).standard_normal(out.shape)
    (out.astype(np.float64) * mg.tensor(v)).sum().backward()
    (tout.double() * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_positional_and_keyword_sizes_together_are_refused() -> None:
    x = mg.ones(6)
    with pytest.raises(TypeError, match=r"reshape: got shape both as positional arguments"):
        mg.reshape(x, 2, 3, shape=(3, 2))
    with pytest.raises(TypeError, match=r"permute: got dims both"):
        x.reshape(2, 3).permute(1, 0, dims=(1, 0))
    with pytest.raises(TypeError, match=r"softmax: dtype must be a float dtype, got int64"):
        mg.softmax(x, dim=0, dtype=mg.int64)


@pytest.mark.parametrize("args, kwargs, low, high, shape", [
    ((5, (2, 3)), {}, 0, 5, (2, 3)),
    ((2, 5, (4,)), {}, 2, 5, (4,)),
    ((), {"low": 2, "high": 5, "size": (4,)}, 2, 5, (4,)),
    ((5,), {"size": (3,)}, 0, 5, (3,)),
    ((2, 5), {"size": (3,)}, 2, 5, (3,)),
    ((2,), {"high": 5, "size": 3}, 2, 5, (3,)),
    ((), {"high": 5, "size": (2,)}, 0, 5, (2,)),
])
def test_randint_takes_torchs_keywords(args: tuple, kwargs: dict, low: int, high: int,
                                       shape: tuple[int, ...]) -> None:
    mg.manual_seed(0)
    a = mg.randint(*args, **kwargs)
    assert a.shape == shape and a.dtype == mg.int64
    assert a.data.min() >= low and a.data.max() < high
    if torch is not None and not isinstance(kwargs.get("size"), int):
        assert tuple(torch.randint(*args, **kwargs).shape) == shape


@pytest.mark.parametrize("args, kwargs, message", [
    ((), {}, "missing high"),
    ((5,), {}, "missing size"),
    ((1, 2, 3, 4), {}, "got 4 arguments"),
    ((5, (2,)), {"size": (2,)}, r"high must be an int, got \(2,\)"),
    ((2.5, (2,)), {}, "high must be an int, got 2.5"),
    ((5,), {"high": 7, "low": 1, "size": (2,)}, "got low both positionally"),
])
def test_randint_refuses_what_it_cannot_read(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(TypeError, match=f"randint: .*{message}"):
        mg.randint(*args, **kwargs)


@needs_torch
@pytest.mark.parametrize("kw", [{"max_norm": 1.0}, {"max_norm": 1.5, "norm_type": 1.0},
                                {"max_norm": 2.0, "padding_idx": 1, "scale_grad_by_freq": True}])
def test_embedding_max_norm_renormalises_the_rows_it_reads_as_torch_does(kw: dict) -> None:
    w0 = np.random.default_rng(0).standard_normal((5, 3)) * 2
    idx = np.array([[0, 2, 2], [4, 2, 1]])
    w, tw = mg.tensor(w0.copy(), requires_grad=True), torch.tensor(w0.copy(), requires_grad=True)
    out = F.embedding(mg.tensor(idx), w, **kw)
    tout = torch.nn.functional.embedding(torch.tensor(idx), tw, **kw)
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-12)    # rows rescaled
    assert not np.allclose(w.data, w0) and np.array_equal(w.data[3], w0[3])  # row 3 unread
    assert w._version == 1
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12)
    g = np.random.default_rng(2).standard_normal(out.shape)
    (out * mg.tensor(g)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(w.grad.data, tw.grad.numpy(), rtol=1e-12)


def test_embedding_max_norm_after_a_graph_saved_the_weight_is_a_version_error() -> None:
    w = mg.tensor(np.full((4, 3), 3.0), requires_grad=True)
    y = (w * w).sum()
    F.embedding(mg.tensor([0, 1]), w, max_norm=1.0)   # rows 0 and 1 rescaled in place
    assert np.allclose(np.linalg.norm(w.data[:2], axis=1), 1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_embedding_refuses_sparse_and_a_bad_max_norm() -> None:
    w = mg.tensor(np.ones((4, 3)), requires_grad=True)
    with pytest.raises(ValueError, match="embedding: sparse=True needs sparse gradients"):
        F.embedding(mg.tensor([0]), w, sparse=True)
    with pytest.raises(ValueError, match="embedding: max_norm must be > 0, got -1.0"):
        F.embedding(mg.tensor([0]), w, max_norm=-1.0)


@needs_torch
@pytest.mark.parametrize("which", ["min", "max", "both", "0-d min"])
def test_clamp_with_tensor_bounds_matches_torch(which: str) -> None:
    # a tensor bound used to be refused, and a 0-d bound that requires grad lost its gradient
    rng = np.random.default_rng(4)
    x0, lo0 = rng.standard_normal((3, 4)), rng.standard_normal(4) - 0.5
    hi0 = lo0 + np.abs(rng.standard_normal((3, 1))) + 0.1
    values = {"x": x0, "lo": lo0, "hi": hi0, "s": np.float64(-0.3)}
    m = {k: mg.tensor(v, requires_grad=True) for k, v in values.items()}
    t = {k: torch.tensor(v, requires_grad=True) for k, v in values.items()}
    picks = {"min": {"min": "lo"}, "max": {"max": "hi"}, "both": {"min": "lo", "max": "hi"},
             "0-d min": {"min": "s"}}[which]
    out = mg.clamp(m["x"], **{k: m[v] for k, v in picks.items()})
    tout = torch.clamp(t["x"], **{k: t[v] for k, v in picks.items()})
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    g = rng.standard_normal(out.shape)
    (out * mg.tensor(g)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    for k in ["x", *picks.values()]:
        np.testing.assert_allclose(m[k].grad.data, t[k].grad.numpy(), rtol=1e-12, err_msg=k)


def test_python_conversions_follow_torch() -> None:
    # float() of a one-element tensor of rank >= 1 used to raise numpy's "only 0-dimensional
    # arrays"; iterating a 0-d tensor silently gave an empty list
    assert float(mg.tensor([2.5])) == 2.5 and int(mg.tensor([[3.7]])) == 3
    assert int(mg.tensor(-2.7)) == -2 and mg.tensor([[1.5]]).item() == 1.5
    assert [10, 20, 30][mg.tensor(1)] == 20 and list(range(mg.tensor([3]))) == [0, 1, 2]
    assert not bool(mg.tensor([0.0])) and bool(mg.tensor([[2]]))
    x = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    rows = list(x)
    assert len(rows) == 2 and np.array_equal(rows[1].data, [3.0, 4.0, 5.0])
    sum(r.sum() * (i + 1) for i, r in enumerate(rows)).backward()
    assert np.array_equal(x.grad.data, [[1, 1, 1], [2, 2, 2]])   # each row on the tape
    with pytest.raises(TypeError, match=r"^iteration over a 0-d tensor$"):
        list(mg.tensor(1.0))
    with pytest.raises(ValueError, match=r"^item: a tensor with 2 elements \(shape \(2,\)\) "
                                         r"cannot be converted"):
        mg.ones(2).item()
    with pytest.raises(ValueError, match=r"^item: a tensor with 0 elements"):
        float(mg.zeros(0))
    with pytest.raises(ValueError, match=r"^the truth value of a tensor with 2 elements"):
        bool(mg.ones(2))
    with pytest.raises(TypeError, match=r"only integer tensors of a single element can be "
                                        r"converted to an index, got dtype float32"):
        [1, 2][mg.tensor(1.0)]
    if torch is not None:
        assert float(torch.tensor([2.5])) == 2.5 and [10, 20, 30][torch.tensor(1)] == 20
        with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
            list(torch.tensor(1.0))
