"""Every primitive and composite against central finite differences in float64, first and second
order, over generated shapes (broadcasting, size-1 axes and 0-d included).

The table below says, per op: how to draw its inputs (arity and domain) and the function under
test. Domains keep finite differences away from kinks and domain edges (minigrad.testing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.testing import gradcheck
from minigrad.testing import strategies as mgst

SHAPES = dict(max_dims=3, max_side=3)


def unary(domain: str = "real", dtype: Any = np.float64) -> Callable:
    def draw(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
        shape = data.draw(mgst.shapes(**SHAPES), label="shape")
        return [data.draw(mgst.arrays(shape, domain=domain, dtype=dtype), label="x")], {}
    return draw


def binary(dx: str = "real", dy: str = "real") -> Callable:
    def draw(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
        sx, sy = data.draw(mgst.broadcastable_shapes(2, **SHAPES), label="shapes")
        return [data.draw(mgst.arrays(sx, domain=dx), label="x"),
                data.draw(mgst.arrays(sy, domain=dy), label="y")], {}
    return draw


def apart() -> Callable:
    """Two broadcastable arrays that never tie: x on a grid of step 0.15, y half a step off it."""
    def draw(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
        sx, sy = data.draw(mgst.broadcastable_shapes(2, **SHAPES), label="shapes")
        return [data.draw(mgst.arrays(sx, domain="distinct"), label="x"),
                data.draw(mgst.arrays(sy, domain="distinct"), label="y") + 0.075], {}
    return draw


def reduction(domain: str = "real") -> Callable:
    def draw(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
        shape = data.draw(mgst.shapes(min_dims=1, **SHAPES), label="shape")
        x = data.draw(mgst.arrays(shape, domain=domain), label="x")
        axes = data.draw(st.one_of(
            st.none(), st.integers(-len(shape), len(shape) - 1),
            st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True).map(tuple)),
            label="axis")
        return [x], dict(axis=axes, keepdims=data.draw(st.booleans(), label="keepdims"))
    return draw


def last_axis(domain: str = "real") -> Callable:
    def draw(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
        shape = data.draw(mgst.shapes(min_dims=1, **SHAPES), label="shape")
        axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
        return [data.draw(mgst.arrays(shape, domain=domain), label="x")], dict(axis=axis)
    return draw


def matmul_inputs(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    m, k, n = (data.draw(st.integers(1, 3), label=c) for c in "mkn")
    bx, by = data.draw(mgst.broadcastable_shapes(2, max_dims=2, max_side=2), label="batch")
    kind = data.draw(st.sampled_from(["mm", "vec-mat", "mat-vec", "dot"]), label="kind")
    sx = {"mm": bx + (m, k), "vec-mat": (k,), "mat-vec": bx + (m, k), "dot": (k,)}[kind]
    sy = {"mm": by + (k, n), "vec-mat": by + (k, n), "mat-vec": (k,), "dot": (k,)}[kind]
    return [data.draw(mgst.arrays(sx), label="x"), data.draw(mgst.arrays(sy), label="y")], {}


def where_inputs(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    sc, sx, sy = data.draw(mgst.broadcastable_shapes(3, **SHAPES), label="shapes")
    c = data.draw(hnp.arrays(np.bool_, sc), label="c")
    return [data.draw(mgst.arrays(sx), label="x"), data.draw(mgst.arrays(sy), label="y")], \
        dict(c=c)


def index_inputs(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    shape = data.draw(mgst.shapes(min_dims=1, min_side=2, **SHAPES), label="shape")
    x = data.draw(mgst.arrays(shape), label="x")
    n = shape[0]
    kind = data.draw(st.sampled_from(["int", "neg", "slice", "array", "mask", "tuple"]),
                     label="kind")
    index: Any
    if kind == "int":
        index = data.draw(st.integers(0, n - 1))
    elif kind == "neg":
        index = data.draw(st.integers(-n, -1))
    elif kind == "slice":
        index = slice(data.draw(st.integers(-n, n)), data.draw(st.integers(-n, n)),
                      data.draw(st.sampled_from([1, 2, -1])))
    elif kind == "array":  # repeated indices: their gradients add up
        index = np.asarray(data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=5)))
    elif kind == "mask":
        index = np.asarray(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    else:
        index = (slice(None), -1) if len(shape) > 1 else (Ellipsis, 0)
    return [x], dict(index=index)


def many(n_min: int = 1, n_max: int = 3) -> Callable:
    def draw(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
        shape = data.draw(mgst.shapes(min_dims=1, **SHAPES), label="shape")
        axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
        count = data.draw(st.integers(n_min, n_max), label="count")
        xs = []
        for _ in range(count):
            s = list(shape)
            s[axis] = data.draw(st.integers(1, 3))
            xs.append(data.draw(mgst.arrays(tuple(s))))
        return xs, dict(axis=axis)
    return draw


def same_shape(n: int) -> Callable:
    def draw(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
        shape = data.draw(mgst.shapes(**SHAPES), label="shape")
        axis = data.draw(st.integers(-len(shape) - 1, len(shape)), label="axis")
        return [data.draw(mgst.arrays(shape)) for _ in range(n)], dict(axis=axis)
    return draw


def reshape_inputs(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    shape = data.draw(mgst.shapes(**SHAPES), label="shape")
    x = data.draw(mgst.arrays(shape), label="x")
    new = data.draw(st.permutations(list(shape) + [1]), label="new")
    return [x], dict(shape=tuple(new))


def transpose_inputs(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    shape = data.draw(mgst.shapes(**SHAPES), label="shape")
    axes = data.draw(st.permutations(range(len(shape))), label="axes")
    return [data.draw(mgst.arrays(shape), label="x")], dict(axes=tuple(axes))


def broadcast_inputs(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    small, big = data.draw(mgst.broadcastable_shapes(2, **SHAPES), label="shapes")
    target = np.broadcast_shapes(small, big)
    return [data.draw(mgst.arrays(small), label="x")], dict(shape=target)


def pad_inputs(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    shape = data.draw(mgst.shapes(min_dims=1, **SHAPES), label="shape")
    widths = [(data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in shape]
    return [data.draw(mgst.arrays(shape), label="x")], dict(widths=widths,
                                                             value=data.draw(st.floats(-1, 1)))


def split_inputs(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    parts = data.draw(st.integers(1, 3), label="parts")
    shape = data.draw(mgst.shapes(min_dims=1, **SHAPES), label="shape")
    shape = (parts * data.draw(st.integers(1, 2)),) + shape[1:]
    return [data.draw(mgst.arrays(shape), label="x")], dict(parts=parts)


def gather_inputs(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    """PyTorch's gather: an index of the input's rank, repeats included (they add up), every
    index in [0, size) (a negative one is an error, as in PyTorch)."""
    shape = data.draw(mgst.shapes(min_dims=1, **SHAPES), label="shape")
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    ishape = tuple(data.draw(st.integers(1, n)) if i != dim % len(shape) else
                   data.draw(st.integers(1, 4)) for i, n in enumerate(shape))
    idx = data.draw(hnp.arrays(np.int64, ishape,
                               elements=st.integers(0, shape[dim] - 1)), label="index")
    return [data.draw(mgst.arrays(shape), label="x")], dict(dim=dim, idx=idx)


def cum_inputs(domain: str = "real") -> Callable:
    def draw(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
        shape = data.draw(mgst.shapes(min_dims=1, **SHAPES), label="shape")
        dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
        return [data.draw(mgst.arrays(shape, domain=domain), label="x")], dict(dim=dim)
    return draw


def with_zeros(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    """Products with exact zeros in them (one or two per row): the rules must not divide."""
    shape = data.draw(mgst.shapes(min_dims=1, **SHAPES), label="shape")
    x = data.draw(mgst.arrays(shape), label="x")
    x = np.where(data.draw(hnp.arrays(np.bool_, shape), label="zeros"), 0.0, x)
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)), label="dim")
    return [x], dict(dim=dim, keepdim=data.draw(st.booleans(), label="keepdim"))


def einsum_inputs(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    eq, shapes = data.draw(st.sampled_from([
        ("ij,jk->ik", [(2, 3), (3, 2)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 1)]),
        ("i,i->", [(3,), (3,)]), ("ij->ji", [(2, 3)]), ("ij,k->ijk", [(2, 1), (3,)]),
        ("ij,jk", [(2, 3), (3, 2)]), ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]),
        ("ijk->i", [(2, 3, 2)]), ("ij,ij->i", [(3, 2), (3, 2)]), ("ab,b->a", [(3, 4), (4,)]),
        ("ab,cd->ad", [(2, 3), (1, 2)])]), label="equation")
    return [data.draw(mgst.arrays(s)) for s in shapes], dict(eq=eq)


def clip_inputs(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    shape = data.draw(mgst.shapes(**SHAPES), label="shape")
    x = data.draw(mgst.arrays(shape, domain="distinct"), label="x")  # on a grid of step 0.15
    return [x], dict(lo=data.draw(st.sampled_from([None, -1.0 + 0.075])),
                     hi=data.draw(st.sampled_from([None, 0.5 + 0.075])))


@dataclass(frozen=True)
class Case:
    name: str
    draw: Callable[[st.DataObject], tuple[list[np.ndarray], dict]]
    fn: Callable[..., Any]
    second_order: bool = True


CASES = [
    Case("add", binary(), lambda p, x, y: x + y),
    Case("sub", binary(), lambda p, x, y: x - y),
    Case("mul", binary(), lambda p, x, y: x * y),
    Case("truediv", binary("real", "nonzero"), lambda p, x, y: x / y),
    Case("neg", unary(), lambda p, x: -x),
    Case("pow", binary("positive", "real"), lambda p, x, y: x ** y),
    Case("pow_scalar", unary("positive"), lambda p, x: x ** 2.5),
    Case("rpow", unary(), lambda p, x: 1.7 ** x),
    Case("matmul", matmul_inputs, lambda p, x, y: x @ y),
    Case("exp", unary(), lambda p, x: mg.exp(x)),
    Case("log", unary("positive"), lambda p, x: mg.log(x)),
    Case("sqrt", unary("positive"), lambda p, x: mg.sqrt(x)),
    Case("tanh", unary(), lambda p, x: mg.tanh(x)),
    Case("sigmoid", unary(), lambda p, x: mg.sigmoid(x)),
    Case("relu", unary("nonzero"), lambda p, x: mg.relu(x)),
    Case("abs", unary("nonzero"), lambda p, x: mg.abs(x)),
    Case("maximum", apart(), lambda p, x, y: mg.maximum(x, y)),
    Case("minimum", apart(), lambda p, x, y: mg.minimum(x, y)),
    Case("where", where_inputs, lambda p, x, y: mg.where(mg.tensor(p["c"]), x, y)),
    Case("clip", clip_inputs, lambda p, x: mg.clip(x, p["lo"], p["hi"])
         if p["lo"] is not None or p["hi"] is not None else mg.clip(x, -1e9)),
    Case("sum", reduction(), lambda p, x: mg.sum(x, p["axis"], p["keepdims"])),
    Case("mean", reduction(), lambda p, x: mg.mean(x, p["axis"], p["keepdims"])),
    Case("max", reduction("distinct"), lambda p, x: mg.amax(x, p["axis"], p["keepdims"])),
    Case("min", reduction("distinct"), lambda p, x: mg.amin(x, p["axis"], p["keepdims"])),
    Case("var", reduction(), lambda p, x: mg.var(x, p["axis"], keepdim=p["keepdims"],
                                                 correction=0)),
    Case("logsumexp", reduction(), lambda p, x: mg.logsumexp(x, p["axis"], p["keepdims"])),
    Case("softmax", last_axis(), lambda p, x: mg.softmax(x, p["axis"])),
    Case("log_softmax", last_axis(), lambda p, x: mg.log_softmax(x, p["axis"])),
    Case("reshape", reshape_inputs, lambda p, x: mg.reshape(x, p["shape"])),
    Case("transpose", transpose_inputs, lambda p, x: mg.permute(x, p["axes"])),
    Case("broadcast_to", broadcast_inputs, lambda p, x: mg.broadcast_to(x, p["shape"])),
    Case("getitem", index_inputs, lambda p, x: x[p["index"]]),
    Case("concatenate", many(), lambda p, *xs: mg.concatenate(xs, p["axis"])),
    Case("stack", same_shape(3), lambda p, *xs: mg.stack(xs, p["axis"])),
    Case("split", split_inputs, lambda p, x: tuple(mg.split(x, p["parts"]))),
    Case("pad", pad_inputs, lambda p, x: mg.pad(x, p["widths"], p["value"])),
    Case("gather", gather_inputs, lambda p, x: mg.gather(x, p["dim"], p["idx"])),
    Case("log1p", unary("positive"), lambda p, x: mg.log1p(x)),
    Case("expm1", unary(), lambda p, x: mg.expm1(x)),
    Case("sin", unary(), lambda p, x: mg.sin(x)),
    Case("cos", unary(), lambda p, x: mg.cos(x)),
    Case("tan", unary("unit"), lambda p, x: mg.tan(x)),
    Case("erf", unary(), lambda p, x: mg.erf(x)),
    Case("clone", unary(), lambda p, x: mg.clone(x) * x),
    Case("cumsum", cum_inputs(), lambda p, x: mg.cumsum(x, p["dim"])),
    Case("cumprod", cum_inputs(), lambda p, x: mg.cumprod(x, p["dim"])),
    Case("cumprod_zeros", with_zeros, lambda p, x: mg.cumprod(x, p["dim"] or 0)),
    Case("prod", with_zeros, lambda p, x: mg.prod(x, p["dim"], p["keepdim"])),
    Case("einsum", einsum_inputs, lambda p, *xs: mg.einsum(p["eq"], *xs)),
    # a float32 input cast up: the gradient must come back cast down (checked at f32 tolerance)
    Case("astype", unary(dtype=np.float32), lambda p, x: x.astype(np.float64) ** 2),
]


def _check(case: Case, data: st.DataObject, order: int) -> None:
    inputs, params = case.draw(data)
    with np.errstate(divide="raise", invalid="raise", over="raise"):
        assert gradcheck(lambda *xs: case.fn(params, *xs), inputs, order=order)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@given(data=st.data())
def test_first_order(case: Case, data: st.DataObject) -> None:
    _check(case, data, order=1)


@pytest.mark.parametrize("case", [c for c in CASES if c.second_order],
                         ids=[c.name for c in CASES if c.second_order])
@settings(max_examples=10)
@given(data=st.data())
def test_second_order(case: Case, data: st.DataObject) -> None:
    _check(case, data, order=2)


#: primitives tested through another case rather than a row of their own
COVERED_BY = {
    "index_add": "getitem and gather, whose second-order checks differentiate it",
    "cross_entropy": "test_forward_mode.test_loss_primitives and test_nn_functional",
    "softplus": "test_forward_mode.test_loss_primitives and test_nn_functional",
}
#: fused primitives (a kernel and its reference twin) are tested by their own kernel tests
#: (tests/test_fused_*.py, tests/test_rnn_fused.py) against the reference path
FUSED_TESTED_BY = "tests/test_fused_double_backward.py and the kernel tests"


def all_primitives() -> dict[str, mg.Primitive]:
    """Every primitive defined anywhere in minigrad and rnn: each of their modules is imported
    (a primitive registers itself when its module runs), then the registry is read."""
    import importlib
    import pkgutil

    import rnn

    for pkg in (mg, rnn):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if info.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(info.name)
            except ImportError:  # an optional dependency (numba for the fused kernels)
                continue
    return {k: p for k, p in mg.Primitive.registry.items() if not k.startswith("test_")}


def test_every_primitive_has_a_case() -> None:
    """A new primitive, defined in any module, without a row in the table (or a named test
    elsewhere) fails here."""
    reg = all_primitives()
    assert {"add", "cross_entropy", "softplus"} <= set(reg)
    plain = {name for name, p in reg.items() if not p.fused}
    assert plain - {c.name for c in CASES} - set(COVERED_BY) == set()
    assert set(COVERED_BY) <= plain  # no stale entry


# ---- forward mode: the jvp rules of the primitives added with the PyTorch op set -----------
JVP_CASES = [
    ("log1p", unary("positive"), {}), ("expm1", unary(), {}), ("sin", unary(), {}),
    ("cos", unary(), {}), ("tan", unary("unit"), {}), ("erf", unary(), {}),
    ("clone", unary(), {}), ("cumsum", cum_inputs(), None), ("cumprod", with_zeros, None),
    ("prod", with_zeros, None), ("einsum", einsum_inputs, None),
]


def _jvp_params(name: str, p: dict, xs: list[np.ndarray]) -> dict:
    if name in ("cumsum", "cumprod"):
        return dict(axis=(p["dim"] or 0) % xs[0].ndim)
    if name == "prod":
        return dict(axis=None if p["dim"] is None else p["dim"] % xs[0].ndim,
                    keepdims=p["keepdim"])
    if name == "einsum":
        from minigrad.primitives import parse_einsum

        ins, out = parse_einsum(p["eq"], [x.ndim for x in xs])
        return dict(equation=",".join(ins) + "->" + out)
    return {}


@pytest.mark.parametrize("name, draw, _", JVP_CASES, ids=[c[0] for c in JVP_CASES])
@settings(max_examples=10)
@given(data=st.data())
def test_jvp_rules_match_finite_differences(name: str, draw: Callable, _: Any,
                                            data: st.DataObject) -> None:
    """Each new primitive's jvp (forward mode) against a central difference along random
    tangents, one input at a time and all together (None for an input without a tangent)."""
    from minigrad.primitives import array_ops

    prim = mg.Primitive.registry[name]
    assert prim.jvp is not None
    xs, p = draw(data)
    params = _jvp_params(name, p, xs)
    ans = prim.forward(*xs, **params)
    rng = np.random.default_rng(0)
    ts = [rng.standard_normal(x.shape) for x in xs]
    eps = 1e-6
    for which in [*([i] for i in range(len(xs))), list(range(len(xs)))]:
        tangents = [t if i in which else None for i, t in enumerate(ts)]
        got = prim.jvp(array_ops, tangents, ans, *xs, **params)
        plus = prim.forward(*(x + eps * t if t is not None else x
                              for x, t in zip(xs, tangents)), **params)
        minus = prim.forward(*(x - eps * t if t is not None else x
                               for x, t in zip(xs, tangents)), **params)
        np.testing.assert_allclose(got, (plus - minus) / (2 * eps), rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name}: jvp with tangents on inputs {which}")
        # the same rule run on Tensors (xp = minigrad.ops), as forward-over-reverse runs it
        on_tensors = prim.jvp(mg.ops, [None if t is None else mg.tensor(t) for t in tangents],
                              mg.tensor(ans), *(mg.tensor(x) for x in xs), **params)
        np.testing.assert_allclose(on_tensors.data, got, rtol=1e-12, atol=1e-12)
