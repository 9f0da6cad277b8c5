"""Reverse mode: walk the tape backwards from the outputs, one entry at a time, no recursion.

The entries that lead to the outputs are visited in decreasing tape index, through a heap. An
entry's index is its position in execution order, so by the time an entry is visited every entry
that used its outputs has been, and its output gradients are complete. Each entry's gradients are
used once and dropped; its saved arrays are freed unless the graph is retained.

Every rule is called one way, ``rule(xp, g, ans, *inputs, **entry.params)`` (the contract of
:mod:`minigrad.primitive`). What is not the plain walk lives in small helpers around the loop:
the saved-value checks (:func:`_check_saved`), hooks, interior gradients and anomaly checks on
the output gradients (:func:`_visit_outputs`), the rule wrappers for a recorded backward through
a fused primitive and for anomaly mode (:func:`_rule`), and the leaves' hooks and ``.grad``
(:func:`_finish_leaves`). Every gradient a rule returns passes through :func:`_fit`, the one
place where a broadcast gradient is summed back to its input's shape and where a wrong count,
shape or dtype is reported with the op's name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from typing import Any

import numpy as np

from . import anomaly as _anomaly
from . import hooks as _hooks
from . import primitive as _primitive
from . import versions as _versions
from .tape import Entry, LockingEntry, _GradMode, _state
from .tensor import Tensor


def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` (array or Tensor) over the axes that broadcasting added to reach ``shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, g.shape[lead:], strict=True)):
        raise ValueError(f"sum_to: shape {g.shape} does not reduce to {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


def _fit(op: Entry, i: int, g: Any, like: np.ndarray) -> Any:
    """Check a vjp result against input ``i`` and undo broadcasting: the one place for both."""
    if g.shape != like.shape:
        try:
            g = sum_to(g, like.shape)
        except ValueError:
            raise ValueError(f"{op.op.name} (tape #{op.index}): backward gave a gradient of shape "
                             f"{g.shape} for input {i} of shape {like.shape}") from None
    if g.dtype != like.dtype:
        if g.dtype.kind != "f":
            raise TypeError(f"{op.op.name} (tape #{op.index}): backward gave dtype {g.dtype} "
                            f"for input {i} of dtype {like.dtype}")
        g = g.astype(like.dtype)  # the input was promoted to a wider float in forward
    return g


def _check_versions(entry: Entry, saved: tuple) -> None:
    """Raise when an array ``entry`` saved was written (through minigrad) after it was saved."""
    n_in = len(entry.parents)
    for k, a in enumerate(saved):
        if type(a) is not np.ndarray:
            continue
        changed = _versions.changed_since(a, entry.epoch)
        if changed is not None:
            what = f"input {k}" if k < n_in else f"output {k - n_in}"
            raise RuntimeError(
                f"backward: a tensor of shape {a.shape} ({what} of {entry.op.name}) was modified "
                f"in place after {entry.op.name} (tape #{entry.index}) saved it: version "
                f"{changed[0]}, expected {changed[1]}. Its gradient would be computed at the new "
                "value: build the graph again after the update (or update after backward)")


def _tensor_args(entry: Entry) -> tuple[Any, list[Any]]:
    """The saved values of ``entry`` as Tensors on the graph, to run its rule on Tensors."""
    saved = entry.saved
    assert saved is not None
    n_in = len(entry.parents)
    ins: list[Any] = []
    for p, s, a in zip(entry.parents, entry.slots, saved[:n_in], strict=True):
        if isinstance(p, Entry):
            ins.append(Tensor._make(a, p, s))
        elif p is not None:
            ins.append(p)
        else:  # a constant: a Python number stays one, so it keeps the other input's dtype
            ins.append(Tensor._make(a, None) if type(a) is np.ndarray else a)
    outs = tuple(Tensor._make(saved[n_in + k], entry, k) for k in range(entry.n_out))
    return (outs[0] if entry.n_out == 1 else outs), ins



# ---- the backward loop ------------------------------------------------------------------------
def run_backward(roots: Sequence[Tensor], seeds: Sequence[Any], *, retain_graph: bool,
                 create_graph: bool, capture: dict[int, Any] | None = None,
                 interior: dict[tuple[int, int], Any] | None = None) -> None:
    """Propagate ``seeds`` from ``roots`` to the leaves and add the results to their ``.grad``.

    With ``capture`` (a dict of leaf ids to fill) nothing is written to ``.grad``; ``interior``
    maps ``(entry.index, slot)`` keys to fill with the gradients of interior tensors, for
    :func:`grad`.
    """
    xp = _primitive.xp_tensors if create_graph else _primitive.xp_arrays
    heap: list[tuple[int, Entry]] = []  # the entries waiting for their turn, latest first
    leaves: dict[int, list] = {}  # id(leaf) -> [leaf, its total gradient]
    wrap = create_graph or _state.anomaly  # the rule of some entries is wrapped (_rule)
    watch = bool(interior) or _state.anomaly  # look at every output gradient (_visit_outputs)
    with _GradMode(create_graph):  # a recorded backward records the rules' ops
        for root, seed in zip(roots, seeds, strict=True):
            _add(heap, leaves, root if root._entry is None else root._entry, root._slot, seed)
        try:
            while heap:
                entry = heappop(heap)[1]
                grads: list = entry.grads  # type: ignore[assignment]
                entry.grads = None
                saved: tuple = entry.saved  # type: ignore[assignment]
                if saved is None or entry.epoch != _versions.clock:
                    _check_saved(entry)  # freed by an earlier backward, or written since: raises
                n_in = len(entry.parents)
                ins: Sequence = saved[:n_in]
                ans = saved[n_in] if entry.n_out == 1 else saved[n_in:]
                if create_graph:
                    ans, ins = _tensor_args(entry)  # the same values, as Tensors on the graph
                if watch or entry.n_out > 1 or entry.hooks or entry.grad_norm is not None:
                    _visit_outputs(entry, grads, ans, xp, create_graph, interior)
                rule: Callable = _rule(entry, create_graph) if wrap else entry.op.vjp  # type: ignore
                g = grads[0] if entry.n_out == 1 else tuple(grads)
                result = rule(xp, g, ans, *ins, **entry.params)
                if type(result) is not tuple:
                    result = (result,)
                if len(result) != n_in:
                    raise _count_error(entry, len(result))
                slots = entry.slots
                for i, parent in enumerate(entry.parents):  # accumulate into the parents
                    r = result[i]
                    if parent is None or r is None:  # a constant, or no gradient
                        continue
                    like = saved[i]
                    if r.shape != like.shape or r.dtype != like.dtype:
                        r = _fit(entry, i, r, like)  # broadcast back, or an error
                    if type(parent) is Entry or type(parent) is LockingEntry:  # _add, written
                        pg = parent.grads  # out for the common case: a call per edge is costly
                        if pg is None:
                            parent.grads = pg = [None] * parent.n_out
                            heappush(heap, (-parent.index, parent))
                        old = pg[slots[i]]
                        pg[slots[i]] = r if old is None else old + r
                    else:
                        _add(heap, leaves, parent, slots[i], r)
                if not retain_graph:  # free what it saved: Entry.release, but for the
                    entry.saved = None  # common entry, without a call
                    entry.freed = True
                    if entry.locked is not None or entry.op.has_aux:
                        entry.release()
        except BaseException:
            # NOTE: an error (a version check, a hook, a rule) stops the walk: the entries still
            # waiting drop their partial gradients, so that a later backward starts clean, and
            # no .grad has been written. As in PyTorch, the entries already visited were freed
            # on the way (freeing them at the end instead kept every saved array alive through
            # the walk), so retrying the same graph says it was freed unless it was retained.
            for _, waiting in heap:
                waiting.grads = None
            raise
        _finish_leaves(leaves, create_graph, capture)


def _add(heap: list, leaves: dict, parent: Any, slot: int, g: Any) -> None:
    """Add ``g`` to the gradient of output ``slot`` of ``parent``: an entry, which joins the walk
    with its first gradient, or a leaf, whose total is kept apart for its hooks and ``.grad``."""
    if type(parent) is Entry or type(parent) is LockingEntry:
        grads = parent.grads
        if grads is None:
            parent.grads = grads = [None] * parent.n_out
            heappush(heap, (-parent.index, parent))
        old = grads[slot]
        grads[slot] = g if old is None else old + g
    else:
        hit = leaves.get(id(parent))
        if hit is None:
            leaves[id(parent)] = [parent, g]
        else:
            hit[1] = hit[1] + g


def _count_error(entry: Entry, n: int) -> ValueError:
    return ValueError(f"{entry.op.name} (tape #{entry.index}): backward gave {n} gradients for "
                      f"{len(entry.parents)} inputs")


def _check_saved(entry: Entry) -> None:
    """Raise if ``entry`` was freed, or if an array it saved was written (through minigrad)
    after it was saved."""
    saved = entry.saved
    if saved is None:
        raise RuntimeError(
            f"backward: tape entry #{entry.index} ({entry.op.name}) was freed by an "
            "earlier backward; pass retain_graph=True to the first backward to "
            "differentiate the same graph twice")
    _check_versions(entry, saved)


def _rule(entry: Entry, create_graph: bool) -> Callable[..., Any]:
    """The vjp rule to run for ``entry`` when it is not simply ``entry.op.vjp``: a fused
    primitive's reference twin in a recorded backward, watched under detect_anomaly."""
    op = entry.op
    rule: Callable[..., Any] = op.vjp  # type: ignore[assignment]
    if create_graph and op.fused:
        from .reference import vjp_through_reference

        rule = vjp_through_reference(op)
    if _state.anomaly:
        rule = _anomaly.watched(entry, rule)
    return rule


