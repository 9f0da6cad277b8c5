"""Tensor hooks: read or replace the gradient flowing into a tensor, and keep interior gradients.

``t.register_hook(fn)`` calls ``fn(grad)`` (a Tensor) when backward has the complete gradient of
``t``; a return value other than None replaces that gradient for everything upstream of ``t``.
Where the hooks live (see :mod:`minigrad.autograd`):

- a leaf keeps them in ``tensor._hooks``, called once with the leaf's total gradient, before it
  is added to ``.grad``;
- an interior tensor (an op's output) keeps them in its entry, ``entry.hooks[slot]``, called when
  backward reaches that entry, before its backward rule runs.

A hook's return value must have the gradient's shape and dtype (else RuntimeError naming the
hook and the tensor). The gradient a hook receives is read-only: it may be the very array that
also flows to another input, so writing it in place would change that one too; return a new
tensor instead (``return g * 2``, or ``g.clone()`` and then in-place ops). Backward calls a
copy of the hook list, so a hook that removes itself (or another) does not skip the next one.

``t.retain_grad()`` makes an interior tensor keep its gradient in ``.grad`` after backward, as a
leaf does (accumulating over backward calls). It is a hook too, always run after the user's hooks,
so it sees the gradient they return. The hook holds the tensor through a weak reference: the
tensor owns its entry, the entry owns its hooks, and a strong reference back would be a cycle.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from . import versions
from .tensor import Tensor

__all__ = ["RemovableHandle", "call_hooks", "register_hook", "retain_grad"]

Hook = Callable[[Tensor], Any]


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` unregisters the hook (idempotent).

    Also a context manager: ``with t.register_hook(fn): ...`` removes the hook on exit.
    """

    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks: list[Hook], fn: Hook) -> None:
        self._hooks: list[Hook] | None = hooks
        self._fn = fn

    def remove(self) -> None:
        hooks, self._hooks = self._hooks, None
        if hooks is not None:
            for i, h in enumerate(hooks):
                if h is self._fn:
                    del hooks[i]
                    break

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class _RetainGrad:
    """The hook ``retain_grad`` installs: store the gradient on the (weakly held) tensor."""

    __slots__ = ("ref",)

    def __init__(self, tensor: Tensor) -> None:
        self.ref = weakref.ref(tensor)

    def __call__(self, g: Tensor) -> None:
        t = self.ref()
        if t is None:
            return
        if g._entry is not None:  # backward with create_graph: keep the graph
            t.grad = g if t.grad is None else t.grad + g
        elif t.grad is None:
            t.grad = Tensor._make(np.array(g.data, dtype=t.data.dtype), None)
        else:
            t.grad = Tensor._make(t.grad.data + g.data, None)


def _hook_list(tensor: Tensor, who: str) -> list[Hook]:
    """The list backward calls for ``tensor``'s gradient (created on first use)."""
    if not tensor.requires_grad:
        raise RuntimeError(f"{who}: the tensor does not require grad, so no gradient will flow "
                           "into it")
    entry = tensor._entry
    if entry is None:
        if tensor._hooks is None:
            tensor._hooks = []
        return tensor._hooks
    if entry.hooks is None:
        entry.hooks = {}
    return entry.hooks.setdefault(tensor._slot, [])


def register_hook(tensor: Tensor, fn: Hook) -> RemovableHandle:
    """Call ``fn(grad)`` when ``tensor``'s gradient is computed; a non-None return replaces it.

    Hooks run in the order they were registered (before any ``retain_grad``). Returns a handle
    whose ``remove()`` unregisters ``fn``.
    """
    if not callable(fn):
        raise TypeError(f"register_hook: expected a callable, got {type(fn).__name__}")
    hooks = _hook_list(tensor, "register_hook")
    at = len(hooks)
    while at > 0 and isinstance(hooks[at - 1], _RetainGrad):
        at -= 1
    hooks.insert(at, fn)
    return RemovableHandle(hooks, fn)


def retain_grad(tensor: Tensor) -> None:
    """Keep this interior tensor's gradient in ``tensor.grad`` after backward (PyTorch semantics).

    A no-op on a leaf (leaves keep theirs anyway) and when already retaining.
    """
    hooks = _hook_list(tensor, "retain_grad")
    if tensor._entry is None:
        return
    if any(isinstance(h, _RetainGrad) and h.ref() is tensor for h in hooks):
        return
    hooks.append(_RetainGrad(tensor))


# ---- called by backward ------------------------------------------------------------------
def _hook_name(hook: Any) -> str:
    return getattr(hook, "__name__", None) or type(hook).__name__


def call_hooks(hooks: list, g: Any, create_graph: bool, where: Any) -> Any:
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
                with versions.frozen(view):
                    r = hook(Tensor._make(view, None))
            except (ValueError, versions.FrozenError) as e:
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
