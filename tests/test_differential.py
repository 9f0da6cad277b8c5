"""Random programs, run in minigrad and in PyTorch (float64): values, first- and second-order
gradients must agree to 1e-10.

Hypothesis draws a few leaves of small shapes and a sequence of ops, each reading earlier values
(so values fan out), broadcasting where shapes allow. The loss weighs every value of the program,
so every intermediate gradient is compared through the leaves. Second order: the gradient of
``sum_i <grad_i, u_i>`` (``create_graph=True``) for fixed directions ``u_i``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg

torch = pytest.importorskip("torch")

TOL = {"rtol": 1e-10, "atol": 1e-10}
LEAF_SHAPES = [(2, 3), (3,), (2, 1), (1, 3), (3, 2), (), (2, 3, 2)]

Pair = tuple[mg.Tensor, Any]  # the same value in minigrad and in torch


class Draw:
    """The program's small choices (operands, axes), from a generator seeded by Hypothesis:
    few Hypothesis draws per example keep every example valid and cheap."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def choice(self, items: list) -> Any:
        return items[int(self.rng.integers(len(items)))]

    def coin(self) -> bool:
        return bool(self.rng.integers(2))

    def integer(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))

    def permutation(self, n: int) -> list[int]:
        return [int(i) for i in self.rng.permutation(n)]


def _weights(shape: tuple[int, ...], k: int) -> np.ndarray:
    n = int(np.prod(shape))
    return np.cos(np.arange(n, dtype=np.float64) * 0.7 + k).reshape(shape)


# ---- ops: each takes the values so far and the draw function, returns a new pair or None -----
def _pick(vals: list[Pair], draw: Draw, ok: Callable[[Pair], bool] = lambda p: True) -> Pair | None:
    cands = [p for p in vals if ok(p)]
    return draw.choice(cands) if cands else None


def _broadcasts(a: tuple, b: tuple) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _binary(kind: str) -> Callable[[list[Pair], Draw], Pair | None]:
    def op(vals: list[Pair], draw: Draw) -> Pair | None:
        (xm, xt) = _pick(vals, draw)  # type: ignore[misc]
        other = _pick(vals, draw, lambda p: _broadcasts(p[0].shape, xm.shape))
        assert other is not None  # x broadcasts with itself
        ym, yt = other
        if kind == "add":
            return xm + ym, xt + yt
        if kind == "sub":
            return xm - ym, xt - yt
        if kind == "mul":
            return xm * ym, xt * yt
        return xm / (ym * ym + 1.0), xt / (yt * yt + 1.0)  # div, kept away from 0

    return op


def _unary(kind: str) -> Callable[[list[Pair], Draw], Pair | None]:
    def op(vals: list[Pair], draw: Draw) -> Pair | None:
        xm, xt = _pick(vals, draw)  # type: ignore[misc]
        if kind == "exp":
            if xm.size and np.abs(xm.data).max() > 5:  # keep the values moderate
                return mg.tanh(xm), torch.tanh(xt)
            return mg.exp(xm), torch.exp(xt)
        if kind == "tanh":
            return mg.tanh(xm), torch.tanh(xt)
        if kind == "sigmoid":
            return mg.sigmoid(xm), torch.sigmoid(xt)
        if kind == "neg":
            return -xm, -xt
        if kind == "scalar":
            c = draw.choice([0.5, -1.5, 2.0])
            return (c - xm) * 0.25, (c - xt) * 0.25
        raise AssertionError(kind)

    return op


def _reduce(kind: str) -> Callable[[list[Pair], Draw], Pair | None]:
    def op(vals: list[Pair], draw: Draw) -> Pair | None:
        xm, xt = _pick(vals, draw)  # type: ignore[misc]
        if xm.ndim == 0 or draw.coin():
            if kind == "sum":
                return mg.sum(xm), torch.sum(xt)
            return mg.mean(xm), torch.mean(xt)
        axis = draw.integer(-xm.ndim, xm.ndim - 1)
        keep = draw.coin()
        if kind == "sum":
            return mg.sum(xm, axis=axis, keepdims=keep), torch.sum(xt, dim=axis, keepdim=keep)
        return mg.mean(xm, axis=axis, keepdims=keep), torch.mean(xt, dim=axis, keepdim=keep)

    return op


def _reshape(vals: list[Pair], draw: Draw) -> Pair | None:
    xm, xt = _pick(vals, draw)  # type: ignore[misc]
    shapes = [(-1,), tuple(reversed(xm.shape)), (1, *xm.shape)]
    if xm.size % 2 == 0 and xm.size:
        shapes.append((2, -1))
    shape = draw.choice(shapes)
    return mg.reshape(xm, shape), xt.reshape(shape)


def _index(vals: list[Pair], draw: Draw) -> Pair | None:
    p = _pick(vals, draw, lambda p: p[0].ndim >= 1)
    if p is None:
        return None
    xm, xt = p
    idx: list[Any] = [0, -1, (Ellipsis, -1), None]
    if xm.shape[0] > 1:
        idx.append(slice(1, None))
    if xm.ndim >= 2:
        idx += [(slice(None), 0), (slice(None), slice(None, 1))]
    i = draw.choice(idx)
    return xm[i], xt[i]