def _visit_outputs(entry: Entry, grads: list, ans: Any, xp: Any, create_graph: bool,
                   interior: dict | None) -> None:
    """Complete ``grads`` (zeros for unused outputs), run hooks, hand out interior gradients,
    and let anomaly detection and a user's Tape look at them."""
    outs = ans if entry.n_out > 1 else (ans,)
    for k in range(entry.n_out):
        if grads[k] is None:
            grads[k] = xp.zeros_like(outs[k])
        elif entry.hooks and k in entry.hooks:
            grads[k] = _hooks.call_hooks(entry.hooks[k], grads[k], create_graph, (entry, k))
        if interior and (entry.index, k) in interior:
            interior[(entry.index, k)] = grads[k]
    if _state.anomaly or entry.grad_norm is not None:
        _anomaly.after_grads(entry, grads)


def _finish_leaves(leaves: dict[int, list], create_graph: bool,
                   capture: dict[int, Any] | None) -> None:
    """Run the leaves' hooks on their total gradients, then add them to ``.grad`` (or, for
    :func:`grad`, put them in ``capture``)."""
    for hit in leaves.values():  # every hook first: one may raise
        leaf = hit[0]
        if leaf._hooks:
            hit[1] = _hooks.call_hooks(leaf._hooks, hit[1], create_graph, leaf)
    for key, (leaf, g) in leaves.items():
        if capture is not None:
            if key in capture:
                capture[key] = g
        elif create_graph:
            leaf.grad = g if leaf.grad is None else leaf.grad + g
        elif leaf.grad is None:
            leaf.grad = Tensor._make(np.array(g, dtype=leaf.data.dtype), None)
        else:
            leaf.grad = Tensor._make(leaf.grad.data + g, None)


