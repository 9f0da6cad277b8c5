"""Function transforms, as in ``torch.func``: vjp, jvp, grad, grad_and_value, jacrev, jacfwd,
hessian.

Each takes a function of Tensors and gives back a function (or values) built from the two modes
of differentiation:

    vjp(f, *primals) -> (out, vjp_fn)            reverse mode: vjp_fn(u) = u^T J, one backward pass
    jvp(f, primals, tangents) -> (out, J v)      forward mode: one forward pass with tangents
    grad(f)(x) = vjp of a one-element output with u = 1
    jacrev(f)(x): J row by row, one backward pass per output element
    jacfwd(f)(x): J column by column, one forward pass per input element
    hessian(f)(x) = jacfwd(jacrev(f))(x)         forward over reverse

Inputs and outputs may be *pytrees*: Tensors, or tuples and lists of them, nested. ``argnums``
(an int or a tuple of ints) picks the positional arguments to differentiate; a Jacobian with
respect to a tuple of arguments is a tuple of Jacobians, and the Jacobian of an output of shape
``So`` with respect to an input of shape ``Si`` has shape ``So + Si``.

The transforms compose, because every result is a Tensor made of primitives: a gradient is
computed with ``create_graph=True`` when an outer transform will differentiate it (a forward
level is open, or an input already requires grad), and carries tangents when a forward level is
open. ``minigrad.grad(outputs, inputs)`` (``torch.autograd.grad``) is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import primitives as P
from .autograd import grad as _autograd_grad
from .forward import _fwd, copy_tangents, dual_level
from .tape import enable_grad
from .tensor import Tensor

__all__ = ["vjp", "jvp", "grad", "grad_and_value", "jacrev", "jacfwd", "hessian"]


# ---- pytrees: nested tuples and lists of Tensors -------------------------------------------------
def _flatten(tree: Any, who: str, what: str) -> tuple[list[Tensor], Any]:
    """The Tensors of ``tree`` in order, and its structure (for :func:`_unflatten`)."""
    if isinstance(tree, Tensor):
        return [tree], None
    if isinstance(tree, tuple | list):
        leaves: list[Tensor] = []
        defs = []
        for item in tree:
            sub, d = _flatten(item, who, what)
            leaves.extend(sub)
            defs.append((len(sub), d))
        return leaves, (type(tree), defs)
    raise TypeError(f"{who}: {what} must be a Tensor or a tuple or list of Tensors, got "
                    f"{type(tree).__name__}")


def _unflatten(structure: Any, leaves: Sequence[Any]) -> Any:
    if structure is None:
        return leaves[0]
    kind, defs = structure
    items, i = [], 0
    for n, d in defs:
        items.append(_unflatten(d, leaves[i:i + n]))
        i += n
    return kind(items)


# ---- arguments -----------------------------------------------------------------------------------
def _argnums(who: str, argnums: int | tuple[int, ...], n: int) -> tuple[tuple[int, ...], bool]:
    """``argnums`` as a tuple of non-negative positions, and whether it was a single int."""
    single = isinstance(argnums, int)
    nums: tuple[Any, ...] = (argnums,) if isinstance(argnums, int) else argnums
    if not isinstance(nums, tuple) or not nums or not all(isinstance(a, int) for a in nums):
        raise TypeError(f"{who}: argnums must be an int or a non-empty tuple of ints, "
                        f"got {argnums!r}")
    out = []
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"{who}: argnums {a} is out of range for a function called with "
                             f"{n} positional argument{'s' if n != 1 else ''}")
        out.append(a % n)
    if len(set(out)) != len(out):
        raise ValueError(f"{who}: argnums {argnums} names an argument twice")
    return tuple(out), single


def _check_float(who: str, where: str, t: Tensor) -> None:
    if t.dtype.kind != "f":
        raise TypeError(f"{who}: {where} has dtype {t.dtype}; only floating-point inputs can be "
                        "differentiated")


def _distinct(leaves: list[Tensor]) -> list[Tensor]:
    """The leaves, with a repeated Tensor replaced by a copy made by a primitive (``reshape`` to
    its own shape), so that every position is a tensor of its own, still on the graph."""
    seen: set[int] = set()
    out = []
    for t in leaves:
        if id(t) in seen:
            t = P.reshape(t, shape=t.shape)
        seen.add(id(t))
        out.append(t)
    return out


def _inputs(who: str, args: tuple, argnums: int | tuple[int, ...]
            ) -> tuple[tuple[int, ...], bool, list[Any], list[list[Tensor]]]:
    """Check the differentiated arguments: (positions, single, their structures, their leaves)."""
    nums, single = _argnums(who, argnums, len(args))
    trees, leaves = [], []
    for a in nums:
        flat, tree = _flatten(args[a], who, f"argument {a}")
        for k, t in enumerate(flat):
            _check_float(who, f"argument {a}" + (f" (leaf {k})" if tree is not None else ""), t)
        trees.append(tree)
        leaves.append(flat)
    return nums, single, trees, leaves


def _replace(args: tuple, nums: tuple[int, ...], trees: list[Any],
             leaves: list[list[Tensor]]) -> list[Any]:
    new = list(args)
    for a, tree, flat in zip(nums, trees, leaves, strict=True):
        new[a] = _unflatten(tree, flat)
    return new


def _split(flat: list[Any], leaves: list[list[Tensor]]) -> list[list[Any]]:
    """``flat`` (one item per leaf of every argument) cut back into one list per argument."""
    out, i = [], 0
    for group in leaves:
        out.append(flat[i:i + len(group)])
        i += len(group)
    return out


def _per_argnum(single: bool, trees: list[Any], groups: list[list[Any]]) -> Any:
    parts = [_unflatten(t, g) for t, g in zip(trees, groups, strict=True)]
    return parts[0] if single else tuple(parts)


# ---- reverse mode --------------------------------------------------------------------------------
def _nested() -> bool:
    """Whether a forward level is open (an outer jvp or jacfwd will differentiate our results)."""
    return bool(_fwd.levels)


def _reverse_inputs(flat: list[Tensor]) -> tuple[list[Tensor], bool]:
    """Tensors that require grad standing for ``flat``, and whether to ``create_graph``.

    A tensor that already requires grad is replaced by a copy made by a primitive (``reshape``
    to its own shape): a node of its own, whose gradient is this argument's alone (the tensor
    may be passed twice, or be used by f through other paths), and through which an outer
    reverse pass reaches the tensor. Any other becomes a fresh leaf with the same value and
    tangents.
    """
    create = _nested()
    xs = []
    for t in flat:
        if t.requires_grad:
            create = True
            t = P.reshape(t, shape=t.shape)
        else:
            leaf = Tensor(t.data, requires_grad=True)
            copy_tangents(t, leaf)
            t = leaf
        xs.append(t)
    return xs, create


def _zeros(t: Tensor) -> Tensor:
    return Tensor(np.zeros(t.shape, dtype=t.dtype))


def _pull(outs: list[Tensor], cts: list[Any], xs: list[Tensor], create: bool) -> list[Tensor]:
    """``sum_k cts[k]^T d outs[k] / d xs[i]`` for every i; zeros where nothing flows."""
    pairs = [(o, c) for o, c in zip(outs, cts, strict=True) if o.requires_grad]
    if not pairs:
        return [_zeros(x) for x in xs]
    gs = _autograd_grad([o for o, _ in pairs], xs, [c for _, c in pairs], retain_graph=True,
                        create_graph=create, allow_unused=True)
    return [_zeros(x) if g is None else g for x, g in zip(xs, gs, strict=True)]


def _as_tensor_like(who: str, what: str, v: Any, like: Tensor) -> Tensor:
    """``v`` as a Tensor with exactly ``like``'s shape and dtype, or an error naming both."""
    t = v if isinstance(v, Tensor) else Tensor(np.asarray(v))
    if t.shape != like.shape:
        raise ValueError(f"{who}: {what} has shape {t.shape}, but its primal has shape "
                         f"{like.shape}")
    if t.dtype != like.dtype:
        raise TypeError(f"{who}: {what} has dtype {t.dtype}, but its primal has dtype "
                        f"{like.dtype}")
    return t


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[[Any], tuple]]:
    """``(f(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` gives, for each primal, the
    vector-Jacobian product ``cotangents^T df/dprimal`` (a tuple, one per primal).

    ``cotangents`` has the structure, shapes and dtypes of ``f``'s output; ``vjp_fn`` may be
    called more than once.
    """
    if not primals:
        raise TypeError("vjp: give at least one primal to differentiate at")
    nums, _, trees, leaves = _inputs("vjp", primals, tuple(range(len(primals))))
    with enable_grad():  # reverse mode records, even inside no_grad
        flat, create = _reverse_inputs([t for g in leaves for t in g])
        out = f(*_replace(primals, nums, trees, _split(flat, leaves)))
    outs, out_tree = _flatten(out, "vjp", "the output of f")

    def vjp_fn(cotangents: Any) -> tuple:
        cts, ct_tree = _flatten(cotangents, "vjp_fn", "cotangents")
        if ct_tree != out_tree or len(cts) != len(outs):
            raise ValueError(f"vjp_fn: the cotangents must have the structure of f's output "
                             f"({len(outs)} Tensor(s)), got {len(cts)}")
        cts = [_as_tensor_like("vjp_fn", f"cotangent {k}", c, o)
               for k, (c, o) in enumerate(zip(cts, outs, strict=True))]
        gs = _pull(outs, cts, flat, create)
        return tuple(_unflatten(t, g) for t, g in zip(trees, _split(gs, leaves), strict=True))

    return out, vjp_fn


