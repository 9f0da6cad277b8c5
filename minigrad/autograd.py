"""Reverse mode: walk the tape backwards from the outputs, one entry at a time, no recursion.

The entries that lead to the outputs are visited in decreasing tape index, through a heap. An
entry's index is its position in execution order, so by the time an entry is visited every entry
that used its outputs has been, and its output gradients are complete. Each entry's gradients are
used once and dropped; its saved arrays are freed unless the graph is retained.

Every gradient a vjp rule returns passes through :func:`_fit`, the one place where a broadcast
gradient is summed back to its input's shape and where a wrong count, shape or dtype is reported
with the op's name.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

import numpy as np

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


def _hook_name(hook: Any) -> str:
    return getattr(hook, "__name__", None) or type(hook).__name__


def _call_hooks(hooks: list, g: Any, create_graph: bool, where: Any) -> Any:
    """Run ``hooks`` on the gradient ``g`` in turn; a non-None return replaces it, if it has the
    gradient's shape and dtype. ``where`` (a Tensor, or an entry and slot) names the tensor."""
    for hook in tuple(hooks):  # a copy: a hook may remove itself (or another) while it runs
        if create_graph:
            r = hook(g)
            if r is not None and not isinstance(r, Tensor):
                r = Tensor._make(np.asarray(r), None)
        else:
            view = g.view()
            view.flags.writeable = False  # it may be shared with other gradients
            try:
                with _versions.frozen(view):
                    r = hook(Tensor._make(view, None))
            except (ValueError, _versions.FrozenError) as e:
                if isinstance(e, ValueError) and "read-only" not in str(e):
                    raise
                raise RuntimeError(
                    f"hook {_hook_name(hook)} on {_describe(where, g)} wrote into the gradient "
                    "it was given, which is read-only (it may be shared with other gradients): "
                    "return a new tensor instead, e.g. `return g * 2` or "
                    "`g = g.clone(); g.mul_(2); return g`") from e
            if r is not None:
                r = np.asarray(r.data if isinstance(r, Tensor) else r)
        if r is None:
            continue
        if r.shape != g.shape or r.dtype != g.dtype:
            raise RuntimeError(
                f"hook {_hook_name(hook)} on {_describe(where, g)} returned a gradient of shape "
                f"{tuple(r.shape)} and dtype {r.dtype}; it must return None or a gradient of "
                f"shape {tuple(g.shape)} and dtype {g.dtype}")
        g = r
    return g


def _describe(where: Any, g: Any) -> str:
    if isinstance(where, Tensor):
        return f"a leaf tensor of shape {tuple(where.shape)}"
    entry, k = where
    return (f"a tensor of shape {tuple(g.shape)} (output {k} of {entry.op.name}, "
            f"tape #{entry.index})")


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


def _visit_outputs(entry: Entry, grads: list, ans: Any, xp: Any, create_graph: bool,
                   interior: dict | None) -> None:
    """Complete ``grads`` (zeros for unused outputs), run hooks, hand out interior gradients."""
    outs = ans if entry.n_out > 1 else (ans,)
    for k in range(entry.n_out):
        if grads[k] is None:
            grads[k] = xp.zeros_like(outs[k])
        elif entry.hooks and k in entry.hooks:
            grads[k] = _call_hooks(entry.hooks[k], grads[k], create_graph, (entry, k))
        if interior and (entry.index, k) in interior:
            interior[(entry.index, k)] = grads[k]
    if _state.anomaly or entry.grad_norm is not None:
        from .anomaly import after_grads

        after_grads(entry, grads)


