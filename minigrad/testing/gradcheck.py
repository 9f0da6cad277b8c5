"""Check analytic gradients against central finite differences computed in float64.

For a function ``f`` of tensors, take a fixed random cotangent ``v`` of the output's shape and the
scalar ``L(x) = sum(f(x) * v)``. Its analytic gradient comes from minigrad; its numeric one from

    dL/dx_j ~ (L(x + eps e_j) - L(x - eps e_j)) / (2 eps)              (full Jacobian, small inputs)
    dL/dx . u ~ (L(x + eps u) - L(x - eps u)) / (2 eps)                (random directions u)

evaluated on float64 copies of the inputs, whatever their dtype. ``order=2`` applies the same
check to ``x -> sum(dL/dx * w)``, whose gradient is computed with ``create_graph=True``: that
checks every second derivative the rules produce.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..autograd import grad
from ..tensor import Tensor

#: default tolerances by dtype (absolute, relative), as JAX's test utilities use
TOLERANCES = {np.dtype(np.float32): (2e-3, 2e-3), np.dtype(np.float64): (1e-5, 1e-5)}


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the finite-difference estimate."""


def _leaves(inputs: Sequence[Any]) -> list[Tensor]:
    out = []
    for i, x in enumerate(inputs):
        arr = np.asarray(x.data if isinstance(x, Tensor) else x)
        if arr.dtype.kind != "f":
            raise TypeError(f"gradcheck: input {i} must be floating point, got {arr.dtype}")
        out.append(Tensor(arr.copy(), requires_grad=True))
    return out


def _scalarize(f: Callable[..., Any], cotangents: list[np.ndarray] | None,
               rng: np.random.Generator) -> tuple[Callable[..., Tensor], list[np.ndarray]]:
    """``L(*xs) = sum_k sum(f(*xs)[k] * v_k)`` with cotangents ``v`` drawn once."""
    vs: list[np.ndarray] = [] if cotangents is None else list(cotangents)

    def L(*xs: Tensor) -> Tensor:
        out = f(*xs)
        outs = list(out) if isinstance(out, tuple | list) else [out]
        if not all(isinstance(o, Tensor) for o in outs):
            raise TypeError("gradcheck: f must return a Tensor or a tuple of Tensors")
        if not vs:
            vs.extend(rng.standard_normal(o.shape) for o in outs)
        total: Tensor | None = None
        for o, v in zip(outs, vs, strict=True):
            term = (o * Tensor(v.astype(o.dtype))).sum()
            total = term if total is None else total + term
        assert total is not None
        return total

    return L, vs


def _numeric(L: Callable[..., Tensor], xs: list[np.ndarray], i: int, u: np.ndarray,
             eps: float) -> float:
    """Central difference of L along direction u of input i, all in float64."""
    def at(step: float) -> float:
        args = [Tensor(x.astype(np.float64), requires_grad=True) for x in xs]
        args[i] = Tensor(xs[i].astype(np.float64) + step * u, requires_grad=True)
        return float(L(*args).data)

    return (at(eps) - at(-eps)) / (2 * eps)


def _compare(what: str, i: int, where: str, analytic: float, numeric: float,
             atol: float, rtol: float) -> None:
    if not abs(analytic - numeric) <= atol + rtol * abs(numeric):
        raise GradcheckError(
            f"gradcheck: {what} of input {i} disagrees at {where}: analytic {analytic:.10g}, "
            f"numeric {numeric:.10g} (|diff| {abs(analytic - numeric):.3g} > "
            f"atol {atol:g} + rtol {rtol:g} * |numeric|)")