def grad_and_value(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0
                   ) -> Callable[..., tuple[Any, Tensor]]:
    """A function returning ``(gradient of f w.r.t. argnums, f(...))``; f returns one element."""

    @enable_grad()  # reverse mode records, even inside no_grad
    def wrapper(*args: Any) -> tuple[Any, Tensor]:
        nums, single, trees, leaves = _inputs("grad", args, argnums)
        flat, create = _reverse_inputs([t for g in leaves for t in g])
        groups = _split(flat, leaves)
        out = f(*_replace(args, nums, trees, groups))
        if not isinstance(out, Tensor):
            raise TypeError(f"grad: f must return a Tensor, got {type(out).__name__}")
        if out.size != 1:
            raise ValueError(f"grad: f must return a one-element Tensor, got shape {out.shape}; "
                             "use jacrev, jacfwd or vjp for other outputs")
        seed = Tensor(np.ones(out.shape, dtype=out.dtype))
        gs = _pull([out], [seed], flat, create)
        return _per_argnum(single, trees, _split(gs, leaves)), out

    return wrapper


def grad(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """A function returning the gradient of ``f`` (which returns one element) with respect to
    its argument(s) ``argnums``, in their structure."""
    gv = grad_and_value(f, argnums)
    return lambda *args: gv(*args)[0]


def jacrev(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """A function returning the Jacobian of ``f`` by reverse mode: one backward pass per
    output element (cheap for few outputs and many inputs)."""

    @enable_grad()  # reverse mode records, even inside no_grad
    def wrapper(*args: Any) -> Any:
        nums, single, trees, leaves = _inputs("jacrev", args, argnums)
        flat, create = _reverse_inputs([t for g in leaves for t in g])
        out = f(*_replace(args, nums, trees, _split(flat, leaves)))
        outs, out_tree = _flatten(out, "jacrev", "the output of f")
        jacs = []
        for o in outs:
            rows: list[list[Tensor]] = [[] for _ in flat]
            for k in range(o.size):
                seed = np.zeros(o.shape, dtype=o.dtype)
                seed.flat[k] = 1
                for i, g in enumerate(_pull([o], [Tensor(seed)], flat, create)):
                    rows[i].append(g)
            blocks = [_assemble(r, o, x, axis=0) for r, x in zip(rows, flat, strict=True)]
            jacs.append(_per_argnum(single, trees, _split(blocks, leaves)))
        return _unflatten(out_tree, jacs)

    return wrapper


def _assemble(parts: list[Tensor], o: Tensor, x: Tensor, axis: int) -> Tensor:
    """The (o.shape + x.shape) Jacobian block from rows (axis 0) or columns (axis -1), stacked
    with ops so that outer transforms can differentiate it."""
    from .ops import stack

    if not parts:
        return Tensor(np.zeros(o.shape + x.shape, dtype=o.dtype))
    return stack(parts, axis=axis).reshape(o.shape + x.shape)


# ---- forward mode --------------------------------------------------------------------------------
def jvp(f: Callable[..., Any], primals: Any, tangents: Any) -> tuple[Any, Any]:
    """``(f(*primals), J v)``: the output and its tangent, computed in one forward pass.

    ``primals`` is a tuple (or list) of f's arguments; ``tangents`` has its structure, each
    tangent the shape and dtype of its primal.
    """
    if not isinstance(primals, tuple | list) or not isinstance(tangents, tuple | list):
        raise TypeError("jvp: primals and tangents must be tuples (one entry per argument of f)")
    flat_p, tree_p = _flatten(tuple(primals), "jvp", "primals")
    flat_t, tree_t = _flatten(tuple(tangents), "jvp", "tangents")
    if tree_t != tree_p:
        raise ValueError(f"jvp: tangents must have the structure of primals ({len(flat_p)} "
                         f"Tensor(s)), got {len(flat_t)}")
    for k, p in enumerate(flat_p):
        _check_float("jvp", f"primal {k}", p)
    flat_t = [_as_tensor_like("jvp", f"tangent {k}", t, p)
              for k, (t, p) in enumerate(zip(flat_t, flat_p, strict=True))]
    flat_p = _distinct(flat_p)
    with dual_level() as level:
        for p, t in zip(flat_p, flat_t, strict=True):
            level.set_tangent(p, t)
        out = f(*_unflatten(tree_p, flat_p))
        outs, out_tree = _flatten(out, "jvp", "the output of f")
        touts = [level.tangent(o) for o in outs]
    return out, _unflatten(out_tree, [_zeros(o) if t is None else t
                                      for o, t in zip(outs, touts, strict=True)])


def jacfwd(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """A function returning the Jacobian of ``f`` by forward mode: one forward pass per input
    element (cheap for many outputs and few inputs)."""

    def wrapper(*args: Any) -> Any:
        nums, single, trees, leaves = _inputs("jacfwd", args, argnums)
        flat = _distinct([t for g in leaves for t in g])
        call_args = _replace(args, nums, trees, _split(flat, leaves))
        cols: list[list[list[Tensor]]] = [[] for _ in flat]  # [input][element] -> per output
        out = None
        for i, x in enumerate(flat):
            for j in range(x.size):
                basis = np.zeros(x.shape, dtype=x.dtype)
                basis.flat[j] = 1
                with dual_level() as level:
                    level.set_tangent(x, Tensor(basis))
                    out = f(*call_args)
                    outs, _ = _flatten(out, "jacfwd", "the output of f")
                    cols[i].append([_zeros(o) if t is None else t
                                    for o, t in ((o, level.tangent(o)) for o in outs)])
        if out is None:  # every differentiated input is empty
            out = f(*call_args)
        outs, out_tree = _flatten(out, "jacfwd", "the output of f")
        jacs = []
        for k, o in enumerate(outs):
            blocks = [_assemble([c[k] for c in cols[i]], o, x, axis=-1)
                      for i, x in enumerate(flat)]
            jacs.append(_per_argnum(single, trees, _split(blocks, leaves)))
        return _unflatten(out_tree, jacs)

    return wrapper


def hessian(f: Callable[..., Any], argnums: int | tuple[int, ...] = 0) -> Callable[..., Any]:
    """The Hessian of a one-element ``f``: ``jacfwd(jacrev(f))``, forward over reverse."""
    return jacfwd(jacrev(f, argnums), argnums)
