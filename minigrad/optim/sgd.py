"""Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from minigrad.optim.optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent, with the same update as ``torch.optim.SGD``.

    For each parameter :math:`\theta` with gradient :math:`g` (negated if ``maximize``)::

        g   <- g + weight_decay * theta                        (if weight_decay != 0)
        b   <- g                                 at the first step,     (if momentum != 0)
        b   <- momentum * b + (1 - dampening) * g   afterwards
        g   <- g + momentum * b   if nesterov   else   b
        theta <- theta - lr * g

    Args:
        params: parameters or parameter groups (see :class:`Optimizer`).
        lr: learning rate (>= 0).
        momentum: momentum factor (>= 0).
        dampening: dampening of the momentum (must be 0 with ``nesterov``).
        weight_decay: L2 penalty coefficient (>= 0), added to the gradient.
        nesterov: use Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize: maximise the objective instead of minimising it.

    State per parameter: ``momentum_buffer`` (created at the first step when momentum != 0).
    """

    _state_arrays = ("momentum_buffer",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: Mapping[str, Any]) -> None:
        self._non_negative(group, "lr", "learning rate")
        self._non_negative(group, "momentum", "momentum value")
        self._number(group, "dampening", "dampening value")
        self._non_negative(group, "weight_decay", "weight_decay value")
        self._flag(group, "nesterov")
        self._flag(group, "maximize")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: Nesterov momentum requires a momentum and zero dampening, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: Mapping[str, Any]
    ) -> None:
        lr, momentum, wd = float(group["lr"]), float(group["momentum"]), group["weight_decay"]
        d, tmp = self._scratch(param)  # d: the step direction once it is not grad itself
        g = np.negative(grad, out=d) if group["maximize"] else grad
        if wd != 0:
            np.multiply(param, float(wd), out=tmp)
            g = np.add(g, tmp, out=d)
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.astype(param.dtype, copy=True)
            else:
                buf *= momentum
                if group["dampening"] == 0:
                    buf += g  # (1 - 0) * g is g, bit for bit
                else:
                    buf += np.multiply(g, 1 - float(group["dampening"]), out=tmp)
            if group["nesterov"]:
                np.multiply(buf, momentum, out=tmp)
                g = np.add(g, tmp, out=d)
            else:
                g = buf
        np.multiply(g, lr, out=tmp)
        param -= tmp
