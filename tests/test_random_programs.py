"""Random programs, differentiated by minigrad and by PyTorch, first and second order.

Hypothesis writes a short program: leaves of small shapes, then steps that each apply an op to
values made earlier (so values fan out to several consumers), with broadcasting, views (reshape,
slices, transpose, permute), negative dims everywhere and keepdim. The program runs once on
minigrad and once on torch (the same source: ``L`` is either namespace); the gradients of a random
weighted sum of every value, and the second derivatives along a random direction, must agree to
1e-9. A rule that mishandles a negative dim, a broadcast or a view, or an op whose meaning
differs from PyTorch's, shows up here even if its own row of the op table passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing import strategies as mgst

torch = pytest.importorskip("torch")


def _neg(d: int, rank: int, flip: bool) -> int:
    return d - rank if flip else d


# Each step: (name, arity, applicable(shapes) -> bool, draw params, run(L, params, *xs)).
def _unary(f: Callable[[Any, Any], Any]) -> Callable:
    return lambda L, p, x: f(L, x)


STEPS: list[tuple[str, int, Callable[..., bool], Callable[..., Any], Callable[..., Any]]] = [
    ("tanh", 1, lambda s: True, lambda d, s: {}, _unary(lambda L, x: L.tanh(x))),
    ("sin", 1, lambda s: True, lambda d, s: {}, _unary(lambda L, x: L.sin(x))),
    ("sigmoid", 1, lambda s: True, lambda d, s: {}, _unary(lambda L, x: L.sigmoid(x))),
    ("square", 1, lambda s: True, lambda d, s: {}, _unary(lambda L, x: x * x * 0.5)),
    ("exp", 1, lambda s: True, lambda d, s: {},
     _unary(lambda L, x: L.exp(L.tanh(x)))),  # bounded: no overflow after many steps
    ("add", 2, lambda a, b: _broadcasts(a, b), lambda d, s: {}, lambda L, p, x, y: x + y),
    ("mul", 2, lambda a, b: _broadcasts(a, b), lambda d, s: {}, lambda L, p, x, y: x * y),
    ("sub", 2, lambda a, b: _broadcasts(a, b), lambda d, s: {}, lambda L, p, x, y: x - y * 0.5),
    ("sum", 1, lambda s: len(s) >= 1, lambda d, s: dict(
        dim=_neg(d.draw(st.integers(0, len(s) - 1)), len(s), d.draw(st.booleans())),
        keep=d.draw(st.booleans())), lambda L, p, x: L.sum(x, dim=p["dim"], keepdim=p["keep"])),
    ("mean", 1, lambda s: len(s) >= 1, lambda d, s: dict(
        dim=tuple(_neg(i, len(s), True) for i in range(len(s))), keep=d.draw(st.booleans())),
     lambda L, p, x: x.mean(p["dim"], keepdim=p["keep"])),
    ("logsumexp", 1, lambda s: len(s) >= 1, lambda d, s: dict(
        dim=d.draw(st.integers(-len(s), -1))), lambda L, p, x: L.logsumexp(x, p["dim"])),
    ("softmax", 1, lambda s: len(s) >= 1, lambda d, s: dict(
        dim=d.draw(st.integers(-len(s), len(s) - 1))),
     lambda L, p, x: L.log_softmax(x, p["dim"]) + L.softmax(x, dim=p["dim"])),
    ("transpose", 1, lambda s: len(s) >= 2, lambda d, s: dict(
        a=d.draw(st.integers(-len(s), len(s) - 1)), b=d.draw(st.integers(-len(s), -1))),
     lambda L, p, x: x.transpose(p["a"], p["b"])),
    ("permute", 1, lambda s: len(s) >= 2, lambda d, s: dict(
        dims=[_neg(i, len(s), d.draw(st.booleans()))
              for i in d.draw(st.permutations(range(len(s))))]),
     lambda L, p, x: x.permute(*p["dims"])),
    ("unsqueeze", 1, lambda s: len(s) <= 2, lambda d, s: dict(
        dim=d.draw(st.integers(-len(s) - 1, len(s)))), lambda L, p, x: x.unsqueeze(p["dim"])),
    ("squeeze", 1, lambda s: 1 in s, lambda d, s: dict(dim=s.index(1) - len(s)),
     lambda L, p, x: L.squeeze(x, p["dim"])),
    ("flatten", 1, lambda s: len(s) >= 2, lambda d, s: {}, lambda L, p, x: x.flatten(-2, -1)),
    ("slice", 1, lambda s: len(s) >= 1 and s[-1] >= 2, lambda d, s: {},
     lambda L, p, x: x[..., 1:] * x[..., :1]),
    ("cat", 2, lambda a, b: len(a) == len(b) >= 1 and a[:-1] == b[:-1], lambda d, s: {},
     lambda L, p, x, y: L.cat([x, y, x], dim=-1)),
    ("stack", 2, lambda a, b: a == b, lambda d, s: dict(dim=d.draw(st.integers(-len(s) - 1, -1))),
     lambda L, p, x, y: L.stack([x, y], p["dim"])),
    ("gather", 1, lambda s: len(s) >= 1, lambda d, s: dict(
        dim=d.draw(st.integers(-len(s), -1)), seed=d.draw(st.integers(0, 9))),
     lambda L, p, x: L.gather(x, p["dim"], L.tensor(_index(x.shape, p["dim"], p["seed"])))),
    ("amax", 1, lambda s: len(s) >= 1, lambda d, s: dict(dim=d.draw(st.integers(-len(s), -1))),
     lambda L, p, x: L.amax(x, p["dim"], keepdim=True) * x),
]


def _broadcasts(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        return len(np.broadcast_shapes(a, b)) <= 3
    except ValueError:
        return False


def _index(shape: tuple[int, ...], dim: int, seed: int) -> np.ndarray:
    n = shape[dim]
    return np.random.default_rng(seed).integers(0, n, shape)


@st.composite
def programs(draw: st.DrawFn) -> tuple[list[np.ndarray], list[tuple[str, list[int], dict]]]:
    n_leaves = draw(st.integers(1, 3), label="leaves")
    leaves = [draw(mgst.arrays(mgst.shapes(max_dims=3, max_side=3))) for _ in range(n_leaves)]
    shapes = [x.shape for x in leaves]
    steps = []
    data = draw(st.data())
    for _ in range(draw(st.integers(2, 8), label="steps")):
        name, arity, ok, params, _ = data.draw(st.sampled_from(STEPS), label="op")
        picks = [i for i in range(len(shapes))]
        if arity == 1:
            cands = [(i,) for i in picks if ok(shapes[i])]
        else:
            cands = [(i, j) for i in picks for j in picks if ok(shapes[i], shapes[j])]
        if not cands:
            continue
        args = list(data.draw(st.sampled_from(cands), label="args"))
        p = params(data, shapes[args[0]])
        shape = _run_step(mg, name, p, [mg.tensor(np.zeros(shapes[i])) for i in args]).shape
        if len(shape) > 3 or int(np.prod(shape)) > 64:
            continue
        steps.append((name, args, p))
        shapes.append(tuple(shape))
    return leaves, steps


def _run_step(L: Any, name: str, p: dict, xs: list[Any]) -> Any:
    run = next(s[4] for s in STEPS if s[0] == name)
    return run(L, p, *xs)


def _execute(L: Any, leaves: list[Any], steps: list) -> Any:
    values = list(leaves)
    for name, args, p in steps:
        values.append(_run_step(L, name, p, [values[i] for i in args]))
    rng = np.random.default_rng(1)
    total = None
    for v in values:
        w = L.tensor(rng.standard_normal(tuple(v.shape)))
        term = (v * w).sum()
        total = term if total is None else total + term
    return total


@settings(max_examples=100)
@given(prog=programs())
def test_random_programs_match_torch_first_and_second_order(prog: tuple) -> None:
    leaves, steps = prog
    xs = [mg.tensor(a, requires_grad=True) for a in leaves]
    ts = [torch.tensor(a, requires_grad=True) for a in leaves]
    out, tout = _execute(mg, xs, steps), _execute(torch, ts, steps)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-9, atol=1e-9)
    gs = mg.grad(out, xs, create_graph=True, allow_unused=True)
    tgs = torch.autograd.grad(tout, ts, create_graph=True, allow_unused=True)
    rng = np.random.default_rng(2)
    dirs = [rng.standard_normal(a.shape) for a in leaves]
    second, tsecond = None, None
    for i, (g, tg) in enumerate(zip(gs, tgs)):
        a = np.zeros(leaves[i].shape) if g is None else g.data
        b = np.zeros(leaves[i].shape) if tg is None else tg.detach().numpy()
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, err_msg=f"gradient of leaf {i}")
        if g is not None and tg is not None and g.requires_grad and tg.requires_grad:
            term = (g * mg.tensor(dirs[i])).sum()
            tterm = (tg * torch.tensor(dirs[i])).sum()
            second = term if second is None else second + term
            tsecond = tterm if tsecond is None else tsecond + tterm
    if second is None or tsecond is None:
        return
    hs = mg.grad(second, xs, allow_unused=True)
    ths = torch.autograd.grad(tsecond, ts, allow_unused=True)
    for i, (h, th) in enumerate(zip(hs, ths)):
        a = np.zeros(leaves[i].shape) if h is None else h.data
        b = np.zeros(leaves[i].shape) if th is None else th.numpy()
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-9,
                                   err_msg=f"second derivative of leaf {i}")
