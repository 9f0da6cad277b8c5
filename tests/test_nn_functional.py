"""minigrad.nn.functional: finite-difference property tests (first and second order, float64,
generated shapes), torch oracles for the losses and layers, numerical traps, and bad input."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.testing import gradcheck
from minigrad.testing import strategies as mgst

IGNORE = -100
FEW = settings(max_examples=12)


def exact(msg: str) -> str:
    return "^" + re.escape(msg) + "$"


def gradient(t: Any) -> np.ndarray:
    """``t.grad`` as an array (failing if there is none)."""
    assert t is not None and t.grad is not None
    return t.grad.data


def grad1(out: mg.Tensor, x: mg.Tensor, seed: Any = None, create_graph: bool = False
          ) -> mg.Tensor:
    (g,) = mg.grad(out, x, seed, create_graph=create_graph)
    assert g is not None
    return g


def leaf(a: Any, dtype: Any = np.float64) -> mg.Tensor:
    return mg.tensor(np.asarray(a, dtype=dtype), requires_grad=True)


@st.composite
def class_problems(draw: st.DrawFn, max_extra: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Logits (N, C, *d) in float64 and int64 targets (N, *d), some of them IGNORE, not all."""
    n = draw(st.integers(1, 4), label="N")
    c = draw(st.integers(1, 5), label="C")
    extra = draw(hnp.array_shapes(min_dims=0, max_dims=max_extra, min_side=1, max_side=3),
                 label="d")
    logits = draw(mgst.arrays((n, c) + extra), label="logits")
    t = draw(hnp.arrays(np.int64, (n,) + extra, elements=st.integers(-1, c - 1)), label="t")
    t = np.where(t < 0, IGNORE, t)
    t.flat[0] = draw(st.integers(0, c - 1), label="t0")  # at least one counted target
    return logits, t


reductions = st.sampled_from(["mean", "sum", "none"])


# ---- cross_entropy and nll_loss: finite differences ---------------------------------------
@FEW
@given(class_problems(), reductions)
def test_cross_entropy_gradcheck_first_and_second_order(problem: Any, reduction: str) -> None:
    logits, t = problem
    assert gradcheck(lambda x: F.cross_entropy(x, t, reduction=reduction), [logits], order=2)


@FEW
@given(class_problems(max_extra=1), reductions, st.data())
def test_weighted_cross_entropy_gradcheck(problem: Any, reduction: str, data: Any) -> None:
    logits, t = problem
    w = data.draw(mgst.arrays((logits.shape[1],), domain="positive"), label="weight")
    assert gradcheck(lambda x, w: F.cross_entropy(x, t, weight=w, reduction=reduction),
                     [logits, w], order=2)


@FEW
@given(class_problems(), reductions)
def test_nll_loss_gradcheck_first_and_second_order(problem: Any, reduction: str) -> None:
    logp, t = problem
    assert gradcheck(lambda x: F.nll_loss(x, t, reduction=reduction), [logp], order=2)


@FEW
@given(class_problems(), reductions)
def test_fused_cross_entropy_matches_log_softmax_then_nll(problem: Any, reduction: str) -> None:
    logits, t = problem
    x1, x2 = leaf(logits), leaf(logits)
    fused = F.cross_entropy(x1, t, reduction=reduction)
    composite = F.nll_loss(mg.log_softmax(x2, axis=1), t, reduction=reduction)
    np.testing.assert_allclose(fused.data, composite.data, rtol=1e-12, atol=1e-12)
    v = np.random.default_rng(0).standard_normal(fused.shape)
    g1 = grad1(fused, x1, mg.tensor(v), create_graph=True)
    g2 = grad1(composite, x2, mg.tensor(v), create_graph=True)
    np.testing.assert_allclose(g1.data, g2.data, rtol=1e-10, atol=1e-12)
    w = np.random.default_rng(1).standard_normal(logits.shape)
    h1 = grad1((g1 * mg.tensor(w)).sum(), x1)
    h2 = grad1((g2 * mg.tensor(w)).sum(), x2)
    np.testing.assert_allclose(h1.data, h2.data, rtol=1e-9, atol=1e-12)


