"""Check derivatives in both modes against central finite differences computed in float64, and
the two modes against each other.

For a function ``f`` of tensors, take a fixed random cotangent ``u`` of the output's shape. Along
a direction ``v`` of input ``x_i`` (every unit vector ``e_j`` for small inputs, random unit
vectors for large ones) the finite difference

    D_v f ~ (f(x + eps v) - f(x - eps v)) / (2 eps)                  (on float64 copies)

is the reference for both modes:

- ``"rev"``: the gradient of ``L = sum(f(x) * u)`` (one backward pass) dotted with ``v`` must
  equal ``sum(u * D_v f)``;
- ``"fwd"``: the tangent of ``f`` along ``v`` (one forward pass with tangents, J v) must equal
  ``D_v f`` element by element;
- both: the transposition identity ``u . (J v) = (J^T u) . v`` for a random ``v``, which needs no
  finite differences and so holds to rounding: it catches a wrong rule that loose tolerances miss.

``order=2`` applies the same checks to the gradient ``G(x) = dL/dx`` (computed with
``create_graph=True``) with a second random cotangent ``w``: reverse over reverse
(``sum(G * w)``'s gradient), forward over reverse (G's tangent, Hessian-vector products), and
their transposition, so every second derivative the rules produce is checked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..autograd import grad
from ..forward import dual_level
from ..tensor import Tensor

#: default tolerances by dtype (absolute, relative), as JAX's test utilities use
TOLERANCES = {np.dtype(np.float32): (2e-3, 2e-3), np.dtype(np.float64): (1e-5, 1e-5)}

MODES = ("fwd", "rev")


class GradcheckError(AssertionError):
    """An analytic derivative disagrees with the finite-difference estimate or the other mode."""


def _leaves(inputs: Sequence[Any]) -> list[Tensor]:
    out = []
    for i, x in enumerate(inputs):
        arr = np.asarray(x.data if isinstance(x, Tensor) else x)
        if arr.dtype.kind != "f":
            raise TypeError(f"gradcheck: input {i} must be floating point, got {arr.dtype}")
        out.append(Tensor(arr.copy(), requires_grad=True))
    return out


def _show(a: np.ndarray) -> str:
    return np.array2string(np.asarray(a), precision=4, threshold=24, separator=", ")


Fn = Callable[..., list[Tensor]]


def _as_list(f: Callable[..., Any]) -> Fn:
    """``f`` returning a list of Tensors, whatever it returns (a Tensor or a tuple of them)."""
    def F(*xs: Tensor) -> list[Tensor]:
        out = f(*xs)
        outs = list(out) if isinstance(out, tuple | list) else [out]
        if not all(isinstance(o, Tensor) for o in outs):
            raise TypeError("gradcheck: f must return a Tensor or a tuple of Tensors")
        return outs
    return F


def _dot(outs: list[Tensor], us: list[np.ndarray]) -> Tensor:
    """``sum_k sum(outs[k] * us[k])``, a scalar Tensor on the graph."""
    total: Tensor | None = None
    for o, u in zip(outs, us, strict=True):
        term = (o * Tensor(u.astype(o.dtype))).sum()
        total = term if total is None else total + term
    return total if total is not None else Tensor(np.zeros(()))


class _Check:
    """The checks of one function ``F`` (returning a list of Tensors) at the leaves, with the
    cotangents ``us`` (one per output)."""

    def __init__(self, F: Fn, us: list[np.ndarray], leaves: list[Tensor], what: str,
                 modes: tuple[str, ...], eps: float, atol: float, rtol: float) -> None:
        self.F, self.us, self.leaves, self.what = F, us, leaves, what
        self.modes, self.eps, self.atol, self.rtol = modes, eps, atol, rtol
        self.xs = [t.data for t in leaves]
        self.rounding = float(max(np.finfo(x.dtype).eps for x in self.xs)) if self.xs else 0.0
        self._grads: list[np.ndarray] | None = None

    def _close(self, a: float, b: float) -> bool:
        return abs(a - b) <= self.atol + self.rtol * abs(b)

    def _tol(self, a: float, b: float) -> str:
        return (f"|diff| {abs(a - b):.3g} > atol {self.atol:g} + rtol {self.rtol:g} * "
                f"|reference|")

    def reverse(self) -> list[np.ndarray]:
        """J^T u for every input, in float64 (zeros where f does not depend on the input)."""
        if self._grads is None:
            out = _dot(self.F(*self.leaves), self.us)
            gs = (grad(out, self.leaves, allow_unused=True) if out.requires_grad
                  else [None] * len(self.leaves))
            self._grads = []
            for i, (x, g) in enumerate(zip(self.xs, gs, strict=True)):
                if g is not None and (g.shape != x.shape or g.dtype != x.dtype):
                    raise GradcheckError(f"gradcheck (rev): {self.what} of input {i} has shape "
                                         f"{g.shape} and dtype {g.dtype}; the input has "
                                         f"{x.shape} and {x.dtype}")
                self._grads.append(np.zeros(x.shape) if g is None
                                   else np.asarray(g.data, dtype=np.float64))
        return self._grads

    def forward(self, i: int, v: np.ndarray) -> list[np.ndarray]:
        """J v along direction ``v`` of input ``i``, one array per output, in float64."""
        with dual_level() as level:
            level.set_tangent(self.leaves[i], Tensor(v.astype(self.xs[i].dtype)))
            outs = self.F(*self.leaves)
            tangents = [level.tangent(o) for o in outs]
        result = []
        for k, (o, t) in enumerate(zip(outs, tangents, strict=True)):
            if t is not None and (t.shape != o.shape or t.dtype != o.dtype):
                raise GradcheckError(f"gradcheck (fwd): the tangent of output {k} has shape "
                                     f"{t.shape} and dtype {t.dtype}; the output has {o.shape} "
                                     f"and {o.dtype}")
            result.append(np.zeros(o.shape) if t is None else np.asarray(t.data, np.float64))
        return result

    def numeric(self, i: int, v: np.ndarray) -> list[np.ndarray]:
        """(F(x + eps v) - F(x - eps v)) / (2 eps), one array per output, all in float64."""
        def at(step: float) -> list[np.ndarray]:
            args = [Tensor(x.astype(np.float64), requires_grad=True) for x in self.xs]
            args[i] = Tensor(self.xs[i].astype(np.float64) + step * v, requires_grad=True)
            return [np.asarray(o.data, dtype=np.float64) for o in self.F(*args)]

        return [(p - m) / (2 * self.eps) for p, m in zip(at(self.eps), at(-self.eps),
                                                           strict=True)]

    def directions(self, i: int, full_max: int, n_dirs: int, rng: np.random.Generator
                   ) -> list[tuple[np.ndarray, str, str]]:
        """(v, where, tangent) for input ``i``: unit vectors for a small input, else random."""
        x = self.xs[i]
        out = []
        if x.size <= full_max:
            for j in np.ndindex(*x.shape):
                e = np.zeros(x.shape)
                e[j] = 1.0
                out.append((e, f"element {j}", f"the unit vector at element {j}"))
        else:
            for d in range(n_dirs):
                v = rng.standard_normal(x.shape)
                v /= np.linalg.norm(v)
                out.append((v, f"random direction {d}", _show(v)))
        return out

    def check_rev(self, i: int, v: np.ndarray, fd: list[np.ndarray], where: str) -> None:
        """(J^T u) . v from one backward pass against u . D_v f."""
        a = float(np.sum(self.reverse()[i] * v))
        n = float(sum(np.sum(u * d) for u, d in zip(self.us, fd, strict=True)))
        if not self._close(a, n):
            raise GradcheckError(
                f"gradcheck (rev): {self.what} of input {i} disagrees at {where}: analytic "
                f"{a:.10g}, numeric {n:.10g} ({self._tol(a, n)}); random cotangent "
                f"{_show_all(self.us)}")

    def check_fwd(self, i: int, v: np.ndarray, fd: list[np.ndarray], where: str,
                  tangent: str) -> None:
        """J v from one forward pass against D_v f, element by element."""
        for k, (t, d) in enumerate(zip(self.forward(i, v), fd, strict=True)):
            for e in np.ndindex(*t.shape):
                a, n = float(t[e]), float(d[e])
                if not self._close(a, n):
                    raise GradcheckError(
                        f"gradcheck (fwd): {self.what} of input {i} disagrees at {where}: "
                        f"output {k} element {e}: analytic {a:.10g}, numeric {n:.10g} "
                        f"({self._tol(a, n)}); tangent {tangent}")

    def transposition(self, i: int, rng: np.random.Generator) -> None:
        """u . (J v) (forward) against (J^T u) . v (reverse) for a random tangent v."""
        v = rng.standard_normal(self.xs[i].shape)
        jv, jtu = self.forward(i, v), self.reverse()[i]
        fwd = float(sum(np.sum(u * t) for u, t in zip(self.us, jv, strict=True)))
        rev = float(np.sum(jtu * v))
        # NOTE: both sides are sums of the same products in another order, so they agree to
        # rounding: the tolerance is a multiple of the dtype's epsilon times the size of the
        # terms (plus one, for terms that cancel inside a rule), far below any
        # finite-difference tolerance.
        scale = (sum(float(np.sum(np.abs(u * t))) for u, t in zip(self.us, jv, strict=True))
                 + float(np.sum(np.abs(jtu * v))))
        tol = 1000 * self.rounding * (1 + scale)
        if not abs(fwd - rev) <= tol:
            raise GradcheckError(
                f"gradcheck (fwd vs rev): {self.what} of input {i} breaks u . (J v) = "
                f"(J^T u) . v: forward {fwd:.17g}, reverse {rev:.17g} (|diff| "
                f"{abs(fwd - rev):.3g} > tolerance {tol:.3g} = 1000 eps * (1 + sum of |terms|)); "
                f"random cotangent u {_show_all(self.us)}, random tangent v {_show(v)}")

    def run(self, full_max: int, n_dirs: int, rng: np.random.Generator) -> None:
        """Every input: reverse mode first (every direction), then forward, then both."""
        for i in range(len(self.xs)):
            dirs = self.directions(i, full_max, n_dirs, rng)
            fds = [self.numeric(i, v) for v, _, _ in dirs]
            if "rev" in self.modes:
                for (v, where, _), fd in zip(dirs, fds, strict=True):
                    self.check_rev(i, v, fd, where)
            if "fwd" in self.modes:
                for (v, where, tangent), fd in zip(dirs, fds, strict=True):
                    self.check_fwd(i, v, fd, where, tangent)
            if len(self.modes) == 2:
                self.transposition(i, rng)


def _show_all(us: list[np.ndarray]) -> str:
    return _show(us[0]) if len(us) == 1 else "(" + ", ".join(_show(u) for u in us) + ")"


def gradcheck(f: Callable[..., Any], inputs: Sequence[Any], *, order: int = 1,
              eps: float = 1e-6, atol: float | None = None, rtol: float | None = None,
              full_jacobian_max: int = 64, n_directions: int = 3, seed: int = 0,
              check_extras: bool = True, modes: Sequence[str] = MODES) -> bool:
    """Check the derivatives of ``f(*inputs)`` in forward and reverse mode against central
    finite differences, and against each other.

    ``f`` takes Tensors and returns a Tensor (or a tuple of them). Inputs of up to
    ``full_jacobian_max`` elements are checked element by element; larger ones along
    ``n_directions`` random unit directions. ``order=2`` checks second derivatives too.
    ``modes`` is ``("fwd", "rev")`` (both, and the transposition identity between them), or one
    of them. Tolerances default by the inputs' dtype (float32: 2e-3, float64: 1e-5). With
    ``check_extras`` it also checks that a zero cotangent gives zero gradients and that a second
    backward over a retained graph gives the same gradients.

    Returns True, or raises :class:`GradcheckError` naming the mode, the input, the element or
    direction, the analytic and reference values, the tolerance and the random cotangent or
    tangent used.
    """
    if order not in (1, 2):
        raise ValueError(f"gradcheck: order must be 1 or 2, got {order}")
    modes = tuple(modes)
    if not modes or any(m not in MODES for m in modes) or len(set(modes)) != len(modes):
        raise ValueError(f"gradcheck: modes must be one or both of {MODES}, got {modes}")
    leaves = _leaves(inputs)
    dtype = max((t.dtype for t in leaves), key=lambda d: d.itemsize)
    d_atol, d_rtol = TOLERANCES.get(dtype, TOLERANCES[np.dtype(np.float64)])
    atol = d_atol if atol is None else atol
    rtol = d_rtol if rtol is None else rtol
    rng = np.random.default_rng(seed)
    F = _as_list(f)
    us = [rng.standard_normal(o.shape) for o in F(*leaves)]
    kw = dict(modes=modes, eps=eps, atol=atol, rtol=rtol)
    _Check(F, us, leaves, "gradient", **kw).run(  # type: ignore[arg-type]
        full_jacobian_max, n_directions, rng)

    if check_extras and "rev" in modes:
        z = _dot(F(*leaves), [np.zeros_like(u) for u in us])
        for i, g in enumerate(grad(z, leaves, allow_unused=True) if z.requires_grad else ()):
            if g is not None and np.any(g.data != 0):
                raise GradcheckError(f"gradcheck (rev): a zero cotangent gave a nonzero "
                                     f"gradient for input {i}: {g.data}")
        out = _dot(F(*leaves), us)
        if out.requires_grad:
            first = grad(out, leaves, retain_graph=True, allow_unused=True)
            again = grad(out, leaves, allow_unused=True)
            for i, (a, b) in enumerate(zip(first, again, strict=True)):
                if a is not None and b is not None and not np.array_equal(a.data, b.data):
                    raise GradcheckError(f"gradcheck (rev): a second backward over the "
                                         f"retained graph gave a different gradient for "
                                         f"input {i}")

    if order == 2:
        def G(*xs: Tensor) -> list[Tensor]:
            """dL/dx for L = sum(f(x) * u), on the graph (create_graph=True)."""
            out = _dot(F(*xs), us)
            gs = (grad(out, list(xs), create_graph=True, allow_unused=True)
                  if out.requires_grad else [None] * len(xs))
            return [Tensor(np.zeros(x.shape, x.dtype)) if g is None else g
                    for g, x in zip(gs, xs, strict=True)]

        ws = [rng.standard_normal(t.shape) for t in leaves]
        _Check(G, ws, leaves, "second derivative", **kw).run(  # type: ignore[arg-type]
            full_jacobian_max, n_directions, rng)
    return True
