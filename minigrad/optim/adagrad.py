"""Adagrad: per-coordinate learning rates from the accumulated squared gradients."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from minigrad.optim.optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad, with the same update as ``torch.optim.Adagrad``.

    With state ``sum`` (starting at ``initial_accumulator_value``) and step count ``t``
    (1 at the first update), for each parameter :math:`\theta` with gradient :math:`g`
    (negated if ``maximize``)::

        g     <- g + weight_decay * theta                   (if weight_decay != 0)
        clr   =  lr / (1 + (t - 1) * lr_decay)
        sum   <- sum + g * g
        theta <- theta - clr * g / (sqrt(sum) + eps)

    Args:
        params: parameters or parameter groups (see :class:`Optimizer`).
        lr: learning rate (>= 0).
        lr_decay: learning-rate decay per step (>= 0).
        weight_decay: L2 penalty coefficient (>= 0).
        initial_accumulator_value: starting value of ``sum`` (>= 0).
        eps: added to the denominator for numerical stability (>= 0).
        maximize: maximise the objective instead of minimising it.

    State per parameter: ``step`` (int) and ``sum``.
    """

    _state_arrays = ("sum",)
    _state_counters = ("step",)
    _state_needed = ("step", "sum")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "eps": eps,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: Mapping[str, Any]) -> None:
        self._non_negative(group, "lr", "learning rate")
        self._non_negative(group, "lr_decay", "lr_decay value")
        self._non_negative(group, "weight_decay", "weight_decay value")
        self._non_negative(group, "initial_accumulator_value", "initial_accumulator_value")
        self._non_negative(group, "eps", "epsilon value")
        self._flag(group, "maximize")

    def _init_state(self, param: np.ndarray, group: Mapping[str, Any]) -> dict[str, Any]:
        return {"step": 0, "sum": np.full_like(param, group["initial_accumulator_value"])}

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: Mapping[str, Any]
    ) -> None:
        state["step"] += 1
        step = state["step"]
        d, tmp = self._scratch(param)  # d: the gradient once it is not grad itself
        g = np.negative(grad, out=d) if group["maximize"] else grad
        if group["weight_decay"] != 0:
            np.multiply(param, float(group["weight_decay"]), out=tmp)
            g = np.add(g, tmp, out=d)
        clr = float(group["lr"]) / (1 + (step - 1) * float(group["lr_decay"]))
        acc = state["sum"]
        acc += np.multiply(g, g, out=tmp)
        std = np.sqrt(acc, out=tmp)
        std += float(group["eps"])
        update = np.divide(g, std, out=tmp)
        update *= clr
        param -= update
