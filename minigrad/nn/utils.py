"""Gradient clipping, as in ``torch.nn.utils``: the cure for exploding gradients in recurrent nets.

Both functions act on the ``.grad`` of each parameter that has one (others are skipped) and
replace it with a new Tensor holding the clipped values, rather than writing into an array that
a graph may have saved or made read-only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _with_grads(parameters: Tensor | Iterable[Tensor], who: str) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{who}: parameter {i} is a {type(p).__name__}, not a Tensor")
    return [p for p in params if p.grad is not None]


def _norm(a: np.ndarray, norm_type: float) -> Any:
    return np.linalg.norm(a.ravel(), ord=norm_type)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The joint norm is the ``norm_type``-norm of the vector of every gradient element,
    ``total = || (||g_1||, ..., ||g_k||) ||`` (``inf`` for the largest magnitude). Each gradient
    is multiplied by ``min(1, max_norm / (total + 1e-6))``, as in PyTorch. Returns ``total``
    (computed before clipping) as a 0-d Tensor. A nan or infinite total raises RuntimeError
    when ``error_if_nonfinite``; otherwise the gradients become nan, as in PyTorch.
    """
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    if not norm_type >= 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be >= 0 or inf, got {norm_type}")
    params = _with_grads(parameters, "clip_grad_norm_")
    if not params:
        return Tensor(np.zeros((), dtype=np.float32))
    grads = [p.grad.data for p in params]  # type: ignore[union-attr]
    dtype = np.result_type(*grads)
    norms = np.array([_norm(g, norm_type) for g in grads], dtype=dtype)
    total = np.asarray(_norm(norms, norm_type), dtype=dtype)
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {float(total)}; pass error_if_nonfinite=False to "
                           "clip anyway")
    with np.errstate(divide="ignore", invalid="ignore"):
        coef = np.minimum(np.asarray(max_norm, dtype=dtype) / (total + dtype.type(1e-6)), 1)
    for p, g in zip(params, grads, strict=True):
        p.grad = Tensor(g * coef.astype(g.dtype))
    return Tensor(total)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]``."""
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _with_grads(parameters, "clip_grad_value_"):
        g = p.grad.data  # type: ignore[union-attr]
        p.grad = Tensor(np.clip(g, -clip_value, clip_value).astype(g.dtype, copy=False))