def test_cross_entropy_is_one_fused_primitive() -> None:
    x = leaf(np.zeros((2, 3)))
    with mg.Tape() as tape:
        F.cross_entropy(x, [0, 1], reduction="none")
    assert [e.op.name for e in tape] == ["cross_entropy"]


def test_cross_entropy_values_by_hand() -> None:
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    lse = np.log(np.exp(x).sum(axis=1))
    t = [2, 0]
    expect = lse - x[[0, 1], t]
    np.testing.assert_allclose(F.cross_entropy(x, t, reduction="none").data, expect)
    np.testing.assert_allclose(F.cross_entropy(x, t, reduction="sum").data, expect.sum())
    np.testing.assert_allclose(F.cross_entropy(x, t).data, expect.mean())
    # ignore_index: the mean is over the counted targets only
    np.testing.assert_allclose(F.cross_entropy(x, [2, IGNORE]).data, expect[0])
    np.testing.assert_allclose(F.cross_entropy(x, [2, 7], ignore_index=7).data, expect[0])


def test_cross_entropy_unbatched() -> None:
    x = leaf([0.5, -1.0, 2.0])
    loss = F.cross_entropy(x, 1, reduction="none")
    assert loss.shape == ()
    loss.backward()
    p = np.exp(x.data) / np.exp(x.data).sum()
    np.testing.assert_allclose(gradient(x), p - np.eye(3)[1])


# ---- numerical traps -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_finite_at_huge_logits(dtype: Any) -> None:
    x = leaf([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0], [-1e4, -1e4, -1e4]], dtype)
    loss = F.cross_entropy(x, [1, 1, 2], reduction="none")
    np.testing.assert_allclose(loss.data, [2e4, 0.0, np.log(3.0)], rtol=1e-6)
    loss.sum().backward()
    expect = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0], [1 / 3, 1 / 3, -2 / 3]])
    np.testing.assert_allclose(gradient(x), expect, rtol=1e-6, atol=1e-7)
    assert gradient(x).dtype == dtype
    # second order stays finite as well
    g = grad1(F.cross_entropy(x, [1, 1, 2]), x, create_graph=True)
    h = grad1((g * g).sum(), x)
    assert np.isfinite(h.data).all()


def test_mean_over_all_ignored_targets_is_nan_without_warnings() -> None:
    x = leaf(np.zeros((2, 3)))
    loss = F.cross_entropy(x, [IGNORE, IGNORE])
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(gradient(x), 0.0)  # as PyTorch: no target, no gradient
    assert F.cross_entropy(x, [IGNORE, IGNORE], reduction="sum").item() == 0.0


