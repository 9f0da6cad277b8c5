"""RMSprop: scale the gradient by a running root mean square of recent gradients."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from minigrad.optim._functional import lerp_
from minigrad.optim.optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop, with the same update as ``torch.optim.RMSprop``.

    For each parameter :math:`\theta` with gradient :math:`g` (negated if ``maximize``), with
    state ``v`` (``square_avg``), ``m`` (``grad_avg``) and ``b`` (``momentum_buffer``), all
    starting at zero::

        g     <- g + weight_decay * theta                    (if weight_decay != 0)
        v     <- alpha * v + (1 - alpha) * g^2
        m     <- alpha * m + (1 - alpha) * g                 (if centered)
        d     =  sqrt(v - m^2) + eps   if centered   else   sqrt(v) + eps
        b     <- momentum * b + g / d;   theta <- theta - lr * b    (if momentum > 0)
        theta <- theta - lr * g / d                                   (otherwise)

    Args:
        params: parameters or parameter groups (see :class:`Optimizer`).
        lr: learning rate (>= 0).
        alpha: smoothing constant in [0, 1].
        eps: added to the denominator for numerical stability (>= 0).
        weight_decay: L2 penalty coefficient (>= 0).
        momentum: momentum factor (>= 0).
        centered: normalise by an estimate of the gradient variance instead of the raw second
            moment.
        maximize: maximise the objective instead of minimising it.

    State per parameter: ``step`` (int), ``square_avg``, and ``grad_avg`` (if centered) and
    ``momentum_buffer`` (if momentum > 0).
    """

    _state_arrays = ("square_avg", "grad_avg", "momentum_buffer")
    _state_counters = ("step",)
    _state_needed = ("step", "square_avg")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: Mapping[str, Any]) -> None:
        self._non_negative(group, "lr", "learning rate")
        if not 0.0 <= self._number(group, "alpha", "alpha value") <= 1.0:
            raise ValueError(f"RMSprop: invalid alpha value {group['alpha']} (must be in [0, 1])")
        self._non_negative(group, "eps", "epsilon value")
        self._non_negative(group, "weight_decay", "weight_decay value")
        self._non_negative(group, "momentum", "momentum value")
        self._flag(group, "centered")
        self._flag(group, "maximize")

    def _init_state(self, param: np.ndarray, group: Mapping[str, Any]) -> dict[str, Any]:
        state: dict[str, Any] = {"step": 0, "square_avg": np.zeros_like(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(param)
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(param)
        return state

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: Mapping[str, Any]
    ) -> None:
        alpha, momentum, wd = float(group["alpha"]), float(group["momentum"]), group["weight_decay"]
        lr = float(group["lr"])
        state["step"] += 1
        d, tmp = self._scratch(param)  # d: the gradient once it is not grad itself
        g = np.negative(grad, out=d) if group["maximize"] else grad
        if wd != 0:
            np.multiply(param, float(wd), out=tmp)
            g = np.add(g, tmp, out=d)
        square_avg = state["square_avg"]
        square_avg *= alpha
        np.multiply(g, 1 - alpha, out=tmp)
        tmp *= g
        square_avg += tmp
        if group["centered"]:
            grad_avg = state.get("grad_avg")
            if grad_avg is None:
                grad_avg = state["grad_avg"] = np.zeros_like(param)
            lerp_(grad_avg, g, 1 - alpha, work=tmp)
            avg = np.multiply(grad_avg, grad_avg, out=tmp)
            np.subtract(square_avg, avg, out=avg)
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(square_avg, out=tmp)
        avg += float(group["eps"])
        scaled = np.divide(g, avg, out=tmp)  # g / avg
        if momentum > 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.zeros_like(param)
            buf *= momentum
            buf += scaled
            scaled = np.multiply(buf, lr, out=tmp)
        else:
            scaled *= lr
        param -= scaled