def run_backward(roots: Sequence[Tensor], seeds: Sequence[Any], *, retain_graph: bool,
                 create_graph: bool, capture: dict[int, Any] | None = None,
                 interior: dict[tuple[int, int], Any] | None = None) -> dict[int, Any]:
    """Propagate ``seeds`` from ``roots`` to the leaves.

    Returns the total gradient of each leaf, by ``id``. With ``capture`` (a dict of leaf ids to
    fill) nothing is written to ``.grad``; ``interior`` maps ``(entry.index, slot)`` keys to fill
    with the gradients of interior tensors, for :func:`grad`.
    """
    from . import ops
    from .primitives import array_ops

    xp = ops if create_graph else array_ops
    leaf_grads: dict[int, Any] = {}
    leaves: dict[int, Tensor] = {}
    heap: list[tuple[int, Entry]] = []

    def send(parent: Any, slot: int, g: Any) -> None:
        if isinstance(parent, Entry):
            if parent.grads is None:
                parent.grads = [None] * parent.n_out
                heapq.heappush(heap, (-parent.index, parent))
            old = parent.grads[slot]
            parent.grads[slot] = g if old is None else old + g
        else:
            key = id(parent)
            old = leaf_grads.get(key)
            leaf_grads[key] = g if old is None else old + g
            leaves[key] = parent

    watch = bool(interior) or _state.anomaly
    with _GradMode(create_graph):
        for root, seed in zip(roots, seeds, strict=True):
            send(root._entry if root._entry is not None else root, root._slot, seed)
        heappop, heappush = heapq.heappop, heapq.heappush
        try:
            while heap:
                entry = heappop(heap)[1]
                grads: list = entry.grads  # type: ignore[assignment]
                entry.grads = None
                saved = entry.saved
                if saved is None:
                    raise RuntimeError(
                        f"backward: tape entry #{entry.index} ({entry.op.name}) was freed by an "
                        "earlier backward; pass retain_graph=True to the first backward to "
                        "differentiate the same graph twice")
                if entry.epoch != _versions.clock:  # something was written since it was recorded
                    _check_versions(entry, saved)
                op = entry.op
                parents = entry.parents
                n_in = len(parents)
                if create_graph:
                    if op.fused and op.reference is None:
                        raise RuntimeError(
                            f"{op.name}: this fused kernel's backward cannot be differentiated "
                            "again and it has no reference twin; build the layer with "
                            "impl='reference' for higher-order gradients")
                    ans, ins = _tensor_args(entry)
                else:
                    ans = saved[n_in] if entry.n_out == 1 else saved[n_in:]
                    ins = list(saved[:n_in])
                if entry.n_out > 1 or entry.hooks or watch or entry.grad_norm is not None:
                    _visit_outputs(entry, grads, ans, xp, create_graph, interior)
                g = grads[0] if entry.n_out == 1 else tuple(grads)
                if op.fused:
                    if create_graph:  # the kernel's backward is not recorded: its twin's is
                        from .reference import vjp_through_reference

                        result = vjp_through_reference(op, g, ins, entry.params)
                    else:  # a hand-written kernel may skip the gradients nobody reads
                        needs = tuple(p is not None for p in parents)
                        result = op.vjp(xp, g, ans, *ins, aux=entry.aux,  # type: ignore
                                        needs=needs, **entry.params)
                elif entry.aux is None:
                    result = op.vjp(xp, g, ans, *ins, **entry.params)  # type: ignore[misc]
                else:
                    result = op.vjp(xp, g, ans, *ins, aux=entry.aux, **entry.params)  # type: ignore

                if type(result) is not tuple:
                    result = (result,)
                if len(result) != n_in:
                    raise ValueError(f"{op.name} (tape #{entry.index}): backward gave "
                                     f"{len(result)} gradients for {n_in} inputs")
                slots = entry.slots
                for i in range(n_in):
                    parent = parents[i]
                    r = result[i]
                    if parent is None or r is None:
                        continue
                    like = saved[i]
                    if r.shape != like.shape or r.dtype != like.dtype:
                        r = _fit(entry, i, r, like)
                    tp = type(parent)
                    if tp is Entry or tp is LockingEntry:  # inline send(): the common case
                        pg = parent.grads
                        if pg is None:
                            parent.grads = pg = [None] * parent.n_out
                            heappush(heap, (-parent.index, parent))
                        old = pg[slots[i]]
                        pg[slots[i]] = r if old is None else old + r
                    else:
                        send(parent, slots[i], r)
                if not retain_graph:  # Entry.release, inlined
                    entry.saved = entry.aux = None
                    entry.freed = True
                    if entry.locked is not None:
                        _versions.unlock(entry.locked)
                        entry.locked = None
        except BaseException:
            # An error (a version check, a hook, a rule) stops the walk: the entries still
            # waiting drop their partial gradients, so that a later backward starts clean, and
            # no .grad has been written. NOTE: as in PyTorch, the entries already visited were
            # freed on the way (freeing them at the end instead kept every saved array alive
            # through the walk: more memory and a slower backward), so retrying the same graph
            # says it was freed unless it was retained.
            for _, waiting in heap:
                waiting.grads = None
            raise

        for key, leaf in leaves.items():  # every hook first: one may raise
            if leaf._hooks:
                leaf_grads[key] = _call_hooks(leaf._hooks, leaf_grads[key], create_graph, leaf)
        for key, leaf in leaves.items():
            g = leaf_grads[key]
            if capture is not None:
                if key in capture:
                    capture[key] = g
            elif create_graph:
                leaf.grad = g if leaf.grad is None else leaf.grad + g
            elif leaf.grad is None:
                leaf.grad = Tensor._make(np.array(g, dtype=leaf.data.dtype), None)
            else:
                leaf.grad = Tensor._make(leaf.grad.data + g, None)
    return leaf_grads


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
