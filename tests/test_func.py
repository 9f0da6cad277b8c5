"""minigrad.func against torch.func (skipped without torch), against each other and against
finite differences; pytrees, argnums and the errors at the boundary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import rnn
from minigrad import func
from minigrad.testing import strategies as mgst

# torch.func's forward mode imports decompositions that call the deprecated torch.jit.script
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")


def _np(tree: Any) -> Any:
    """A pytree of minigrad or torch tensors as the same pytree of float64 arrays."""
    if isinstance(tree, tuple | list):
        return type(tree)(_np(t) for t in tree)
    if isinstance(tree, mg.Tensor):
        return np.asarray(tree.data)
    if isinstance(tree, np.ndarray):
        return tree
    return tree.detach().numpy()


def _close(a: Any, b: Any, tol: float = 1e-10) -> None:
    a, b = _np(a), _np(b)
    if isinstance(a, tuple | list):
        assert isinstance(b, tuple | list) and len(a) == len(b), (a, b)
        for x, y in zip(a, b, strict=True):
            _close(x, y, tol)
        return
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# ---- small functions, written once for both libraries (xp: minigrad or torch) -----------------
def _fns(xp: Any) -> dict[str, tuple[Callable, int]]:
    """name -> (f, number of arguments); each uses only operators and tanh/exp/sum."""
    return {
        "scalar": (lambda x: (xp.tanh(x) * x).sum(), 1),
        "vector": (lambda x: xp.exp(x * 0.5) * x[0], 1),
        "matrix": (lambda x: xp.tanh(x[:, None] * x[None, :]), 1),
        "two-scalar": (lambda x, y: (xp.tanh(x @ y) ** 2).sum(), 2),
        "two-vector": (lambda x, y: xp.tanh(x @ y) * y.sum(), 2),
    }


def _inputs(name: str, rng: np.random.Generator) -> list[np.ndarray]:
    n = _fns(mg)[name][1]
    return [rng.standard_normal(3), rng.standard_normal((3, 2))][:n]


NAMES = list(_fns(mg))


@pytest.fixture(scope="module")
def torch() -> Any:
    return pytest.importorskip("torch")


@pytest.mark.parametrize("name", NAMES)
def test_against_torch_func(name: str, torch: Any) -> None:
    f, n = _fns(mg)[name]
    tf, _ = _fns(torch)[name]
    xs = _inputs(name, np.random.default_rng(0))
    m = [mg.tensor(x) for x in xs]
    t = [torch.tensor(x) for x in xs]
    argnums = tuple(range(n)) if n > 1 else 0
    out, fn = func.vjp(f, *m)
    tout, tfn = torch.func.vjp(tf, *t)
    u = np.random.default_rng(1).standard_normal(tout.shape)
    _close(out, tout)
    _close(fn(mg.tensor(u)), tfn(torch.tensor(u)))
    vs = [np.random.default_rng(2 + k).standard_normal(x.shape) for k, x in enumerate(xs)]
    _close(func.jvp(f, tuple(m), tuple(mg.tensor(v) for v in vs)),
           torch.func.jvp(tf, tuple(t), tuple(torch.tensor(v) for v in vs)))
    want = torch.func.jacrev(tf, argnums)(*t)
    _close(func.jacrev(f, argnums)(*m), want)
    _close(func.jacfwd(f, argnums)(*m), want)
    if out.size == 1:
        _close(func.grad(f, argnums)(*m), torch.func.grad(tf, argnums)(*t))
        _close(func.hessian(f, argnums)(*m), torch.func.hessian(tf, argnums)(*t))
        g, value = func.grad_and_value(f, argnums)(*m)
        _close(g, torch.func.grad(tf, argnums)(*t))
        _close(value, tout)


def _mlp(xp: Any) -> Callable:
    def f(x: Any, params: Any) -> Any:
        w1, b1, w2 = params
        return xp.tanh(x @ w1 + b1) @ w2
    return f


def test_mlp_against_torch_func(torch: Any) -> None:
    """A pytree argument (the parameters as a tuple): Jacobians and the Hessian of a loss."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3))
    params = [rng.standard_normal((3, 5)), rng.standard_normal(5), rng.standard_normal((5, 2))]
    m_p = tuple(mg.tensor(p) for p in params)
    t_p = tuple(torch.tensor(p) for p in params)
    f, tf = _mlp(mg), _mlp(torch)
    want = torch.func.jacrev(tf, (0, 1))(torch.tensor(x), t_p)
    _close(func.jacrev(f, (0, 1))(mg.tensor(x), m_p), want)
    _close(func.jacfwd(f, (0, 1))(mg.tensor(x), m_p), want)
    loss = lambda x, p: (f(x, p) ** 2).sum()  # noqa: E731
    tloss = lambda x, p: (tf(x, p) ** 2).sum()  # noqa: E731
    _close(func.grad(loss, 1)(mg.tensor(x), m_p), torch.func.grad(tloss, 1)(torch.tensor(x), t_p))
    _close(func.hessian(loss, 1)(mg.tensor(x), m_p),
           torch.func.hessian(tloss, 1)(torch.tensor(x), t_p))