def test_nll_loss_ignores_minus_inf_of_other_classes() -> None:
    logp = leaf([[-np.inf, -0.5, -np.inf]])
    loss = F.nll_loss(logp, [1])
    assert loss.item() == 0.5
    loss.backward()
    np.testing.assert_array_equal(gradient(logp), [[0.0, -1.0, 0.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_finite_at_huge_logits(dtype: Any) -> None:
    x = leaf([1e4, -1e4, 1e4, -1e4, 0.0], dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.data, [0.0, 0.0, 1e4, 1e4, np.log(2.0)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(gradient(x), [0.0, 0.0, 1.0, -1.0, -0.5], atol=1e-7)


# ---- the other losses and layers: finite differences --------------------------------------
@FEW
@given(mgst.shapes(max_dims=3, max_side=3), reductions, st.data())
def test_mse_loss_gradcheck(shape: tuple[int, ...], reduction: str, data: Any) -> None:
    x, y = (data.draw(mgst.arrays(shape), label=n) for n in "xy")
    assert gradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), [x, y], order=2)


@FEW
@given(mgst.shapes(min_dims=1, max_dims=3, max_side=3), reductions, st.booleans(), st.data())
def test_bce_with_logits_gradcheck(shape: tuple[int, ...], reduction: str, weighted: bool,
                                   data: Any) -> None:
    x = data.draw(mgst.arrays(shape), label="x")
    x.flat[0] = 0.0  # the kink of max(x, 0) and |x|: the loss is smooth there
    y = data.draw(mgst.arrays(shape, domain="unit"), label="y") / 2 + 0.5
    if weighted:
        w = data.draw(mgst.arrays(shape[-1:], domain="positive"), label="w")
        pw = data.draw(mgst.arrays(shape[-1:], domain="positive"), label="pos_weight")
        f = lambda a, b, c, d: F.binary_cross_entropy_with_logits(
            a, b, weight=c, pos_weight=d, reduction=reduction)
        assert gradcheck(f, [x, y, w, pw], order=2)
    else:
        assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(
            a, b, reduction=reduction), [x, y], order=2)


@FEW
@given(mgst.arrays(mgst.shapes(max_dims=2, max_side=4)))
def test_softplus_gradcheck(x: np.ndarray) -> None:
    x.flat[0] = 0.0
    assert gradcheck(F.softplus, [x], order=2)
    np.testing.assert_allclose(F.softplus(x).data, np.log1p(np.exp(x)), rtol=1e-12)


@FEW
@given(st.data())
def test_linear_gradcheck(data: Any) -> None:
    n_in, n_out = data.draw(st.integers(1, 4), label="in"), data.draw(st.integers(1, 3), "out")
    batch = data.draw(mgst.shapes(max_dims=2, max_side=3), label="batch")
    x = data.draw(mgst.arrays(batch + (n_in,)), label="x")
    w = data.draw(mgst.arrays((n_out, n_in)), label="w")
    b = data.draw(mgst.arrays((n_out,)), label="b")
    assert gradcheck(F.linear, [x, w, b], order=2)
    assert gradcheck(lambda x, w: F.linear(x, w), [x, w])
    np.testing.assert_allclose(F.linear(x, w, b).data, x @ w.T + b, rtol=1e-12)


@FEW
@given(st.data())
def test_embedding_gradcheck(data: Any) -> None:
    num, dim = data.draw(st.integers(1, 5), label="num"), data.draw(st.integers(1, 3), "dim")
    idx_shape = data.draw(mgst.shapes(max_dims=2, max_side=4), label="idx shape")
    idx = data.draw(hnp.arrays(np.int64, idx_shape, elements=st.integers(0, num - 1)), "idx")
    table = data.draw(mgst.arrays((num, dim)), label="table")
    out = F.embedding(idx, table)
    assert out.shape == idx_shape + (dim,)
    np.testing.assert_array_equal(out.data, table[idx])
    assert gradcheck(lambda w: F.embedding(idx, w), [table], order=2)


@FEW
@given(st.data())
def test_layer_norm_gradcheck(data: Any) -> None:
    shape = data.draw(mgst.shapes(min_dims=1, max_dims=3, min_side=2, max_side=3), "shape")
    k = data.draw(st.integers(1, len(shape)), label="k")
    norm = shape[len(shape) - k:]
    x = data.draw(mgst.arrays(shape), label="x")
    w = data.draw(mgst.arrays(norm), label="w")
    b = data.draw(mgst.arrays(norm), label="b")
    assert gradcheck(lambda x, w, b: F.layer_norm(x, norm, w, b), [x, w, b], order=2)


def test_dropout_masks_scales_and_is_reproducible() -> None:
    x = leaf(np.ones((200, 50)))
    y = F.dropout(x, 0.3, rng=5)
    kept = y.data != 0
    assert 0.6 < kept.mean() < 0.8
    np.testing.assert_allclose(y.data[kept], 1 / 0.7)
    np.testing.assert_array_equal(F.dropout(x, 0.3, rng=5).data, y.data)
    y.sum().backward()
    np.testing.assert_array_equal(gradient(x), y.data)  # d/dx = mask / (1 - p)
    mg.nn.manual_seed(3)
    a = F.dropout(x, 0.5).data
    mg.nn.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, 0.5).data, a)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, 0.0)
    assert F.dropout(mg.tensor([1.0]), 0.5, rng=0).dtype == np.float32


