"""Forward mode: every primitive's jvp against finite differences and against its vjp (the
transposition identity), first and second order, over generated shapes in float64; the forward
levels themselves (nesting, threads, errors)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ops_gradients import CASES, Case

import minigrad as mg
import rnn
from minigrad import Tensor, func
from minigrad.forward import _fwd, dual_level
from minigrad.nn import functional as F
from minigrad.testing import gradcheck
from minigrad.testing import strategies as mgst


def _both(case: Case, data: st.DataObject, order: int) -> None:
    inputs, params = case.draw(data)
    with np.errstate(divide="raise", invalid="raise", over="raise"):
        assert gradcheck(lambda *xs: case.fn(params, *xs), inputs, order=order,
                         modes=("fwd", "rev"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@settings(max_examples=10)
@given(data=st.data())
def test_jvp_first_order(case: Case, data: st.DataObject) -> None:
    _both(case, data, order=1)


@pytest.mark.parametrize("case", [c for c in CASES if c.second_order],
                         ids=[c.name for c in CASES if c.second_order])
@settings(max_examples=5)
@given(data=st.data())
def test_jvp_second_order(case: Case, data: st.DataObject) -> None:
    """Forward over reverse: the jvp rules run on Tensors inside a create_graph backward."""
    _both(case, data, order=2)


@settings(max_examples=10)
@given(data=st.data())
def test_loss_primitives(data: st.DataObject) -> None:
    n, c = data.draw(st.integers(1, 3)), data.draw(st.integers(2, 4))
    logits = data.draw(mgst.arrays((n, c)))
    t = np.asarray(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    t[0] = -100  # one ignored position: its loss and tangent are 0
    assert gradcheck(lambda x: F.cross_entropy(x, t, reduction="none"), [logits], order=2,
                     modes=("fwd", "rev"))
    assert gradcheck(F.softplus, [logits * 5], order=2, modes=("fwd", "rev"))


def _registry() -> dict[str, mg.Primitive]:
    from test_ops_gradients import all_primitives

    return all_primitives()


def test_every_primitive_has_a_jvp() -> None:
    """A primitive defined anywhere without a jvp rule fails here (fused ones need their
    reference too)."""
    reg = _registry()
    assert {"add", "matmul", "cross_entropy", "softplus"} <= set(reg)
    assert [name for name, p in reg.items() if p.jvp is None] == []
    if rnn.fused_available():
        assert any(p.fused for p in reg.values())
    assert [name for name, p in reg.items() if p.fused and p.reference is None] == []


def test_every_primitive_has_a_case() -> None:
    """Each non-fused primitive is checked above, by a row of the gradient table or a test
    named in COVERED_BY (fused layers: FUSED_TESTED_BY)."""
    from test_ops_gradients import COVERED_BY

    plain = {name for name, p in _registry().items() if not p.fused}
    assert plain - {c.name for c in CASES} - set(COVERED_BY) == set()


# ---- the machinery ------------------------------------------------------------------------------
def test_tangents_ride_along_one_forward_pass() -> None:
    """f(x) = x * exp(x): the tangent is (1 + x) exp(x) v, with no tape at all."""
    x = Tensor(np.array([0.5, -1.0]))
    with mg.Tape() as tape, dual_level() as level:
        level.set_tangent(x, Tensor(np.array([1.0, 2.0])))
        y = x * mg.exp(x)
        t = level.tangent(y)
    assert tape.entries == []  # nothing requires grad: forward mode records nothing
    np.testing.assert_allclose(t.data, (1 + x.data) * np.exp(x.data) * [1.0, 2.0], rtol=1e-15)


def test_levels_nest_forward_over_forward() -> None:
    """The second directional derivative d^2/ds dt f(x + s u + t v) = u^T H v."""
    x = Tensor(np.array([0.3, 0.8]))
    u, v = Tensor(np.array([1.0, 0.5])), Tensor(np.array([-0.2, 1.0]))
    with dual_level() as outer:
        outer.set_tangent(x, u)
        with dual_level() as inner:
            inner.set_tangent(x, v)
            y = (mg.exp(x) * x).sum()
            ty = inner.tangent(y)
        tty = outer.tangent(ty)
    d2 = np.exp(x.data) * (2 + x.data)  # the Hessian is diagonal
    np.testing.assert_allclose(tty.data, np.sum(u.data * d2 * v.data), rtol=1e-14)
    assert _fwd.levels == []


def test_reverse_over_forward() -> None:
    """The tangent computation is recorded like any op: its gradient is the Hessian times v."""
    x = Tensor(np.array([0.3, 0.8]), requires_grad=True)
    v = np.array([1.0, -1.0])
    _, t = func.jvp(lambda a: (mg.tanh(a) ** 2).sum(), (x,), (Tensor(v),))
    (g,) = mg.grad(t, [x])
    th = np.tanh(x.data)
    hdiag = 2 * (1 - th ** 2) ** 2 - 4 * th ** 2 * (1 - th ** 2)
    np.testing.assert_allclose(g.data, hdiag * v, rtol=1e-14)


def test_levels_are_per_thread() -> None:
    seen = []
    with dual_level():
        t = threading.Thread(target=lambda: seen.append(list(_fwd.levels)))
        t.start()
        t.join()
        assert len(_fwd.levels) == 1
    assert seen == [[]]


def test_a_rule_of_the_wrong_shape_is_named() -> None:
    bad = mg.Primitive("test_bad_jvp", lambda x: x.sum(axis=0))
    bad.defvjp(lambda xp, g, ans, x: xp.broadcast_to(g, x.shape))
    bad.defjvp(lambda xp, t, ans, x: t[0])  # forgets to sum
    try:
        with pytest.raises(ValueError, match=r"test_bad_jvp: jvp gave a tangent of shape "
                                             r"\(2, 3\) for output 0 of shape \(3,\)"):
            func.jvp(bad, (Tensor(np.ones((2, 3))),), (Tensor(np.ones((2, 3))),))
        assert _fwd.levels == []
    finally:
        del mg.Primitive.registry["test_bad_jvp"]


def test_integer_and_nondifferentiable_results_carry_no_tangent() -> None:
    x = Tensor(np.array([0.5, -1.5]))
    with dual_level() as level:
        level.set_tangent(x, Tensor(np.ones(2)))
        assert level.tangent(x > 0) is None
        assert level.tangent(mg.argmax(x)) is None
        assert level.tangent(x.detach()) is None
        np.testing.assert_array_equal(level.tangent(mg.where(x > 0, x, 0)).data, [1.0, 0.0])


@given(x=mgst.arrays(mgst.shapes(max_dims=2, max_side=3), dtype=np.float32))
@settings(max_examples=5)
def test_tangents_keep_the_dtype(x: np.ndarray) -> None:
    _, t = func.jvp(lambda a: mg.tanh(a) * 2.5, (Tensor(x),), (Tensor(np.ones_like(x)),))
    assert t.dtype == np.float32 and t.shape == x.shape


def test_an_inplace_write_with_a_tangent_is_refused() -> None:
    """In-place ops run no primitive, so forward mode cannot see them: an in-place op calls
    refuse_inplace first, which raises rather than leave a tangent stale."""
    from minigrad.forward import refuse_inplace

    x, y = Tensor(np.ones(2)), Tensor(np.ones(2))
    with dual_level() as level:
        level.set_tangent(x, Tensor(np.ones(2)))
        with pytest.raises(RuntimeError, match=r"add_: the tensor \(shape \(2,\)\) or the value "
                                               r"written carries a forward-mode tangent"):
            refuse_inplace(y, (x,), "add_")
        refuse_inplace(y, (2.0,), "add_")  # nothing moves: fine