def _torch_twin(layer: Any, torch: Any) -> Any:
    cls = {rnn.LSTM: torch.nn.LSTM, rnn.GRU: torch.nn.GRU}[type(layer)]
    twin = cls(layer.input_size, layer.hidden_size, bidirectional=layer.bidirectional).double()
    twin.load_state_dict({k: torch.tensor(v) for k, v in layer.state_dict().items()})
    return twin


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("cls", [rnn.LSTM, rnn.GRU])
def test_recurrent_layers_against_torch_func(cls: Any, impl: str, torch: Any) -> None:
    if impl == "fused" and not rnn.fused_available():
        pytest.skip("fused kernels not available")
    layer = cls(3, 4, bidirectional=True, impl=impl, dtype=np.float64, rng=0)
    twin = _torch_twin(layer, torch)
    x = np.random.default_rng(4).standard_normal((3, 2, 3))
    f = lambda x: layer(x)[0]  # noqa: E731
    tf = lambda x: twin(x)[0]  # noqa: E731
    want = torch.func.jacrev(tf)(torch.tensor(x))
    _close(func.jacrev(f)(mg.tensor(x)), want)
    _close(func.jacfwd(f)(mg.tensor(x)), want)
    v = np.random.default_rng(5).standard_normal(x.shape)
    _close(func.jvp(f, (mg.tensor(x),), (mg.tensor(v),)),
           torch.func.jvp(tf, (torch.tensor(x),), (torch.tensor(v),)))
    xs = x[:2, :1]  # a small input: the Hessian has (2 * 1 * 3)^2 entries
    loss = lambda x: (layer(x)[0] ** 2).sum()  # noqa: E731
    tloss = lambda x: (twin(x)[0] ** 2).sum()  # noqa: E731
    _close(func.hessian(loss)(mg.tensor(xs)), torch.func.hessian(tloss)(torch.tensor(xs)))


# ---- without torch: the transforms against each other and finite differences -------------------
@settings(max_examples=10)
@given(x=mgst.arrays(mgst.shapes(max_dims=2, max_side=3)))
def test_jacfwd_equals_jacrev(x: np.ndarray) -> None:
    f = lambda t: mg.sigmoid(t * t.sum()) * t  # noqa: E731
    _close(func.jacfwd(f)(mg.tensor(x)), func.jacrev(f)(mg.tensor(x)), 1e-12)


def test_hessian_of_a_quadratic_and_finite_differences() -> None:
    A = np.random.default_rng(6).standard_normal((3, 3))
    f = lambda x: x @ mg.tensor(A) @ x  # noqa: E731
    _close(func.hessian(f)(mg.tensor(np.ones(3))), mg.tensor(A + A.T), 1e-12)
    g = lambda x: (mg.exp(x) * x[0]).sum()  # noqa: E731
    x = np.array([0.3, -0.2])
    H = func.hessian(g)(mg.tensor(x)).data
    eps = 1e-6
    for j in range(2):
        e = np.zeros(2)
        e[j] = eps
        fd = (func.grad(g)(mg.tensor(x + e)).data - func.grad(g)(mg.tensor(x - e)).data) / (2 * eps)
        np.testing.assert_allclose(H[:, j], fd, atol=1e-7)


def test_compositions_of_the_two_modes() -> None:
    """Every pairing of forward and reverse gives the same second derivatives."""
    f = lambda x: (mg.tanh(x) ** 3).sum()  # noqa: E731
    x = mg.tensor(np.array([0.3, -0.7, 1.1]))
    want = np.diag(6 * np.tanh(x.data) * (1 - np.tanh(x.data) ** 2) ** 2
                   - 6 * np.tanh(x.data) ** 3 * (1 - np.tanh(x.data) ** 2))
    for outer in (func.jacfwd, func.jacrev):
        for inner in (func.jacfwd, func.jacrev):
            _close(outer(inner(f))(x), mg.tensor(want), 1e-12)
    _close(func.grad(lambda t: func.grad(f)(t).sum())(x), mg.tensor(want.sum(0)), 1e-12)


