"""Learning-rate schedules that set ``group["lr"]`` of an optimizer's parameter groups.

Usage mirrors ``torch.optim.lr_scheduler``::

    opt = Adam(params, lr=1e-3)
    sched = CosineAnnealingLR(opt, T_max=100)
    for epoch in range(100):
        train_one_epoch(opt)        # calls opt.step()
        sched.step()                # lr for the next epoch

Creating a scheduler records each group's starting rate as ``group["initial_lr"]`` (the *base
lr*) and sets epoch 0. Every schedule is evaluated in closed form from the base lr and the epoch
counter ``last_epoch``, so the rates agree with PyTorch's (which updates recursively) up to
rounding, and they do not depend on changes made to ``group["lr"]`` in between.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from minigrad.optim.optimizer import Optimizer

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "StepLR"]


def _positive_int(value: object, what: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{owner}: {what} must be a positive integer, got {value!r}")
    return int(value)


def _finite(value: object, what: str, owner: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{owner}: {what} must be a real number, got {value!r}")
    if not math.isfinite(value) or (value <= 0 if positive else value < 0):
        raise ValueError(f"{owner}: invalid {what} {value}")
    return float(value)


class LRScheduler:
    """Base class: subclasses implement :meth:`lr_at` (the closed form).

    Args:
        optimizer: the :class:`~minigrad.optim.Optimizer` whose learning rates to set.
        last_epoch: the index of the last epoch when resuming; ``-1`` starts fresh. When
            resuming, each group must already have ``"initial_lr"`` (as saved by the optimizer's
            state dict).

    Attributes:
        base_lrs: the starting learning rate of each group.
        last_epoch: the current epoch index (0 right after construction).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{name}: expected a minigrad Optimizer, got {type(optimizer).__name__}"
            )
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"{name}: last_epoch must be an integer >= -1, got {last_epoch!r}")
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{name}: param group {i} has no 'initial_lr', which is needed to resume "
                        f"at last_epoch={last_epoch}"
                    )
        self.optimizer = optimizer
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch: int = last_epoch
        self._last_lr: list[float] = [group["lr"] for group in optimizer.param_groups]
        self.step()

    def lr_at(self, base_lr: float, epoch: int, group_index: int) -> float:
        """The learning rate of a group with base rate ``base_lr`` at ``epoch``."""
        raise NotImplementedError

    def get_lr(self) -> list[float]:
        """The learning rates for the current ``last_epoch`` (one per group)."""
        return [self.lr_at(base, self.last_epoch, i) for i, base in enumerate(self.base_lrs)]

    def get_last_lr(self) -> list[float]:
        """The learning rates most recently set by :meth:`step`."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance one epoch and set every group's ``"lr"``."""
        self.last_epoch += 1
        lrs = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = lrs

    # ------------------------------------------------------------------ state

    _not_saved: tuple[str, ...] = ("optimizer",)

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state (everything except the optimizer) as plain data."""
        return {
            k: (list(v) if isinstance(v, list) else v)
            for k, v in vars(self).items()
            if k not in self._not_saved
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` and set the optimizer's rates to the restored ones.

        The keys, value types and number of groups must match; on error nothing changes.
        """
        name = type(self).__name__
        expected = set(self.state_dict())
        if not isinstance(state_dict, Mapping) or set(state_dict) != expected:
            got = sorted(state_dict) if isinstance(state_dict, Mapping) else type(state_dict)
            raise ValueError(
                f"{name}: expected a state dict with keys {sorted(expected)}, got {got}"
            )
        current = self.state_dict()
        n_groups = len(self.optimizer.param_groups)
        for key, value in state_dict.items():
            ref = current[key]
            if isinstance(ref, list):
                if not isinstance(value, list | tuple) or len(value) != n_groups:
                    raise ValueError(
                        f"{name}: {key!r} in the state dict must be a list of {n_groups} "
                        f"learning rates (one per parameter group), got {value!r}"
                    )
                if not all(_is_real(v) for v in value):
                    raise TypeError(f"{name}: {key!r} must hold real numbers, got {value!r}")
            elif isinstance(ref, int) and (isinstance(value, bool) or not _is_int(value)):
                raise TypeError(f"{name}: {key!r} must be an integer, got {value!r}")
            elif isinstance(ref, float) and not _is_real(value):
                raise TypeError(f"{name}: {key!r} must be a real number, got {value!r}")
        for key, value in state_dict.items():
            ref = current[key]
            if isinstance(ref, list):
                value = [float(v) for v in value]
            elif isinstance(ref, int):
                value = int(value)
            elif isinstance(ref, float):
                value = float(value)
            setattr(self, key, value)
        # Re-apply the restored rates, whatever order the optimizer and scheduler were loaded in.
        for group, lr in zip(self.optimizer.param_groups, self._last_lr, strict=True):
            group["lr"] = lr


def _is_int(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | np.integer)


def _is_real(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating)


class StepLR(LRScheduler):
    """Decay by ``gamma`` every ``step_size`` epochs: ``lr = base_lr * gamma ** (epoch //
    step_size)``."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = _positive_int(step_size, "step_size", "StepLR")
        self.gamma = _finite(gamma, "gamma", "StepLR", positive=True)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int, group_index: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """Decay by ``gamma`` every epoch: ``lr = base_lr * gamma ** epoch``."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = _finite(gamma, "gamma", "ExponentialLR", positive=True)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int, group_index: int) -> float:
        return base_lr * self.gamma**epoch


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the base lr to ``eta_min`` over ``T_max`` epochs::

        lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2

    (After ``T_max`` the cosine continues, so the rate rises again, as in PyTorch.)
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max = _positive_int(T_max, "T_max", "CosineAnnealingLR")
        self.eta_min = _finite(eta_min, "eta_min", "CosineAnnealingLR")
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int, group_index: int) -> float:
        cosine = (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        return self.eta_min + (base_lr - self.eta_min) * cosine


class LambdaLR(LRScheduler):
    """``lr = base_lr * lr_lambda(epoch)``, with one function for all groups or one per group.

    The functions are not part of :meth:`state_dict`; pass the same ones when resuming.
    """

    _not_saved = ("optimizer", "lr_lambdas")

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        n = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 0
        if callable(lr_lambda):
            self.lr_lambdas = [lr_lambda] * n
        else:
            self.lr_lambdas = list(lr_lambda)
            if len(self.lr_lambdas) != n:
                raise ValueError(f"LambdaLR: expected {n} lr_lambdas, got {len(self.lr_lambdas)}")
            for f in self.lr_lambdas:
                if not callable(f):
                    raise TypeError(f"LambdaLR: lr_lambda entries must be callable, got {f!r}")
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int, group_index: int) -> float:
        return base_lr * self.lr_lambdas[group_index](epoch)