def _seed(out: Tensor, grad: Any, who: str) -> Any:
    if not out._rg:
        raise RuntimeError(f"{who}: the output does not require grad (no input of the ops that "
                           "made it requires grad, or it was made under no_grad)")
    if grad is None:
        if out.data.size != 1:
            raise RuntimeError(f"{who}: grad can be omitted only for a one-element output; "
                               f"this one has shape {out.shape}")
        return np.ones_like(out.data)
    g = grad if isinstance(grad, Tensor) else Tensor(np.asarray(grad, dtype=out.data.dtype))
    if g.shape != out.shape:
        raise ValueError(f"{who}: grad has shape {g.shape}, the output has shape {out.shape}")
    return g.data


def backward(out: Tensor, grad: Any = None, *, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """``out.backward(grad)``: accumulate gradients into the ``.grad`` of every leaf."""
    seed = _seed(out, grad, "backward")
    if create_graph:
        seed = grad if isinstance(grad, Tensor) else Tensor._make(seed, None)
    run_backward([out], [seed], retain_graph=create_graph if retain_graph is None else retain_graph,
                 create_graph=create_graph)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, as a tuple; ``.grad`` is untouched.

    ``grad_outputs`` are the cotangents (needed for outputs with more than one element). With
    ``create_graph=True`` the results are on the graph, so they can be differentiated again.
    """
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor | np.ndarray):
        gos = [grad_outputs] * len(outs) if len(outs) == 1 else [None] * len(outs)
        if grad_outputs is not None and len(outs) != 1:
            raise ValueError(f"grad: {len(outs)} outputs need a sequence of grad_outputs")
    else:
        gos = list(grad_outputs)
    if len(gos) != len(outs):
        raise ValueError(f"grad: {len(outs)} outputs but {len(gos)} grad_outputs")
    for i, t in enumerate(ins):
        if not t._rg:
            raise RuntimeError(f"grad: input {i} does not require grad")
    seeds = []
    for o, go in zip(outs, gos, strict=True):
        s = _seed(o, go, "grad")
        seeds.append((go if isinstance(go, Tensor) else Tensor._make(s, None))
                     if create_graph else s)
    capture = {id(t): None for t in ins if t._entry is None}
    interior = {(t._entry.index, t._slot): None for t in ins if t._entry is not None}
    run_backward(outs, seeds, retain_graph=create_graph if retain_graph is None else retain_graph,
                 create_graph=create_graph, capture=capture, interior=interior)
    results: list[Tensor | None] = []
    for i, t in enumerate(ins):
        g = capture[id(t)] if t._entry is None else interior[(t._entry.index, t._slot)]
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: input {i} was not used to compute the outputs "
                                   "(pass allow_unused=True to get None for it)")
            results.append(None)
        elif isinstance(g, Tensor):
            results.append(g)
        else:
            results.append(Tensor._make(np.asarray(g, dtype=t.data.dtype), None))
    return tuple(results)