# ---- torch oracles -------------------------------------------------------------------------
def _torch_grad(fn: Any, *arrays: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def _mg_grad(fn: Any, *arrays: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    ts = [mg.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.sum().backward()
    return out.data, [gradient(t) for t in ts]


CASES = [((5, 4), ()), ((3, 4, 2), (2,)), ((2, 3, 2, 3), (2, 3))]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dims", CASES, ids=["NC", "NCd", "NCdd"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_and_nll_match_torch(reduction: str, dims: Any, weighted: bool,
                                           dtype: Any) -> None:
    torch = pytest.importorskip("torch")
    shape, extra = dims
    rng = np.random.default_rng(len(shape))
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    t = rng.integers(0, shape[1], (shape[0],) + extra)
    t.flat[1] = IGNORE
    w = rng.uniform(0.5, 2.0, shape[1]).astype(dtype) if weighted else None
    tw = None if w is None else torch.tensor(w)
    rtol, atol = (1e-5, 1e-6) if dtype == np.float32 else (1e-12, 1e-13)
    ours = _mg_grad(lambda a: F.cross_entropy(a, t, weight=w, reduction=reduction), x)
    theirs = _torch_grad(lambda a: torch.nn.functional.cross_entropy(
        a, torch.tensor(t), weight=tw, reduction=reduction), x)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=rtol, atol=atol)
    np.testing.assert_allclose(ours[1][0], theirs[1][0], rtol=rtol, atol=atol)
    assert ours[0].dtype == dtype and ours[1][0].dtype == dtype
    ours = _mg_grad(lambda a: F.nll_loss(a, t, weight=w, reduction=reduction), x)
    theirs = _torch_grad(lambda a: torch.nn.functional.nll_loss(
        a, torch.tensor(t), weight=tw, reduction=reduction), x)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=rtol, atol=atol)
    np.testing.assert_allclose(ours[1][0], theirs[1][0], rtol=rtol, atol=atol)


def test_cross_entropy_double_backward_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3, 2))
    t = np.array([[0, 2], [1, IGNORE], [2, 2], [0, 1]])
    v = rng.standard_normal(x.shape)
    a = mg.tensor(x, requires_grad=True)
    g = grad1(F.cross_entropy(a, t), a, create_graph=True)
    h = grad1((g * mg.tensor(v)).sum(), a)
    b = torch.tensor(x, requires_grad=True)
    (tg,) = torch.autograd.grad(torch.nn.functional.cross_entropy(b, torch.tensor(t)), b,
                                create_graph=True)
    (th,) = torch.autograd.grad((tg * torch.tensor(v)).sum(), b)
    np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h.data, th.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_matches_torch(reduction: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    ours = _mg_grad(lambda a, b: F.mse_loss(a, b, reduction=reduction), x, y)
    theirs = _torch_grad(lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction),
                         x, y)
    for o, t in zip([ours[0], *ours[1]], [theirs[0], *theirs[1]], strict=True):
        np.testing.assert_allclose(o, t, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("extras", ["plain", "weight", "pos_weight", "both"])
def test_bce_with_logits_matches_torch(reduction: str, extras: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3)) * 4
    x[0, 0] = 0.0
    x[1, 1] = 40.0
    x[2, 2] = -40.0
    y = rng.uniform(0, 1, (5, 3))
    w = rng.uniform(0.5, 2, (3,)) if extras in ("weight", "both") else None
    pw = rng.uniform(0.5, 3, (3,)) if extras in ("pos_weight", "both") else None

    def torch_loss(a: Any, b: Any) -> Any:
        return torch.nn.functional.binary_cross_entropy_with_logits(
            a, b, weight=None if w is None else torch.tensor(w), reduction=reduction,
            pos_weight=None if pw is None else torch.tensor(pw))

    ours = _mg_grad(lambda a, b: F.binary_cross_entropy_with_logits(
        a, b, weight=w, pos_weight=pw, reduction=reduction), x, y)
    theirs = _torch_grad(torch_loss, x, y)
    for o, t in zip([ours[0], *ours[1]], [theirs[0], *theirs[1]], strict=True):
        np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("norm_shape", [(4,), (3, 4)])
def test_layer_norm_matches_torch(norm_shape: tuple[int, ...]) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4)) * 5 + 1
    w, b = rng.standard_normal(norm_shape), rng.standard_normal(norm_shape)
    ours = _mg_grad(lambda a, c, d: F.layer_norm(a, norm_shape, c, d), x, w, b)
    theirs = _torch_grad(lambda a, c, d: torch.nn.functional.layer_norm(a, norm_shape, c, d),
                         x, w, b)
    for o, t in zip([ours[0], *ours[1]], [theirs[0], *theirs[1]], strict=True):
        np.testing.assert_allclose(o, t, rtol=1e-10, atol=1e-12)