def test_pytrees_in_and_out() -> None:
    f = lambda p: (p[0] * 2, [p[1][0] * p[0].sum()])  # noqa: E731
    a, b = mg.tensor(np.array([1.0, 2.0])), mg.tensor(np.array([3.0]))
    out, vjp_fn = func.vjp(f, (a, [b]))
    assert isinstance(out, tuple) and isinstance(out[1], list)
    (g,) = vjp_fn((mg.tensor(np.ones(2)), [mg.tensor(np.ones(1))]))
    assert isinstance(g, tuple) and isinstance(g[1], list)
    _close(g[0], mg.tensor(np.array([2.0 + 3.0, 2.0 + 3.0])))
    _close(g[1][0], mg.tensor(np.array([3.0])))
    _, t = func.jvp(f, ((a, [b]),), ((mg.tensor(np.ones(2)), [mg.tensor(np.zeros(1))]),))
    _close(t, (mg.tensor(np.array([2.0, 2.0])), [mg.tensor(np.array([3.0 * 2]))]))
    J = func.jacrev(f)((a, [b]))
    assert J[0][0].shape == (2, 2) and J[1][0][1][0].shape == (1, 1)


def test_grad_leaves_dot_grad_alone_and_the_same_tensor_twice() -> None:
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    gx, gy = func.grad(lambda a, b: (a * b).sum(), (0, 1))(x, x)
    _close((gx, gy), (x, x))
    assert x.grad is None
    _close(func.jacfwd(lambda a, b: a * b, (0, 1))(x, x),
           (mg.tensor(np.diag([1.0, 2.0])), mg.tensor(np.diag([1.0, 2.0]))))


def test_transforms_leave_no_forward_level_open() -> None:
    from minigrad.forward import _fwd

    with pytest.raises(ZeroDivisionError):
        func.jvp(lambda x: x * (1 / 0), (mg.tensor(1.0),), (mg.tensor(1.0),))
    assert _fwd.levels == []


# ---- errors at the boundary --------------------------------------------------------------------
def test_errors_name_the_problem() -> None:
    x = mg.tensor(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"grad: f must return a one-element Tensor, got shape "
                                         r"\(2,\)"):
        func.grad(lambda t: t * 2)(x)
    with pytest.raises(ValueError, match=r"jvp: tangent 0 has shape \(3,\), but its primal has "
                                         r"shape \(2,\)"):
        func.jvp(lambda t: t, (x,), (mg.tensor(np.ones(3)),))
    with pytest.raises(TypeError, match="jvp: tangent 0 has dtype float32, but its primal has "
                                        "dtype float64"):
        func.jvp(lambda t: t, (x,), (mg.tensor(np.ones(2, np.float32)),))
    with pytest.raises(ValueError, match="jacrev: argnums 2 is out of range for a function "
                                         "called with 2 positional arguments"):
        func.jacrev(lambda a, b: a * b, 2)(x, x)
    with pytest.raises(ValueError, match="grad: argnums -3 is out of range"):
        func.grad(lambda a, b: (a * b).sum(), (0, -3))(x, x)
    with pytest.raises(TypeError, match="jacfwd: argument 0 has dtype int64; only "
                                        "floating-point inputs can be differentiated"):
        func.jacfwd(lambda t: t * 2)(mg.tensor(np.array([1, 2])))
    with pytest.raises(TypeError, match="grad: argument 1 must be a Tensor or a tuple or list "
                                        "of Tensors, got ndarray"):
        func.grad(lambda a, b: (a * b).sum(), 1)(x, np.ones(2))
    with pytest.raises(ValueError, match=r"vjp_fn: cotangent 0 has shape \(3,\), but its primal "
                                         r"has shape \(2,\)"):
        func.vjp(lambda t: t * 2, x)[1](mg.tensor(np.ones(3)))


@pytest.mark.parametrize("shape", [(), (1,), (2, 3)])
@given(data=st.data())
@settings(max_examples=5)
def test_vjp_and_jvp_are_transposes(shape: tuple[int, ...], data: Any) -> None:
    x = data.draw(mgst.arrays(shape))
    f = lambda t: mg.tanh(t) * mg.exp(t.sum())  # noqa: E731
    u = np.random.default_rng(7).standard_normal(shape)
    v = np.random.default_rng(8).standard_normal(shape)
    _, tangent = func.jvp(f, (mg.tensor(x),), (mg.tensor(v),))
    (cot,) = func.vjp(f, mg.tensor(x))[1](mg.tensor(u))
    assert np.isclose(np.sum(u * tangent.data), np.sum(cot.data * v), rtol=1e-12, atol=1e-14)


def test_reverse_transforms_work_inside_no_grad() -> None:
    x = mg.tensor(np.array([1.0, 2.0]))
    with mg.no_grad():
        _close(func.grad(lambda t: (t * t).sum())(x), mg.tensor(np.array([2.0, 4.0])))
        _close(func.jacrev(lambda t: t * t)(x), mg.tensor(np.diag([2.0, 4.0])))