def _matmul(vals: list[Pair], draw: Draw) -> Pair | None:
    xm, xt = _pick(vals, draw)  # type: ignore[misc]
    if xm.ndim == 0:
        return None

    def fits(p: Pair) -> bool:
        if p[0].ndim == 0:
            return False
        try:
            np.matmul(np.zeros(xm.shape), np.zeros(p[0].shape))
            return True
        except ValueError:
            return False

    other = _pick(vals, draw, fits)
    if other is not None:
        return xm @ other[0], xt @ other[1]
    if xm.ndim == 1:
        return None
    return xm @ mg.swapaxes(xm, -1, -2), xt @ torch.swapaxes(xt, -1, -2)


def _permute(vals: list[Pair], draw: Draw) -> Pair | None:
    p = _pick(vals, draw, lambda p: p[0].ndim >= 2)
    if p is None:
        return None
    xm, xt = p
    perm = draw.permutation(xm.ndim)
    axes = tuple(a - xm.ndim if draw.coin() else a for a in perm)  # negative spellings
    return mg.permute(xm, axes), xt.permute(*axes)


ELEMENTWISE = {"add": _binary("add"), "sub": _binary("sub"), "mul": _binary("mul"),
               "div": _binary("div"), "exp": _unary("exp"), "tanh": _unary("tanh"),
               "sigmoid": _unary("sigmoid"), "neg": _unary("neg"), "scalar": _unary("scalar")}
FAMILIES = {
    "elementwise": {},
    "reductions": {"sum": _reduce("sum"), "mean": _reduce("mean")},
    "views": {"reshape": _reshape, "index": _index},
    "matmul": {"matmul": _matmul},
    "permute": {"permute": _permute},
}


def test_permute_with_negative_axes_inverts_the_normalised_permutation() -> None:
    """Issue 12 item 9: a negative axis is normalised before the backward rule inverts it."""
    x = mg.tensor(np.arange(8.0).reshape(2, 2, 2), requires_grad=True)
    w = np.arange(8.0).reshape(2, 2, 2) + 1
    (mg.permute(x, (2, 0, -2)) * mg.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.transpose(w, np.argsort((2, 0, 1))))


FAMILIES["all"] = {k: v for fam in list(FAMILIES.values()) for k, v in fam.items()}


def _run(family: str, data: st.DataObject) -> None:
    ops = {**ELEMENTWISE, **FAMILIES[family]}
    names = sorted(ELEMENTWISE) + sorted(FAMILIES[family]) * 3  # the family's ops drawn more
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    pick = Draw(seed)
    shapes = data.draw(st.lists(st.sampled_from(LEAF_SHAPES), min_size=1, max_size=3),
                       label="leaf shapes")
    program = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=8), label="ops")
    leaves_m, leaves_t, vals = [], [], []
    for shape in shapes:
        arr = pick.rng.uniform(-1.0, 1.0, shape)
        m, t = mg.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
        leaves_m.append(m)
        leaves_t.append(t)
        vals.append((m, t))
    n_leaves = len(shapes)
    for name in program:
        out = ops[name](vals, pick)
        if out is None:
            continue
        m, t = out
        assert m.shape == tuple(t.shape), (name, m.shape, t.shape)
        assert m.dtype == np.float64
        np.testing.assert_allclose(m.data, t.detach().numpy(), **TOL, err_msg=name)
        vals.append(out)

    # the loss weighs every value, so every intermediate gradient reaches the leaves
    loss_m = sum((m * mg.tensor(_weights(m.shape, k))).sum() for k, (m, _) in enumerate(vals))
    loss_t = sum((t * torch.tensor(_weights(tuple(t.shape), k))).sum()
                 for k, (_, t) in enumerate(vals))
    np.testing.assert_allclose(loss_m.data, loss_t.detach().numpy(), **TOL)

    g_m = mg.grad(loss_m, leaves_m, create_graph=True, allow_unused=True)
    g_t = torch.autograd.grad(loss_t, leaves_t, create_graph=True, allow_unused=True)
    for i, (gm, gt, leaf) in enumerate(zip(g_m, g_t, leaves_m, strict=True)):
        a = np.zeros(leaf.shape) if gm is None else gm.data
        b = np.zeros(leaf.shape) if gt is None else gt.detach().numpy()
        np.testing.assert_allclose(a, b, **TOL, err_msg=f"first order, leaf {i}")

    # second order: d/dleaves sum_i <grad_i, u_i>
    terms_m = [(g * mg.tensor(_weights(g.shape, 10 + i))).sum()
               for i, g in enumerate(g_m) if g is not None and g.requires_grad]
    terms_t = [(g * torch.tensor(_weights(tuple(g.shape), 10 + i))).sum()
               for i, g in enumerate(g_t) if g is not None and g.requires_grad]
    h_m: tuple = (None,) * n_leaves
    h_t: tuple = (None,) * n_leaves
    if terms_m:
        h_m = mg.grad(sum(terms_m), leaves_m, allow_unused=True)
    if terms_t:
        h_t = torch.autograd.grad(sum(terms_t), leaves_t, allow_unused=True)
    for i, (hm, ht, leaf) in enumerate(zip(h_m, h_t, leaves_m, strict=True)):
        a = np.zeros(leaf.shape) if hm is None else hm.data
        b = np.zeros(leaf.shape) if ht is None else ht.detach().numpy()
        np.testing.assert_allclose(a, b, **TOL, err_msg=f"second order, leaf {i}")


@pytest.mark.parametrize("family", [
    "elementwise", "reductions", "views", "matmul",
    "permute", "all",
])
@settings(max_examples=40)
@given(data=st.data())
def test_random_programs_match_torch(family: str, data: st.DataObject) -> None:
    _run(family, data)
