"""The op table (PyTorch's OpInfo idea): every exported op, its sample inputs, three checks.

Each row names the exported ops it covers, draws sample inputs (Hypothesis: broadcasting, size-1
and 0-d axes, negative dims, keepdim; inputs kept away from kinks and domain edges) and gives ONE
function ``fn(L, p, *xs)`` written against a namespace ``L`` that is either ``minigrad`` or
``torch``: the same source runs on both, so a name, an argument name or a meaning that differs
from PyTorch's fails here. For every differentiable row:

1. gradients against central finite differences in float64, first and second order
   (``minigrad.testing.gradcheck``);
2. values and gradients equal PyTorch's on the same inputs to 1e-10 in float64 (skipped without
   torch); non-differentiable outputs (indices, masks, dtypes) must be equal exactly;
3. float32 agrees with float64 to float32 tolerance, and stays float32.

Separately: the defined behaviour at kinks and ties against torch's rule, bad input raising a
clear error that names the op and the numbers, and a test that fails when an op exported by
``mg`` or ``mg.nn.functional`` has no row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
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

try:
    import torch
except ImportError:  # pragma: no cover - the torch checks skip
    torch = None

SH = dict(max_dims=3, max_side=3)
Draw = Callable[[st.DataObject], tuple[list[np.ndarray], dict]]


# ---- sample-input generators ---------------------------------------------------------------
def unary(domain: str = "real", min_dims: int = 0) -> Draw:
    def draw(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
        shape = data.draw(mgst.shapes(min_dims=min_dims, **SH), label="shape")
        return [data.draw(mgst.arrays(shape, domain=domain), label="x")], {}
    return draw


def binary(dx: str = "real", dy: str = "real") -> Draw:
    def draw(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
        sx, sy = data.draw(mgst.broadcastable_shapes(2, **SH), label="shapes")
        return [data.draw(mgst.arrays(sx, domain=dx), label="x"),
                data.draw(mgst.arrays(sy, domain=dy), label="y")], {}
    return draw


def apart(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    """Two broadcastable arrays that never tie: x on a grid of step 0.15, y half a step off."""
    sx, sy = data.draw(mgst.broadcastable_shapes(2, **SH), label="shapes")
    return [data.draw(mgst.arrays(sx, domain="distinct"), label="x"),
            data.draw(mgst.arrays(sy, domain="distinct"), label="y") + 0.075], {}


def same_shape(n: int, domain: str = "real", min_dims: int = 1, **extra: Any) -> Draw:
    def draw(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
        shape = data.draw(mgst.shapes(min_dims=min_dims, **SH), label="shape")
        p = {k: data.draw(v, label=k) for k, v in extra.items()}
        p["dim"] = data.draw(mgst.dims(len(shape), allow_none=False, multiple=False), label="dim")
        return [data.draw(mgst.arrays(shape, domain=domain)) for _ in range(n)], p
    return draw


def reduce(domain: str = "real", *, allow_none: bool = True, multiple: bool = True,
           min_dims: int = 0, min_side: int = 1) -> Draw:
    def draw(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
        shape = data.draw(mgst.shapes(min_dims=min_dims, min_side=min_side, **SH), label="shape")
        dim = data.draw(mgst.dims(len(shape), allow_none=allow_none, multiple=multiple),
                        label="dim")
        return [data.draw(mgst.arrays(shape, domain=domain), label="x")], \
            dict(dim=dim, keepdim=data.draw(st.booleans(), label="keepdim"))
    return draw


def with_zeros(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    shape = data.draw(mgst.shapes(min_dims=1, **SH), label="shape")
    x = np.where(data.draw(hnp.arrays(np.bool_, shape), label="zeros"), 0.0,
                 data.draw(mgst.arrays(shape), label="x"))
    dim = data.draw(mgst.dims(len(shape), multiple=False), label="dim")
    return [x], dict(dim=dim, keepdim=data.draw(st.booleans(), label="keepdim"))


def matmul_inputs(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    m, k, n = (data.draw(st.integers(1, 3), label=c) for c in "mkn")
    bx, by = data.draw(mgst.broadcastable_shapes(2, max_dims=2, max_side=2), label="batch")
    kind = data.draw(st.sampled_from(["mm", "vec-mat", "mat-vec", "dot"]), label="kind")
    sx = {"mm": bx + (m, k), "vec-mat": (k,), "mat-vec": bx + (m, k), "dot": (k,)}[kind]
    sy = {"mm": by + (k, n), "vec-mat": by + (k, n), "mat-vec": (k,), "dot": (k,)}[kind]
    return [data.draw(mgst.arrays(sx), label="x"), data.draw(mgst.arrays(sy), label="y")], {}


def fixed(*shapes: tuple[int, ...], domain: str = "real", shift: float = 0.0,
          **params: Any) -> Draw:
    """Arrays of the given shapes (array k shifted by ``k * shift``: with domain "distinct" and
    shift 0.075, two arrays never tie); params drawn from strategies (or fixed values)."""
    def draw(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
        p = {k: data.draw(v, label=k) if isinstance(v, st.SearchStrategy) else v
             for k, v in params.items()}
        return [data.draw(mgst.arrays(s, domain=domain)) + k * shift
                for k, s in enumerate(shapes)], p
    return draw


def gather_like(same_rank_index: bool = True, src: bool = False, unique: bool = False) -> Draw:
    """An input, a dim and an index of the input's rank (its size along other dims at most the
    input's); ``unique`` keeps indices distinct along the dim (scatter's results with repeats are
    unspecified in PyTorch)."""
    def draw(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
        shape = data.draw(mgst.shapes(min_dims=1, **SH), label="shape")
        d = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
        n = shape[d]
        ishape = tuple(data.draw(st.integers(1, s)) if i != d % len(shape) else
                       data.draw(st.integers(1, n if unique else 4))
                       for i, s in enumerate(shape))
        if unique:  # a permutation prefix along dim for every other position
            base = np.argsort(data.draw(hnp.arrays(np.float64, ishape[:d % len(shape)] + (n,)
                                                   + ishape[d % len(shape) + 1:],
                                                   elements=st.floats(0, 1)), label="perm"),
                              axis=d)
            idx = np.take(base, np.arange(ishape[d]), axis=d)
        else:
            idx = data.draw(mgst.index_arrays(ishape, n, negative=False), label="index")
        xs = [data.draw(mgst.arrays(shape), label="x")]
        if src:
            xs.append(data.draw(mgst.arrays(ishape), label="src"))
        return xs, dict(dim=d, idx=idx.astype(np.int64))
    return draw


def class_inputs(probs: bool = False) -> Draw:
    def draw(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
        n, c = data.draw(st.integers(1, 3)), data.draw(st.integers(2, 4))
        extra = data.draw(st.sampled_from([(), (2,)]), label="extra")
        x = data.draw(mgst.arrays((n, c) + extra), label="logits")
        t = data.draw(mgst.index_arrays((n,) + extra, c, negative=False), label="target")
        if data.draw(st.booleans(), label="ignore one") and t.size > 1:
            t.flat[0] = -100
        p = dict(target=t, reduction=data.draw(st.sampled_from(["mean", "sum", "none"])),
                 weight=data.draw(st.none() | mgst.arrays((c,), domain="positive")),
                 smoothing=data.draw(st.sampled_from([0.0, 0.2])))
        if probs:
            p["probs"] = data.draw(mgst.arrays((n, c) + extra, domain="positive"))
        return [x], p
    return draw


def conv_inputs(data: st.DataObject) -> tuple[list[np.ndarray], dict]:
    groups = data.draw(st.sampled_from([1, 2]), label="groups")
    c_in, c_out = groups * data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    k = data.draw(st.integers(1, 3), label="k")
    dilation = data.draw(st.integers(1, 2), label="dilation")
    stride = data.draw(st.integers(1, 2), label="stride")
    padding = data.draw(st.sampled_from([0, 1, "same"] if stride == 1 else [0, 1]))
    length = dilation * (k - 1) + 1 + data.draw(st.integers(0, 3))
    batch = data.draw(st.sampled_from([(), (1,), (2,)]), label="batch")
    return [data.draw(mgst.arrays(batch + (c_in, length))),
            data.draw(mgst.arrays((c_out, c_in // groups, k))),
            data.draw(mgst.arrays((c_out,)))], \
        dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


# ---- the table -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Op:
    covers: tuple[str, ...]  # exported names ("F.x" for nn.functional) this row checks
    draw: Draw
    fn: Callable[..., Any]  # fn(L, p, *xs) with L = minigrad or torch
    grad: bool = True  # differentiable (checks 1-3); else values and dtypes only
    second_order: bool = True
    torch_fn: Callable[..., Any] | None = None  # when torch spells it differently
    f32_out: bool = True  # float32 inputs give float32 outputs
    examples: int = 8

    @property
    def id(self) -> str:
        return self.covers[0]


def op(covers: str, draw: Draw, fn: Callable[..., Any], **kw: Any) -> Op:
    return Op(tuple(covers.split()), draw, fn, **kw)


def T(L: Any, a: Any) -> Any:
    """A constant (index, mask) in the namespace under test."""
    return L.tensor(a)


def _pointwise_methods(x: Any) -> tuple:
    return (x.log1p(), x.expm1(), x.log2(), x.rsqrt(), x.square(), x.reciprocal(), x.sin(),
            x.cos(), x.tan(), x.erf(), x.sqrt(), x.exp(), x.log(), x.tanh(), x.sigmoid(), x.relu(),
            x.abs(), x.neg(), x.pow(2), x.clamp(0.5, 1.0), x.clip(max=1.0), x.lerp(x * 2, 0.3),
            x.maximum(x * 0.5), x.minimum(x * 0.5), x.add(1), x.sub(x), x.mul(2), x.div(x + 1),
            x.where(x > 1, 0.0), x.clone(), x.contiguous(), x.to(x), x.sign(),
            x.floor(), x.ceil(), x.round(), x.trunc(), x.eq(x), x.ne(x), x.lt(1), x.le(1),
            x.gt(1), x.ge(1), x.isfinite(), x.isnan(), x.logical_not(), x.bool(), x.long(),
            x.int())


def _reduction_methods(x: Any) -> tuple:
    return (x.sum(), x.sum(1), x.sum(dim=(0, 1), keepdim=True), x.mean(0, keepdim=True),
            x.prod(1), x.std(1), x.var(0, correction=0), x.amax(1), x.amin(-2), x.logsumexp(1),
            x.norm(), x.norm(1, -1), x.cumsum(1), x.cumprod(0), x.softmax(1), x.log_softmax(0),
            x.max(), x.min(), *x.max(1), *x.min(0, keepdim=True), x.argmax(), x.argmin(1),
            x.all(), x.any(1))


OPS: list[Op] = [
    # arithmetic and pointwise
    op("add", binary(), lambda L, p, x, y: L.add(x, y)),
    op("sub", binary(), lambda L, p, x, y: L.sub(x, y)),
    op("mul", binary(), lambda L, p, x, y: L.mul(x, y)),
    op("div true_divide truediv", binary("real", "nonzero"), lambda L, p, x, y: L.div(x, y)),
    op("neg negative", unary(), lambda L, p, x: L.negative(L.neg(x))),
    op("pow", binary("positive", "real"), lambda L, p, x, y: L.pow(x, y)),
    op("abs", unary("nonzero"), lambda L, p, x: L.abs(x)),
    op("exp", unary(), lambda L, p, x: L.exp(x)),
    op("log", unary("positive"), lambda L, p, x: L.log(x)),
    op("log1p", unary("positive"), lambda L, p, x: L.log1p(x)),
    op("expm1", unary(), lambda L, p, x: L.expm1(x)),
    op("log2", unary("positive"), lambda L, p, x: L.log2(x)),
    op("sqrt", unary("positive"), lambda L, p, x: L.sqrt(x)),
    op("rsqrt", unary("positive"), lambda L, p, x: L.rsqrt(x)),
    op("square", unary(), lambda L, p, x: L.square(x)),
    op("reciprocal", unary("nonzero"), lambda L, p, x: L.reciprocal(x)),
    op("sin", unary(), lambda L, p, x: L.sin(x)),
    op("cos", unary(), lambda L, p, x: L.cos(x)),
    op("tan", unary("unit"), lambda L, p, x: L.tan(x)),
    op("tanh", unary(), lambda L, p, x: L.tanh(x)),
    op("sigmoid", unary(), lambda L, p, x: L.sigmoid(x)),
    op("relu", unary("nonzero"), lambda L, p, x: L.relu(x)),
    op("erf", unary(), lambda L, p, x: L.erf(x)),
    op("sign", unary("nonzero"), lambda L, p, x: L.sign(x), grad=False),
    op("floor", unary(), lambda L, p, x: L.floor(x), grad=False),
    op("ceil", unary(), lambda L, p, x: L.ceil(x), grad=False),
    op("round", unary(), lambda L, p, x: L.round(x), grad=False),
    op("trunc", unary(), lambda L, p, x: L.trunc(x), grad=False),
    op("clamp clip", fixed((2, 3), domain="distinct", lo=st.sampled_from([None, -1.0 + 0.075]),
                           hi=st.sampled_from([0.5 + 0.075])),
       lambda L, p, x: L.clip(L.clamp(x, min=p["lo"], max=p["hi"]), -10, None)),
    op("where", fixed((2, 3), (3,), c=hnp.arrays(np.bool_, (2, 1))),
       lambda L, p, x, y: L.where(T(L, p["c"]), x, y) + x.where(T(L, p["c"]), 0.5)),
    op("maximum", apart, lambda L, p, x, y: L.maximum(x, y)),
    op("minimum", apart, lambda L, p, x, y: L.minimum(x, y)),
    op("lerp", fixed((2, 3), (3,), w=st.floats(-1, 2)), lambda L, p, x, y: L.lerp(x, y, p["w"])),
    # reductions
    op("sum", reduce(), lambda L, p, x: L.sum(x, dim=p["dim"], keepdim=p["keepdim"])),
    op("mean", reduce(), lambda L, p, x: L.mean(x, p["dim"], p["keepdim"])),
    op("prod", with_zeros, lambda L, p, x: L.prod(x) if p["dim"] is None else
       L.prod(x, p["dim"], keepdim=p["keepdim"])),
    op("var", reduce(min_side=2), lambda L, p, x: L.var(x, p["dim"], keepdim=p["keepdim"])
       if x.ndim else L.var(x, correction=0)),
    op("std", reduce("distinct", min_side=2, min_dims=1),
       lambda L, p, x: L.std(x, p["dim"], keepdim=p["keepdim"], correction=0)
       + L.std(x, p["dim"], unbiased=True, keepdim=p["keepdim"])),
    op("max", reduce("distinct", multiple=False),
       lambda L, p, x: L.max(x) if p["dim"] is None else tuple(L.max(x, p["dim"], p["keepdim"]))),
    op("min", reduce("distinct", multiple=False),
       lambda L, p, x: L.min(x) if p["dim"] is None else tuple(L.min(x, dim=p["dim"],
                                                                    keepdim=p["keepdim"]))),
    op("amax", reduce("distinct", allow_none=False), lambda L, p, x: L.amax(x, p["dim"],
                                                                             p["keepdim"])),
    op("amin", reduce("distinct", allow_none=False), lambda L, p, x: L.amin(x, p["dim"],
                                                                             p["keepdim"])),
    op("argmax", reduce("distinct", multiple=False), lambda L, p, x: L.argmax(x) if p["dim"] is
       None else L.argmax(x, p["dim"], p["keepdim"]), grad=False),
    op("argmin", reduce("distinct", multiple=False), lambda L, p, x: L.argmin(x) if p["dim"] is
       None else L.argmin(x, dim=p["dim"], keepdim=p["keepdim"]), grad=False),
    op("logsumexp", reduce(allow_none=False), lambda L, p, x: L.logsumexp(x, p["dim"],
                                                                           p["keepdim"])),
    op("norm", fixed((2, 3), domain="nonzero", pn=st.sampled_from([2, 1, "fro", 3, math.inf]),
                     d=st.sampled_from([None, 1, -2]), k=st.booleans()),
       lambda L, p, x: L.norm(x, p["pn"], p["d"], p["k"]) if not (p["pn"] == "fro" and p["d"])
       else L.norm(x, 2, p["d"], p["k"])),
    op("cumsum", same_shape(1), lambda L, p, x: L.cumsum(x, p["dim"])),
    op("cumprod", with_zeros, lambda L, p, x: L.cumprod(x, dim=p["dim"] or 0)),
    op("all", reduce("nonzero"), lambda L, p, x: L.all(x > 0) if p["dim"] is None else
       L.all(x > 0, p["dim"], p["keepdim"]), grad=False),
    op("any", reduce("nonzero"), lambda L, p, x: L.any(x > 0) if p["dim"] is None else
       L.any(x > 0, p["dim"], p["keepdim"]), grad=False),
    op("softmax", same_shape(1, min_dims=0), lambda L, p, x: L.softmax(x, p["dim"])),
    op("log_softmax", same_shape(1, min_dims=0), lambda L, p, x: L.log_softmax(x, dim=p["dim"])),
    # shapes
    op("reshape view", unary(min_dims=1), lambda L, p, x: L.reshape(x, (-1,) + x.shape[:0]
                                                                    ) + x.view(x.numel())),
    op("flatten", fixed((2, 1, 3, 2), s=st.sampled_from([-4, -3, 0, 1]), e=st.integers(2, 3)),
       lambda L, p, x: L.flatten(x, p["s"], p["e"])),
    op("unflatten", fixed((2, 6), d=st.sampled_from([1, -1])),
       lambda L, p, x: L.unflatten(x, p["d"], (3, -1))),
    op("squeeze", fixed((1, 2, 1), d=st.sampled_from([None, 0, -1, 1, (0, 2), (-3, 1)])),
       lambda L, p, x: L.squeeze(x) if p["d"] is None else L.squeeze(x, p["d"])),
    op("unsqueeze expand_dims", fixed((2, 3), d=st.integers(-3, 2)),
       lambda L, p, x: L.unsqueeze(x, p["d"]) if L is torch else
       L.unsqueeze(x, p["d"]) + L.expand_dims(x, p["d"]) * 0),
    op("transpose swapaxes swapdims", fixed((2, 3, 2), a=st.integers(-3, 2), b=st.integers(-3, 2)),
       lambda L, p, x: L.transpose(x, p["a"], p["b"]) + L.swapaxes(x, p["a"], p["b"])
       + L.swapdims(x, p["b"], p["a"])),
    op("permute", fixed((2, 3, 2), d=st.permutations([0, 1, 2]),
                        neg=st.lists(st.booleans(), min_size=3, max_size=3)),
       lambda L, p, x: L.permute(x, tuple(d - 3 if n else d for d, n in zip(p["d"], p["neg"])))),
    op("t", fixed((2, 3)), lambda L, p, x: L.t(x) + x.T),
    op("movedim", fixed((2, 3, 1), s=st.sampled_from([0, -1, (0, 1), (2, -3)]),
                        d=st.sampled_from([1, -2, (2, 0), (0, 1)])),
       lambda L, p, x: L.movedim(x, p["s"], p["d"]) if isinstance(p["s"], int) ==
       isinstance(p["d"], int) else L.movedim(x, p["s"], p["s"])),
    op("broadcast_to", binary(), lambda L, p, x, y: L.broadcast_to(x, (x + y).shape) * y),
    op("expand expand_as", fixed((3, 1)), lambda L, p, x: x.expand(2, -1, 4) + x.expand_as(
        L.ones(2, 3, 4, dtype=L.float64)), torch_fn=None),
    op("repeat tile", fixed((2, 1)), lambda L, p, x: x.repeat(2, 1, 3) + L.tile(x, (2, 1, 3))),
    op("flip", fixed((2, 3, 2), d=st.sampled_from([0, (-1,), (0, 2), (1, -1)])),
       lambda L, p, x: L.flip(x, p["d"] if isinstance(p["d"], tuple) else (p["d"],))),
    op("roll", fixed((2, 3), s=st.integers(-4, 4), d=st.sampled_from([None, 0, -1])),
       lambda L, p, x: L.roll(x, p["s"], p["d"])),
    op("cat concat concatenate", fixed((2, 3), (1, 3), (4, 3)),
       lambda L, p, x, y, z: L.cat([x, y, z], dim=-2) + L.concat([x, y, z], 0)
       + L.concatenate([x, y, z], axis=0)),
    op("stack", same_shape(3, min_dims=0), lambda L, p, x, y, z: L.stack(
        [x, y, z], p["dim"] if p["dim"] < 0 else 0)),
    op("split", fixed((5, 2), s=st.sampled_from([1, 2, 5, 7, [2, 3], [0, 5], [1, 1, 3]])),
       lambda L, p, x: tuple(L.split(x, p["s"])) + tuple(x.split(1, -1))),
    op("chunk", fixed((5, 2), c=st.integers(1, 6)), lambda L, p, x: tuple(L.chunk(x, p["c"]))),
    op("narrow", fixed((4, 3), s=st.integers(-2, 2), n=st.integers(0, 2)),
       lambda L, p, x: L.narrow(x, 0, p["s"], min(p["n"], 4 - p["s"] % 4))),
    op("pad", fixed((2, 3), w=st.sampled_from([[(1, 0), (0, 2)], [(0, 0), (3, 1)]]),
                    v=st.floats(-1, 1)),
       lambda L, p, x: L.pad(x, p["w"], p["v"]),
       torch_fn=lambda L, p, x: L.nn.functional.pad(
           x, tuple(v for a, b in reversed(p["w"]) for v in (a, b)), value=p["v"])),
    op("clone", unary(), lambda L, p, x: L.clone(x) * x),
    op("sum_to", fixed((2, 3)), lambda L, p, x: L.sum_to(x, (1, 3)),
       torch_fn=lambda L, p, x: L.sum(x, 0, keepdim=True)),
    # indexing
    op("getitem", fixed((3, 4), i=st.sampled_from([1, -1, (slice(None), -2), (slice(0, 3, 2),),
                                                   "idx", "mask"])),
       lambda L, p, x: x[T(L, np.array([2, 0, 2, -1]))] if p["i"] == "idx" else
       x[T(L, np.array([True, False, True]))] if p["i"] == "mask" else x[p["i"]]),
    op("gather", gather_like(), lambda L, p, x: L.gather(x, p["dim"], T(L, p["idx"]))),
    op("scatter", gather_like(src=True, unique=True),
       lambda L, p, x, s: L.scatter(x, p["dim"], T(L, p["idx"]), s)
       + L.scatter(x, p["dim"], T(L, p["idx"]), 0.5)),
    op("scatter_add", gather_like(src=True), lambda L, p, x, s: L.scatter_add(
        x, p["dim"], T(L, p["idx"]), s)),
    op("index_select", fixed((3, 4), d=st.sampled_from([0, 1, -1]),
                             i=st.lists(st.integers(0, 2), min_size=1, max_size=4)),
       lambda L, p, x: L.index_select(x, p["d"], T(L, np.array(p["i"])))),
    op("index_add", fixed((3, 4), (2, 4)), lambda L, p, x, s: L.index_add(
        x, 0, T(L, np.array([2, 2])), s, alpha=0.5)),
    op("masked_fill", fixed((2, 3), m=hnp.arrays(np.bool_, (3,)), v=st.floats(-2, 2)),
       lambda L, p, x: L.masked_fill(x, T(L, p["m"]), p["v"])),
    op("take_along_dim", fixed((3, 4), i=mgst.index_arrays((3, 1), 4, negative=False),
                               d=st.sampled_from([1, -1, None])),
       lambda L, p, x: L.take_along_dim(x, T(L, p["i"]), p["d"])),
    op("nonzero", unary("nonzero"), lambda L, p, x: L.nonzero(x > 0), grad=False),
    # linear algebra
    op("matmul", matmul_inputs, lambda L, p, x, y: L.matmul(x, y) + x @ y),
    op("mm", fixed((2, 3), (3, 4)), lambda L, p, x, y: L.mm(x, y)),
    op("bmm", fixed((2, 2, 3), (2, 3, 1)), lambda L, p, x, y: L.bmm(x, y)),
    op("einsum", fixed((2, 3), (3, 2), (2,), eq=st.sampled_from([
        "ij,jk,k->i", "ij,jk,i", "ij,ji,k->k", "...j,j...,i->...i"])),
       lambda L, p, x, y, z: L.einsum(p["eq"], x, y, z)),
    op("outer", fixed((2,), (3,)), lambda L, p, x, y: L.outer(x, y)),
    op("dot", fixed((3,), (3,)), lambda L, p, x, y: L.dot(x, y)),
    # dtypes, comparisons, logic
    op("astype", unary(), lambda L, p, x: L.astype(x, L.float64) * 2 + x.double(),
       torch_fn=lambda L, p, x: x.to(L.float64) * 2 + x.double(), f32_out=False),
    op("eq ne lt le gt ge", apart, lambda L, p, x, y: tuple(
        getattr(L, f)(x, y) for f in ("eq", "ne", "lt", "le", "gt", "ge")), grad=False),
    op("not_equal less less_equal greater greater_equal", apart, lambda L, p, x, y: tuple(
        getattr(L, f)(x, y) for f in ("not_equal", "less", "less_equal", "greater",
                                      "greater_equal")), grad=False),
    op("logical_and logical_or logical_not", binary(), lambda L, p, x, y: (
        L.logical_and(x > 0, y > 0), L.logical_or(x > 0, y > 0), L.logical_not(x > 0)),
       grad=False),
    op("isfinite isnan isinf", unary(), lambda L, p, x: (
        L.isfinite(x), L.isnan(x), L.isinf(x)), grad=False),
    op("equal allclose", unary(), lambda L, p, x: L.tensor(
        [L.equal(x, x), L.equal(x, x + 1), L.allclose(x, x + 1e-9), L.allclose(x, x + 1)]),
       grad=False),
    # creation (deterministic: values; random: see test_random_creation)
    op("tensor", fixed(), lambda L, p: (L.tensor([1.5, 2]), L.tensor([[1, 2]]), L.tensor(True),
                                        L.tensor([0.5], dtype=L.float64)), grad=False),
    op("from_numpy as_tensor", fixed((2, 3)), lambda L, p, x: (
        L.from_numpy(np.arange(3)), L.as_tensor(np.ones(2, np.float32)), L.as_tensor([1.0, 2.0]),
        L.as_tensor(x, dtype=L.float32), str(x.device) == "cpu"), grad=False),
    op("zeros ones empty", fixed(), lambda L, p: (L.zeros(2, 3), L.ones((2,)), L.empty(
        1, 2).shape == (1, 2), L.zeros(1, dtype=L.int64)), grad=False),
    op("full full_like", fixed(), lambda L, p: (L.full((2, 1), 3), L.full((2,), 1.5),
                                               L.full_like(L.zeros(2), 7.0)), grad=False),
    op("arange", fixed(), lambda L, p: (L.arange(5), L.arange(1, 3, 0.5), L.arange(4.0),
                                        L.arange(5, 0, -2)), grad=False),
    op("linspace", fixed(), lambda L, p: L.linspace(-1, 2, 7), grad=False),
    op("eye", fixed(), lambda L, p: (L.eye(3), L.eye(2, 4, dtype=L.float64)), grad=False),
    op("zeros_like ones_like empty_like", fixed((2, 3)), lambda L, p, x: (
        L.zeros_like(x), L.ones_like(x, dtype=L.int64), L.empty_like(x).shape), grad=False),
    # Tensor methods: the same calls on both libraries check the methods' names and arguments
    op("Tensor.pointwise", fixed((2, 3), domain="distinct"), lambda L, p, x: _pointwise_methods(
        x * x + 0.2)),  # values 0.2 + 0.0225 k^2: none within 0.01 of the bounds 0.5 and 1
    op("Tensor.reductions", fixed((2, 3), domain="distinct"), lambda L, p, x: _reduction_methods(
        x + 0.075)),  # off the grid of step 0.15: no zeros, no ties
    op("Tensor.shapes", fixed((2, 3), i=mgst.index_arrays((2, 2), 3, negative=False),
                              m=hnp.arrays(np.bool_, (2, 3))),
       lambda L, p, x: (
           x.flatten(), x.view(3, 2), x.view(-1), x.view_as(x.t()), x.reshape_as(x.t()),
           x.reshape(3, -1), x.unflatten(1, (3, 1)), x.unsqueeze(0).squeeze(), x.unsqueeze(-1),
           x.t(), x.T, x.transpose(-1, 0), x.permute(1, 0), x.swapdims(0, 1), x.swapaxes(0, 1),
           x.movedim(0, 1), x.expand(2, 2, 3), x.expand_as(x.unsqueeze(0).expand(2, 2, 3)),
           x.broadcast_to((4, 2, 3)), x.repeat(1, 2), x.tile(2), x.flip(0), x.flip(0, 1),
           x.roll(1, 1), x.narrow(1, 1, 2), *x.split(2, 1), *x.chunk(2, 0),
           x.index_select(1, T(L, p["i"][0])), x.gather(1, T(L, p["i"])),
           x.take_along_dim(T(L, p["i"]), 1), x.masked_fill(T(L, p["m"]), 0.5),
           x.scatter(1, T(L, p["i"][:, :1]), 2.0), x.scatter_add(1, T(L, p["i"][:1]), x[:1, :2]),
           x.index_add(0, T(L, np.array([1])), x[:1]), x.matmul(x.t()), x.mm(x.t()),
           x[0].dot(x[1]), x[0].outer(x[1]), x.unsqueeze(0).bmm(x.t().unsqueeze(0)),
           x.nonzero(), x.size(1) + x.dim() + x.numel() + 0 * x.ndim,
           x.type_as(x.long()), x.type_as(x))),
    # nn.functional
    op("F.linear", fixed((2, 3), (4, 3), (4,)), lambda L, p, x, w, b: L.nn.functional.linear(
        x, w, b)),
    op("F.embedding", fixed((5, 3)), lambda L, p, w: L.nn.functional.embedding(
        T(L, np.array([[0, 4], [4, 2]])), w)),
    op("F.dropout", unary(), lambda L, p, x: L.nn.functional.dropout(x, 0.3, training=False)
       + L.nn.functional.dropout(x, 0.0)),
    op("F.layer_norm", fixed((2, 3), (3,), (3,)), lambda L, p, x, w, b:
       L.nn.functional.layer_norm(x, (3,), w, b)),
    op("F.relu F.tanh F.sigmoid", unary("nonzero"), lambda L, p, x: L.nn.functional.relu(x)
       + L.nn.functional.tanh(x) + L.nn.functional.sigmoid(x)),
    op("F.softmax F.log_softmax", same_shape(1, min_dims=0), lambda L, p, x:
       L.nn.functional.softmax(x, p["dim"]) + L.nn.functional.log_softmax(x, dim=p["dim"])),
    op("F.gelu", unary(), lambda L, p, x: L.nn.functional.gelu(x)
       + L.nn.functional.gelu(x, approximate="tanh")),
    op("F.silu", unary(), lambda L, p, x: L.nn.functional.silu(x)),
    op("F.leaky_relu", unary("nonzero"), lambda L, p, x: L.nn.functional.leaky_relu(x, 0.2)),
    op("F.elu", unary("nonzero"), lambda L, p, x: L.nn.functional.elu(x, 0.7)),
    op("F.softplus", unary(), lambda L, p, x: L.nn.functional.softplus(x)
       + L.nn.functional.softplus(x * 20, beta=2, threshold=3.0)),
    op("F.one_hot", fixed(), lambda L, p: L.nn.functional.one_hot(T(L, np.array([[0, 2], [1, 1]])))
       + L.nn.functional.one_hot(T(L, np.array([1])), 4).sum(), grad=False),
    op("F.normalize", fixed((2, 3), domain="nonzero", d=st.sampled_from([0, 1, -1]),
                            pn=st.sampled_from([1.0, 2.0])),
       lambda L, p, x: L.nn.functional.normalize(x, p["pn"], p["d"])),
    op("F.cosine_similarity", binary("nonzero", "nonzero"), lambda L, p, x, y:
       L.nn.functional.cosine_similarity(x, y, -1) if (x + y).ndim else x * y),
    op("F.pad", fixed((2, 3, 4), w=st.sampled_from([(1, 2), (0, 1, 2, 0), (-1, 1, 1, -1, 0, 1)]),
                      m=st.sampled_from(["constant", "reflect", "replicate", "circular"])),
       lambda L, p, x: L.nn.functional.pad(x, p["w"], value=0.5) if p["m"] == "constant" or
       min(p["w"]) < 0 or len(p["w"]) > 4 else L.nn.functional.pad(x, p["w"][:2], mode=p["m"])),
    op("F.conv1d", conv_inputs, lambda L, p, x, w, b: L.nn.functional.conv1d(x, w, b, **p)),
    op("F.cross_entropy", class_inputs(), lambda L, p, x: L.nn.functional.cross_entropy(
        x, T(L, p["target"]), None if p["weight"] is None else T(L, p["weight"]),
        reduction=p["reduction"], label_smoothing=p["smoothing"]), examples=12),
    op("F.nll_loss", class_inputs(), lambda L, p, x: L.nn.functional.nll_loss(
        x, T(L, p["target"]), None if p["weight"] is None else T(L, p["weight"]),
        reduction=p["reduction"])),
    op("F.mse_loss F.l1_loss F.smooth_l1_loss", fixed((2, 3), (2, 3), domain="distinct",
                                                     shift=0.075, b=st.sampled_from(
        [0.0, 0.5, 1.0, 10.0]), r=st.sampled_from(["mean", "sum", "none"])),
       lambda L, p, x, y: L.nn.functional.mse_loss(x, y, reduction=p["r"])
       + L.nn.functional.l1_loss(x, y, reduction=p["r"])
       + L.nn.functional.smooth_l1_loss(x, y, reduction=p["r"], beta=p["b"] + 0.01)),
    op("F.binary_cross_entropy", fixed((2, 3), domain="unit", y=mgst.arrays((2, 3), domain="unit"),
                                       w=mgst.arrays((3,)), r=st.sampled_from(["mean", "sum",
                                                                                "none"])),
       lambda L, p, x: L.nn.functional.binary_cross_entropy(
           L.sigmoid(x), T(L, p["y"] * 0.5 + 0.5), T(L, p["w"] ** 2), reduction=p["r"])),
    op("F.binary_cross_entropy_with_logits", fixed((2, 3), (2, 3), w=mgst.arrays((3,)),
                                                   pw=mgst.arrays((3,), domain="positive")),
       lambda L, p, x, y: L.nn.functional.binary_cross_entropy_with_logits(
           x, L.sigmoid(y), T(L, p["w"]), pos_weight=T(L, p["pw"]))),
]


# ---- running a row on minigrad and on torch ------------------------------------------------
def _outputs(out: Any) -> list[Any]:
    return list(out) if isinstance(out, tuple | list) else [out]


def _is_float(o: Any) -> bool:
    return isinstance(o, mg.Tensor) and o.dtype.kind == "f"


def _float_outputs(row: Op, p: dict) -> Callable[..., Any]:
    def f(*xs: mg.Tensor) -> Any:
        outs = [o for o in _outputs(row.fn(mg, p, *xs)) if _is_float(o)]
        return tuple(outs) if len(outs) != 1 else outs[0]
    return f


def _cotangents(outs: list[Any], seed: int = 0) -> list[np.ndarray | None]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(o.shape) if _is_float(o) else None for o in outs]


def _mg_run(row: Op, p: dict, arrays: list[np.ndarray]) -> tuple[list[Any], list[Any]]:
    xs = [mg.tensor(a, requires_grad=row.grad) for a in arrays]
    outs = _outputs(row.fn(mg, p, *xs))
    grads: list[Any] = [None] * len(xs)
    if row.grad and xs:
        vs = _cotangents(outs)
        total = None
        for o, v in zip(outs, vs):
            if v is not None and o.requires_grad:
                term = (o * mg.tensor(v.astype(o.dtype))).sum()
                total = term if total is None else total + term
        if total is not None:
            grads = mg.grad(total, xs, allow_unused=True)
    return outs, grads


def _value(o: Any) -> np.ndarray:
    if isinstance(o, mg.Tensor):
        return o.data
    if torch is not None and isinstance(o, torch.Tensor):
        return o.detach().numpy()
    return np.asarray(o)


def _check_values(outs: list[Any], ref: list[Any], rtol: float, atol: float, what: str) -> None:
    assert len(outs) == len(ref), f"{what}: {len(outs)} outputs, expected {len(ref)}"
    for k, (a, b) in enumerate(zip(outs, ref)):
        va, vb = _value(a), _value(b)
        assert va.shape == vb.shape, f"{what} output {k}: shape {va.shape}, expected {vb.shape}"
        if va.dtype.kind == "f" and vb.dtype.kind == "f":
            np.testing.assert_allclose(va, vb, rtol=rtol, atol=atol, err_msg=f"{what} output {k}")
        else:
            assert va.dtype.kind == vb.dtype.kind and va.dtype.itemsize == vb.dtype.itemsize, \
                f"{what} output {k}: dtype {va.dtype}, expected {vb.dtype}"
            np.testing.assert_array_equal(va, vb, err_msg=f"{what} output {k}")


def _run(row: Op, check: Callable[[Op, st.DataObject], None], examples: int) -> None:
    @settings(max_examples=examples)
    @given(data=st.data())
    def inner(data: st.DataObject) -> None:
        check(row, data)

    inner()


ROW_IDS = [r.id for r in OPS]
GRAD_ROWS = [r for r in OPS if r.grad]


# ---- check 1: finite differences, first and second order -----------------------------------
def _gradcheck(order: int) -> Callable[[Op, st.DataObject], None]:
    def check(row: Op, data: st.DataObject) -> None:
        arrays, p = row.draw(data)
        if not arrays:
            return
        with np.errstate(divide="raise", invalid="raise", over="raise"):
            assert gradcheck(_float_outputs(row, p), arrays, order=order)
    return check


@pytest.mark.parametrize("row", GRAD_ROWS, ids=[r.id for r in GRAD_ROWS])
def test_finite_differences(row: Op) -> None:
    _run(row, _gradcheck(1), row.examples)


SECOND = [r for r in GRAD_ROWS if r.second_order]


@pytest.mark.parametrize("row", SECOND, ids=[r.id for r in SECOND])
def test_finite_differences_second_order(row: Op) -> None:
    _run(row, _gradcheck(2), max(row.examples // 2, 3))


# ---- check 2: PyTorch, values and gradients to 1e-10 ---------------------------------------
def _torch_check(row: Op, data: st.DataObject) -> None:
    arrays, p = row.draw(data)
    outs, grads = _mg_run(row, p, arrays)
    txs = [torch.tensor(a, requires_grad=row.grad) for a in arrays]
    tfn = row.torch_fn or row.fn
    touts = _outputs(tfn(torch, p, *txs))
    _check_values(outs, touts, 1e-10, 1e-10, f"{row.id} vs torch")
    if not (row.grad and txs):
        return
    vs = _cotangents(outs)
    pairs = [(o, torch.tensor(v)) for o, v in zip(touts, vs) if v is not None and o.requires_grad]
    tgrads = torch.autograd.grad([o for o, _ in pairs], txs, [v for _, v in pairs],
                                 allow_unused=True) if pairs else [None] * len(txs)
    for i, (g, tg) in enumerate(zip(grads, tgrads)):
        a = np.zeros(arrays[i].shape) if g is None else g.data
        b = np.zeros(arrays[i].shape) if tg is None else tg.numpy()
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10,
                                   err_msg=f"{row.id}: gradient of input {i} vs torch")


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("row", OPS, ids=ROW_IDS)
def test_matches_torch(row: Op) -> None:
    _run(row, _torch_check, row.examples)


# ---- check 3: float32 agrees with float64 --------------------------------------------------
def _f32_check(row: Op, data: st.DataObject) -> None:
    arrays, p = row.draw(data)
    if not arrays:
        return
    arrays32 = [a.astype(np.float32) for a in arrays]
    # constants that stand for data (weights, targets) follow the input's dtype, as in PyTorch
    p32 = {k: v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
           for k, v in p.items()}
    outs32, grads32 = _mg_run(row, p32, arrays32)
    outs64, grads64 = _mg_run(row, p, [a.astype(np.float64) for a in arrays32])
    for k, (a, b) in enumerate(zip(outs32, outs64)):
        if _is_float(b) and row.f32_out:
            assert a.dtype == np.float32, f"{row.id}: float32 input gave output {k} in {a.dtype}"
    _check_values([o.astype(np.float64) if _is_float(o) else o for o in outs32], outs64,
                  2e-4, 2e-4, f"{row.id} float32 vs float64")
    for i, (g32, g64) in enumerate(zip(grads32, grads64)):
        if g64 is not None:
            assert g32 is not None and g32.dtype == np.float32
            np.testing.assert_allclose(g32.data, g64.data, rtol=2e-3, atol=2e-3,
                                       err_msg=f"{row.id}: float32 gradient of input {i}")


F32_ROWS = [r for r in OPS if r.grad]


@pytest.mark.parametrize("row", F32_ROWS, ids=[r.id for r in F32_ROWS])
def test_float32_agrees_with_float64(row: Op) -> None:
    _run(row, _f32_check, max(row.examples // 2, 3))


# ---- the table cannot fall behind ----------------------------------------------------------
#: the modules whose functions are ops (``nondifferentiable`` builds its ops in primitive.py)
OP_MODULES = {"minigrad.ops", "minigrad.creation", "minigrad.tensor", "minigrad.primitive",
              "minigrad.primitives"}


def _is_op(obj: Any) -> bool:
    return isinstance(obj, mg.Primitive) or (callable(obj) and not isinstance(obj, type)
                                             and getattr(obj, "__module__", "") in OP_MODULES)


def test_every_exported_op_has_a_row() -> None:
    covered = {name for r in OPS for name in r.covers}
    exported = {n for n in {*mg.__all__, *mg.ops.__all__} if _is_op(getattr(mg, n))}
    exported |= {f"F.{n}" for n in F.__all__}
    random_ones = {"rand", "randn", "randint", "rand_like", "randn_like"}  # test_random_creation
    assert exported - covered - random_ones == set()
    assert {c for c in covered - exported if not c.startswith("Tensor.")} == set(), \
        "rows for names that are not exported"


# ---- kinks and ties: PyTorch's rule is the reference ---------------------------------------
KINKS = [
    ("max ties share", lambda L, x: L.max(x), [1.0, 3.0, 3.0, -1.0]),
    ("min ties share", lambda L, x: L.min(x), [2.0, -1.0, 0.5, -1.0]),
    ("max dim: to the index", lambda L, x: L.max(x.reshape(2, 2), 1).values, [3.0, 3.0, 1., 1.]),
    ("min dim: to the index", lambda L, x: L.min(x.reshape(2, 2), 0)[0], [1.0, 2.0, 1.0, 0.0]),
    ("amax ties share", lambda L, x: L.amax(x.reshape(2, 2), 1), [3.0, 3.0, 1.0, 2.0]),
    ("amin ties share", lambda L, x: L.amin(x.reshape(2, 2), (0, 1)), [1.0, 1.0, 1.0, 2.0]),
    ("maximum tie halves", lambda L, x: L.maximum(x, L.ones(4, dtype=L.float64) * 2), [2.0] * 4),
    ("minimum tie halves", lambda L, x: L.minimum(x, x.flip(0)), [1.0, 2.0, 2.0, 1.0]),
    ("abs at 0", lambda L, x: L.abs(x), [0.0, -0.0, 1.0, -1.0]),
    ("relu at 0", lambda L, x: L.relu(x), [0.0, -0.0, 1.0, -1.0]),
    ("clamp at bounds", lambda L, x: L.clamp(x, -1.0, 1.0), [-1.0, 1.0, 0.0, 2.0]),
    ("clamp min only", lambda L, x: L.clamp(x, min=0.0), [0.0, 1.0, -1.0, 0.5]),
    ("leaky_relu at 0", lambda L, x: L.nn.functional.leaky_relu(x, 0.1), [0.0, 1.0, -1.0, 0]),
    ("elu at 0", lambda L, x: L.nn.functional.elu(x, 0.5), [0.0, 1.0, -1.0, 0.0]),
    ("pow x**0 at 0", lambda L, x: x ** 0, [0.0, 1.0, -2.0, 3.0]),
    ("pow x**0.0 at 0", lambda L, x: L.pow(x, 0.0), [0.0, 1.0, -2.0, 3.0]),
    ("pow tensor exponent 0 at 0", lambda L, x: L.pow(x, L.zeros(4, dtype=L.float64)),
     [0.0, 1.0, -2.0, 3.0]),
    ("norm at 0", lambda L, x: L.norm(x * 0), [1.0, 2.0, 3.0, 4.0]),
    ("prod with zeros", lambda L, x: L.prod(x), [0.0, 2.0, 0.0, 3.0]),
    ("cumprod with a zero", lambda L, x: L.cumprod(x, 0), [2.0, 0.0, 3.0, 4.0]),
]


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("name, fn, values", KINKS, ids=[k[0] for k in KINKS])
def test_kinks_and_ties_follow_torch(name: str, fn: Callable, values: list[float]) -> None:
    x = mg.tensor(np.array(values), requires_grad=True)
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    out, tout = fn(mg, x), fn(torch, tx)
    v = np.random.default_rng(3).standard_normal(out.shape)
    (g,) = mg.grad((out * mg.tensor(v)).sum(), [x])
    (tg,) = torch.autograd.grad((tout * torch.tensor(v)).sum(), [tx])
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    np.testing.assert_allclose(g.data, tg.numpy(), rtol=1e-12, atol=0, err_msg=name)


def test_pow_zero_exponent_gradient_is_zero_at_zero() -> None:
    """Issue 12 item 9: x ** 0 has gradient 0 at x = 0 (not nan), for every exponent form."""
    for f in (lambda t: t ** 0, lambda t: t ** 0.0, lambda t: mg.pow(t, mg.zeros(3).double())):
        x = mg.tensor([0.0, 1.0, -1.0], dtype=mg.float64, requires_grad=True)
        f(x).sum().backward()
        np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0])  # type: ignore[union-attr]


def test_transpose_and_permute_with_negative_dims_give_the_right_gradient() -> None:
    """Issue 12 item 9: a negative dim used to invert to the wrong permutation in backward."""
    w = np.arange(4.0).reshape(2, 2)
    x = mg.tensor(np.ones((2, 2)), requires_grad=True)
    (mg.transpose(x, 0, -1) * mg.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, w.T)  # type: ignore[union-attr]
    x = mg.tensor(np.ones((2, 2)), requires_grad=True)
    (mg.permute(x, (-1, 0)) * mg.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, w.T)  # type: ignore[union-attr]
    x = mg.tensor(np.ones((2, 2, 2)), requires_grad=True)
    w3 = np.arange(8.0).reshape(2, 2, 2)
    (x.permute(2, 0, -2) * mg.tensor(w3)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, w3.transpose(1, 2, 0))  # type: ignore[union-attr]
    x = mg.tensor(np.ones((3, 4)), requires_grad=True)
    mg.permute(x, (0, -1)).sum().backward()  # used to raise a shape error in backward
    np.testing.assert_array_equal(x.grad.data, np.ones((3, 4)))  # type: ignore[union-attr]


# ---- random creation -----------------------------------------------------------------------
def test_random_creation() -> None:
    draws = {
        "rand": lambda: mg.rand(2, 3), "randn": lambda: mg.randn((4,), dtype=mg.float64),
        "randint": lambda: mg.randint(2, 5, (3, 2)),
        "rand_like": lambda: mg.rand_like(mg.zeros(2, dtype=mg.float64)),
        "randn_like": lambda: mg.randn_like(mg.zeros(3)),
    }
    for name, make in draws.items():
        mg.manual_seed(7)
        a = make()
        mg.manual_seed(7)
        b = make()
        np.testing.assert_array_equal(a.data, b.data, err_msg=f"{name}: not reproducible")
        assert not np.array_equal(a.data, make().data) or a.size == 1, f"{name}: not random"
    assert mg.rand(2, 3).dtype == mg.float32 and mg.rand(2, 3).shape == (2, 3)
    u = mg.rand(1000).data
    assert 0 <= u.min() and u.max() < 1 and 0.4 < u.mean() < 0.6
    n = mg.randn(2000, dtype=mg.float64).data
    assert abs(n.mean()) < 0.1 and 0.9 < n.std() < 1.1
    r = mg.randint(2, 5, (500,))
    assert r.dtype == mg.int64 and set(np.unique(r.data)) == {2, 3, 4}
    assert mg.randint(3, (4,)).data.max() < 3
    assert mg.randn(2, requires_grad=True).requires_grad


def test_dropout_scales_and_masks() -> None:
    mg.manual_seed(0)
    x = mg.ones(10000, dtype=mg.float64)
    y = F.dropout(x, 0.25).data
    assert set(np.unique(y)) == {0.0, 1 / 0.75} and abs((y == 0).mean() - 0.25) < 0.02


# ---- bad input: a clear error naming the op and the numbers --------------------------------
x23 = mg.tensor(np.zeros((2, 3)))
BAD = [
    (lambda: mg.sum(x23, dim=2), IndexError,
     r"^sum: dim 2 is out of range for a tensor of rank 2 \(expected a dim in \[-2, 1\]\)$"),
    (lambda: mg.sum(x23, dim=1.5), TypeError, r"^sum: dim must be an int, got float 1.5$"),
    (lambda: x23.sum(axis="1"), TypeError, r"^sum: dim must be an int, got str '1'$"),
    (lambda: mg.softmax(x23, 3), IndexError, r"^softmax: dim 3 is out of range for a tensor "
                                             r"of rank 2"),
    (lambda: mg.log_softmax(x23, -3), IndexError, r"^log_softmax: dim -3 is out of range for "
                                                  r"a tensor of rank 2"),
    (lambda: mg.swapaxes(x23, 0, 2), IndexError, r"^transpose: dim1 2 is out of range for a "
                                                 r"tensor of rank 2"),
    (lambda: mg.gather(x23, 2, [[0]]), IndexError, r"^gather: dim 2 is out of range for a "
                                                   r"tensor of rank 2"),
    (lambda: mg.gather(x23, 1, np.array([[0, 3]])), IndexError,
     r"^gather: index 3 is out of range for dim 1 of size 3$"),
    (lambda: mg.gather(x23, 1, np.array([0, 1])), ValueError,
     r"^gather: index must have the same rank as the input \(2\), got shape \(2,\)$"),
    (lambda: mg.gather(x23, 1, np.array([[0.0]])), TypeError,
     r"^gather: index must hold integers \(int64\), got dtype float64$"),
    (lambda: mg.gather(x23, 1, np.zeros((3, 1), np.int64)), ValueError,
     r"^gather: index shape \(3, 1\) exceeds the input shape \(2, 3\) at dim 0$"),
    (lambda: mg.index_select(x23, 0, [5]), IndexError,
     r"^index_select: index 5 is out of range for dim 0 of size 2$"),
    # negative indices: PyTorch refuses them here (numpy would wrap them around, silently)
    (lambda: mg.gather(x23, 1, np.array([[-1], [0]])), IndexError,
     r"^gather: index -1 is out of range for dim 1 of size 3$"),
    (lambda: mg.index_select(x23, 1, [-1]), IndexError,
     r"^index_select: index -1 is out of range for dim 1 of size 3$"),
    (lambda: mg.scatter(x23, 1, np.array([[-1]]), 1.0), IndexError,
     r"^scatter: index -1 is out of range for dim 1 of size 3$"),
    (lambda: mg.scatter_add(x23, 0, np.array([[-2]]), x23), IndexError,
     r"^scatter_add: index -2 is out of range for dim 0 of size 2$"),
    (lambda: mg.take_along_dim(x23, np.array([[-4]]), dim=1), IndexError,
     r"^take_along_dim: index -4 is out of range for dim 1 of size 3$"),
    (lambda: mg.take_along_dim(x23, np.array([-1])), IndexError,
     r"^take_along_dim: index -1 is out of range for dim 0 of size 6$"),
    (lambda: mg.transpose(x23, (1, 0)), TypeError, r"^transpose: takes two dims to swap"),
    (lambda: mg.permute(x23, (0, 0)), ValueError, r"^permute: dim \(0, 0\) names a dim more "),
    (lambda: mg.permute(x23, (0,)), ValueError, r"^permute: dims \(0,\) must name each of "),
    (lambda: mg.split(x23, [1, 2]), ValueError, r"^split: sizes \[1, 2\] add up to 3, but dim "
                                                r"0 has size 2$"),
    (lambda: mg.split(mg.tensor(1.0), 1), ValueError, r"^split: expects a tensor with at least "
                                                      r"one dim, got a 0-d tensor$"),
    (lambda: mg.reshape(x23, (4, -1)), ValueError, r"^reshape: cannot reshape a tensor of shape "
                                                   r"\(2, 3\) \(6 elements\) into shape"),
    (lambda: mg.max(x23, (0, 1)), TypeError, r"^max: dim must be a single int"),
    (lambda: mg.var(x23, 0, correction=1, unbiased=True), TypeError, r"^var: give correction"),
    (lambda: mg.mean(mg.tensor([1, 2])), TypeError, r"^mean: input must be floating point, got "
                                                    r"int64"),
    (lambda: mg.mm(x23, x23), ValueError, r"^matmul: inner dimensions 3 and 2 differ"),
    (lambda: mg.bmm(x23, x23), ValueError, r"^bmm: expects 3-D tensors"),
    (lambda: mg.einsum("ij,jk->ik", x23), ValueError, r"^einsum: the equation 'ij,jk->ik' has 2 "
                                                      r"operands, got 1 tensors$"),
    (lambda: mg.einsum("ii->i", mg.zeros(2, 2)), ValueError, r"^einsum: a repeated index"),
    (lambda: mg.masked_fill(x23, np.ones(3), 1.0), TypeError, r"^masked_fill: mask must be bool"),
    (lambda: mg.masked_fill(x23, np.ones(2, bool), 1.0), ValueError,
     r"^masked_fill: mask shape \(2,\) does not broadcast to the input shape \(2, 3\)$"),
    (lambda: mg.clamp(x23), ValueError, r"^clamp: give min, max or both$"),
    (lambda: mg.unsqueeze(x23, 3), IndexError, r"^unsqueeze: dim 3 is out of range for a tensor "
                                               r"of rank 2 \(expected a dim in \[-3, 2\]\)$"),
    (lambda: mg.narrow(x23, 1, 2, 2), ValueError, r"^narrow: start 2 \+ length 2 exceeds dim 1 "
                                                  r"of size 3$"),
    (lambda: mg.cat([x23, mg.zeros(2, 2)], 0), ValueError, r"^cat: shapes \[\(2, 3\), \(2, 2\)\] "
                                                           r"differ outside dim 0$"),
    (lambda: mg.pad(x23, (1, 2)), ValueError, r"^pad: pad_width must hold one \(before, after\) "),
    (lambda: F.pad(x23, (1, 2, 3)), ValueError, r"^pad: the pad tuple must have an even length"),
    (lambda: F.conv1d(mg.zeros(1, 2, 5), mg.zeros(3, 3, 2)), ValueError,
     r"^conv1d: input has 2 channels and weight shape \(3, 3, 2\) with groups=1"),
    (lambda: F.one_hot(mg.tensor([0, 5]), 3), ValueError, r"^one_hot: label 5 is out of range "
                                                           r"for num_classes=3$"),
    (lambda: F.binary_cross_entropy(mg.tensor([1.5]), [1.0]), ValueError,
     r"^binary_cross_entropy: input must hold probabilities in \[0, 1\]"),
    (lambda: mg.zeros(2, -1), ValueError, r"^zeros: sizes must be >= 0, got \(2, -1\)$"),
    (lambda: mg.arange(0, 5, 0), ValueError, r"^arange: step must be nonzero$"),
    (lambda: mg.tensor([1.0]).to("cuda"), ValueError, r"^to: minigrad runs on the CPU only"),
    (lambda: mg.zeros(2, device="cuda:0"), ValueError, r"^zeros: minigrad runs on the CPU only, "
                                                       r"got device 'cuda:0'$"),
    (lambda: mg.ones(2).to(str), TypeError, r"^to: dtype <U0 is not supported"),
    (lambda: mg.ones(2).to("float7"), TypeError, r"^to: 'float7' is not a dtype"),
]


@pytest.mark.parametrize("make, exc, pattern", BAD, ids=[p for _, _, p in BAD])
def test_bad_input_raises_a_clear_error(make: Callable, exc: type, pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        make()


def test_size_zero_axis_softmax_is_empty() -> None:
    """Issue 12: log_softmax/softmax of a tensor with a size-0 axis return the empty result."""
    for f in (mg.softmax, mg.log_softmax):
        for shape, d in (((0, 3), 0), ((0, 3), 1), ((2, 0), -1)):
            x = mg.zeros(shape, requires_grad=True)
            y = f(x, d)
            assert y.shape == shape
            y.sum().backward()
            assert x.grad is not None and x.grad.shape == shape


def test_queries_and_conversions() -> None:
    x = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.size() == (2, 3) and x.size(-1) == 3 and x.size == 6 and x.numel() == 6
    assert x.dim() == 2 and x.float().dtype == mg.float32 and x.double().dtype == mg.float64
    assert x.long().dtype == mg.int64 and x.int().dtype == mg.int32 and x.bool().dtype == mg.bool
    assert not x.long().requires_grad and x.float().requires_grad
    assert x.to(mg.float32).dtype == mg.float32 and x.to(mg.zeros(1)).dtype == mg.float32
    assert x.to("cpu") is x and x.type_as(mg.zeros(1, dtype=mg.int64)).dtype == mg.int64
    c = x.clone()
    assert c.data is not x.data and np.array_equal(c.data, x.data) and c.requires_grad
    assert x.contiguous() is x
    with pytest.raises(IndexError, match=r"^size: dim 2 is out of range"):
        x.size(2)
    assert re.match(r"MaxMin\(values=", repr(x.max(1)))
    a = np.zeros(3)
    assert mg.from_numpy(a).data is a and mg.as_tensor(a).data is a  # shared, as in PyTorch
    assert mg.as_tensor(a, dtype=mg.float32).data is not a and x.device == "cpu"


def test_readme_coming_from_pytorch_runs_as_written() -> None:
    """README's "Coming from PyTorch" example is executed as written."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text.split("## Coming from PyTorch", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    exec(compile(code, "README.md", "exec"), {})