def _check_first(L: Callable[..., Tensor], leaves: list[Tensor], *, eps: float, atol: float,
                 rtol: float, full_max: int, n_dirs: int, rng: np.random.Generator,
                 what: str) -> None:
    out = L(*leaves)
    # an output that does not depend on the inputs (say, the second derivative of a linear f)
    grads = grad(out, leaves, allow_unused=True) if out.requires_grad else [None] * len(leaves)
    xs = [t.data for t in leaves]
    for i, (x, g) in enumerate(zip(xs, grads, strict=True)):
        ga = np.zeros(x.shape) if g is None else np.asarray(g.data, dtype=np.float64)
        if g is not None and (g.shape != x.shape or g.dtype != x.dtype):
            raise GradcheckError(f"gradcheck: {what} of input {i} has shape {g.shape} and dtype "
                                 f"{g.dtype}; the input has {x.shape} and {x.dtype}")
        if x.size <= full_max:
            for j in np.ndindex(*x.shape):
                e = np.zeros(x.shape)
                e[j] = 1.0
                _compare(what, i, f"element {j}", float(ga[j]), _numeric(L, xs, i, e, eps),
                         atol, rtol)
        else:
            for d in range(n_dirs):
                u = rng.standard_normal(x.shape)
                u /= np.linalg.norm(u)
                _compare(what, i, f"random direction {d}", float(np.sum(ga * u)),
                         _numeric(L, xs, i, u, eps), atol, rtol)


def gradcheck(f: Callable[..., Any], inputs: Sequence[Any], *, order: int = 1,
              eps: float = 1e-6, atol: float | None = None, rtol: float | None = None,
              full_jacobian_max: int = 64, n_directions: int = 3, seed: int = 0,
              check_extras: bool = True) -> bool:
    """Check the gradients of ``f(*inputs)`` against central finite differences.

    ``f`` takes Tensors and returns a Tensor (or a tuple of them). Inputs of up to
    ``full_jacobian_max`` elements are checked element by element; larger ones along
    ``n_directions`` random unit directions. ``order=2`` checks second derivatives too.
    Tolerances default by the inputs' dtype (float32: 2e-3, float64: 1e-5). With
    ``check_extras`` it also checks that a zero cotangent gives zero gradients and that a second
    backward over a retained graph gives the same gradients.

    Returns True, or raises :class:`GradcheckError` naming the input, the element or direction,
    the analytic and numeric values and the tolerance.
    """
    if order not in (1, 2):
        raise ValueError(f"gradcheck: order must be 1 or 2, got {order}")
    leaves = _leaves(inputs)
    dtype = max((t.dtype for t in leaves), key=lambda d: d.itemsize)
    d_atol, d_rtol = TOLERANCES.get(dtype, TOLERANCES[np.dtype(np.float64)])
    atol = d_atol if atol is None else atol
    rtol = d_rtol if rtol is None else rtol
    rng = np.random.default_rng(seed)
    L, v = _scalarize(f, None, rng)
    kw = dict(eps=eps, atol=atol, rtol=rtol, full_max=full_jacobian_max, n_dirs=n_directions,
              rng=rng)
    _check_first(L, leaves, what="gradient", **kw)  # type: ignore[arg-type]

    if check_extras:
        zero, _ = _scalarize(f, [np.zeros_like(a) for a in v], rng)
        z = zero(*leaves)
        for i, g in enumerate(grad(z, leaves, allow_unused=True) if z.requires_grad else ()):
            if g is not None and np.any(g.data != 0):
                raise GradcheckError(f"gradcheck: a zero cotangent gave a nonzero gradient for "
                                     f"input {i}: {g.data}")
        out = L(*leaves)
        first = grad(out, leaves, retain_graph=True, allow_unused=True)
        again = grad(out, leaves, allow_unused=True)
        for i, (a, b) in enumerate(zip(first, again, strict=True)):
            if a is not None and b is not None and not np.array_equal(a.data, b.data):
                raise GradcheckError(f"gradcheck: a second backward over the retained graph "
                                     f"gave a different gradient for input {i}")

    if order == 2:
        ws = [rng.standard_normal(t.shape) for t in leaves]

        def H(*xs: Tensor) -> Tensor:
            gs = grad(L(*xs), list(xs), create_graph=True, allow_unused=True)
            total = Tensor(np.zeros((), dtype=xs[0].dtype))
            for g, w in zip(gs, ws, strict=True):
                if g is not None:
                    total = total + (g * Tensor(w.astype(g.dtype))).sum()
            return total

        _check_first(H, leaves, what="second derivative", **kw)  # type: ignore[arg-type]
    return True