# ---- bad input -----------------------------------------------------------------------------
def test_label_out_of_range_names_value_and_class_count() -> None:
    x = np.zeros((3, 4), dtype=np.float32)
    msg = ("cross_entropy: target 4 is out of range for 4 classes (labels must be in [0, 4) "
           "or equal ignore_index=-100)")
    with pytest.raises(IndexError, match=exact(msg)):
        F.cross_entropy(x, [0, 4, 1])
    msg = ("nll_loss: target -1 is out of range for 4 classes (labels must be in [0, 4) "
           "or equal ignore_index=-100)")
    with pytest.raises(IndexError, match=exact(msg)):
        F.nll_loss(x, [0, -1, 1])
    msg = ("cross_entropy: target -100 is out of range for 4 classes (labels must be in [0, 4) "
           "or equal ignore_index=3)")
    with pytest.raises(IndexError, match=exact(msg)):
        F.cross_entropy(x, [0, -100, 1], ignore_index=3)


def test_cross_entropy_bad_target_type_and_shape() -> None:
    x = np.zeros((3, 4))
    with pytest.raises(TypeError, match=exact(
            "cross_entropy: target must hold integer class labels, or class probabilities of "
            "the input's shape (3, 4); got dtype float64 and shape (3,)")):
        F.cross_entropy(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=exact(
            "cross_entropy: target shape (2,) does not match input shape (3, 4): "
            "expected (3,)")):
        F.cross_entropy(x, [0, 1])
    with pytest.raises(ValueError, match=exact(
            "nll_loss: target shape (3,) does not match input shape (3, 4, 2): "
            "expected (3, 2)")):
        F.nll_loss(np.zeros((3, 4, 2)), [0, 1, 2])
    with pytest.raises(ValueError, match=exact(
            "cross_entropy: reduction must be 'mean', 'sum' or 'none', got 'avg'")):
        F.cross_entropy(x, [0, 1, 2], reduction="avg")
    with pytest.raises(ValueError, match=exact(
            "cross_entropy: weight must have shape (4,) (one per class), got (3,)")):
        F.cross_entropy(x, [0, 1, 2], weight=np.ones(3))
    with pytest.raises(TypeError, match=exact(
            "cross_entropy: input must be floating point, got int64")):
        F.cross_entropy(np.zeros((3, 4), dtype=np.int64), [0, 1, 2])


