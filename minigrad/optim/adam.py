"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from minigrad.optim._functional import lerp_
from minigrad.optim.optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam, with the same update as ``torch.optim.Adam``.

    With state ``m`` (``exp_avg``), ``v`` (``exp_avg_sq``), ``v_max`` (``max_exp_avg_sq``, for
    ``amsgrad``) starting at zero and the step count ``t`` (1 at the first update), for each
    parameter :math:`\theta` with gradient :math:`g` (negated if ``maximize``)::

        g     <- g + weight_decay * theta          (Adam: L2 penalty, if weight_decay != 0)
        m     <- beta1 * m + (1 - beta1) * g
        v     <- beta2 * v + (1 - beta2) * g^2
        v_max <- max(v_max, v);  v_hat = v_max     if amsgrad   else   v_hat = v
        theta <- theta - lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)

    Args:
        params: parameters or parameter groups (see :class:`Optimizer`).
        lr: learning rate (>= 0).
        betas: ``(beta1, beta2)``, decay rates of the moment estimates, each in [0, 1).
        eps: added to the denominator for numerical stability (>= 0).
        weight_decay: L2 penalty coefficient (>= 0).
        amsgrad: use the running maximum of ``v`` (the AMSGrad variant).
        maximize: maximise the objective instead of minimising it.

    State per parameter: ``step`` (int), ``exp_avg``, ``exp_avg_sq`` and, with amsgrad,
    ``max_exp_avg_sq``.
    """

    _state_arrays = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _state_counters = ("step",)
    _state_needed = ("step", "exp_avg", "exp_avg_sq")
    _decoupled_weight_decay = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas) if isinstance(betas, list) else betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: Mapping[str, Any]) -> None:
        self._non_negative(group, "lr", "learning rate")
        self._non_negative(group, "eps", "epsilon value")
        betas = group["betas"]
        if not isinstance(betas, tuple) or len(betas) != 2:
            raise ValueError(f"{self._name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if isinstance(beta, bool) or not isinstance(
                beta, int | float | np.integer | np.floating
            ):
                raise TypeError(
                    f"{self._name}: beta parameter at index {i} must be a real number, got {beta!r}"
                )
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{self._name}: invalid beta parameter at index {i}: {beta}")
        self._non_negative(group, "weight_decay", "weight_decay value")
        self._flag(group, "amsgrad")
        self._flag(group, "maximize")

    def _init_state(self, param: np.ndarray, group: Mapping[str, Any]) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": 0,
            "exp_avg": np.zeros_like(param),
            "exp_avg_sq": np.zeros_like(param),
        }
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(param)
        return state

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: Mapping[str, Any]
    ) -> None:
        lr, wd = float(group["lr"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        state["step"] += 1
        step = state["step"]
        d, tmp = self._scratch(param)  # d: the gradient once it is not grad itself
        g = np.negative(grad, out=d) if group["maximize"] else grad
        if wd != 0:
            if self._decoupled_weight_decay:
                param *= 1 - lr * wd
            else:
                np.multiply(param, wd, out=tmp)
                g = np.add(g, tmp, out=d)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, g, 1 - beta1, work=tmp)
        exp_avg_sq *= beta2
        np.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        exp_avg_sq += tmp
        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = math.sqrt(1 - beta2**step)
        step_size = lr / bias_correction1
        if group["amsgrad"]:
            v_hat = state.get("max_exp_avg_sq")
            if v_hat is None:
                v_hat = state["max_exp_avg_sq"] = np.zeros_like(param)
            np.maximum(v_hat, exp_avg_sq, out=v_hat)
        else:
            v_hat = exp_avg_sq
        denom = np.sqrt(v_hat, out=tmp)
        denom /= bias_correction2_sqrt
        denom += float(group["eps"])
        update = np.divide(exp_avg, denom, out=tmp)
        update *= step_size
        param -= update


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay, the same update as ``torch.optim.AdamW``.

    Identical to :class:`Adam` except that weight decay shrinks the parameter directly instead
    of being added to the gradient, before the moment updates::

        theta <- theta * (1 - lr * weight_decay)

    then the Adam step with the raw gradient. The default ``weight_decay`` is ``1e-2``.
    """

    _decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
