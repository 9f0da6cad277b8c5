"""A fused primitive's reference twin: how derivatives beyond the kernel's own are taken.

A fused primitive (a hand-written kernel, :attr:`Primitive.fused`) has a backward on arrays that
cannot be recorded, so its gradient cannot be differentiated again, and it has no tangent rule of
its own. It may carry a ``reference``: the same function composed of ordinary primitives, with
the same arguments and outputs (an RNN layer run cell by cell, say). Then

- a ``create_graph=True`` backward runs the rule :func:`vjp_through_reference` gives in place
  of the kernel's: the entry's input gradients as the vjp of the reference at the same inputs,
  on Tensors, so they are on the graph and can be differentiated again;
- forward mode computes its tangents by running the reference under a forward level of its own
  (:func:`jvp_through_reference`), while the output values still come from the kernel.

Both equal the kernel's derivatives up to rounding, because the reference computes the same
function; the price is the reference's speed, paid only when these derivatives are asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .autograd import grad
from .forward import copy_tangents, dual_level
from .tape import Entry, _next_index
from .tensor import Tensor

if TYPE_CHECKING:
    from .primitive import Primitive

__all__ = ["vjp_through_reference", "jvp_through_reference"]


def _rebind(roots: list[Any], swap: dict[int, Tensor], start: int) -> list[Any]:
    """Make the entries recorded since tape index ``start`` that ``roots`` depend on read
    ``swap[id(leaf)]`` wherever they read ``leaf``: as if they had been computed from those
    tensors in the first place. Returns ``roots`` with a swapped leaf itself replaced."""
    stack = [r._entry for r in roots if isinstance(r, Tensor) and r._entry is not None]
    seen: set[int] = set()
    while stack:
        e = stack.pop()
        if e.index < start or e.index in seen:
            continue
        seen.add(e.index)
        parents, slots = list(e.parents), list(e.slots)
        for i, p in enumerate(parents):
            if isinstance(p, Entry):
                stack.append(p)
            elif p is not None and id(p) in swap:
                t = swap[id(p)]
                parents[i] = t._entry if t._entry is not None else (t if t._rg else None)
                slots[i] = t._slot
        e.parents, e.slots = tuple(parents), tuple(slots)
    return [swap.get(id(r), r) if isinstance(r, Tensor) else r for r in roots]


def vjp_through_reference(op: Primitive) -> Callable[..., Any]:
    """The vjp rule a recorded backward (``create_graph=True``) runs for the fused ``op``: the
    vjp of ``op.reference`` at the same inputs, on the graph (the engine's own rule contract)."""
    if op.reference is None:
        def refuse(xp: Any, g: Any, ans: Any, *ins: Any, **params: Any) -> tuple:
            raise RuntimeError(
                f"{op.name}: this fused kernel's backward cannot be differentiated again and it "
                "has no reference twin; build the layer with impl='reference' for "
                "higher-order gradients")

        return refuse
    reference = op.reference

    def rule(xp: Any, g: Any, ans: Any, *ins: Any, **params: Any) -> tuple:
        return _reference_vjp(reference, g, ins, _own(params))

    return rule


def _own(params: dict[str, Any]) -> dict[str, Any]:
    """The op's own parameters, without the engine's keywords (the reference takes neither)."""
    return {k: v for k, v in params.items() if k not in ("aux", "needs")}


def _reference_vjp(reference: Callable[..., Any], g: Any, ins: Sequence[Any],
                   params: dict[str, Any]) -> tuple:
    """The input gradients of a fused entry, on the graph: the vjp of ``reference``.

    ``ins`` are the entry's inputs as Tensors on the graph (constants as they were), ``g`` its
    output gradients (Tensors). The reference runs on fresh leaves holding the same values, so
    that the backward below stops at them and never walks into the graph being differentiated;
    the entries it records are then re-pointed from those leaves to ``ins``.
    """
    grads = g if isinstance(g, tuple) else (g,)
    start = _next_index()
    leaves: list[Any] = []
    swap: dict[int, Tensor] = {}
    for x in ins:
        if isinstance(x, Tensor) and x._rg:
            leaf = Tensor(x.data, requires_grad=True)
            copy_tangents(x, leaf)  # forward over reverse: the leaf moves as x moves
            swap[id(leaf)] = x
            leaves.append(leaf)
        else:
            leaves.append(x)
    outs = reference(*leaves, **params)
    outs = outs if isinstance(outs, tuple) else (outs,)
    wanted = [leaf for leaf in leaves if isinstance(leaf, Tensor) and id(leaf) in swap]
    pairs = [(o, gk) for o, gk in zip(outs, grads, strict=True) if o.requires_grad]
    found = grad([o for o, _ in pairs], wanted, [gk for _, gk in pairs], retain_graph=True,
                 create_graph=True, allow_unused=True)
    by_leaf = dict(zip((id(w) for w in wanted), _rebind(list(found), swap, start), strict=True))
    return tuple(by_leaf.get(id(leaf)) if isinstance(leaf, Tensor) else None for leaf in leaves)


def jvp_through_reference(reference: Callable[..., Any]) -> Callable[..., Any]:
    """A jvp rule for a fused primitive: its tangents are the reference's, computed under a
    forward level of their own (the kernel still computes the outputs)."""

    def rule(xp: Any, tangents: tuple, ans: Any, *inputs: Any, **params: Any) -> tuple:
        with dual_level() as level:
            for x, t in zip(inputs, tangents, strict=True):
                if t is not None:
                    level.set_tangent(x, t)
            outs = reference(*inputs, **_own(params))
            outs = outs if isinstance(outs, tuple) else (outs,)
            return tuple(level.tangent(o) for o in outs)

    return rule