def test_other_bad_input_messages() -> None:
    with pytest.raises(ValueError, match=exact(
            "mse_loss: input shape (3,) and target shape (3, 1) differ")):
        F.mse_loss(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(ValueError, match=exact(
            "binary_cross_entropy_with_logits: input shape (2,) and target shape (3,) differ")):
        F.binary_cross_entropy_with_logits(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match=exact(
            "dropout: probability p must be in [0, 1], got 1.5")):
        F.dropout(np.zeros(2), 1.5)
    with pytest.raises(ValueError, match=exact(
            "linear: input of shape (2, 3) does not end in in_features = 4 "
            "(weight shape (5, 4))")):
        F.linear(np.zeros((2, 3)), np.zeros((5, 4)))
    with pytest.raises(IndexError, match=exact(
            "embedding: index 5 is out of range for 5 embeddings (valid indices are 0..4)")):
        F.embedding([[0, 5]], np.zeros((5, 2)))
    with pytest.raises(TypeError, match=exact(
            "embedding: indices must be integers, got float64")):
        F.embedding(np.array([0.0]), np.zeros((5, 2)))
    with pytest.raises(ValueError, match=exact(
            "layer_norm: input of shape (2, 3) does not end in normalized_shape (2,)")):
        F.layer_norm(np.zeros((2, 3)), 2)


def test_constant_targets_and_weights_keep_the_input_dtype() -> None:
    x = mg.tensor(np.zeros((2, 3), dtype=np.float32), requires_grad=True)
    assert F.mse_loss(x, np.ones((2, 3))).dtype == np.float32
    assert F.binary_cross_entropy_with_logits(x, np.ones((2, 3), dtype=np.int64),
                                              weight=np.ones(3), pos_weight=[2.0, 1, 1]
                                              ).dtype == np.float32
    assert F.cross_entropy(x, [0, 2], weight=np.ones(3)).dtype == np.float32
    with pytest.raises(TypeError, match=exact("mse_loss: input must be floating point, "
                                              "got int64")):
        F.mse_loss(np.zeros(2, dtype=np.int64), np.zeros(2))


# ---- modules: Conv1d and the activations ---------------------------------------------------
def test_conv1d_module_matches_torch_and_uses_its_names() -> None:
    torch = pytest.importorskip("torch")
    mg.manual_seed(0)
    for kw in (dict(), dict(stride=2, padding=1, dilation=2, groups=2), dict(padding="same")):
        conv = mg.nn.Conv1d(4, 6, 3, dtype=np.float64, **kw)  # type: ignore[arg-type]
        ref = torch.nn.Conv1d(4, 6, 3, dtype=torch.float64, **kw)
        assert list(conv.state_dict()) == list(ref.state_dict()) == ["weight", "bias"]
        assert conv.weight.shape == tuple(ref.weight.shape)
        k = 1 / np.sqrt((4 // conv.groups) * 3)  # PyTorch's U(-k, k)
        assert np.abs(conv.weight.data).max() <= k and np.abs(conv.bias.data).max() <= k
        ref.load_state_dict({n: torch.tensor(np.asarray(p)) for n, p in conv.state_dict().items()})
        x = np.random.default_rng(1).standard_normal((2, 4, 9))
        xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ym, yt = conv(xm), ref(xt)
        np.testing.assert_allclose(ym.data, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
        v = np.random.default_rng(2).standard_normal(ym.shape)
        (ym * mg.tensor(v)).sum().backward()
        (yt * torch.tensor(v)).sum().backward()
        np.testing.assert_allclose(xm.grad.data, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(conv.weight.grad.data, ref.weight.grad.numpy(), rtol=1e-12,
                                   atol=1e-12)
        assert conv(mg.tensor(x[0])).shape == ym.shape[1:]  # unbatched (C_in, L)


def test_conv1d_module_rejects_bad_configurations() -> None:
    with pytest.raises(ValueError, match=r"^Conv1d: in_channels=3 and out_channels=4 must both "
                                         r"be divisible by groups=2$"):
        mg.nn.Conv1d(3, 4, 2, groups=2)
    with pytest.raises(ValueError, match=r"^Conv1d: padding='same' needs stride 1$"):
        mg.nn.Conv1d(2, 2, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"^Conv1d: kernel_size must be a positive integer"):
        mg.nn.Conv1d(2, 2, 0)
    with pytest.raises(ValueError, match=r"^conv1d: input length 2 \(padded 2\) is shorter than "
                                         r"the kernel's span 3$"):
        mg.nn.Conv1d(1, 1, 3)(mg.zeros(1, 1, 2))


def test_activation_modules_match_functional_and_torch() -> None:
    torch = pytest.importorskip("torch")
    x = np.linspace(-3, 3, 13)
    pairs = [(mg.nn.GELU(), torch.nn.GELU()), (mg.nn.GELU("tanh"), torch.nn.GELU("tanh")),
             (mg.nn.SiLU(), torch.nn.SiLU()), (mg.nn.LeakyReLU(0.3), torch.nn.LeakyReLU(0.3)),
             (mg.nn.ELU(0.5), torch.nn.ELU(0.5)), (mg.nn.Softplus(2, 4), torch.nn.Softplus(2, 4)),
             (mg.nn.Softmax(0), torch.nn.Softmax(0)), (mg.nn.LogSoftmax(0), torch.nn.LogSoftmax(0))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(mg.tensor(x)).data, theirs(torch.tensor(x)).numpy(),
                                   rtol=1e-12, atol=1e-12, err_msg=repr(ours))
    assert repr(mg.nn.LeakyReLU(0.3)) == "LeakyReLU(negative_slope=0.3)"
    with pytest.raises(ValueError, match=r"^GELU: approximate must be 'none' or 'tanh'"):
        mg.nn.GELU("fast")
